"""Limited-memory BFGS through :func:`scipy.optimize.minimize` (``L-BFGS-B``).

scipy's own stopping rules are switched off (``gtol=0``, ``ftol=0``); a callback
records the shared convergence criteria after every iteration and stops the run
when the chosen one is met, so this solver obeys the same contract as the others.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
from numpy.typing import NDArray

from mnlogit.objective.protocol import SolverObjective, check_requirements
from mnlogit.solvers.monitor import ConvergenceMonitor, SolverOptions, SolverResult

__all__ = ["REQUIRES", "solve"]

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

    def callback(intermediate_result: scipy.optimize.OptimizeResult) -> None:
        theta = np.asarray(intermediate_result.x)
        f_k, g_k = at(theta)
        if monitor.record(theta, f_k, g_k):
            raise StopIteration

    res = scipy.optimize.minimize(
        fun,
        x,
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
    x = monitor.last_x if monitor.converged and monitor.last_x is not None else np.asarray(res.x)
    if not monitor.converged and monitor.n_iter < options.max_iter:
        return monitor.result(x, f"scipy stopped: {res.message}")
    return monitor.result(x)
