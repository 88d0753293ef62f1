"""Truncated Newton (Newton-CG) using Hessian-vector products only.

Memory is O(n K + p K): the Hessian is never formed, which suits large ``p * K``.
Each outer iteration solves ``H d = -g`` approximately by conjugate gradients, to a
relative residual of ``min(0.5, sqrt(|g|))`` (the Eisenstat-Walker forcing
sequence that gives superlinear convergence) or, with the gradient criterion, until
the predicted next gradient is within half the tolerance; it stops CG early on
negative curvature, then takes a backtracking line search from the unit step. The
products come from the objective's ``curvature_product`` (float32 on large sparse X
for the multinomial objective, ``hessp`` otherwise). CG is preconditioned by the
objective's ``curvature_preconditioner`` when it gives one -- for the multinomial
objective the block-diagonal Kronecker model of the Hessian
(:func:`mnlogit.objective.curvature.block_diagonal_inverse`: one ``(K-1) x (K-1)`` block
per feature, sharing one class factor), formed again at each Newton point; docs/solvers.md
has what it saves.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.blas import daxpy as _axpy
from scipy.linalg.blas import idamax as _iamax

from mnlogit.objective.protocol import HESSP, SolverObjective, check_requirements
from mnlogit.solvers.linesearch import backtracking
from mnlogit.solvers.monitor import ConvergenceMonitor, SolverOptions, SolverResult

__all__ = ["REQUIRES", "conjugate_gradient", "solve"]

FloatArray = NDArray[np.float64]
REQUIRES = (HESSP,)


def conjugate_gradient(
    hessp: Callable[[FloatArray], FloatArray],
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
        # H s and the next z are the only m-sized arrays made per iteration; each is
        # dropped as soon as it is used, so at most one of each is alive.
        Hs = np.asarray(hessp(s), dtype=np.float64)
        curv = float(s @ Hs)
        if curv <= 1e-16 * float(s @ s):
            return (d if i > 0 else -g), i + 1
        a = rz / curv
        d = _axpy(s, d, a=a)
        r = _axpy(Hs, r, a=-a)
        del Hs
        rr = float(r @ r)
        if rr <= target or (atol > 0 and abs(float(r[_iamax(r)])) <= atol):
            return d, i + 1
        del z
        z = r if precondition is None else np.asarray(precondition(r), dtype=np.float64)
        rz_new = rr if precondition is None else float(r @ z)
        if not rz_new > 0:  # a preconditioner that is not positive definite here
            return d, i + 1
        s *= rz_new / rz
        s += z
        rz = rz_new
    return d, max_iter


def solve(objective: SolverObjective, x0: FloatArray, options: SolverOptions) -> SolverResult:
    """Minimize ``objective`` from ``x0`` by truncated Newton with CG inner solves."""
    check_requirements("newton-cg", objective, REQUIRES)
    obj = objective
    # Iterates are never changed in place (each comes fresh from the line search), so
    # neither x0 nor the monitor's record of x needs a copy: two m-sized arrays fewer,
    # one of them made anew at every iteration (peak memory, issue-sparse6).
    monitor = ConvergenceMonitor("newton-cg", options, copy_iterates=False)
    x = np.asarray(x0, dtype=np.float64)
    f, g = obj.value_and_gradient(x)
    if monitor.record(x, f, g):
        return monitor.result(x.copy())  # the result never shares the caller's x0
    max_cg = max(20, min(10 * x.size, 500))
    # Search directions use the objective's curvature product, which may be cheaper than
    # hessp (float32 on sparse X); gradients and values stay exact. The preconditioner
    # is formed again at every Newton point (the multinomial objective's block-diagonal
    # Kronecker model: a weighted column sum of squares and a (K-1)^2 class factor, well
    # under one pass over X); None where it does not pay or the objective has none.
    # With the gradient criterion, CG also stops once the predicted next gradient is
    # within half the tolerance (see conjugate_gradient).
    atol = 0.5 * options.tol if options.criterion == "gradient" else 0.0
    stop_reason = None
    # The last direction and preconditioner are dropped before the next are made: each
    # holds m numbers (m = (K-1)(p+1), about a million on a sparse text problem), and
    # keeping them through the next CG solve raised the fit's peak memory.
    d: FloatArray | None = None
    precondition: Callable[[FloatArray], FloatArray] | None = None
    for _ in range(options.max_iter):
        gnorm = float(np.linalg.norm(g))
        rtol = min(0.5, np.sqrt(gnorm))
        d = precondition = None
        precondition = obj.curvature_preconditioner(x)

        def product(v: FloatArray, at: FloatArray = x) -> FloatArray:
            return obj.curvature_product(at, v)

        d, _ = conjugate_gradient(product, g, rtol, max_cg, atol, precondition)
        ls = backtracking(obj, x, f, g, d)
        if not ls.ok:
            stop_reason = "the line search found no decrease along the CG direction"
            break
        x, f, g = ls.x, ls.f, ls.g
        if monitor.record(x, f, g, ls.step):
            break
    return monitor.result(x.copy() if x is x0 else x, stop_reason)
