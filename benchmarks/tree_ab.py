"""A/B of the default fit between two source trees of mnlogit, in alternated fresh processes.

For each problem, fresh Python processes alternate between tree A and tree B (``--rounds``
times each); every process generates the problem, fits ``MultinomialLogit()`` once on
2,000 rows (imports, caches), then times ``--fits`` default fits of the whole problem under
``threadpool_limits(--threads)`` and writes its coefficients and standard errors (the
coefficients alone where the fit has no covariance: above ``MAX_COV_PARAMS``). The
report gives each tree's CPU seconds (``time.process_time``: less sensitive than wall
seconds to other jobs on a shared machine, though not immune) and wall seconds, the ratio
B / A of the minima, and the largest relative difference between the two trees' results
(0 when they agree bit for bit). Usage::

    python -m benchmarks.tree_ab --a /work/main/src --b src \\
        --problems dense-1m-50-3 dense-100k-20-5 --rounds 2 --fits 2 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _child(problem: str, fits: int, threads: int, out: str) -> None:
    """One process: time ``fits`` default fits of ``problem``; save the results to ``out``."""
    from threadpoolctl import threadpool_limits

    from benchmarks.problems import get_problems
    from mnlogit import MultinomialLogit
    from mnlogit.exceptions import InferenceUnavailableError

    (prob,) = get_problems([problem])
    X, y = prob.generate()
    cpu, wall = [], []
    with threadpool_limits(threads):
        MultinomialLogit().fit(X[:2000], y[:2000])
        for _ in range(fits):
            c0, w0 = time.process_time(), time.perf_counter()
            model = MultinomialLogit().fit(X, y)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
    try:
        se = np.sqrt(np.abs(np.diag(model.cov_params().to_numpy())))
    except InferenceUnavailableError:  # above MAX_COV_PARAMS: no covariance to compare
        se = np.empty(0)
    values = np.concatenate([model.coef_.ravel(), model.intercept_.ravel(), se])
    np.save(out + ".npy", values)
    Path(out + ".json").write_text(json.dumps({"cpu": cpu, "wall": wall}))


def _run(src: str, problem: str, fits: int, threads: int, out: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=f"{Path(src).resolve()}{os.pathsep}{ROOT}")
    cmd = [sys.executable, "-m", "benchmarks.tree_ab", "--child", problem, str(fits)]
    cmd += [str(threads), out]
    subprocess.run(cmd, env=env, check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(Path(out + ".json").read_text())
    return result


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--child":
        _child(args[1], int(args[2]), int(args[3]), args[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--a", required=True, help="source tree A (the baseline)")
    parser.add_argument("--b", required=True, help="source tree B")
    parser.add_argument("--problems", nargs="+", required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fits", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    opts = parser.parse_args(args)
    with tempfile.TemporaryDirectory() as tmp:
        for problem in opts.problems:
            times: dict[str, dict[str, list[float]]] = {t: {"cpu": [], "wall": []} for t in "AB"}
            for _ in range(opts.rounds):
                for tag, src in (("A", opts.a), ("B", opts.b)):
                    got = _run(src, problem, opts.fits, opts.threads, f"{tmp}/{tag}")
                    times[tag]["cpu"] += got["cpu"]
                    times[tag]["wall"] += got["wall"]
            a, b = np.load(f"{tmp}/A.npy"), np.load(f"{tmp}/B.npy")
            diff = float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300)))
            cells = [
                f"{t} cpu {min(v['cpu']):.3f} s ({', '.join(f'{x:.3f}' for x in v['cpu'])}), "
                f"wall {min(v['wall']):.3f} s"
                for t, v in times.items()
            ]
            ratio = min(times["B"]["cpu"]) / min(times["A"]["cpu"])
            print(f"{problem}: {'; '.join(cells)}; B/A cpu {ratio:.3f}; max rel diff {diff:.1e}")


if __name__ == "__main__":
    main()
