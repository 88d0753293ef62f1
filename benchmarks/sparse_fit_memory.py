"""One problem's default fit, alternated between source trees in fresh processes.

For A/B runs of a change (issue-sparse5): each round fits ``MultinomialLogit`` with the
problem's penalty, ``tol=1e-8`` and ``cov_type=None`` (what ``mnlogit-auto`` times) once per
source tree and thread count, each in a new Python process with that tree first on
``PYTHONPATH``, and prints the fit's time (wall and the process's CPU seconds: on a
loaded machine at one thread the CPU time is the steadier measure) and its peak extra
RSS -- VmHWM after the fit minus VmRSS before it, the high-water mark reset through
``/proc/self/clear_refs`` (the measure of :mod:`benchmarks.worker`; Linux only). Threads are set by
``threadpoolctl.threadpool_limits``, as ``benchmarks.run --threads`` does.

Example (main's tree against this one, one and two threads, two rounds)::

    python -m benchmarks.sparse_fit_memory --src /work/main/src src --threads 1 2 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _status_mib(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    raise OSError(f"no {key} in /proc/self/status")


def child(problem: str, threads: int) -> None:
    """Fit once in this process and print a JSON line (time, peak, iterations)."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    from benchmarks.methods import TOL
    from benchmarks.problems import PROBLEMS
    from mnlogit import MultinomialLogit

    prob = PROBLEMS[problem]
    X, y = prob.generate()
    limits = threadpool_limits(threads)
    model = MultinomialLogit(penalty=prob.penalty, alpha=prob.alpha, tol=TOL, cov_type=None)
    base = _status_mib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(X, y)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = _status_mib("VmHWM") - base
    limits.unregister()
    print(
        json.dumps(
            dict(
                seconds=seconds,
                cpu_seconds=cpu,
                peak_mib=peak,
                n_iter=int(model.n_iter_),
                solver=model.solver_,
            )
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problem", default="sparse-100k-50k-20-l2")
    parser.add_argument("--src", nargs="+", default=["src"], help="source trees to alternate")
    parser.add_argument("--threads", nargs="+", type=int, default=[1])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.problem, args.threads[0])
        return
    print(f"uptime: {os.getloadavg()}")
    for _ in range(args.rounds):
        for threads in args.threads:
            for src in args.src:
                env = dict(os.environ, PYTHONPATH=f"{Path(src).resolve()}{os.pathsep}{ROOT}")
                cmd = [sys.executable, "-m", "benchmarks.sparse_fit_memory", "--child"]
                cmd += ["--problem", args.problem, "--threads", str(threads)]
                out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
                if out.returncode != 0:
                    print(f"{src} threads={threads}: failed\n{out.stderr[-2000:]}")
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(
                    f"{src} threads={threads}: {r['seconds']:.2f} s "
                    f"(CPU {r['cpu_seconds']:.2f} s), peak extra {r['peak_mib']:.1f} MiB, "
                    f"{r['n_iter']} it ({r['solver']})"
                )
    print(f"uptime: {os.getloadavg()}")


if __name__ == "__main__":
    main()
