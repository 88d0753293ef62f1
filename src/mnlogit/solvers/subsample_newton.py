"""Newton's method with the Hessian taken from a row subsample ("subsample-newton").

For ``n`` much larger than the number of free parameters ``m`` the exact Hessian costs
many passes over ``X`` (``n m^2`` flops against ``n m`` for a gradient) while a Hessian
formed on ``r << n`` rows is nearly as good: its relative error is of order
``sqrt(m / r)``. The solver therefore

1. fits the model on a systematic row subsample ``X[::s]`` (copied as float32: at most
   ``n / 8`` rows, so at most a sixteenth of a float64 ``X``'s memory) -- recursively by this same method, so
   the warm start costs a fraction of a pass -- which lands within sampling error
   ``O(sqrt(m / r))`` of the full-data estimate;
2. forms and factors the Hessian of the subsample objective at that point;
3. iterates on the full data with that fixed matrix, ``x <- x - t H_r^{-1} g(x)``
   (a chord, or quasi-Newton, iteration): one gradient pass per iteration, the
   gradient shrinking by a factor of about ``sqrt(m / r)`` each time; a backtracking
   line search guards every step.

If an iteration shrinks the gradient's largest entry by less than half, the preconditioner
is refreshed at the current point on four times as many rows (the full data at most,
which makes the iteration Newton's method). A subsample in which some class is absent,
or whose fit does not converge, is abandoned for the full data.

The subsample size is ``r = min(n / 8, max(30 m, 25 n / m, 2000))`` rows, chosen so the
subsample Hessian costs a few passes while the chord iteration contracts fast; when
``30 m`` or 2,000 rows exceed ``n / 8`` there is no subsample and the method is damped
Newton with a Hessian refreshed only when progress slows.

Iteration 0 of the history is the warm start (the subsample solution) evaluated on the
full data; iterations are full-data iterations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from mnlogit.solvers._base import (
    ConvergenceMonitor,
    SolverOptions,
    SolverResult,
    check_requirements,
)
from mnlogit.solvers.linesearch import backtracking

__all__ = ["REQUIRES", "solve", "subsample_rows"]

FloatArray = NDArray[np.float64]
REQUIRES = ("value_and_gradient", "hessian", "subsample")

# Subsample rows per free parameter (quality of the subsample Hessian) and the
# number of passes' worth of Hessian work aimed for (cost), see subsample_rows.
_ROWS_PER_PARAM = 30
_HESSIAN_BUDGET = 25
_MIN_ROWS = 2000
# At most n / 8 rows: the subsample is copied.
_MAX_FRACTION = 8
# Gradient tolerance of the subsample fits.
_SUB_TOL = 1e-5
# A chord iteration must shrink max|g| by at least this factor, else refresh.
_SLOW = 0.5


def subsample_rows(n_samples: int, n_params: int) -> int:
    """Rows ``r`` of the subsample the preconditioner is built on (``n_samples`` = none).

    ``r = min(n / 8, max(25 n / m, 30 m, 2000))``; the full data when ``30 m`` or 2,000
    rows exceed ``n / 8``.
    """
    m = max(n_params, 1)
    floor = max(_ROWS_PER_PARAM * m, _MIN_ROWS)
    cap = n_samples // _MAX_FRACTION
    if floor > cap:
        return n_samples
    return min(cap, max(floor, int(_HESSIAN_BUDGET * n_samples / m)))


def _factor(H: FloatArray) -> Callable[[FloatArray], FloatArray]:
    """A solver ``g -> H^{-1} g`` for a symmetric positive semi-definite ``H``.

    Cholesky when it succeeds; otherwise an eigendecomposition with eigenvalues floored
    at ``1e-10`` of the largest (as :func:`mnlogit.solvers.newton.solve_psd`).
    """
    try:
        factor = scipy.linalg.cho_factor(H, lower=False, check_finite=False)
        if np.all(np.isfinite(factor[0])):
            return lambda g: np.asarray(scipy.linalg.cho_solve(factor, g, check_finite=False))
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        pass
    w, V = scipy.linalg.eigh(H, check_finite=False)
    w = np.maximum(w, max(float(np.max(np.abs(w))), 1e-300) * 1e-10)
    return lambda g: np.asarray(V @ ((V.T @ g) / w))


def _warm_start(
    obj: Any, x0: FloatArray, options: SolverOptions, rows: int
) -> tuple[FloatArray, Any]:
    """Fit on every ``s``-th row; return the estimate and the subsample objective.

    Returns ``(x0, None)`` when the subsample is unusable (a class missing, or its fit
    did not converge).
    """
    n = obj.n_samples
    stride = max(1, n // rows)
    sub = obj.subsample(stride)
    if np.unique(sub.y).size < obj.n_classes:
        return x0, None
    # The subsample estimate is a warm start within sampling error of the full-data
    # one (a full-data gradient of order sqrt(1 / r)); solving it more exactly is waste.
    sub_options = SolverOptions(
        tol=max(options.tol, _SUB_TOL), max_iter=100, criterion="gradient", verbose=0
    )
    res = solve(sub, x0, sub_options)
    if not res.converged:
        return x0, None
    return res.x, sub


def solve(objective: object, x0: FloatArray, options: SolverOptions) -> SolverResult:
    """Minimize ``objective`` from ``x0`` by subsample-Hessian Newton (module docstring)."""
    check_requirements("subsample-newton", objective, REQUIRES)
    obj: Any = objective
    n = int(obj.n_samples)
    m = int(obj.n_params)
    monitor = ConvergenceMonitor("subsample-newton", options)
    rows = subsample_rows(n, m)
    x = np.array(x0, dtype=np.float64, copy=True)
    sub: Any = None
    if rows < n:
        x, sub = _warm_start(obj, x, options, rows)
        if sub is None:
            rows = n
    f, g = obj.value_and_gradient(x)
    if monitor.record(x, f, g):
        return monitor.result(x)
    curvature = obj if sub is None else sub
    inverse = _factor(curvature.hessian(x))
    fresh = True  # the preconditioner was formed at the current point
    stop_reason = None
    for _ in range(options.max_iter):
        gmax = float(np.max(np.abs(g)))
        d = -inverse(g)
        ls = backtracking(obj, x, f, g, d)
        if not ls.ok:
            if fresh and rows >= n:
                stop_reason = "the line search found no decrease along the Newton direction"
                break
            rows = n if 4 * rows > n // _MAX_FRACTION else 4 * rows
            curvature = obj if rows >= n else obj.subsample(max(1, n // rows))
            inverse = _factor(curvature.hessian(x))
            fresh = True
            continue
        x, f, g = ls.x, ls.f, ls.g
        if monitor.record(x, f, g, ls.step):
            break
        fresh = False
        if float(np.max(np.abs(g))) > _SLOW * gmax:
            if rows < n:
                rows = n if 4 * rows > n // _MAX_FRACTION else 4 * rows
                curvature = obj if rows >= n else obj.subsample(max(1, n // rows))
            inverse = _factor(curvature.hessian(x))
            fresh = True
    return monitor.result(x, stop_reason)
