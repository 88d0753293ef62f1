"""Limited-memory BFGS through :func:`scipy.optimize.minimize` (``L-BFGS-B``).

scipy's own stopping rules are switched off (``gtol=0``, ``ftol=0``); a callback
records the shared convergence criteria after every iteration and stops the run
when the chosen one is met, so this solver obeys the same contract as the others.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.optimize
from numpy.typing import NDArray

from mnlogit.objective.protocol import HESSIAN, SolverObjective, check_requirements
from mnlogit.solvers.monitor import ConvergenceMonitor, SolverOptions, SolverResult

__all__ = ["REQUIRES", "Whitening", "newton_polish", "solve", "whitening"]

FloatArray = NDArray[np.float64]
REQUIRES: tuple[str, ...] = ()  # values and gradients only

# Number of correction pairs kept; more than scipy's default of 10 pays off on the
# ill-conditioned problems that multinomial fits with many classes produce.
_MEMORY = 20


def solve(objective: SolverObjective, x0: FloatArray, options: SolverOptions) -> SolverResult:
    """Minimize ``objective`` from ``x0`` with scipy's L-BFGS-B (no bounds)."""
    check_requirements("lbfgs", objective, REQUIRES)
    obj = objective
    monitor = ConvergenceMonitor("lbfgs", options)
    # the last evaluation (x, f, g): scipy's callback reports a point it evaluated
    last: list[tuple[FloatArray, float, FloatArray]] = []

    def fun(theta: FloatArray) -> tuple[float, FloatArray]:
        f, g = obj.value_and_gradient(theta)
        last[:] = [(np.array(theta, copy=True), f, g)]
        return f, g

    def at(theta: FloatArray) -> tuple[float, FloatArray]:
        if last and np.array_equal(last[0][0], theta):
            return last[0][1], last[0][2]
        return fun(theta)

    x = np.array(x0, dtype=np.float64, copy=True)
    f, g = fun(x)
    if monitor.record(x, f, g) or options.max_iter <= 0:
        return monitor.result(x)
    to_x = whitening(obj, x)

    def fun_z(z: FloatArray) -> tuple[float, FloatArray]:
        f_z, g_x = fun(to_x(z))
        return f_z, to_x.gradient(g_x)

    def callback(intermediate_result: scipy.optimize.OptimizeResult) -> None:
        theta = to_x(np.asarray(intermediate_result.x))
        f_k, g_k = at(theta)
        if monitor.record(theta, f_k, g_k):
            raise StopIteration

    res = scipy.optimize.minimize(
        fun_z,
        np.zeros_like(x),
        jac=True,
        method="L-BFGS-B",
        callback=callback,
        options={
            "maxiter": options.max_iter,
            "maxcor": _MEMORY,
            "gtol": 0.0,
            "ftol": 0.0,
            "maxls": 50,
            "maxfun": 20 * options.max_iter + 100,
        },
    )
    x = monitor.last_x if monitor.converged and monitor.last_x is not None else to_x(res.x)
    if not monitor.converged and to_x.chol is not None and monitor.n_iter < options.max_iter:
        x = newton_polish(obj, x, monitor, options)
    if not monitor.converged and monitor.n_iter < options.max_iter:
        return monitor.result(x, f"scipy stopped: {res.message}")
    return monitor.result(x)


# Problems up to this many parameters, and this many cells n * K, are solved in
# coordinates whitened by the Hessian at the starting point (one dense Hessian: m^2
# memory, and an n x K probability buffer that first-order fits of larger data must not
# hold; those keep the identity)
_PRECONDITION_MAX = 1000
_PRECONDITION_MAX_CELLS = 1 << 20


class Whitening:
    """``x = x0 + L^{-T} z`` with ``L L^T`` the Hessian at ``x0``: L-BFGS on ``z`` starts
    on a problem whose curvature at ``z = 0`` is the identity (ill-conditioning from
    correlated, uncentred columns and the class coupling removed), as Newton's method
    sees it. Without a Hessian (or a usable one) ``L`` is the identity."""

    def __init__(self, x0: FloatArray, chol: FloatArray | None) -> None:
        self.x0 = x0
        self.chol = chol

    def __call__(self, z: FloatArray) -> FloatArray:
        if self.chol is None:
            return self.x0 + z
        return self.x0 + scipy.linalg.solve_triangular(self.chol.T, z, lower=False)

    def direction(self, g: FloatArray) -> FloatArray:
        """The preconditioned descent direction in ``x``: ``-(L L^T)^{-1} g``."""
        return -(self(self.gradient(g)) - self.x0)

    def gradient(self, g: FloatArray) -> FloatArray:
        """The gradient in ``z``: ``L^{-1} g``."""
        if self.chol is None:
            return g
        return np.asarray(scipy.linalg.solve_triangular(self.chol, g, lower=True))


def whitening(obj: SolverObjective, x0: FloatArray) -> Whitening:
    """The Hessian-at-``x0`` change of variables (identity without a usable Hessian,
    beyond ``_PRECONDITION_MAX`` parameters or ``_PRECONDITION_MAX_CELLS`` cells)."""
    cells = obj.n_samples * obj.n_classes
    if (
        HESSIAN not in obj.capabilities
        or x0.size > _PRECONDITION_MAX
        or cells > _PRECONDITION_MAX_CELLS
    ):
        return Whitening(x0, None)
    H = np.asarray(obj.hessian(x0), dtype=np.float64)
    H = (H + H.T) / 2
    H[np.diag_indices_from(H)] += 1e-10 * max(float(np.trace(H)) / H.shape[0], 1e-300)
    try:
        return Whitening(x0, np.asarray(np.linalg.cholesky(H), dtype=np.float64))
    except np.linalg.LinAlgError:
        return Whitening(x0, None)


def newton_polish(
    obj: SolverObjective, x: FloatArray, monitor: ConvergenceMonitor, options: SolverOptions
) -> FloatArray:
    """Full Newton steps from ``x`` while they shrink the gradient (at most 5).

    A first-order method stops where the objective's changes reach its rounding
    (``|df| ~ eps |f|``, a gradient near ``sqrt(eps)``) and can go no further on values;
    Newton's step needs no line search near the optimum and takes the gradient to the
    tolerance in one or two steps. Each step is recorded as an iteration.
    """
    f, g = obj.value_and_gradient(x)
    for _ in range(5):
        if monitor.n_iter >= options.max_iter:
            break
        H = np.asarray(obj.hessian(x), dtype=np.float64)
        try:
            step = np.linalg.solve((H + H.T) / 2, g)
        except np.linalg.LinAlgError:
            break
        x_new = x - step
        f_new, g_new = obj.value_and_gradient(x_new)
        if not np.isfinite(f_new) or np.max(np.abs(g_new)) >= np.max(np.abs(g)):
            break
        x, f, g = x_new, f_new, g_new
        if monitor.record(x, f, g):
            break
    return x
