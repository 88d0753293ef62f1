"""The ``solver="auto"`` rule against exact Newton up front: the solve stage alone.

``fitting.solve`` is timed inside ``MultinomialLogit.fit`` (validation, separation check
and covariance excluded), solvers alternated in one process::

    OPENBLAS_NUM_THREADS=1 python -m benchmarks.auto_rule \\
        20000:50:6:illcond 8000:30:8:illcond 20000:50:6: 30000:20:6: --solvers auto newton

Each problem is ``n:p:K:kind`` for :class:`benchmarks.problems.Problem` (kind ``""``:
standard-normal features; ``"illcond"``: correlated 0.95, scales 1e-3 .. 1e3), seed 7.
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any


def main() -> None:
    """Print the solve time, fit time, iterations and log-likelihood of every fit."""
    import mnlogit.estimator as estimator
    from benchmarks.problems import Problem
    from mnlogit import MultinomialLogit

    parser = argparse.ArgumentParser()
    parser.add_argument("problems", nargs="+", help="n:p:K:kind")
    parser.add_argument("--solvers", nargs="+", default=["auto", "newton"])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    solve = estimator.solve
    spent: dict[str, float] = {}

    def timed(*a: Any, **k: Any) -> Any:
        start = time.perf_counter()
        out = solve(*a, **k)
        spent["solve"] = time.perf_counter() - start
        return out

    estimator.solve = timed  # type: ignore[assignment]
    warnings.simplefilter("ignore")
    for spec in args.problems:
        n, p, K, kind = spec.split(":")
        X, y = Problem("x", n=int(n), p=int(p), K=int(K), kind=kind, seed=7).generate()
        MultinomialLogit(max_iter=2, cov_type=None).fit(X[:3000], y[:3000])  # warm-up
        m = (int(K) - 1) * (int(p) + 1)
        for _ in range(args.repeat):
            for solver in args.solvers:
                start = time.perf_counter()
                model = MultinomialLogit(solver=solver, tol=1e-8, cov_type=None).fit(X, y)
                total = time.perf_counter() - start
                print(
                    f"{spec} m={m} {solver:8s} solve {spent['solve']:.3f} s  fit {total:.3f} s  "
                    f"{model.n_iter_} it. ({model.solver_})  loglik {model.loglik_:.9f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
