"""Solvers, one module each, behind one registry.

Every solver has the signature ``solve(objective, x0, options) -> SolverResult``, sees
the objective only through :class:`mnlogit.objective.protocol.SolverObjective`, and has a
``REQUIRES`` tuple naming the capabilities it needs beyond values and gradients, checked
before it runs (:func:`mnlogit.objective.protocol.check_requirements`).
"""

from __future__ import annotations

from mnlogit.objective.curvature import MAX_KRONECKER_FEATURES
from mnlogit.solvers import gd, irls, lbfgs, newton, newton_cg, subsample_newton
from mnlogit.solvers.monitor import (
    CRITERIA,
    ConvergenceMonitor,
    IterationRecord,
    SolveFunction,
    SolverOptions,
    SolverResult,
)
from mnlogit.solvers.precision import FLOAT32_TOL, solve_in_precision

__all__ = [
    "CRITERIA",
    "DEFAULT_MAX_ITER",
    "FLOAT32_TOL",
    "REQUIRES",
    "SOLVERS",
    "ConvergenceMonitor",
    "IterationRecord",
    "SolveFunction",
    "SolverOptions",
    "SolverResult",
    "choose_solver",
    "solve_in_precision",
]

SOLVERS: dict[str, SolveFunction] = {
    "newton": newton.solve,
    "irls": irls.solve,
    "lbfgs": lbfgs.solve,
    "newton-cg": newton_cg.solve,
    "gd": gd.solve,
    "subsample-newton": subsample_newton.solve,
}

# The capabilities each solver needs beyond values and gradients.
REQUIRES: dict[str, tuple[str, ...]] = {
    "newton": newton.REQUIRES,
    "irls": irls.REQUIRES,
    "lbfgs": lbfgs.REQUIRES,
    "newton-cg": newton_cg.REQUIRES,
    "gd": gd.REQUIRES,
    "subsample-newton": subsample_newton.REQUIRES,
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

# Largest number of free parameters (K-1)(p+1) for which "auto" takes plain Newton when
# no row subsample is possible: a Hessian costs about 0.1 m passes over X.
NEWTON_MAX_PARAMS = 100


def choose_solver(
    n_samples: int, n_params: int, sparse: bool, n_coef_rows: int | None = None
) -> str:
    """The ``solver="auto"`` rule.

    - ``"subsample-newton"`` for sparse ``X`` with at most 2000 free parameters and room
      for a row subsample (``n / 16 >= max(10 m, 2000)``): its subsample Hessian costs a
      few passes (stored-value products, :mod:`mnlogit.objective.pair_hessian`) and
      replaces the tens of Hessian-vector products of Newton-CG;
    - ``"newton-cg"`` for other sparse ``X``: Hessian-vector products, no ``m x m`` matrix;
    - ``"newton"`` for dense ``X`` with ``m = (K-1)(p+1) <= 100`` free parameters and too
      few rows for a subsample (``n / 16 < 2000``): small problems;
    - ``"lbfgs"`` for dense ``X`` whose curvature would be the Kronecker model but whose
      ``p + 1`` exceeds ``MAX_KRONECKER_FEATURES`` (the ``(p+1)``-square factor is not
      formed there);
    - ``"subsample-newton"`` for every other dense problem: a Hessian from a row
      subsample, or the Kronecker model, as the initial matrix of L-BFGS steps on the
      full data (see :mod:`mnlogit.solvers.subsample_newton`).

    Parameters
    ----------
    n_samples, n_params : int
    sparse : bool
    n_coef_rows : int, optional
        ``p + 1`` (or ``p`` without intercept); ``n_params`` over ``K - 1`` matters only
        through this bound.
    """
    rows = subsample_newton.subsample_rows(n_samples, n_params)
    if sparse:
        exact = not subsample_newton.uses_kronecker(n_samples, n_params)
        return "subsample-newton" if exact and rows < n_samples else "newton-cg"
    if n_params <= NEWTON_MAX_PARAMS and rows >= n_samples:
        return "newton"
    if (
        subsample_newton.uses_kronecker(n_samples, n_params)
        and n_coef_rows is not None
        and n_coef_rows > MAX_KRONECKER_FEATURES
    ):
        return "lbfgs"
    return "subsample-newton"
