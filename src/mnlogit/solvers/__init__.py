"""Solvers, one module each, behind one registry.

Every solver has the signature ``solve(objective, x0, options) -> SolverResult`` and
a ``REQUIRES`` tuple naming the objective methods it uses, checked before it runs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from mnlogit.solvers import gd, irls, lbfgs, newton, newton_cg, subsample_newton
from mnlogit.solvers._base import (
    CRITERIA,
    ConvergenceMonitor,
    IterationRecord,
    SolverOptions,
    SolverResult,
)

__all__ = [
    "CRITERIA",
    "DEFAULT_MAX_ITER",
    "SOLVERS",
    "ConvergenceMonitor",
    "IterationRecord",
    "SolverOptions",
    "SolverResult",
    "choose_solver",
]

SolveFunction = Callable[[object, NDArray[np.float64], SolverOptions], SolverResult]

SOLVERS: dict[str, SolveFunction] = {
    "newton": newton.solve,
    "irls": irls.solve,
    "lbfgs": lbfgs.solve,
    "newton-cg": newton_cg.solve,
    "gd": gd.solve,
    "subsample-newton": subsample_newton.solve,
}

# Iteration budgets used when the estimator's max_iter is None. Second-order
# methods converge in tens of iterations; first-order ones need far more.
DEFAULT_MAX_ITER: dict[str, int] = {
    "newton": 100,
    "irls": 100,
    "newton-cg": 200,
    "lbfgs": 5000,
    "gd": 50000,
    "subsample-newton": 200,
}

# Largest number of free parameters (K-1)(p+1) for which "auto" forms the full-data
# Hessian when no subsample is possible: with the syrk kernel a Hessian costs about
# 0.1 m passes over X, so five Newton iterations beat ~50 L-BFGS iterations only for
# small m (docs/benchmarks.md).
NEWTON_MAX_PARAMS = 100


def choose_solver(n_samples: int, n_params: int, sparse: bool) -> str:
    """The ``solver="auto"`` rule.

    - ``"newton-cg"`` for sparse ``X``: Hessian-vector products, no ``m x m`` matrix;
    - ``"subsample-newton"`` for dense ``X`` with enough rows per free parameter
      ``m = (K-1)(p+1)`` that a subsample of at most ``n / 8`` rows holds ``10 m`` (and
      2,000) rows: a Hessian from the subsample preconditions full-data steps;
    - ``"newton"`` for other dense problems with ``m <= NEWTON_MAX_PARAMS``;
    - ``"lbfgs"`` for the rest (dense, many parameters, few rows per parameter).

    Parameters
    ----------
    n_samples, n_params : int
    sparse : bool
    """
    if sparse:
        return "newton-cg"
    if subsample_newton.subsample_rows(n_samples, n_params) < n_samples:
        return "subsample-newton"
    if n_params <= NEWTON_MAX_PARAMS:
        return "newton"
    return "lbfgs"
