"""How far from the best objective a lasso-family path stops, per KKT tolerance.

For one of :mod:`benchmarks.lasso`'s problems, solves the 50-alpha path
(``alpha_min / alpha_max = 0.01``) at a tight reference tolerance and at each tolerance of
``--tols``, recomputes every alpha's objective from the coefficients (numpy) and prints, per
tolerance, the CPU seconds and the largest objective excess over the best found::

    OPENBLAS_NUM_THREADS=1 python -m benchmarks.lasso_tol dense-10k-200 --penalty l1

The objective gap is about quadratic in the KKT residual; this is the measurement behind
the default ``tol`` of :func:`mnlogit.regularization_path` (docs/penalties.md).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from benchmarks.lasso import PROBLEMS, make_problem, objective


def main() -> None:
    """Run one problem; prints a JSON line per tolerance."""
    from mnlogit import regularization_path

    parser = argparse.ArgumentParser()
    parser.add_argument("problem", choices=sorted(PROBLEMS))
    parser.add_argument("--penalty", choices=["l1", "group"], default="l1")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--reference-tol", type=float, default=1e-10)
    parser.add_argument("--tols", type=float, nargs="+", default=[1e-7, 1e-6, 1e-5, 1e-4])
    parser.add_argument(
        "--support-cg", action="store_true", help="lasso with sparse X: support solves on"
    )
    args = parser.parse_args()
    if args.support_cg:
        from mnlogit.solvers import proximal_newton

        proximal_newton.SUPPORT_NEWTON = True
    X, y = make_problem(args.problem, args.scale)
    regularization_path(X[:50], y[:50], penalty=args.penalty, n_alphas=2)  # compile/load
    results = {}
    alphas = None
    for tol in [args.reference_tol, *args.tols]:
        start = time.process_time()
        kw = {"n_alphas": 50, "alpha_min_ratio": 0.01} if alphas is None else {"alphas": alphas}
        path = regularization_path(X, y, penalty=args.penalty, tol=tol, **kw)  # type: ignore[arg-type]
        secs = time.process_time() - start
        alphas = path.alphas
        objs = np.array(
            [
                objective(X, y, c.T, b, a, args.penalty, 1.0)
                for c, b, a in zip(path.coef, path.intercept, alphas, strict=True)
            ]
        )
        results[tol] = (secs, objs, float(path.kkt_residual.max()))
    best = np.min([v[1] for v in results.values()], axis=0)
    for tol, (secs, objs, kkt) in results.items():
        print(
            json.dumps(
                {
                    "problem": args.problem,
                    "penalty": args.penalty,
                    "tol": tol,
                    "cpu_s": round(secs, 3),
                    "max_kkt": kkt,
                    "max_objective_excess": float(np.max(objs - best)),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
