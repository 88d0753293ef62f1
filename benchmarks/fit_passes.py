"""Passes over the data of one default fit: sweeps, Hessians, the last pass, the certificate.

Wraps the kernels a fit of dense ``X`` calls (the value-and-gradient sweep, the loss
Hessian, the fused last pass, the preparation's column read and the sampled separation
certificate), fits ``MultinomialLogit(tol=1e-8)`` twice (the first one warms caches and
numba's code up) and prints, for the second, each kernel's calls and seconds grouped by the
rows it read (the full data or a subsample). Usage::

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src:. python -m benchmarks.fit_passes \\
        dense-100k-20-5 illcond-20k-50-6 [--cov-type none]

(issue-speed10's pass counts, docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from typing import Any

Record = tuple[str, int, float]


def _wrap(module: Any, name: str, label: str, log: list[Record], rows: bool = True) -> None:
    """Replace ``module.name`` by a wrapper appending ``(label, rows, seconds)`` to ``log``
    (nothing when the tree measured has no such name)."""
    if not hasattr(module, name):
        return
    inner: Callable[..., Any] = getattr(module, name)

    @functools.wraps(inner)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = inner(*args, **kwargs)
        n = int(args[0].shape[0]) if rows else -1
        log.append((label, n, time.perf_counter() - start))
        return out

    setattr(module, name, wrapper)


def main() -> None:
    """Print the passes of one default fit per problem."""
    import mnlogit.fitting as fitting
    import mnlogit.identification.existence as existence
    import mnlogit.objective.hessian as hessian
    import mnlogit.objective.last_pass as last_pass
    import mnlogit.objective.loss as loss
    import mnlogit.objective.multinomial as multinomial
    import mnlogit.preparation as preparation
    from benchmarks.problems import get_problems
    from mnlogit import MultinomialLogit

    parser = argparse.ArgumentParser()
    parser.add_argument("problems", nargs="+")
    parser.add_argument("--cov-type", default="nonrobust", help="'none' for cov_type=None")
    args = parser.parse_args()
    cov_type = None if args.cov_type == "none" else args.cov_type
    log: list[Record] = []
    _wrap(loss, "sweep_loss", "sweep", log)
    _wrap(loss, "softmax_loss", "softmax (whole block)", log)
    _wrap(last_pass, "loss_and_hessian", "last pass (sweep + Hessian)", log)
    _wrap(multinomial, "loss_hessian", "Hessian", log)
    _wrap(preparation, "column_maxabs_and_gram", "preparation's column read", log)
    _wrap(existence, "_certified", "sampled certificate", log, rows=False)
    _wrap(fitting, "newton_step_certifies", "Hessian certificate", log, rows=False)
    hessian.load_compiled_kernel()
    for (problem,) in (get_problems([name]) for name in args.problems):
        X, y = problem.generate()
        n = X.shape[0]
        MultinomialLogit(tol=1e-8, cov_type=cov_type).fit(X, y)
        log.clear()
        start = time.process_time()
        model = MultinomialLogit(tol=1e-8, cov_type=cov_type).fit(X, y)
        seconds = time.process_time() - start
        print(f"{problem.name}: {seconds:.3f} CPU s, {model.solver_}, {model.n_iter_} iterations")
        totals: dict[tuple[str, int], list[float]] = {}
        for label, rows, spent in log:
            totals.setdefault((label, rows), []).append(spent)
        for (label, rows), spent in totals.items():
            where = "all rows" if rows == n else (f"{rows} rows" if rows >= 0 else "")
            print(f"  {label:30s} {where:>12s}  {len(spent):4d} calls  {sum(spent):.4f} s")


if __name__ == "__main__":
    main()
