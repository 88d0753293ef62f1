"""Newton-Raphson with the exact Hessian and a backtracking line search.

For the multinomial logit (a canonical-link exponential family) the observed
information equals the expected (Fisher) information, because the Hessian of the
log-likelihood does not involve ``y``. Newton-Raphson and Fisher scoring therefore
take identical steps; ``tests/solvers/test_solvers.py`` checks this numerically.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from mnlogit.objective.protocol import (
    HESSIAN,
    SolverObjective,
    check_requirements,
    hessian_with_next_gradient,
)
from mnlogit.solvers.linesearch import backtracking
from mnlogit.solvers.monitor import ConvergenceMonitor, SolverOptions, SolverResult

__all__ = ["REQUIRES", "solve", "solve_psd"]

FloatArray = NDArray[np.float64]
REQUIRES = (HESSIAN,)


def solve_psd(H: FloatArray, rhs: FloatArray) -> FloatArray:
    """Solve ``H x = rhs`` for a symmetric positive (semi-)definite ``H``.

    Cholesky first; when ``H`` is singular or indefinite in floating point (collinear
    columns, separated classes), fall back to an eigendecomposition with the small
    eigenvalues floored at ``1e-10`` times the largest, which gives a descent
    direction in the well-determined subspace.

    Parameters
    ----------
    H : ndarray of shape (m, m)
    rhs : ndarray of shape (m,)

    Returns
    -------
    ndarray of shape (m,)
    """
    try:
        factor = scipy.linalg.cho_factor(H, lower=False, check_finite=False)
        x = scipy.linalg.cho_solve(factor, rhs, check_finite=False)
        if np.all(np.isfinite(x)):
            return np.asarray(x)
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        pass
    w, V = scipy.linalg.eigh(H, check_finite=False)
    floor = max(float(np.max(np.abs(w))), 1e-300) * 1e-10
    w = np.maximum(w, floor)
    return np.asarray(V @ ((V.T @ rhs) / w))


def solve(objective: SolverObjective, x0: FloatArray, options: SolverOptions) -> SolverResult:
    """Minimize ``objective`` from ``x0`` by damped Newton-Raphson.

    Each iteration: gradient and Hessian at ``x``, Newton direction from a Cholesky
    solve, backtracking line search starting at the full step, convergence check.

    Every accepted point's Hessian is used: by the next iteration, or by the covariance
    at the last one. So with ``options.final_hessian`` and an objective that offers
    ``"last-pass"``, the starting point's evaluation forms its Hessian in the same pass
    as its gradient, and so does the line search's first trial point once a full step
    was accepted (full steps are then the rule); only a rejected trial point's Hessian
    is wasted.
    """
    check_requirements("newton", objective, REQUIRES)
    obj = objective
    monitor = ConvergenceMonitor("newton", options)
    x = np.array(x0, dtype=np.float64, copy=True)
    with hessian_with_next_gradient(obj, options.final_hessian):
        f, g = obj.value_and_gradient(x)
    if monitor.record(x, f, g):
        return monitor.result(x)
    stop_reason = None
    full_step = False
    for _ in range(options.max_iter):
        H = obj.hessian(x)
        d = -solve_psd(H, g)
        del H
        with hessian_with_next_gradient(obj, options.final_hessian and full_step):
            ls = backtracking(obj, x, f, g, d)
        full_step = ls.step == 1.0
        if not ls.ok:
            stop_reason = "the line search found no decrease along the Newton direction"
            break
        x, f, g = ls.x, ls.f, ls.g
        if monitor.record(x, f, g, ls.step):
            break
    return monitor.result(x, stop_reason)
