"""Working precision: float32 data fitted with float32 products, finished in float64.

A float32 ``X`` is never converted as a whole. Solvers first iterate on float32 BLAS
products (half the memory traffic) down to :data:`FLOAT32_TOL`, then the objective
switches to exact mode -- float64 products of row blocks converted on the fly -- and
the same solver finishes to the requested ``tol`` (:func:`solve_in_precision`). See
docs/solvers.md, "float32 data".
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from mnlogit.objective.protocol import SolverObjective
from mnlogit.solvers.monitor import SolveFunction, SolverOptions, SolverResult

__all__ = ["FLOAT32_STALL_RTOL", "FLOAT32_TOL", "solve_in_precision"]

FloatArray = NDArray[np.float64]

# With float32 X the solver first iterates on float32 products down to this tolerance,
# then finishes in float64. The float32 gradient's error was measured at 2e-9 to 5e-9
# at the optimum of the benchmark problems (docs/solvers.md), so 1e-6 is safely above
# its floor.
FLOAT32_TOL = 1e-6
#: The float32 phase also ends when ``STALL_RECORDS`` iterations in a row change the
#: objective by at most this, relatively: its gradient can have a floor above
#: ``FLOAT32_TOL`` (a Firth fit of one row of weight 7.5 in float32 stalled at a gradient of
#: 1.8e-6 with the objective moving by 1.4e-14, and ran to ``max_iter`` before this).
FLOAT32_STALL_RTOL = 1e-12


def solve_in_precision(
    solve: SolveFunction, obj: SolverObjective, x0: FloatArray, options: SolverOptions
) -> SolverResult:
    """Run ``solve``; for float32 X in two phases, float32 products then float64 ones.

    The second phase starts where the first ended; a first result that carries a
    ``state`` (``subsample-newton``: its preconditioner and pairs, so no second warm
    start) is resumed from it. ``max_iter`` bounds both phases together; the returned
    result counts the iterations of both (``float32_iterations`` of them in the first)
    and concatenates their histories.

    Parameters
    ----------
    solve : callable
        ``solve(objective, x0, options) -> SolverResult``, one of
        :data:`mnlogit.solvers.SOLVERS`.
    obj : SolverObjective
    x0 : ndarray of shape (n_params,)
    options : SolverOptions

    Returns
    -------
    SolverResult
    """
    if not obj.low_precision:
        return solve(obj, x0, options)
    fast = replace(
        options,
        tol=max(options.tol, FLOAT32_TOL),
        stop_on_stall=True,
        stall_rtol=max(options.stall_rtol, FLOAT32_STALL_RTOL),
    )
    first = solve(obj, x0, fast)
    obj.set_exact(True)
    rest = replace(options, max_iter=max(options.max_iter - first.n_iter, 0))
    if first.state is not None:
        second = first.state.resume(obj, first.x, rest)
    else:
        second = solve(obj, first.x, rest)
    return _merge(first, second, options)


def _merge(first: SolverResult, second: SolverResult, options: SolverOptions) -> SolverResult:
    """One result for both phases: fields set, no message text edited."""
    offset = first.n_iter
    tail = [replace(rec, iteration=rec.iteration + offset) for rec in second.history[1:]]
    stop_reason = second.stop_reason
    if not second.converged and options.max_iter - offset <= 0:
        stop_reason = f"reached max_iter={options.max_iter}"
    return replace(
        second,
        n_iter=second.n_iter + offset,
        history=list(first.history) + tail,
        stop_reason=stop_reason,
        float32_iterations=offset,
    )
