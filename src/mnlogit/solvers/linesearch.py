"""Backtracking (Armijo) line search shared by the Newton-type and gradient solvers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mnlogit.objective.protocol import SolverObjective

__all__ = ["LineSearchResult", "backtracking"]

FloatArray = NDArray[np.float64]

_ARMIJO_C = 1e-4
# Near the optimum a Newton step lowers f by less than rounding error; accept it then
# if it does not raise f beyond rounding and it lowers the gradient (as scikit-learn's
# Newton solver does). The rounding is relative to |f| + 1: f is a difference of sums of
# order one (log-likelihood, penalty) and can itself be near zero.
_ROUNDING = 16 * np.finfo(np.float64).eps
# Objectives with a log-determinant (Firth) are noisier near a separated optimum: there a
# step that halves the gradient is accepted if f rises by at most 1e-12 relative.
_NOISE = 1e-12


@dataclass
class LineSearchResult:
    """Outcome of a line search: the accepted point, or ``ok=False``."""

    ok: bool
    step: float
    x: FloatArray
    f: float
    g: FloatArray


def backtracking(
    objective: SolverObjective,
    x: FloatArray,
    f: float,
    g: FloatArray,
    direction: FloatArray,
    step: float = 1.0,
    shrink: float = 0.5,
    max_halvings: int = 60,
) -> LineSearchResult:
    """Find ``t`` with ``f(x + t d) <= f(x) + c t g.d`` by shrinking ``t`` geometrically.

    Parameters
    ----------
    objective : SolverObjective
    x, g, direction : ndarray of shape (n_params,)
        Current point, gradient there, and a descent direction.
    f : float
        Objective at ``x``.
    step : float
        First trial step.

    Returns
    -------
    LineSearchResult
    """
    slope = float(np.dot(g, direction))
    if not slope < 0:
        return LineSearchResult(False, 0.0, x, f, g)
    gnorm1 = float(np.abs(g).sum())
    t = step
    for _ in range(max_halvings):
        x_new = x + t * direction
        if np.array_equal(x_new, x):  # the step vanished in rounding: no progress possible
            break
        f_new, g_new = objective.value_and_gradient(x_new)
        if np.isfinite(f_new):
            if f_new <= f + _ARMIJO_C * t * slope:
                return LineSearchResult(True, t, x_new, f_new, g_new)
            rise = f_new - f
            gnorm1_new = float(np.abs(g_new).sum())
            if rise <= _ROUNDING * (abs(f) + 1.0) and gnorm1_new < gnorm1:
                return LineSearchResult(True, t, x_new, f_new, g_new)
            if rise <= _NOISE * (abs(f) + 1.0) and gnorm1_new <= 0.5 * gnorm1:
                return LineSearchResult(True, t, x_new, f_new, g_new)
        t *= shrink
    return LineSearchResult(False, 0.0, x, f, g)
