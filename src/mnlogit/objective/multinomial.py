"""The penalized multinomial negative log-likelihood of data in memory, and its derivatives.

:class:`MultinomialObjective` composes the block kernels (:mod:`mnlogit.objective.kernels`,
:mod:`~mnlogit.objective.loss`, :mod:`~mnlogit.objective.hessian`) over the rows of ``X``
and adds the parameterization, the feature scaling and the penalty. It keeps one cache:
what is known at the last point (:class:`_Point`) and, once asked for, one ``n x K``
buffer of probabilities.

The objective is on the mean scale (docs/model.md)::

    f(theta) = -(1/S) sum_i s_i log P(y_i | x_i) + penalty(theta)

with ``S = sum_i s_i``. Log-likelihoods reported to users are sums: ``-S * loss``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from mnlogit.objective import blocks, curvature, kernels, last_pass
from mnlogit.objective import loss as loss_kernels
from mnlogit.objective.blocks import block_rows
from mnlogit.objective.float32_curvature import (
    add_diagonal_product,
    float32_curvature_sums,
    float32_sparse,
    worthwhile,
)
from mnlogit.objective.hessian import NARROW_MIN_WORK, ProbabilityRows, loss_hessian
from mnlogit.objective.loss import ProbabilityVisitor
from mnlogit.objective.penalties import Penalty
from mnlogit.objective.protocol import (
    HESSIAN,
    HESSP,
    IRLS,
    KRONECKER,
    LAST_PASS,
    ROW_VIEW,
    SUBSAMPLE,
    Inverse,
)
from mnlogit.objective.threads import row_threads
from mnlogit.parameterization import Parameterization

__all__ = ["MultinomialObjective"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Sparse X: the most gradient sums ``[1, X]ᵀ G`` (``p1 x K`` numbers) the point cache
#: keeps after a gradient. More (a sparse text problem: a million) are made for each
#: gradient and dropped: kept, they were one more long-lived array made at every
#: Newton-CG point, alive through its CG solve, which sparse products never read
#: (issue-sparse6). ``residual_sums`` then costs one product ``Xᵀ P``.
KEEP_SUMS_MAX = 2**17


@dataclass
class _Point:
    """What is known at the last point evaluated (all of it at ``theta``)."""

    theta: FloatArray
    loss: float  # mean loss, no penalty
    min_prob: float | None = None  # smallest probability over rows of positive weight
    gradient_sums: FloatArray | None = None  # [1, X]ᵀ G (p1, K) on the scaled features
    prob_kept: bool = False  # whether the probability buffer holds P at theta
    # the loss Hessian at theta from the last pass (LAST_PASS), handed over once; in free
    # coordinates when hessian_free, else reference-0 ones
    loss_hessian: FloatArray | None = None
    hessian_free: bool = False


class _Float32Operands(NamedTuple):
    """What the float32 curvature products multiply (sparse X only)."""

    x: Any  # X's (scaled) values as float32, sharing X's index arrays
    a: NDArray[np.float32]  # the parameterization's A, (K, K-1)
    weights: NDArray[np.float32] | None  # normalized sample weights; None when all equal


class MultinomialObjective:
    """Objective, gradient, Hessian and Hessian-vector product for one dataset.

    Parameters
    ----------
    X : ndarray or scipy sparse matrix of shape (n, p)
    y : ndarray of shape (n,)
        Integer class codes in ``0 .. K-1``.
    n_classes : int
        ``K``.
    sample_weight : ndarray of shape (n,)
        Non-negative frequency weights with a positive sum ``S``.
    parameterization : Parameterization
        Maps the free vector ``theta`` of shape ``((K-1) * p1,)`` to ``B`` ``(p1, K)``.
    penalty : Penalty
        Acts on ``theta`` viewed as ``(p1, K-1)``; intercepts are not penalized.
    fit_intercept : bool
        Whether row 0 of ``B`` is an intercept (``p1 = p + 1``) or not (``p1 = p``).
    feature_scale : ndarray of shape (p,), optional
        Positive column scales ``s``. The parameters then live on the scaled features
        ``X / s`` (without copying X: the weights are divided instead), which makes the
        problem's conditioning -- and the gradient criterion -- independent of the
        features' units. :meth:`original_coefficients` maps back. The penalty (given
        row weights by the caller) stays on the original scale.
    class_rows : ndarray of shape (K, p), optional
        ``sum_i (s_i / S) onehot(y_i) x_iᵀ`` on X's own scale (``s`` the
        ``sample_weight``, ``S`` their sum), when the caller has it already (the
        preparation's column read of ``X``, :attr:`mnlogit.preparation.PreparedData.class_rows`):
        it replaces the read of ``X`` in :func:`~mnlogit.objective.kernels.class_sums`.

    Notes
    -----
    The probabilities at the most recent ``theta`` are cached, so a solver calling
    ``value_and_gradient`` then ``hessian`` at the same point computes them once.
    Products run in X's dtype when X is float32 (``exact = False``, the fast mode) or in
    float64 on row blocks converted on the fly (``exact = True``); float64 X is always
    exact. The ``n x K`` buffers are float64 either way. At most one of them persists:
    the probabilities, which the Hessian, Hessian-vector products and inference read
    (the float32 curvature products round them a row block at a time). Dense X makes it
    on the first such call (a fit by gradients alone never holds it: the
    value-and-gradient sweep needs only block-sized scratch); sparse X, whose products
    take whole matrices, from the start.
    """

    capabilities = frozenset({HESSIAN, HESSP, IRLS, SUBSAMPLE, KRONECKER, LAST_PASS, ROW_VIEW})

    def __init__(
        self,
        X: Any,
        y: IntArray,
        n_classes: int,
        sample_weight: FloatArray,
        parameterization: Parameterization,
        penalty: Penalty,
        fit_intercept: bool = True,
        feature_scale: FloatArray | None = None,
        class_rows: FloatArray | None = None,
        compiled_hessian: bool = False,
    ) -> None:
        self.X = X
        self.sparse = sp.issparse(X)
        self.y = np.asarray(y, dtype=np.intp)
        if self.y.size and (self.y.min() < 0 or self.y.max() >= n_classes):
            raise ValueError(f"y must hold class codes 0 .. {n_classes - 1}")
        self.n_samples, self.n_features = X.shape
        self.n_classes = n_classes
        self.sample_weight = np.asarray(sample_weight, dtype=np.float64)
        self.sum_weights = float(self.sample_weight.sum())
        self.param = parameterization
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.p1 = self.n_features + int(fit_intercept)
        self.n_params = (n_classes - 1) * self.p1
        self.low_precision = bool(getattr(X, "dtype", np.float64) == np.float32)
        self.exact = not self.low_precision
        # the compiled Hessian kernel however small the work (loss_hessian's compiled=):
        # a subsample of an objective whose own Hessian loads it (subsample)
        self._compiled_hessian = compiled_hessian
        ws = self.sample_weight / self.sum_weights
        self._weights = ws
        equal = bool(np.all(ws == ws[0])) if self.n_samples else True
        # The kernels' row weights: None when all are equal, whose common value
        # multiplies the sums afterwards instead of every row.
        self._kernel_weights = None if equal else ws
        self._common_weight = float(ws[0]) if equal and self.n_samples else 1.0
        self._inv_scale: FloatArray | None = (
            None if feature_scale is None else 1.0 / np.asarray(feature_scale, dtype=np.float64)
        )
        # theta_ref0 = Theta @ T: used to build the Hessian from one kernel.
        self._to_ref0 = parameterization.transform_to(Parameterization(n_classes, 0))
        self._blockwise = isinstance(X, np.ndarray)
        self._prob: FloatArray | None = (
            None if self._blockwise else np.empty((self.n_samples, n_classes))
        )
        self._work: FloatArray | None = None  # w * P, weighted fits only, made on first use
        self._point: _Point | None = None
        self._hessian_next = False  # LAST_PASS: the next new point's pass forms the Hessian
        self._theta_buffer: FloatArray | None = None  # the cached point's theta
        self._f32: _Float32Operands | None = None
        self._f32_made = False
        self._pen_diag: FloatArray | None = None
        # rows per block when visiting a kept probability buffer: dense X, the sweep's
        # blocks (so a visitor sees the same blocks from the buffer or from a sweep)
        self._visit_rows = (
            loss_kernels.sweep_rows(self.n_features, n_classes)
            if self._blockwise
            else block_rows(n_classes, 64)
        )
        # sum_i (s_i/S) onehot(y_i) [1, x_i]: the constant part of the gradient, (p1, K),
        # summed at the first gradient (_gradient_constant): an objective asked only for
        # Hessians (a row_view preconditioner) never reads X for it
        self._class_rows = class_rows
        self._class_sums: FloatArray | None = None

    def _gradient_constant(self) -> FloatArray:
        """``sum_i (s_i/S) onehot(y_i) [1, x̃_i]`` of shape ``(p1, K)`` (scaled features),
        summed once, at the first call: one read of ``X`` unless the preparation's
        ``class_rows`` were given."""
        if self._class_sums is None:
            ws, intercept = self._weights, self.fit_intercept
            if self._class_rows is None:
                sums = kernels.class_sums(self.X, self.y, ws, self.n_classes, intercept=intercept)
            else:
                sums = kernels.class_sums_from_rows(
                    self._class_rows, self.y, ws, intercept=intercept
                )
            self._class_sums = self._scaled_sums(sums)
        return self._class_sums

    # ------------------------------------------------------------------ public views
    @property
    def normalized_weights(self) -> FloatArray:
        """Sample weights over their total ``S``, shape ``(n,)`` (read-only)."""
        view = self._weights.view()
        view.flags.writeable = False
        return view

    @property
    def column_factor(self) -> FloatArray | None:
        """``1 / feature_scale`` of shape ``(p,)``: scaled features are ``X * column_factor``."""
        return self._inv_scale

    @property
    def to_ref0(self) -> FloatArray:
        """``T`` of shape ``(K-1, K-1)`` with ``Theta_ref0 = Theta @ T`` (reference class 0)."""
        return self._to_ref0

    @property
    def keeps_probabilities(self) -> bool:
        """Whether an ``n x K`` probability buffer is held (dense X: made on demand)."""
        return self._prob is not None

    @property
    def curvature_dtype(self) -> type[np.floating[Any]]:
        """The dtype :meth:`curvature_product` computes in: float32 on large sparse X."""
        if worthwhile(self.X, self.n_classes) and self._float32_operands() is not None:
            return np.float32
        return np.float64

    def hessian_with_next_gradient(self, enabled: bool) -> None:
        """``"last-pass"``: whether the next gradient at a new point also forms the Hessian.

        With ``enabled``, the next :meth:`value_and_gradient` at a point not cached forms
        the loss Hessian in the same pass over ``X``
        (:func:`mnlogit.objective.last_pass.loss_and_hessian`: one probability evaluation,
        ``X`` read once) and keeps it with that point, for the first :meth:`hessian` or
        :meth:`information` at exactly that point; one pass only (the request is then
        spent). Honoured for dense ``X`` in exact mode without a kept probability buffer
        (elsewhere the Hessian is formed when asked, as always). A solver sets it when it
        predicts that the next evaluation is its last (the covariance's Hessian is then
        taken there) or that the Hessian will be needed there anyway (Newton).
        """
        self._hessian_next = bool(enabled)

    def set_exact(self, exact: bool) -> None:
        """Choose float64 products (``True``) or X's own float32 ones (``False``).

        Only matters for float32 ``X``; float64 ``X`` is always exact.
        """
        self.exact = bool(exact) or not self.low_precision
        self._point = None

    def subsample(self, stride: int) -> MultinomialObjective:
        """The same objective on every ``stride``-th row (a systematic subsample).

        The ``n / stride`` selected rows (and their labels and weights) are copied,
        contiguous (BLAS cannot multiply a row-strided view without copying it on every
        product) and as float32 for dense
        ``X``: the subsample only serves as a warm start and a preconditioner, so half the
        memory and faster products matter more than precision. Weights are renormalized
        over the subsample, so its objective estimates this one (mean scale, same
        penalty); it computes in fast (float32) mode.

        Parameters
        ----------
        stride : int
            Keep rows ``0, stride, 2 stride, ...``.

        Returns
        -------
        MultinomialObjective
        """
        X = self.X[::stride]
        X = X.tocsr() if self.sparse else np.ascontiguousarray(X, dtype=np.float32)
        # the labels and weights copied contiguous too (the same numbers): every sweep
        # and Hessian of the warm start reads them (2M x 10, K = 4: the warm start 47 ->
        # 42 ms; issue-tall8)
        return self._on_rows(
            X,
            np.ascontiguousarray(self.y[::stride]),
            np.ascontiguousarray(self.sample_weight[::stride]),
        )

    def row_view(self, stride: int) -> MultinomialObjective:
        """The same objective on every ``stride``-th row, read in place (``"row-view"``).

        Unlike :meth:`subsample`, dense ``X`` is not copied: the new objective reads the
        strided view ``X[::stride]`` (labels and weights likewise), in ``X``'s dtype and
        this objective's precision mode; sparse ``X``'s selected rows are gathered (CSR).
        Weights are renormalized over the selected rows, as in :meth:`subsample`. For
        Hessians of more rows than the subsample copy holds, at the cost of the Hessian
        alone (``subsample-newton``'s refresh): its gradient's constant part is summed
        only if a gradient is asked for.

        Parameters
        ----------
        stride : int
            Keep rows ``0, stride, 2 stride, ...``.

        Returns
        -------
        MultinomialObjective
        """
        X = self.X[::stride]
        view = self._on_rows(
            X.tocsr() if self.sparse else X, self.y[::stride], self.sample_weight[::stride]
        )
        view.set_exact(self.exact)
        return view

    def _on_rows(self, X: Any, y: IntArray, sample_weight: FloatArray) -> MultinomialObjective:
        """This objective's model (parameterization, penalty, intercept, feature scaling)
        on other rows ``X``, ``y`` (``(r,)``) and ``sample_weight`` (``(r,)``)."""
        # the full data's Hessian loads the compiled kernel: the subsample's take it too
        work = self.n_samples * (self.n_params + self.p1) ** 2
        compiled = self._compiled_hessian or work >= NARROW_MIN_WORK
        scale = None if self._inv_scale is None else 1.0 / self._inv_scale
        return MultinomialObjective(
            X,
            y,
            self.n_classes,
            sample_weight,
            self.param,
            self.penalty,
            self.fit_intercept,
            feature_scale=scale,
            compiled_hessian=compiled,
        )

    # ------------------------------------------------------------------ coefficients
    def _flat(self, M: FloatArray) -> FloatArray:
        """``(p1, K-1)`` matrix to the class-major free vector."""
        return np.ascontiguousarray(M.T).reshape(-1)

    def _kernel_coefficients(self, B: FloatArray) -> tuple[FloatArray, FloatArray | None]:
        """``(W, b)`` for the kernels from a full ``(p1, K')`` matrix: ``W`` on X's scale."""
        W = B[int(self.fit_intercept) :]
        if self._inv_scale is not None:
            W = W * self._inv_scale[:, None]
        return W, (B[0] if self.fit_intercept else None)

    def _scaled_sums(self, sums: FloatArray) -> FloatArray:
        """Kernel sums ``[colsum; Xᵀ U]`` (``(p1, K')``) moved to the scaled features, in place."""
        if self._inv_scale is not None:
            sums[int(self.fit_intercept) :] *= self._inv_scale[:, None]
        return sums

    @property
    def _fast(self) -> bool:
        return self.low_precision and not self.exact

    def full_coefficients(self, theta: FloatArray) -> FloatArray:
        """``B`` of shape ``(p1, K)`` for the free vector ``theta`` (scaled features)."""
        return self.param.to_full(theta, self.p1)

    def row_unscale(self) -> FloatArray:
        """``d`` of shape ``(p1,)``: ``B_original = d[:, None] * B`` (1 for the intercept)."""
        if self._inv_scale is None:
            return np.ones(self.p1)
        if self.fit_intercept:
            return np.concatenate([[1.0], self._inv_scale])
        return self._inv_scale

    def original_coefficients(self, theta: FloatArray) -> FloatArray:
        """``B`` of shape ``(p1, K)`` on the original features' scale."""
        return self.row_unscale()[:, None] * self.full_coefficients(theta)

    def free_from_original(self, B: FloatArray) -> FloatArray:
        """Free vector ``((K-1) * p1,)`` for a ``(p1, K)`` matrix on the original scale."""
        return self.param.from_full(B / self.row_unscale()[:, None])

    def linear_predictor(self, theta: FloatArray) -> FloatArray:
        """``eta`` of shape ``(n, K)`` at ``theta``."""
        W, b = self._kernel_coefficients(self.full_coefficients(theta))
        return kernels.linear_predictor(self.X, W, b, fast=self._fast)

    # ------------------------------------------------------------------ the cache
    def _sweep(
        self,
        theta: FloatArray,
        gradient: bool,
        prob_out: FloatArray | None = None,
        visit: ProbabilityVisitor | None = None,
    ) -> loss_kernels.BlockLoss:
        """One :func:`~mnlogit.objective.loss.sweep_loss` over dense X at ``theta``."""
        W, b = self._kernel_coefficients(self.full_coefficients(theta))
        return loss_kernels.sweep_loss(
            self.X,
            self.y,
            self._kernel_weights,
            W,
            b,
            gradient=gradient,
            fast=self._fast,
            prob_out=prob_out,
            visit=visit,
        )

    def _evaluate(self, theta: FloatArray, gradient: bool = False) -> _Point:
        """The cached point at ``theta`` (made if needed); with ``gradient``, its sums too."""
        point = self._point
        if point is None or not np.array_equal(theta, point.theta):
            self._point = None  # the copy below overwrites the old point's theta
            point = self._point = self._new_point(self._theta_copy(theta), gradient)
        elif gradient and point.gradient_sums is None:
            point.gradient_sums = self._gradient_sums(point)
        return point

    def _theta_copy(self, theta: FloatArray) -> FloatArray:
        """``theta`` copied into the one buffer the cache keeps it in, shape ``(n_params,)``.

        A copy, so that a caller changing its array in place is not mistaken for the same
        point; one buffer made once, not a fresh array per point: on a sparse text
        problem it is a million numbers, and a long-lived array made anew at every
        Newton point kept freed memory below it from being reused (peak memory,
        issue-sparse6).
        """
        theta = np.asarray(theta, dtype=np.float64)
        buffer = self._theta_buffer
        if buffer is None or buffer.shape != theta.shape:
            buffer = self._theta_buffer = np.empty_like(theta)
        buffer[...] = theta
        return buffer

    def _new_point(self, theta: FloatArray, gradient: bool) -> _Point:
        """Loss (and gradient sums) at a new point: one sweep over dense X (filling the
        probability buffer when it exists), or the probabilities of sparse X in place."""
        if not self._blockwise:
            assert self._prob is not None
            W, b = self._kernel_coefficients(self.full_coefficients(theta))
            nll, _ = loss_kernels.softmax_loss(
                self.X, self.y, self._kernel_weights, W, b, fast=self._fast, prob_out=self._prob
            )
            point = _Point(theta, self._common_weight * nll, prob_kept=True)
            if gradient:
                point.gradient_sums = self._gradient_sums(point)
            return point
        if gradient and self._hessian_next and self._prob is None and not self._fast:
            return self._last_pass(theta)
        found = self._sweep(theta, gradient, prob_out=self._prob)
        sums = None if found.gradient_sums is None else self._scaled_sums(found.gradient_sums)
        return _Point(
            theta, self._common_weight * found.nll, found.min_prob, sums, self._prob is not None
        )

    def _last_pass(self, theta: FloatArray) -> _Point:
        """The point at ``theta`` with its loss Hessian, from one pass over dense X."""
        self._hessian_next = False
        W, b = self._kernel_coefficients(self.full_coefficients(theta))
        T = self._hessian_coordinates()
        found, H = last_pass.loss_and_hessian(
            self.X,
            self.y,
            self._kernel_weights,
            self._weights,
            W,
            b,
            column_factor=self._inv_scale,
            T=T,
        )
        assert found.gradient_sums is not None
        sums = self._scaled_sums(found.gradient_sums)
        point = _Point(theta, self._common_weight * found.nll, found.min_prob, sums)
        point.loss_hessian, point.hessian_free = H, T is not None
        return point

    def _hessian_coordinates(self) -> FloatArray | None:
        """``T`` for :meth:`hessian` (free coordinates), ``None`` when it is the identity."""
        T = self._to_ref0
        return None if np.array_equal(T, np.eye(self.n_classes - 1)) else T

    def _gradient_sums(self, point: _Point) -> FloatArray:
        """``[1, X]ᵀ G`` at ``point``: one product with kept probabilities, else a sweep."""
        if point.prob_kept:
            sums = kernels.backproject(
                self.X, self._weighted_prob(), intercept=self.fit_intercept, fast=self._fast
            )
        else:
            found = self._sweep(point.theta, gradient=True)
            assert found.gradient_sums is not None
            sums = found.gradient_sums
        return self._scaled_sums(sums)

    def _weighted_prob(self) -> FloatArray:
        """``G = P`` for equal weights, else ``w * P`` (in the lazily made work buffer)."""
        assert self._prob is not None
        if self._kernel_weights is None:
            return self._prob
        if self._work is None:
            self._work = np.empty_like(self._prob)
        return np.multiply(self._prob, self._kernel_weights[:, None], out=self._work)

    def _probabilities_at(self, theta: FloatArray) -> FloatArray:
        """The ``(n, K)`` probabilities at ``theta``, making the buffer if needed.

        Dense X whose last sweep kept no probabilities: one more sweep without the
        gradient fills a new buffer; what the cache knew stays.
        """
        point = self._evaluate(theta)
        if not point.prob_kept:
            if self._prob is None:
                self._prob = np.empty((self.n_samples, self.n_classes))
            self._sweep(point.theta, gradient=False, prob_out=self._prob)
            point.prob_kept = True
        assert self._prob is not None
        return self._prob

    def visit_probabilities(self, theta: FloatArray, visit: ProbabilityVisitor) -> None:
        """Call ``visit(prob, rows)`` on row blocks of the probabilities at ``theta``.

        ``prob`` is a read-only ``(rows, K)`` block (valid during the call only), ``rows``
        its slice. Dense X with no probability buffer kept: one sweep over row blocks,
        no ``n x K`` buffer made (the cached loss and gradient sums are kept).
        """
        point = self._evaluate(theta)
        if not point.prob_kept:
            self._sweep(point.theta, gradient=False, visit=visit)
            return
        assert self._prob is not None
        step = self._visit_rows
        for a in range(0, self.n_samples, step):
            sl = slice(a, min(a + step, self.n_samples))
            visit(self._prob[sl], sl)

    def min_probability(self, theta: FloatArray) -> float:
        """Smallest fitted probability over the rows with positive weight (``inf`` if none)."""
        point = self._evaluate(theta)
        if point.min_prob is None:
            found = [float("inf")]
            w = self._kernel_weights

            def visit(prob: FloatArray, sl: slice) -> None:
                found[0] = min(
                    found[0], kernels.smallest_probability(prob, None if w is None else w[sl])
                )

            self.visit_probabilities(theta, visit)
            point.min_prob = found[0]
        return point.min_prob

    def probabilities_of_rows(self, theta: FloatArray, rows: IntArray | None) -> FloatArray:
        """Class probabilities of ``rows`` at ``theta``, a fresh ``(len(rows), K)`` array.

        Dense X with no probability buffer kept: computed from those rows only, a block
        of rows at a time (no ``n x K`` buffer kept; the result is the only array made);
        ``rows=None`` means all rows.
        """
        point = self._evaluate(theta)
        if point.prob_kept or not self._blockwise:
            P = self._probabilities_at(theta)
            return np.array(P if rows is None else P[rows])
        W, b = self._kernel_coefficients(self.full_coefficients(point.theta))
        m = self.n_samples if rows is None else rows.size
        out = np.empty((m, self.n_classes))
        for sl in blocks.row_blocks(m, self.n_features):
            idx: Any = sl if rows is None else rows[sl]
            loss_kernels.softmax_loss(
                self.X[idx], self.y[idx], None, W, b, fast=self._fast, prob_out=out[sl]
            )
        return out

    def row_minimum_probability(self, theta: FloatArray) -> FloatArray:
        """Each row's smallest class probability at ``theta``, shape ``(n,)`` (no ``n x K``
        array for dense X: row blocks of one sweep)."""
        out = np.empty(self.n_samples)

        def visit(prob: FloatArray, sl: slice) -> None:
            out[sl] = prob.min(axis=1)

        self.visit_probabilities(theta, visit)
        return out

    def residual_sums(self, theta: FloatArray) -> FloatArray:
        """``Σ_i w_i (onehot(y_i) - P_i) [1, x̃_i]`` of shape ``(p1, K)``: minus the mean
        loss's gradient in ``B`` on the scaled features ``x̃`` (normalized weights ``w``).

        From the gradient sums the objective keeps at its last point: no pass over ``X``
        when a solver's last call was at ``theta``.
        """
        point = self._evaluate(theta, gradient=True)
        assert point.gradient_sums is not None
        R = point.gradient_sums * -(self._common_weight if self._kernel_weights is None else 1.0)
        R += self._gradient_constant()
        return R

    def probabilities(self, theta: FloatArray) -> FloatArray:
        """Class probabilities ``(n, K)`` at ``theta`` (a read-only view of the cache)."""
        view = self._probabilities_at(theta).view()
        view.flags.writeable = False
        return view

    # ------------------------------------------------------------------ values
    def loss(self, theta: FloatArray) -> float:
        """Mean negative log-likelihood ``-(1/S) sum_i s_i log P(y_i|x_i)`` (no penalty)."""
        return self._evaluate(theta).loss

    def loglik(self, theta: FloatArray) -> float:
        """Weighted log-likelihood on the sum scale, ``sum_i s_i log P(y_i|x_i)``."""
        return -self.sum_weights * self.loss(theta)

    def value(self, theta: FloatArray) -> float:
        """Penalized mean objective ``f(theta)``."""
        Theta = self.param.theta_matrix(theta, self.p1)
        return self.loss(theta) + self.penalty.value(Theta)

    def value_and_gradient(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """``f(theta)`` and its gradient of shape ``((K-1) * p1,)``."""
        keep = self._blockwise or self.p1 * self.n_classes <= KEEP_SUMS_MAX
        point = self._evaluate(theta, gradient=keep)
        f = self.value(theta)
        # sum_i w_i (P_i - onehot(y_i)) [1, x_i]: the one-hot part is the constant
        # _class_sums, so only P (times w, unless all weights are equal) meets X.
        if point.gradient_sums is not None:
            XtP = point.gradient_sums.copy()
        else:  # sparse X, many sums: made for this gradient only, not kept in the point
            XtP = self._gradient_sums(point)
        if self._kernel_weights is None:
            XtP *= self._common_weight if self.n_samples else 0.0
        XtP -= self._gradient_constant()
        grad = self.param.free_gradient(XtP)
        Theta = self.param.theta_matrix(theta, self.p1)
        grad += self._flat(self.penalty.gradient(Theta))
        return f, grad

    def gradient(self, theta: FloatArray) -> FloatArray:
        """Gradient of ``f`` at ``theta``, shape ``((K-1) * p1,)``."""
        return self.value_and_gradient(theta)[1]

    def backproject(self, U: FloatArray) -> FloatArray:
        """Chain rule from a per-row derivative with respect to ``eta`` to ``theta``.

        Parameters
        ----------
        U : ndarray of shape (n, K)
            ``d(something)/d eta``.

        Returns
        -------
        ndarray of shape ((K-1) * p1,)
        """
        sums = kernels.backproject(self.X, U, intercept=self.fit_intercept, fast=self._fast)
        return self.param.free_gradient(self._scaled_sums(sums))

    def residuals(self, theta: FloatArray) -> FloatArray:
        """Per-row score with respect to ``eta``: ``onehot(y) - P``, shape ``(n, K)``.

        The log-likelihood score of row ``i`` with respect to ``B`` is
        ``outer([1, x_i], residuals[i])``.
        """
        R = -self._probabilities_at(theta)
        R[np.arange(self.n_samples), self.y] += 1.0
        return R

    # ------------------------------------------------------------------ curvature
    def weighted_gram(self, h: FloatArray, stride: int = 1) -> FloatArray:
        """``[1, X].T @ diag(h) @ [1, X]`` (scaled features), ``(p1, p1)``, never copying ``X``.

        Parameters
        ----------
        h : ndarray of shape (n,)
        stride : int, default=1
            Dense X only: sum over every ``stride``-th row and multiply by ``stride`` (an
            estimate, for preconditioners; reads about ``1/stride`` of X).
        """
        strided = stride > 1 and not self.sparse
        out = kernels.weighted_gram(
            self.X[::stride] if strided else self.X,
            h[::stride] if strided else h,
            intercept=self.fit_intercept,
            column_factor=self._inv_scale,
        )
        if strided:
            out *= stride
        return out

    def weighted_column_squares(self, h: FloatArray) -> FloatArray:
        """The diagonal of :meth:`weighted_gram`, ``sum_i h_i y_ij²``, shape ``(p1,)``."""
        return kernels.weighted_column_squares(
            self.X, h, intercept=self.fit_intercept, column_factor=self._inv_scale
        )

    def loss_hessian_ref0(self, theta: FloatArray) -> FloatArray:
        """Hessian of the mean loss in the reference-class-0 coordinates.

        See :func:`mnlogit.objective.hessian.loss_hessian`.

        Returns
        -------
        ndarray of shape ((K-1) * p1, (K-1) * p1)
            float64, except float32 for float32 dense ``X`` in fast mode (``exact=False``,
            the subsample preconditioners of ``subsample-newton``).
        """
        return self._loss_hessian(theta, None)

    def _loss_hessian(
        self, theta: FloatArray, T: FloatArray | None, null_model: bool = False
    ) -> FloatArray:
        point = self._point
        if point is not None and np.array_equal(theta, point.theta):
            kept = point.loss_hessian
            if kept is not None and point.hessian_free == (T is not None):
                point.loss_hessian = None  # handed over: the caller may change it in place
                return kept
        else:
            point = None
        B = self.full_coefficients(theta)
        if null_model and self._blockwise and not np.any(B[int(self.fit_intercept) :]):
            return self._null_loss_hessian(B, T)
        probabilities: Any
        if self._blockwise and not (point is not None and point.prob_kept):
            # dense X without kept probabilities at theta: each sub-block's are formed
            # just before its products (no n x K array; the same products as a sweep),
            # and a point not cached is not evaluated first (its loss is not needed)
            probabilities = self._probability_rows(theta)
        else:
            probabilities = self._probabilities_at(theta)[:, 1:]
        return loss_hessian(
            self.X,
            probabilities,
            self._weights,
            intercept=self.fit_intercept,
            column_factor=self._inv_scale,
            T=T,
            float32=self._fast,
            free_classes=self.n_classes - 1,
            compiled=self._compiled_hessian,
        )

    def _null_loss_hessian(self, B: FloatArray, T: FloatArray | None) -> FloatArray:
        """The loss Hessian where every feature's coefficients are zero (``B`` ``(p1, K)``,
        the null model: the start of a fit), exactly: all rows share the probabilities
        ``p = softmax(b)``, so block ``(a, c)`` (reference-0 classes ``1 .. K-1``) is
        ``M_ac G`` with ``M = diag(p) - p pᵀ`` and ``G = sum_i w_i y_i y_iᵀ``
        (:meth:`weighted_gram` of the normalized weights): ``(T M Tᵀ) ⊗ G``, one Gram
        matrix (a ``syrk`` of ``X``) instead of the ``K(K-1)/2`` pair products.

        For :meth:`hessian` (the solvers' curvature: the first Hessian of every fit from
        the null model) only. :meth:`loss_hessian_ref0` keeps the kernels: it is Firth's
        information, whose float32-mode values at the null model must agree in precision
        with those at its neighbours (its Hessian is a central difference of gradients;
        with this float64 product there, a float32 Firth fit took 9 more float32
        iterations and stopped 2.7e-8 from the optimum instead of 4.6e-12).

        Returns
        -------
        ndarray of shape ((K-1) * p1, (K-1) * p1), float64
        """
        eta = B[0] if self.fit_intercept else np.zeros(self.n_classes)
        p = np.exp(eta - eta.max())
        p = (p / p.sum())[1:]
        M = np.diag(p) - np.outer(p, p)
        if T is not None:
            M = T @ M @ T.T
            M = np.triu(M) + np.triu(M, 1).T  # exactly symmetric, as the kernels' results
        return np.kron(M, self.weighted_gram(self._weights))

    def _probability_rows(self, theta: FloatArray) -> ProbabilityRows:
        """``rows(start, stop)``: the probabilities of classes ``1 .. K-1`` of those rows
        at ``theta`` (dense X), computed into a reused buffer, shape ``(rows, K-1)``: one
        buffer per thread, as the Hessian may split its rows over threads."""
        W, b = self._kernel_coefficients(self.full_coefficients(theta))
        local = threading.local()

        def rows(start: int, stop: int) -> FloatArray:
            r = stop - start
            buffer: FloatArray | None = getattr(local, "buffer", None)
            if buffer is None or buffer.shape[0] < r:
                buffer = local.buffer = np.empty((r, self.n_classes))
            prob = kernels.softmax_probabilities(
                self.X[start:stop], W, b, fast=self._fast, out=buffer[:r]
            )
            return prob[:, 1:]

        return rows

    def kept_loss_hessian(self, theta: FloatArray) -> FloatArray | None:
        """The loss Hessian the last pass formed at ``theta``, if it is still kept.

        In the free coordinates of :meth:`hessian` (no penalty), as a read-only view: it
        stays kept for the first :meth:`hessian` or :meth:`information` at ``theta`` (the
        covariance's), so a caller may read it without forming it again. ``None`` when
        the last pass formed none at exactly ``theta`` (or it was handed over already).

        Returns
        -------
        ndarray of shape ((K-1) * p1, (K-1) * p1) or None
        """
        point = self._point
        if point is None or point.loss_hessian is None or not np.array_equal(theta, point.theta):
            return None
        if point.hessian_free != (self._hessian_coordinates() is not None):
            return None
        view = point.loss_hessian.view()
        view.flags.writeable = False
        return view

    def hessian(self, theta: FloatArray) -> FloatArray:
        """Hessian of ``f`` at ``theta`` (loss plus penalty).

        Returns
        -------
        ndarray of shape ((K-1) * p1, (K-1) * p1)
        """
        k1, p1 = self.n_classes - 1, self.p1
        H = self._loss_hessian(theta, self._hessian_coordinates(), null_model=True)
        diag = self._flat(self.penalty.hessian_diagonal((p1, k1)))
        H[np.diag_indices_from(H)] += diag
        return H

    def information(self, theta: FloatArray) -> FloatArray:
        """The curvature inference inverts (mean scale): :meth:`hessian`, penalty included.

        :class:`~mnlogit.objective.FirthObjective` has the same method (its Fisher
        information), so covariance code needs no ``getattr``.
        """
        return self.hessian(theta)

    def hessp(self, theta: FloatArray, v: FloatArray) -> FloatArray:
        """Hessian-vector product without forming the Hessian.

        One ``X @ D`` and one ``X.T @ R`` per call
        (:func:`mnlogit.objective.kernels.curvature_sums`).

        Parameters
        ----------
        theta, v : ndarray of shape ((K-1) * p1,)

        Returns
        -------
        ndarray of shape ((K-1) * p1,)
        """
        P = self._probabilities_at(theta)
        V = self.param.theta_matrix(v, self.p1) @ self.param.A.T
        W, b = self._kernel_coefficients(V)
        sums = kernels.curvature_sums(self.X, P, self._weights, W, b, fast=self._fast)
        out = self.param.free_gradient(self._scaled_sums(sums))
        add_diagonal_product(out, self._penalty_diagonal(), v)
        return out

    def curvature_product(self, theta: FloatArray, v: FloatArray) -> FloatArray:
        """Hessian-vector product for search directions: float32 products on sparse X.

        For sparse ``X`` the two sparse products of :meth:`hessp` and the ``n x K``
        work between them run in float32 (:mod:`mnlogit.objective.float32_curvature`),
        agreeing with :meth:`hessp` to about 1e-6 relative -- ample for a direction that
        conjugate gradients solve to a relative residual of 1e-4 or more; gradients and
        objective values stay float64, so the fit's accuracy is unchanged. Falls back to
        :meth:`hessp` for dense ``X`` (a float32 copy would double the memory), for
        sparse ``X`` with fewer than ``MIN_WORK / K`` stored values (little to gain), for
        values outside float32's safe range, for sparse formats other than CSR and CSC,
        and for a non-finite result. The float32 copy shares X's index arrays: X must
        not be changed while the objective is in use.

        Parameters
        ----------
        theta, v : ndarray of shape ((K-1) * p1,)

        Returns
        -------
        ndarray of shape ((K-1) * p1,)
        """
        ops = self._float32_operands() if worthwhile(self.X, self.n_classes) else None
        if ops is not None:
            # float64 probabilities, rounded to float32 a row block at a time inside the
            # product: no n x K float32 copy is kept (peak memory, issue-sparse5)
            P64 = self._probabilities_at(theta)
            out = self._float32_product(ops, P64, v)
            if out is not None:
                return out
        return self.hessp(theta, v)

    def _float32_operands(self) -> _Float32Operands | None:
        """The operands of the float32 products (made once), or None when unsafe."""
        if not self._f32_made:
            self._f32_made = True
            x32 = float32_sparse(self.X, self._inv_scale)
            if x32 is not None:
                w = self._kernel_weights
                self._f32 = _Float32Operands(
                    x32,
                    self.param.A.astype(np.float32),
                    None if w is None else w.astype(np.float32),
                )
        return self._f32

    def _float32_product(
        self, ops: _Float32Operands, P: FloatArray, v: FloatArray
    ) -> FloatArray | None:
        """``H v`` by float32 products, or None for ``v`` zero or not finite, or overflow.

        ``v`` is divided by its largest entry first (the product is linear), so its scale
        cannot overflow.
        """
        vmax = max(float(v.max()), -float(v.min())) if v.size else 0.0
        if not 0.0 < vmax < np.inf:
            return None
        # v / vmax straight into float32 (one pass, no float64 temporary)
        V = np.empty((self.n_classes - 1, self.p1), dtype=np.float32)
        np.multiply(v.reshape(V.shape), 1.0 / vmax, out=V, casting="unsafe")
        # each intermediate is dropped once used: m can be a million (peak memory)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            B = V.T @ ops.a.T  # (p1, K), C-ordered
            del V
            XtR = float32_curvature_sums(
                ops.x, P, ops.weights, B, intercept=self.fit_intercept, threads=row_threads()
            )
            del B
            # free gradient A.T @ XtR.T, still in float32 (a third of the float64 cost)
            free = ops.a.T @ XtR.T
            del XtR
        out = free.astype(np.float64).reshape(-1)
        del free
        out *= vmax * self._common_weight
        add_diagonal_product(out, self._penalty_diagonal(), v)
        if not np.isfinite(float(out.sum())):  # an inf or nan anywhere (or overflow)
            return None
        return out

    def curvature_preconditioner(self, theta: FloatArray) -> Inverse | None:
        """``r -> P^{-1} r`` for Newton-CG: the block-diagonal Kronecker model at ``theta``.

        See :func:`mnlogit.objective.curvature.block_diagonal_inverse`; maps vectors of
        shape ``((K-1) * p1,)`` to fresh arrays of that shape. None below
        :data:`mnlogit.objective.curvature.PRECONDITION_MIN_WORK` (plain CG there).
        """
        if not curvature.worth_preconditioning(self.X, self.n_classes):
            return None
        return curvature.block_diagonal_inverse(self, theta)

    def kronecker_preconditioner(self, theta: FloatArray) -> Inverse:
        """``g -> (M ⊗ C + D)^{-1} g``: :func:`mnlogit.objective.curvature.kronecker_inverse`."""
        return curvature.kronecker_inverse(self, theta)

    def _penalty_diagonal(self) -> FloatArray:
        """The penalty's Hessian diagonal as the free vector's ``(K-1, p1)`` view, or
        ``(1, p1)`` when it is the same for every class (an L2 penalty): cached.

        For :func:`~mnlogit.objective.float32_curvature.add_diagonal_product`; one row
        instead of ``m`` numbers kept through the fit (issue-sparse6).
        """
        if self._pen_diag is None:
            shape = (self.p1, self.n_classes - 1)
            rows = np.ascontiguousarray(np.asarray(self.penalty.hessian_diagonal(shape)).T)
            same = bool(np.all(rows == rows[:1]))
            self._pen_diag = np.array(rows[:1]) if same else rows
        return self._pen_diag
