"""A/B of the lasso's inner method, alternated in one process run (the shared machine's
load hits both alike): with ``--switch support`` (default) coordinate descent alone against
coordinate descent finished by conjugate gradients on the settled support
(``SUPPORT_NEWTON``); with ``--switch blocks`` one pass per class against a feature's steps
by its block Hessian (``LASSO_BLOCKS``); with ``--switch blocks-dense`` the same on dense X
(``LASSO_BLOCKS_DENSE``, with ``LASSO_BLOCK_PASSES`` passes over a feature's classes); with
``--switch predictor`` each alpha warm-started from the previous solution against the
secant extrapolation of the two previous ones (``PATH_PREDICTOR``; ``PATH_PREDICTOR_GROUP``
with ``--penalty group``); with ``--switch predictor-sparse-group`` the same for the group
penalty with sparse X alone (``PATH_PREDICTOR_SPARSE_GROUP``); with
``--switch curvatures`` every inner solve computing its curvatures against an alpha's
second inner solve reusing the first's (``CURVATURE_REUSE``, dense X); with
``--setting NAME A B`` a numeric constant of :mod:`mnlogit.solvers.proximal_newton` at
``A`` against ``B``::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=src \\
        python -m benchmarks.lasso_inner sparse-20k-5000 --scale 0.25 --repeats 2
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=src \\
        python -m benchmarks.lasso_inner dense-10k-200 --setting INNER_FLOOR_DENSE_LASSO 0.5 2

Prints per run: CPU seconds, sweeps, support CG products, outer iterations, and the largest
objective difference between the two settings over the path's alphas.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from benchmarks.lasso import PROBLEMS, make_problem

#: ``--switch`` names and the module switches of :mod:`mnlogit.solvers.proximal_newton`.
SWITCHES = {
    "support": "SUPPORT_NEWTON",
    "blocks": "LASSO_BLOCKS",
    "blocks-dense": "LASSO_BLOCKS_DENSE",
    "predictor": "PATH_PREDICTOR",
    "curvatures": "CURVATURE_REUSE",
    "predictor-sparse-group": "PATH_PREDICTOR_SPARSE_GROUP",
}


def main() -> None:
    """Alternate the two inner methods on one problem's 50-alpha path."""
    from mnlogit import regularization_path
    from mnlogit.solvers import proximal_newton

    parser = argparse.ArgumentParser()
    parser.add_argument("problem", choices=sorted(PROBLEMS))
    parser.add_argument("--penalty", choices=["l1", "elasticnet", "group"], default="l1")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--switch", choices=sorted(SWITCHES), default="support")
    parser.add_argument(
        "--setting",
        nargs=3,
        metavar=("NAME", "A", "B"),
        help="alternate a numeric module constant of proximal_newton between A and B "
        "(instead of --switch), e.g. --setting INNER_FLOOR_DENSE_LASSO 0.5 2",
    )
    args = parser.parse_args()
    switch = SWITCHES[args.switch]
    settings: tuple[Any, Any] = (False, True)
    if args.setting is not None:
        switch = args.setting[0]
        settings = (float(args.setting[1]), float(args.setting[2]))
    if args.switch == "predictor" and args.penalty == "group":
        switch = "PATH_PREDICTOR_GROUP"
    X, y = make_problem(args.problem, args.scale)
    counts = {"sweeps": 0, "products": 0}
    inner = proximal_newton.cd_quadratic

    def counted(*a: Any) -> tuple[int, int]:
        sweeps, products = inner(*a)
        counts["sweeps"] += int(sweeps)
        counts["products"] += int(products)
        return sweeps, products

    proximal_newton.cd_quadratic = counted  # type: ignore[assignment]
    regularization_path(X[:50], y[:50], penalty=args.penalty, n_alphas=2)
    objectives: dict[Any, Any] = {}
    for _ in range(args.repeats):
        for newton in settings:
            setattr(proximal_newton, switch, newton)
            counts.update(sweeps=0, products=0)
            start = time.process_time()
            path = regularization_path(
                X,
                y,
                penalty=args.penalty,
                l1_ratio=0.5 if args.penalty == "elasticnet" else None,
                n_alphas=50,
                alpha_min_ratio=0.01,
                tol=args.tol,
            )
            secs = time.process_time() - start
            objectives[newton] = path.objective
            print(
                json.dumps(
                    {
                        "problem": args.problem,
                        "scale": args.scale,
                        switch.lower(): newton,
                        "cpu_s": round(secs, 3),
                        "sweeps": counts["sweeps"],
                        "cg_products": counts["products"],
                        "outer": int(path.n_iter.sum()),
                        "converged": bool(path.converged.all()),
                    }
                ),
                flush=True,
            )
    diff = np.max(np.abs(objectives[settings[1]] - objectives[settings[0]]))
    print(json.dumps({"max_objective_difference": float(diff)}))


if __name__ == "__main__":
    main()
