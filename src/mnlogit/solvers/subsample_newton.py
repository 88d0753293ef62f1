"""Newton's method with the Hessian taken from a row subsample ("subsample-newton").

For ``n`` much larger than the number of free parameters ``m`` the exact Hessian costs
many passes over ``X`` (``n m^2`` flops against ``n m`` for a gradient) while a Hessian
formed on ``r << n`` rows is nearly as good: its relative error is of order
``sqrt(m / r)``. The solver therefore

1. fits the model on a systematic row subsample ``X[::s]`` (copied as float32: at most
   ``n / 16`` rows, a thirty-second of a float64 ``X``'s memory) -- recursively by this same
   method, so the warm start costs a fraction of a pass -- which lands within sampling
   error ``O(sqrt(m / r))`` of the full-data estimate (a subsample fit whose float32
   products stall short of its tolerance stops there, and is used when its gradient is
   at most ``1e-3``);
2. forms and factors (Cholesky) the Hessian of the subsample objective at that point --
   or reuses the subsample fit's last one, when that fit formed it on all the
   subsample's rows where its gradient was at most a tenth of the full data's at the
   warm start (such a fit forms its Hessian again once its gradient is at most ``1e-3``,
   when the one it has was formed at least ten times farther out, typically the null
   model's);
3. iterates on the full data by L-BFGS whose initial matrix is that Hessian: the first
   step is ``x - t H_r^{-1} g(x)``, later ones correct ``H_r`` with up to 10 pairs of
   full-data steps and gradient changes. One gradient pass per iteration; the gradient
   shrinks by a factor of about ``sqrt(m / r)`` or better each time; a backtracking line
   search guards every step. A first iteration after a warm start that shrinks the
   gradient by less than 20x forms the subsample Hessian again at its end, where the
   subsample's ``r`` rows satisfy ``r m <= 8 n`` (not the Kronecker model): its error came
   from where it was formed (the warm start), not from its rows. That one is of twice the
   rows (every ``s/2``-th), read in place through the objective's row view
   (``"row-view"``) where it offers one (dense X: no copy; sparse X: the rows gathered),
   so it costs about ``2 r m / n`` times a sweep's work (``dense-100k-20-5``: 4.1 ms
   against a 5 ms sweep; a wide binary problem beyond the compiled kernel, 200k x 100,
   about two sweeps, still faster overall: 9 -> 8 iterations).

If an iteration shrinks the gradient's largest entry by less than half, the Hessian is
formed again at the current point on four times as many rows (the full data at most,
which makes the iteration Newton's method). A subsample in which some class is absent,
or whose fit stops unconverged with a gradient above ``1e-3``, is abandoned for the full
data.

The subsample size is ``r = min(n / 16, max(10 m, 25 n / m, 2000))`` rows, chosen so the
subsample Hessian costs a few passes while the iteration contracts fast; when ``10 m``
or 2,000 rows exceed ``n / 16`` there is no subsample and the method is Newton's with a
Hessian formed again only when progress slows (and L-BFGS corrections in between).

When the curvature is the Kronecker model on at most 300 parameters (no subsample:
``n < 16 max(10 m, 2000)``), two slow iterations in a row switch it to exact Hessians for the
rest of the solve: a full-data Hessian costs about a dozen passes, and the Kronecker model
can stall for tens of iterations on correlated features. The first is a row subsample's
(:func:`hand_over_rows`: 50 rows per column, at least 2,000, at most a quarter of the rows,
else the full data's); it is formed again only after
five slow iterations in a row (L-BFGS corrects it meanwhile), each time on twice as many
rows, the full data at most.

Iteration 0 of the history is the warm start (the subsample solution) evaluated on the
full data; iterations are full-data iterations.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from mnlogit.objective.protocol import (
    HESSIAN,
    KRONECKER,
    SUBSAMPLE,
    Inverse,
    SolverObjective,
    as_row_view,
    check_requirements,
    hessian_with_next_gradient,
)
from mnlogit.solvers.linesearch import backtracking
from mnlogit.solvers.monitor import ConvergenceMonitor, SolverOptions, SolverResult
from mnlogit.solvers.precision import FLOAT32_STALL_RTOL

__all__ = ["REQUIRES", "solve", "subsample_rows", "uses_kronecker"]

FloatArray = NDArray[np.float64]
REQUIRES = (HESSIAN, SUBSAMPLE)
# also required where the curvature is the Kronecker model (uses_kronecker)
REQUIRES_KRONECKER = (KRONECKER,)

# Subsample rows per free parameter (quality of the subsample Hessian) and the
# number of passes' worth of Hessian work aimed for (cost), see subsample_rows.
_ROWS_PER_PARAM = 10
_HESSIAN_BUDGET = 25
_MIN_ROWS = 2000
# At most n / 16 rows: the subsample is copied.
_MAX_FRACTION = 16
# Gradient tolerance of the subsample fits.
_SUB_TOL = 1e-5
# A subsample fit that stops short of _SUB_TOL (its float32 objective stopped changing,
# or max_iter) still gives the warm start when its gradient is at most this: below the
# sampling error of every warm start measured (full-data max|g| 2e-3 to 0.7 there).
# illcond-200k-50-6's stalled at 2.9e-5 after 21 iterations; it used to run to max_iter
# (100 iterations, 4.0 s) and be abandoned for the full data (issue-speed12).
_SUB_STALLED_TOL = 1e-3
# Exact Hessians: on the full data up to 100 parameters, on a subsample up to 2000;
# otherwise the Kronecker model (mnlogit.objective.curvature).
_NEWTON_MAX_PARAMS = 100
_HESSIAN_MAX_PARAMS = 2000
# Correction pairs kept: the subsample Hessian is the initial matrix of an L-BFGS
# update, which corrects it with the full data's curvature along the steps taken.
_MEMORY = 10
# Slow iterations in a row, with the largest subsample, before the full Hessian is formed.
_STALL = 5
# A chord iteration must shrink max|g| by at least this factor, else refresh.
_SLOW = 0.5
# After a warm start, a first full-data iteration that shrinks max|g| by less than this
# factor forms the subsample's Hessian again at its end. The preconditioner's error there
# comes from where it was formed (the warm start, a sampling error from the optimum),
# not from its rows: on dense-100k-20-5 plain preconditioned steps (no L-BFGS pairs)
# shrink max|g| 3.3x per iteration with the Hessian of 6,250 or of 25,000 rows formed at
# the warm start, 9x and 25-30x with those formed after one iteration. Measured
# (issue-speed12, docs/solvers.md): dense-100k-20-5 (first contraction 11.5x) 7 -> 6
# iterations; not done on tall-2m-10-4 (49x; 3 iterations either way, and the faster
# last contraction was not predicted, so the covariance's Hessian lost its fused pass:
# 0.55 -> 0.66 s) nor on dense-1m-50-3 (27x; 5 iterations either way, 4% slower).
_FIRST_CONTRACTION = 20.0
# ... only where the warm start's r rows satisfy r m <= 8 n (it saves about one
# iteration). Measured (issue-speed12, the refresh then on the r-row float32 copy), that
# Hessian's time over a sweep's: 0.43 at r m / n = 5.3 (dense-100k-20-5), 0.83 at 16
# (illcond-200k-50-6, 10 -> 9 iterations, no faster), 1.5 at 41 (dense-200k-100-10, 10 ->
# 9 iterations, 3% slower). On 2 r float64 rows since issue-speed13 (below) it costs about
# twice that: 0.8 of a sweep on dense-100k-20-5 (4.1 against 5 ms), about 2 sweeps on a
# binary 200k x 100 (beyond the compiled kernel; that fit still 9 -> 8 iterations, faster).
_REFRESH_MAX_WORK = 8
# ... and on this many times the warm start's rows (its stride divided by this), read in
# place (the objective's row view: no copy, the extra Hessian work alone). Measured
# (issue-speed13, docs/solvers.md, fourteenth pass): dense-100k-20-5 6 -> 5 iterations.
_REFRESH_DENSER = 2
# A warm start's own fit on all its rows (exact Hessians, from the null model's: a poor
# preconditioner far from it, about 2x an iteration) forms its Hessian again once its
# max|g| is at most this, when the one it has was formed at least _NESTED_FAR times farther
# out: then that last Hessian is close enough to be the full data's first preconditioner
# (_REUSE_CLOSER, with full-data max|g| of 1e-2 or more at the warm start). Measured
# (issue-speed13, docs/solvers.md): dense-100k-20-5's 6,250-row fit 9 -> 6 iterations,
# its one Hessian formed at max|g| 8.4e-4 instead of 1.4e-4 (slow iterations), reused.
_NESTED_REFORM = 1e-3
_NESTED_FAR = 10.0
# The warm start fit's last Hessian is the first preconditioner (no Hessian formed again
# at the warm start) when that fit's max|g| where it was formed is at most 1/_REUSE_CLOSER
# of the full data's at the warm start. A Hessian formed at the subsample fit's start
# (easy problems, never formed again) is no such preconditioner: reused unconditionally,
# it cost 200k x 3, K = 2 an iteration (first contraction 66x -> 3x).
_REUSE_CLOSER = 10.0
# The Kronecker model on at most this many parameters: two slow iterations in a row and
# the exact Hessian of the full data takes over (then as without a subsample: L-BFGS
# corrections, formed again when progress slows). A full Hessian then costs about a
# dozen passes (illcond-20k-50-6: 255 parameters, 23 ms against 1.8 ms a pass), while
# the Kronecker model can stall on correlated features (50 iterations, issue 18).
_KRON_EXACT_MAX = 300
# After the hand-over, each refresh's subsample has this many times the rows of the last;
# the first has _HAND_OVER_ROWS_PER_COLUMN rows per column, at most 1/_HAND_OVER_MAX_FRACTION
# of the rows (else all of them): hand_over_rows.
_HAND_OVER_GROWTH = 2
_HAND_OVER_ROWS_PER_COLUMN = 50
_HAND_OVER_MAX_FRACTION = 4


def subsample_rows(n_samples: int, n_params: int) -> int:
    """Rows ``r`` of the subsample the preconditioner is built on (``n_samples`` = none).

    ``r = min(n / 16, max(25 n / m, 10 m, 2000))``; the full data when ``10 m`` or 2,000
    rows exceed ``n / 16``.
    """
    m = max(n_params, 1)
    floor = max(_ROWS_PER_PARAM * m, _MIN_ROWS)
    cap = n_samples // _MAX_FRACTION
    if floor > cap:
        return n_samples
    return min(cap, max(floor, int(_HESSIAN_BUDGET * n_samples / m)))


def _cholesky_inverse(H: NDArray[np.floating[Any]]) -> Inverse | None:
    """``g -> H^{-1} g`` by the Cholesky factor of the symmetric ``H`` (overwritten), or
    None when it fails or its pivot ratio is below 1e-7.

    LAPACK's ``potrf`` and ``potrs`` are called as scipy's ``cho_factor`` and ``cho_solve``
    call them (the same factor and solutions), without their batching wrapper (about
    30 us a call, a dozen calls a fit; docs/solvers.md, "Sixteenth pass").
    """
    potrf, potrs = cast(tuple[Any, Any], scipy.linalg.get_lapack_funcs(("potrf", "potrs"), (H,)))
    factor, info = potrf(H, lower=0, overwrite_a=1, clean=0)
    if info < 0:
        raise ValueError(f'LAPACK reported an illegal value in {-info}-th argument of "POTRF"')
    if info != 0 or not np.all(np.isfinite(factor)):
        return None
    d = np.abs(np.diag(factor))
    if not d.min() > 1e-7 * d.max():
        return None
    dtype = factor.dtype  # float32 for a fast-mode subsample Hessian

    def solve_with(g: FloatArray) -> FloatArray:
        z, failed = potrs(factor, g.astype(dtype), lower=0)
        if failed != 0:
            raise ValueError(f"illegal value in {-failed}th argument of internal potrs")
        return np.asarray(z, dtype=np.float64)

    return solve_with


def _factor(objective: SolverObjective, x: FloatArray) -> tuple[Inverse, bool]:
    """A solver ``g -> H^{-1} g`` for the Hessian ``H`` of ``objective`` at ``x``.

    Cholesky, in place (no second ``m x m`` copy), when it succeeds with a pivot ratio
    above 1e-7 -- and the second item is True. Otherwise the Hessian is formed again and
    eigendecomposed, eigenvalues floored at ``1e-10`` of the largest (as
    :func:`mnlogit.solvers.newton.solve_psd`), and the second item is False: a subsample
    Hessian that is singular (a column zero on every sampled row, say) is no
    preconditioner.
    """
    inverse = _cholesky_inverse(objective.hessian(x).T)  # F-ordered view: in place
    if inverse is not None:
        return inverse, True
    w, V = scipy.linalg.eigh(objective.hessian(x), check_finite=False, overwrite_a=True)
    w = np.maximum(w, max(float(np.max(np.abs(w))), 1e-300) * 1e-10)
    return (lambda g: np.asarray(V @ ((V.T @ g) / w))), False


def _preconditioner(
    obj: SolverObjective, curvature: SolverObjective, x: FloatArray
) -> tuple[Inverse, bool]:
    """Factor ``curvature``'s Hessian at ``x``; the full data's if that one is singular.

    Returns the solver and whether the full data's Hessian was used.
    """
    inverse, ok = _factor(curvature, x)
    if ok or curvature is obj:
        return inverse, curvature is obj
    return _factor(obj, x)[0], True


def _class_weights(obj: SolverObjective, stride: int) -> NDArray[np.float64] | None:
    """The total weight of each class on every ``stride``-th row of ``obj`` (what
    :meth:`~SolverObjective.subsample` keeps), or None where the weights are not a NumPy
    array here (a device objective's; a Dask objective's stay on the workers)."""
    try:
        w = obj.normalized_weights
    except NotImplementedError:
        return None
    if not isinstance(w, np.ndarray):
        return None
    totals: NDArray[np.float64] = np.bincount(
        obj.y[::stride], weights=w[::stride], minlength=obj.n_classes
    ).astype(np.float64, copy=False)
    return totals


def _subsample(obj: SolverObjective, rows: int) -> SolverObjective:
    """``obj`` on about ``rows`` of its rows (``obj`` itself for more than half of them,
    and where the rows kept would all have weight zero: zero weights in a pattern of the
    stride's, whose subsample has no objective)."""
    stride = obj.n_samples // max(rows, 1)
    if stride <= 1:
        return obj
    totals = _class_weights(obj, stride)
    if totals is not None and not totals.sum() > 0.0:
        return obj
    sub = obj.subsample(stride)
    if sub is None:  # not offered: REQUIRES has SUBSAMPLE, so only a broken objective
        raise TypeError(f"{type(obj).__name__}.subsample returned None")
    return sub


def _kronecker(curvature: SolverObjective, x: FloatArray) -> Inverse:
    """The Kronecker model's inverse from ``curvature`` (REQUIRES_KRONECKER checked)."""
    inverse = curvature.kronecker_preconditioner(x)
    if inverse is None:
        raise TypeError(f"{type(curvature).__name__}.kronecker_preconditioner returned None")
    return inverse


class _Curvature:
    """Where the preconditioner comes from, and how it is formed again.

    ``curvature`` is the objective whose Hessian (or Kronecker model) is factored: a row
    subsample of ``rows`` rows, or ``obj`` itself (``rows == n``); ``cap`` the most rows a
    subsample may have (set after the first preconditioner).
    """

    def __init__(
        self, obj: SolverObjective, curvature: SolverObjective, rows: int, kron: bool
    ) -> None:
        self.obj = obj
        self.curvature = curvature
        self.rows = rows
        self.kron = kron
        self.cap = obj.n_samples

    def form(self, x: FloatArray) -> Inverse:
        """The preconditioner at ``x`` from the current curvature (full data if singular)."""
        if self.kron:
            return _kronecker(self.curvature, x)
        inverse, full = _preconditioner(self.obj, self.curvature, x)
        if full:
            self.rows = self.obj.n_samples
        return inverse

    def refresh(self, x: FloatArray) -> Inverse:
        """The warm start's preconditioner formed again at ``x`` after the first full-data
        iteration, on every ``s / _REFRESH_DENSER``-th row of the full data (``s`` the
        warm start's stride) read in place where ``obj`` offers a row view, else on the
        warm start's subsample copy."""
        view = as_row_view(self.obj)
        stride = self.obj.n_samples // max(self.rows, 1) // _REFRESH_DENSER
        if view is not None and stride > 1:
            self.curvature = view.row_view(stride)
            self.rows = int(self.curvature.n_samples)
            self.cap = max(self.cap, self.rows)
        return self.form(x)

    def grow(self, x: FloatArray, factor: int = 4) -> Inverse:
        """``factor`` times as many rows (up to ``cap``; the full data once there), formed
        at ``x``."""
        n = self.obj.n_samples
        self.rows = min(factor * self.rows, self.cap) if self.rows < n else n
        self.curvature = _subsample(self.obj, self.rows)
        return self.form(x)

    def full(self, x: FloatArray) -> Inverse:
        """The full data's Hessian at ``x`` (Newton's method)."""
        self.rows = self.obj.n_samples
        return _factor(self.obj, x)[0]

    def hand_over(self, x: FloatArray) -> Inverse:
        """The Kronecker model's exact successor at ``x``: the Hessian of a row subsample
        of :func:`hand_over_rows` rows (the full data's where that is all of them); later
        refreshes :meth:`grow` it twofold, the full data at most."""
        self.kron = False
        self.cap = self.obj.n_samples
        self.rows = hand_over_rows(self.obj.n_samples, self.obj.n_params, self.obj.n_classes)
        self.curvature = _subsample(self.obj, self.rows)
        return self.form(x)


def _warm_start(
    obj: SolverObjective, x0: FloatArray, options: SolverOptions, rows: int
) -> tuple[FloatArray, SolverObjective | None, _State | None]:
    """Fit on every ``s``-th row; return the estimate, the subsample objective and the
    subsample fit's final state when its preconditioner is the exact Hessian of all the
    subsample's rows (else None: the Kronecker model, or the subsample's own subsample).

    Returns ``(x0, None, None)`` when the subsample is unusable (a class missing or of
    weight zero in it, or its fit stopped unconverged with a gradient above
    ``_SUB_STALLED_TOL``).
    """
    # every class present with a positive weight in the rows kept (zero weights in a
    # pattern of the stride's could leave a class, or every row, without any), checked
    # before the subsample is made
    stride = obj.n_samples // max(rows, 1)
    totals = _class_weights(obj, stride)
    if totals is not None and not np.all(totals > 0.0):
        return x0, None, None
    sub = _subsample(obj, rows)
    # every class present: by counting the codes 0 .. K-1 (np.unique sorted them)
    if np.count_nonzero(np.bincount(sub.y, minlength=obj.n_classes)) < obj.n_classes:
        return x0, None, None
    # The subsample estimate is a warm start within sampling error of the full-data
    # one (a full-data gradient of order sqrt(1 / r)); solving it more exactly is waste.
    # Its float32 products may stall short of _SUB_TOL (ill-conditioned X): the fit
    # stops there, and a point that close is as good a warm start (issue-speed12).
    sub_options = SolverOptions(
        tol=max(options.tol, _SUB_TOL),
        max_iter=100,
        criterion="gradient",
        verbose=0,
        stop_on_stall=True,
        stall_rtol=max(options.stall_rtol, FLOAT32_STALL_RTOL),
    )
    res = solve(sub, x0, sub_options, nested=True)
    # converged at its own tolerance (which a loose tol may put above _SUB_STALLED_TOL),
    # else stopped close enough (``not <=`` also refuses a NaN gradient)
    close = bool(res.history) and res.history[-1].gradient <= _SUB_STALLED_TOL
    if not (res.converged or close):
        return x0, None, None
    last = res.state
    if isinstance(last, _State) and not last.kron and last.rows >= sub.n_samples:
        return res.x, sub, last
    return res.x, sub, None


def _first_preconditioner(
    cur: _Curvature,
    state: _State | None,
    warm: _State | None,
    x: FloatArray,
    g: FloatArray,
    pairs: deque[tuple[FloatArray, FloatArray, float]],
) -> tuple[Inverse, bool]:
    """The first full-data iteration's preconditioner and whether it was formed at ``x``.

    A resumed ``state``'s (its pairs put in ``pairs``); the warm start fit's last Hessian
    when that fit formed it on all the subsample's rows where its ``max|g|`` was at most
    ``1 / _REUSE_CLOSER`` of the full data's ``g`` at ``x`` (about ten times closer to
    ``x`` than ``x`` is to the optimum: as good as one formed again at ``x``;
    issue-speed12); else ``cur``'s, formed at ``x``.
    """
    if state is not None:
        pairs.extend(state.pairs)
        return state.inverse, True
    gmax = float(np.max(np.abs(g)))
    if warm is not None and not cur.kron and warm.formed_gradient * _REUSE_CLOSER <= gmax:
        return warm.inverse, False
    return cur.form(x), True


def _formed_again(
    cur: _Curvature,
    x: FloatArray,
    gnow: float,
    gmax: float,
    first: bool,
    nested: bool,
    formed_gradient: float,
) -> Inverse | None:
    """The preconditioner formed again at ``x`` after an iteration from ``max|g| = gmax``
    to ``gnow``, or None (then only slow iterations form it again).

    ``first`` (the first full-data iteration after a warm start, where that Hessian is
    cheap): formed again, on more rows (:meth:`_Curvature.refresh`), when the iteration
    shrank ``max|g|`` by less than ``_FIRST_CONTRACTION``. ``nested`` (a warm start's fit
    on all its rows, exact Hessians): formed again once ``gnow <= _NESTED_REFORM`` when
    the preconditioner was formed at least ``_NESTED_FAR`` times farther out.
    """
    if first and cur.rows < cur.obj.n_samples and gnow > gmax / _FIRST_CONTRACTION:
        return cur.refresh(x)
    if nested and gnow <= _NESTED_REFORM and formed_gradient > _NESTED_FAR * gnow:
        return cur.form(x)
    return None


def _after_slow_iterations(
    cur: _Curvature, x: FloatArray, slow: int, kron: bool, switched: bool, m: int
) -> tuple[Inverse | None, bool, bool]:
    """After ``slow`` (at least two) slow iterations in a row: the preconditioner formed
    again at ``x`` (None: keep the current one, corrected by L-BFGS), and the new
    ``kron`` and ``switched`` (the Kronecker model handed over to exact Hessians)."""
    if kron and m <= _KRON_EXACT_MAX:
        # stalled with a Hessian that costs a dozen passes: exact curvature from here,
        # first on a subsample of 50 rows per column (hand_over_rows)
        return cur.hand_over(x), False, True
    if kron:
        # The Kronecker model is formed again only when progress stalls: L-BFGS
        # corrects it meanwhile, and each one costs a weighted Gram matrix.
        return (cur.form(x) if slow >= _STALL else None), kron, switched
    if switched:
        # After the Kronecker model's hand-over, whose Hessians cost a dozen passes
        # each, formed again only after _STALL slow iterations (illcond-20k-50-6: 3
        # Hessians and 19 iterations -> 2 and 20, 0.137-0.143 -> 0.120-0.123 s a
        # default fit; issue-speed10), on twice as many rows (the full data at most;
        # issue-speed11: twofold was 10-13% faster than fourfold on the two largest
        # problems of benchmarks.auto_rule's class, docs/solvers.md)
        return (cur.grow(x, _HAND_OVER_GROWTH) if slow >= _STALL else None), kron, switched
    if cur.rows < cur.cap:
        # Two slow iterations in a row: a better Hessian from more rows, up to n / 16.
        return cur.grow(x), kron, switched
    if slow >= _STALL or cur.rows >= cur.obj.n_samples:
        # Still slow with the largest subsample: the full data's Hessian (Newton)
        return cur.full(x), kron, switched
    return None, kron, switched


def solve(
    objective: SolverObjective,
    x0: FloatArray,
    options: SolverOptions,
    state: _State | None = None,
    *,
    nested: bool = False,
) -> SolverResult:
    """Minimize ``objective`` from ``x0`` by subsample-Hessian Newton (module docstring).

    ``state``, the ``state`` of an earlier result on the same objective (the float32
    phase of a fit, resumed by :func:`mnlogit.solvers.precision.solve_in_precision`),
    skips step 1 and reuses that result's preconditioner and correction pairs: ``x0``
    is already close. ``nested``: the fit of a warm start (:func:`_warm_start`), whose
    last Hessian may become the full data's first preconditioner (:func:`_formed_again`).
    """
    check_requirements("subsample-newton", objective, REQUIRES)
    obj = objective
    n = int(obj.n_samples)
    m = int(obj.n_params)
    kron = uses_kronecker(n, m) if state is None else state.kron
    # the Kronecker model handed over to the exact Hessian (here or in the resumed state)
    switched = not kron and uses_kronecker(n, m)
    if kron:
        check_requirements("subsample-newton", obj, REQUIRES_KRONECKER)
    monitor = ConvergenceMonitor("subsample-newton", options)
    rows = subsample_rows(n, m)
    x = np.array(x0, dtype=np.float64, copy=True)
    sub: SolverObjective | None = None
    warm: _State | None = None  # the subsample fit's, with the Hessian of all its rows
    if state is not None:
        rows = state.rows
    elif rows < n:
        x, sub, warm = _warm_start(obj, x, options, rows)
        if sub is None:
            rows = n
    f, g = obj.value_and_gradient(x)
    if monitor.record(x, f, g):
        return monitor.result(x)
    # Where the curvature comes from: the subsample, else the full data (the Kronecker
    # model's weighted Gram matrix reads X in small chunks and needs no copy).
    # rows: what the subsample holds (an objective may gather fewer than asked for)
    rows = rows if sub is None else min(rows, int(sub.n_samples))
    cur = _Curvature(obj, obj if sub is None else sub, rows, kron)
    pairs: deque[tuple[FloatArray, FloatArray, float]] = deque(maxlen=_MEMORY)
    inverse, fresh = _first_preconditioner(cur, state, warm, x, g, pairs)
    warm = None  # its factor is the preconditioner now, or not needed (memory)
    # formed again after the first full-data iteration when that one was slow: the
    # warm start is where the preconditioner's error comes from (issue-speed12)
    refresh_first = sub is not None and not kron and cur.rows * m <= _REFRESH_MAX_WORK * n
    # a warm start's own fit on all its rows: formed again once close (_formed_again)
    reform = nested and sub is None and state is None and not kron
    cur.cap = cur.rows if cur.rows >= n else max(cur.rows, n // _MAX_FRACTION)
    if switched:  # resumed after the hand-over: its subsample grows to the full data
        cur.cap = n
    slow = 0
    stop_reason = None
    formed_gradient = float("inf")
    for _ in range(options.max_iter):
        gmax = monitor.history[-1].gradient  # max|g| of this g, recorded
        if fresh:
            formed_gradient = gmax
        # the Kronecker model's overall scale is only approximate, so it is corrected
        # from the newest pair; a subsample Hessian's is not (docs/solvers.md)
        d = -_two_loop(g, pairs, inverse, rescale=kron)
        # predicted to converge, with a covariance to come: the trial point's gradient
        # forms the Hessian in the same pass (a wrong prediction: dropped with the point)
        last = options.final_hessian and monitor.predicts_convergence()
        with hessian_with_next_gradient(obj, last):
            ls = backtracking(obj, x, f, g, d)
        if not ls.ok:
            if fresh and not pairs and (kron or cur.rows >= n):
                stop_reason = "the line search found no decrease along the Newton direction"
                break
            pairs.clear()
            refresh_first = False  # the preconditioner changes here already
            if kron:
                inverse = cur.form(x)
            elif not fresh:
                inverse = cur.grow(x)
            elif cur.rows < n:  # a fresh subsample Hessian failed: use the full data's
                inverse = cur.full(x)
            fresh = True
            continue
        s_k, y_k = ls.x - x, ls.g - g
        sy = float(s_k @ y_k)
        # ||s|| ||y||, each as np.linalg.norm forms it (sqrt of the dot), without its
        # dispatch
        if sy > 1e-12 * (math.sqrt(float(s_k @ s_k)) * math.sqrt(float(y_k @ y_k))):
            pairs.append((s_k, y_k, 1.0 / sy))
        x, f, g = ls.x, ls.f, ls.g
        if monitor.record(x, f, g, ls.step):
            break
        fresh = False
        gnow = monitor.history[-1].gradient  # max|g|
        formed = _formed_again(cur, x, gnow, gmax, refresh_first, reform, formed_gradient)
        refresh_first, reform = False, reform and gnow > _NESTED_REFORM
        if formed is not None:
            pairs.clear()
            inverse, fresh, slow = formed, True, 0
            continue
        slow = slow + 1 if gnow > _SLOW * gmax else 0
        if slow < 2:
            continue
        formed, kron, switched = _after_slow_iterations(cur, x, slow, kron, switched, m)
        if formed is not None:
            inverse, fresh, slow = formed, True, 0
    if fresh:  # formed at the last iteration's end (max_iter reached)
        formed_gradient = float(np.max(np.abs(g)))
    result = monitor.result(x, stop_reason)
    result.state = _State(inverse, list(pairs), cur.rows, kron, formed_gradient)
    return result


def hand_over_rows(n_samples: int, n_params: int, n_classes: int) -> int:
    """Rows of the subsample whose Hessian takes over from a stalled Kronecker model.

    ``max(50 p1, 2000)`` rows for ``p1 = m / (K - 1)`` columns: each block of the Hessian
    is a weighted Gram matrix of the ``p1`` columns, so its sampling error (it is only a
    preconditioner) depends on the rows per column, not per parameter (10 rows per
    parameter were 10 per column at ``K = 2``: 9-43% slower fits at ``K = 2, 3``). All rows
    when that is more than a quarter of them: a subsample Hessian on half the rows saves
    little and is formed again on all of them (issue-speed11, docs/solvers.md).
    """
    columns = max(n_params, 1) // max(n_classes - 1, 1)
    rows = max(_HAND_OVER_ROWS_PER_COLUMN * columns, _MIN_ROWS)
    return n_samples if _HAND_OVER_MAX_FRACTION * rows > n_samples else rows


def uses_kronecker(n_samples: int, n_params: int) -> bool:
    """Whether the curvature is the Kronecker model rather than an exact Hessian.

    Above ``2000`` parameters an ``m x m`` Hessian is too costly to form and factor; from
    ``101`` parameters on it is also too costly on the full data, so without a subsample
    the Kronecker model is used as well.
    """
    if n_params > _HESSIAN_MAX_PARAMS:
        return True
    return n_params > _NEWTON_MAX_PARAMS and subsample_rows(n_samples, n_params) >= n_samples


@dataclass
class _State:
    """What a later call needs to continue: the factored Hessian (or the Kronecker
    model, ``kron``), pairs, subsample rows, and ``max|g|`` where that preconditioner
    was formed (``inf`` where unknown)."""

    inverse: Inverse
    pairs: list[tuple[FloatArray, FloatArray, float]]
    rows: int
    kron: bool = False
    formed_gradient: float = float("inf")

    def resume(
        self, objective: SolverObjective, x0: FloatArray, options: SolverOptions
    ) -> SolverResult:
        """Continue on ``objective`` from ``x0`` with this preconditioner and these pairs."""
        return solve(objective, x0, options, state=self)


def _two_loop(
    g: FloatArray,
    pairs: deque[tuple[FloatArray, FloatArray, float]],
    inverse: Callable[[FloatArray], FloatArray],
    rescale: bool = False,
) -> FloatArray:
    """L-BFGS two-loop recursion with the initial inverse Hessian ``inverse``.

    Returns ``H_k^{-1} g`` where ``H_k`` is the BFGS update of the (subsample) Hessian by
    the stored pairs ``(s, y, 1 / s.y)``; with no pairs, ``inverse(g)``. With
    ``rescale``, the initial matrix is scaled by ``s.y / (y . inverse(y))`` of the newest
    pair (the usual L-BFGS scaling, applied to a model: the Kronecker model's overall
    scale is only approximate), kept within ``[1e-3, 1e3]``.
    """
    if rescale and pairs:
        _, y_n, rho_n = pairs[-1]
        yHy = float(y_n @ inverse(y_n))
        gamma = (1.0 / rho_n) / yHy if yHy > 0 else 1.0
        if np.isfinite(gamma):
            gamma = min(max(gamma, 1e-3), 1e3)
            base = inverse

            def inverse(v: FloatArray) -> FloatArray:
                return gamma * base(v)

    q = np.array(g, copy=True)
    alphas = []
    for s_i, y_i, rho in reversed(pairs):
        a = rho * float(s_i @ q)
        q -= a * y_i
        alphas.append(a)
    r = inverse(q)
    for (s_i, y_i, rho), a in zip(pairs, reversed(alphas), strict=True):
        b = rho * float(y_i @ r)
        r += (a - b) * s_i
    return r
