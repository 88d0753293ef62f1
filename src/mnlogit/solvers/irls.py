"""Iteratively reweighted least squares.

Each iteration, from the current probabilities (reference-class-0 coordinates,
``eta0_ik = eta_ik - eta_i0`` for ``k = 1 .. K-1``):

1. working weights ``W_i = s_i (diag(p_i) - p_i p_i^T) / S``, a ``(K-1, K-1)`` block
   per observation (``p_i`` = probabilities of classes ``1 .. K-1``);
2. working responses ``z_i = eta0_i + W_i^{-1} (y_i - p_i)``, with the closed-form
   inverse ``(diag(p) - p p^T)^{-1} = diag(1/p) + 1 1^T / p_0`` (Sherman-Morrison);
3. the weighted least-squares solve ``(X~^T W X~ + P) theta = X~^T W z``, where ``X~``
   is ``[1, X]`` expanded per class and ``P`` the ridge term (if any);
4. update and repeat.

``X~^T W X~`` is the Hessian kernel and ``X~^T W z = H theta - grad``, so a full IRLS
step is a full Newton step: the iterates coincide with Newton's whenever Newton's
line search accepts the unit step. Unlike Newton, IRLS takes the full step
unless the objective would rise, in which case it halves it (as R's ``glm.fit``).
Working responses divide by probabilities, so IRLS is the least robust solver when
some probabilities underflow; use ``"newton"`` there.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mnlogit.objective.protocol import HESSIAN, IRLS, SolverObjective, check_requirements
from mnlogit.solvers.monitor import ConvergenceMonitor, SolverOptions, SolverResult
from mnlogit.solvers.newton import solve_psd

__all__ = ["REQUIRES", "solve", "working_response"]

FloatArray = NDArray[np.float64]
REQUIRES = (HESSIAN, IRLS)

_TINY = np.finfo(np.float64).tiny


def working_response(eta: FloatArray, prob: FloatArray, y: NDArray[np.intp]) -> FloatArray:
    """Working responses ``z`` of shape ``(n, K-1)`` in reference-class-0 coordinates.

    Parameters
    ----------
    eta : ndarray of shape (n, K)
    prob : ndarray of shape (n, K)
    y : ndarray of shape (n,)
        Class codes.
    """
    resid = -prob[:, 1:]
    hit = y > 0
    resid[np.flatnonzero(hit), y[hit] - 1] += 1.0
    p = np.maximum(prob[:, 1:], _TINY)
    p0 = np.maximum(prob[:, :1], _TINY)
    return (eta[:, 1:] - eta[:, :1]) + resid / p + resid.sum(axis=1, keepdims=True) / p0


def solve(objective: SolverObjective, x0: FloatArray, options: SolverOptions) -> SolverResult:
    """Minimize ``objective`` from ``x0`` by IRLS (see the module docstring)."""
    check_requirements("irls", objective, REQUIRES)
    obj = objective
    monitor = ConvergenceMonitor("irls", options)
    x = np.array(x0, dtype=np.float64, copy=True)
    f, g = obj.value_and_gradient(x)
    if monitor.record(x, f, g):
        return monitor.result(x)
    y = obj.y
    ws = obj.normalized_weights
    stop_reason = None
    for _ in range(options.max_iter):
        prob = np.array(obj.probabilities(x))
        eta = obj.linear_predictor(x)
        z = working_response(eta, prob, y)
        p = prob[:, 1:]
        Wz = ws[:, None] * (p * z - p * np.einsum("ij,ij->i", p, z)[:, None])
        Wz_full = np.hstack([-Wz.sum(axis=1, keepdims=True), Wz])
        rhs = obj.backproject(Wz_full)
        H = obj.hessian(x)
        x_wls = solve_psd(H, rhs)
        step = 1.0
        for _halving in range(60):
            x_new = x + step * (x_wls - x)
            f_new, g_new = obj.value_and_gradient(x_new)
            if np.isfinite(f_new) and f_new <= f + 16 * np.finfo(float).eps * abs(f):
                break
            step *= 0.5
        else:
            stop_reason = "step halving found no decrease of the objective"
            break
        x, f, g = x_new, f_new, g_new
        if monitor.record(x, f, g, step):
            break
    return monitor.result(x, stop_reason)
