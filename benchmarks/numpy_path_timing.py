"""numpy fit times of two source trees, to show a change left the numpy path as fast.

Alternates fresh processes (the machine is shared) and prints the best of ``--repeat``
fit times per solver for each tree::

    git archive <base> src | tar -x -C /tmp/base
    python -m benchmarks.numpy_path_timing /tmp/base/src src

Data: n = 100,000, p = 40, K = 5 float64, one BLAS thread (threadpoolctl).
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys

_FIT = r"""
import time
import numpy as np
from threadpoolctl import threadpool_limits
from mnlogit import MultinomialLogit
rng = np.random.default_rng(0)
n, p, K = 100_000, 40, 5
X = rng.standard_normal((n, p))
eta = X @ (rng.standard_normal((p, K)) * 0.3)
P = np.exp(eta)
P /= P.sum(1, keepdims=True)
y = (P.cumsum(1) > rng.random((n, 1))).argmax(1)
with threadpool_limits(1):
    MultinomialLogit(cov_type=None).fit(X[:2000], y[:2000])
    out = []
    for solver in SOLVERS:
        t = time.perf_counter()
        MultinomialLogit(solver=solver).fit(X, y)
        out.append(time.perf_counter() - t)
print(out)
"""


def main() -> None:
    """Time the trees given on the command line (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("trees", nargs="+", help="src directories to put on PYTHONPATH")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--solvers", nargs="+", default=["auto", "newton", "lbfgs"])
    args = parser.parse_args()
    code = f"SOLVERS = {args.solvers!r}\n" + _FIT
    times: dict[str, list[list[float]]] = {tree: [] for tree in args.trees}
    for _ in range(args.repeat):
        for tree in args.trees:
            run = subprocess.run(
                [sys.executable, "-c", code],
                env={"PYTHONPATH": tree},
                capture_output=True,
                text=True,
                check=True,
            )
            times[tree].append(ast.literal_eval(run.stdout.strip().splitlines()[-1]))
    for tree, runs in times.items():
        best = {s: round(min(r[i] for r in runs), 3) for i, s in enumerate(args.solvers)}
        print(f"{tree}: best of {args.repeat} (s): {best}")


if __name__ == "__main__":
    main()
