"""Truncated Newton (Newton-CG) using Hessian-vector products only.

Memory is O(n K + p K): the Hessian is never formed, which suits large ``p * K``.
Each outer iteration solves ``H d = -g`` approximately by conjugate gradients, to a
relative residual of ``min(0.5, sqrt(|g|))`` (the Eisenstat-Walker forcing
sequence that gives superlinear convergence) or, with the gradient criterion, until
the predicted next gradient is within half the tolerance; it stops CG early on
negative curvature, then takes a backtracking line search from the unit step. The
products come from the objective's ``curvature_product`` when it has one (float32
on sparse X), else from ``hessp``. For the multinomial objective CG is preconditioned
by the block-diagonal Kronecker model of the Hessian
(:func:`mnlogit.solvers.curvature.block_diagonal_inverse`: one ``(K-1) x (K-1)`` block
per feature, sharing one class factor), formed again at each Newton point; it cut the
products on the benchmark's sparse text problem from 104 to 75 and halved the time of
``newton-cg`` on the dense ones (docs/solvers.md).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.blas import daxpy as _axpy
from scipy.linalg.blas import idamax as _iamax

from mnlogit.solvers._base import (
    ConvergenceMonitor,
    SolverOptions,
    SolverResult,
    check_requirements,
)
from mnlogit.solvers.linesearch import backtracking

__all__ = ["REQUIRES", "conjugate_gradient", "solve"]

FloatArray = NDArray[np.float64]
REQUIRES = ("value_and_gradient", "hessp")


def conjugate_gradient(
    hessp: object,
    g: FloatArray,
    rtol: float,
    max_iter: int,
    atol: float = 0.0,
    precondition: Callable[[FloatArray], FloatArray] | None = None,
) -> tuple[FloatArray, int]:
    """Approximately solve ``H d = -g`` by (preconditioned) CG.

    Parameters
    ----------
    hessp : callable
        ``v -> H v`` for vectors of shape ``(m,)``.
    g : ndarray of shape (m,)
    rtol : float
        Stop when ``|H d + g| <= rtol * |g|``.
    max_iter : int
    atol : float, default=0
        Also stop when ``max |H d + g| <= atol``: the quadratic model predicts the
        gradient after the step to be ``H d + g``, so once its largest entry is below
        the gradient tolerance, more CG iterations buy nothing.
    precondition : callable, optional
        ``r -> P^{-1} r`` for a symmetric positive definite ``P`` close to ``H``. The
        stopping rules always read the true residual ``H d + g``.

    Returns
    -------
    d : ndarray of shape (m,)
    n_products : int
        Hessian-vector products used.
    """
    # Vector updates in place through BLAS (m can be in the millions).
    d = np.zeros_like(g)
    r = -g
    z = r if precondition is None else np.asarray(precondition(r), dtype=np.float64)
    rz = float(r @ z)
    if precondition is not None and not (np.isfinite(rz) and rz > 0):
        # not positive definite along r (or not finite): plain CG instead
        precondition, z = None, r
        rz = float(r @ r)
    s = z.copy()
    target = (rtol**2) * float(r @ r)
    for i in range(max_iter):
        Hs = np.asarray(hessp(s), dtype=np.float64)  # type: ignore[operator]
        curv = float(s @ Hs)
        if curv <= 1e-16 * float(s @ s):
            return (d if i > 0 else -g), i + 1
        a = rz / curv
        d = _axpy(s, d, a=a)
        r = _axpy(Hs, r, a=-a)
        rr = float(r @ r)
        if rr <= target or (atol > 0 and abs(float(r[_iamax(r)])) <= atol):
            return d, i + 1
        z = r if precondition is None else np.asarray(precondition(r), dtype=np.float64)
        rz_new = rr if precondition is None else float(r @ z)
        if not rz_new > 0:  # a preconditioner that is not positive definite here
            return d, i + 1
        s *= rz_new / rz
        s += z
        rz = rz_new
    return d, max_iter


def solve(objective: object, x0: FloatArray, options: SolverOptions) -> SolverResult:
    """Minimize ``objective`` from ``x0`` by truncated Newton with CG inner solves."""
    check_requirements("newton-cg", objective, REQUIRES)
    obj = objective
    monitor = ConvergenceMonitor("newton-cg", options)
    x = np.array(x0, dtype=np.float64, copy=True)
    f, g = obj.value_and_gradient(x)  # type: ignore[attr-defined]
    if monitor.record(x, f, g):
        return monitor.result(x)
    max_cg = max(20, min(10 * x.size, 500))
    # Search directions may use a cheaper product (float32 on sparse X) when the
    # objective offers one; gradients and values stay exact.
    product = getattr(obj, "curvature_product", None) or obj.hessp  # type: ignore[attr-defined]
    # The multinomial objective offers the block-diagonal Kronecker preconditioner,
    # formed again at every Newton point (a weighted column sum of squares and a
    # (K-1)^2 class factor: well under one pass over X); None where it does not pay.
    make_preconditioner = getattr(obj, "curvature_preconditioner", None)
    # With the gradient criterion, CG also stops once the predicted next gradient is
    # within half the tolerance (see conjugate_gradient).
    atol = 0.5 * options.tol if options.criterion == "gradient" else 0.0
    stop_reason = None
    for _ in range(options.max_iter):
        gnorm = float(np.linalg.norm(g))
        rtol = min(0.5, np.sqrt(gnorm))
        precondition = None if make_preconditioner is None else make_preconditioner(x)
        d, _ = conjugate_gradient(lambda v, x=x: product(x, v), g, rtol, max_cg, atol, precondition)
        ls = backtracking(obj, x, f, g, d)  # type: ignore[arg-type]
        if not ls.ok:
            stop_reason = "the line search found no decrease along the CG direction"
            break
        x, f, g = ls.x, ls.f, ls.g
        if monitor.record(x, f, g, ls.step):
            break
    return monitor.result(x, stop_reason)
