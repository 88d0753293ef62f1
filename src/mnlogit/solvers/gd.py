"""Gradient descent with a backtracking (Armijo) line search.

The slowest solver (linear convergence at a rate set by the condition number), kept
as the simplest reference and for teaching. The trial step starts at twice the last
accepted step, so the step size adapts up as well as down. When the objective offers
a Hessian (and up to ``lbfgs._PRECONDITION_MAX`` parameters), the descent direction is
preconditioned by the Hessian at the start (steepest descent in the metric that
whitens it), and a Newton polish finishes where the values stop resolving progress.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mnlogit.objective.protocol import SolverObjective, check_requirements
from mnlogit.solvers.lbfgs import newton_polish, whitening
from mnlogit.solvers.linesearch import backtracking
from mnlogit.solvers.monitor import ConvergenceMonitor, SolverOptions, SolverResult

__all__ = ["REQUIRES", "solve"]

FloatArray = NDArray[np.float64]
REQUIRES: tuple[str, ...] = ()  # values and gradients only


def solve(objective: SolverObjective, x0: FloatArray, options: SolverOptions) -> SolverResult:
    """Minimize ``objective`` from ``x0`` by steepest descent."""
    check_requirements("gd", objective, REQUIRES)
    obj = objective
    monitor = ConvergenceMonitor("gd", options)
    x = np.array(x0, dtype=np.float64, copy=True)
    f, g = obj.value_and_gradient(x)
    if monitor.record(x, f, g):
        return monitor.result(x)
    step = 1.0
    stop_reason = None
    metric = whitening(obj, x)
    for _ in range(options.max_iter):
        ls = backtracking(obj, x, f, g, metric.direction(g), step=step)
        if not ls.ok:
            stop_reason = "the line search found no decrease along the negative gradient"
            break
        stalled = f - ls.f <= 16 * np.finfo(np.float64).eps * abs(f)
        x, f, g = ls.x, ls.f, ls.g
        step = 2.0 * ls.step
        if monitor.record(x, f, g, ls.step):
            break
        if stalled and metric.chol is not None:  # values no longer resolve progress
            break
    if not monitor.converged and metric.chol is not None and monitor.n_iter < options.max_iter:
        x = newton_polish(obj, x, monitor, options)
        if monitor.converged:
            stop_reason = None
    return monitor.result(x, stop_reason)
