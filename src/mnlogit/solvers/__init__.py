"""Solvers, one module each, behind one registry.

Every solver has the signature ``solve(objective, x0, options) -> SolverResult`` and
a ``REQUIRES`` tuple naming the objective methods it uses, checked before it runs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from mnlogit.solvers import gd, irls, lbfgs, newton, newton_cg
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
}

# Iteration budgets used when the estimator's max_iter is None. Second-order
# methods converge in tens of iterations; first-order ones need far more.
DEFAULT_MAX_ITER: dict[str, int] = {
    "newton": 100,
    "irls": 100,
    "newton-cg": 200,
    "lbfgs": 5000,
    "gd": 50000,
}

# Largest number of free parameters (K-1)(p+1) for which "auto" forms the Hessian.
# Beyond it a dense Newton system costs more than the Hessian-free inner solves.
NEWTON_MAX_PARAMS = 400


def choose_solver(n_samples: int, n_params: int, sparse: bool) -> str:
    """The ``solver="auto"`` rule.

    - ``"newton"`` when the free-parameter count ``m = (K-1)(p+1)`` is at most
      ``NEWTON_MAX_PARAMS`` and ``X`` is dense: forming the Hessian costs about
      ``n m^2 / (K-1)`` flops per iteration and Newton needs few iterations;
    - ``"newton-cg"`` otherwise (sparse ``X`` or many parameters): two passes over
      ``X`` per Hessian-vector product and no ``m x m`` matrix.

    Parameters
    ----------
    n_samples, n_params : int
    sparse : bool
    """
    if not sparse and n_params <= NEWTON_MAX_PARAMS:
        return "newton"
    return "newton-cg"
