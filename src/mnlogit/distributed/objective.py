"""The penalized multinomial objective of Dask data, as the solvers see it.

:class:`DaskObjective` satisfies :class:`mnlogit.objective.protocol.SolverObjective` with
the same mathematics as :class:`mnlogit.objective.MultinomialObjective` (parameterization,
feature scaling, penalty, mean scale), but every quantity that sums over rows is one pass:
the in-memory block kernels mapped over the partitions and tree-reduced
(:func:`mnlogit.distributed.partitions.run_pass`). The coefficients of a pass go to the
workers once: in the one task per worker of a pass over persisted blocks on a
``distributed`` client (:func:`~mnlogit.distributed.partitions.worker_pass`), otherwise as
one graph key.

=====================  ==================================================================
quantity               one pass computes, per partition
=====================  ==================================================================
value and gradient     :func:`~mnlogit.objective.loss.sweep_loss` (one read of the block)
Hessian                :func:`~mnlogit.objective.hessian.loss_hessian` (``m x m`` per task)
Hessian-vector         :func:`~mnlogit.objective.kernels.curvature_sums`
subsample              every ``stride``-th row, gathered into an in-memory
                       :class:`~mnlogit.objective.MultinomialObjective` (the preconditioner
                       of ``subsample-newton``), at most :data:`MAX_SUBSAMPLE_BYTES`
=====================  ==================================================================

Capabilities: ``"hessian"``, ``"hessp"`` and ``"subsample"``. Not ``"irls"`` (its working
responses are ``n x K`` arrays on the client; IRLS takes Newton's steps, so the Dask fit
runs Newton for it) nor ``"kronecker"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from dask.delayed import delayed
from numpy.typing import NDArray

from mnlogit.distributed.partitions import (
    Block,
    block_rows_offsets,
    run_pass,
    shared,
)
from mnlogit.distributed.preparation import DaskPrepared
from mnlogit.objective import MultinomialObjective, kernels
from mnlogit.objective import loss as loss_kernels
from mnlogit.objective.hessian import loss_hessian
from mnlogit.objective.penalties import Penalty
from mnlogit.objective.protocol import HESSIAN, HESSP, SUBSAMPLE, Inverse, SolverObjective
from mnlogit.parameterization import Parameterization

__all__ = [
    "FIRST_MIN_ROWS",
    "FIRST_ROWS_PER_PARAM",
    "MAX_SUBSAMPLE_BYTES",
    "DaskObjective",
    "Rows",
    "probabilities_of",
]

FloatArray = NDArray[np.float64]

#: Largest subsample (float32 features) gathered to the client for ``subsample-newton``.
MAX_SUBSAMPLE_BYTES = 512 * 2**20
#: The first subsample of a Dask fit (the warm start's rows and the first preconditioner)
#: holds at most this many rows per free parameter (and at least :data:`FIRST_MIN_ROWS`),
#: besides the in-memory rule's ``n / 16``: the client fits it in one process while the
#: workers wait, so its cost is bounded whatever ``n``; later, larger subsamples (the
#: solver growing it when progress is slow) are gathered as asked. Measured at n = 5M,
#: p = 50, K = 5 (m = 204; docs/dask.md): 100 rows per parameter took 7 loss passes, 400
#: took 6, 1600 (n / 16 there) 5, the client's fit on one BLAS thread 0.4-0.9 s each.
FIRST_ROWS_PER_PARAM = 1600
FIRST_MIN_ROWS = 20_000


class LossSums(NamedTuple):
    """A partition's share of the loss: ``nll``, smallest probability, gradient sums."""

    nll: float
    min_prob: float
    sums: FloatArray | None


def _loss_part(block: Block, coef: tuple[FloatArray, FloatArray | None]) -> LossSums:
    W, b = coef
    found = loss_kernels.sweep_loss(block.X, block.codes, block.weights, W, b, gradient=True)
    return LossSums(found.nll, found.min_prob, found.gradient_sums)


def _loss_hessian_part(
    block: Block,
    coef: tuple[FloatArray, FloatArray | None],
    common: float,
    column_factor: FloatArray | None,
) -> tuple[LossSums, FloatArray]:
    """:func:`_loss_part` and the reference-0 loss Hessian from the same probabilities."""
    W, b = coef
    P = np.empty((block.n_rows, W.shape[1]))
    found = loss_kernels.sweep_loss(
        block.X, block.codes, block.weights, W, b, gradient=True, prob_out=P
    )
    H = loss_hessian(
        block.X,
        P[:, 1:],
        _row_weights(block, common),
        intercept=b is not None,
        column_factor=column_factor,
    )
    return LossSums(found.nll, found.min_prob, found.gradient_sums), np.asarray(H)


def _add_loss_hessian(*parts: tuple[LossSums, FloatArray]) -> tuple[LossSums, FloatArray]:
    return _add_loss(*(p[0] for p in parts)), _add(*(p[1] for p in parts))


def _add_loss(*parts: LossSums) -> LossSums:
    sums = [p.sums for p in parts if p.sums is not None]
    return LossSums(
        float(sum(p.nll for p in parts)),
        min(p.min_prob for p in parts),
        sum(sums[1:], sums[0].copy()) if sums else None,
    )


def probabilities_of(block: Block, W: FloatArray, b: FloatArray | None) -> FloatArray:
    """Class probabilities ``(m, K)`` of one block for kernel coefficients ``W``, ``b``."""
    return loss_kernels.softmax_loss(block.X, block.codes, None, W, b)[1]


def _row_weights(block: Block, common: float) -> FloatArray:
    return np.full(block.n_rows, common) if block.weights is None else block.weights


def _hessian_part(
    block: Block,
    coef: tuple[FloatArray, FloatArray | None],
    common: float,
    column_factor: FloatArray | None,
    T: FloatArray | None,
) -> FloatArray:
    W, b = coef
    P = probabilities_of(block, W, b)
    return np.asarray(
        loss_hessian(
            block.X,
            P[:, 1:],
            _row_weights(block, common),
            intercept=b is not None,
            column_factor=column_factor,
            T=T,
        )
    )


def _hessp_part(
    block: Block,
    coef: tuple[FloatArray, FloatArray | None],
    direction: tuple[FloatArray, FloatArray | None],
    common: float,
) -> FloatArray:
    W, b = coef
    P = probabilities_of(block, W, b)
    return kernels.curvature_sums(block.X, P, _row_weights(block, common), *direction)


def _add(*parts: FloatArray) -> FloatArray:
    return sum(parts[1:], parts[0].copy())


class Rows(NamedTuple):
    """Rows gathered from partitions: features (float32), codes, effective weights."""

    X: NDArray[np.float32]
    codes: NDArray[np.intp]
    weights: FloatArray | None


def _rows_part(block: Block, start: int, stride: int) -> Rows:
    X = np.ascontiguousarray(block.X[start::stride], dtype=np.float32)
    w = None if block.weights is None else block.weights[start::stride]
    return Rows(X, block.codes[start::stride], w)


def _concat_rows(*parts: Rows) -> Rows:
    weights = [p.weights for p in parts]
    return Rows(
        np.concatenate([p.X for p in parts]),
        np.concatenate([p.codes for p in parts]),
        None if any(w is None for w in weights) else np.concatenate(weights),  # type: ignore[arg-type]
    )


@dataclass
class _Point:
    theta: FloatArray
    loss: float
    min_prob: float
    gradient_sums: FloatArray  # [1, X]ᵀ (w P) on the scaled features, (p1, K)


class DaskObjective:
    """Objective, gradient, Hessian and Hessian-vector products of Dask data.

    Parameters
    ----------
    data : DaskPrepared
    parameterization : Parameterization
    penalty : Penalty
        On ``theta`` viewed as ``(p1, K-1)``, built with the column scales' row weights.

    Notes
    -----
    One point is cached: the value, gradient sums and smallest probability at the last
    ``theta``, so ``value`` then ``value_and_gradient`` at one point cost one pass.
    """

    capabilities = frozenset({HESSIAN, HESSP, SUBSAMPLE})
    low_precision = False

    def __init__(
        self, data: DaskPrepared, parameterization: Parameterization, penalty: Penalty
    ) -> None:
        self.data = data
        self.blocks = data.blocks
        self.counter = data.counter
        self.n_samples = data.n_samples
        self.n_classes = data.n_classes
        self.fit_intercept = data.fit_intercept
        self.p1 = data.p1
        self.n_params = (self.n_classes - 1) * self.p1
        self.sum_weights = data.sum_weights
        self.param = parameterization
        self.penalty = penalty
        self._inv_scale = 1.0 / data.column_scale
        self._common = 1.0 / data.n_samples if data.equal_weights else 1.0
        self._class_sums = self._scaled_sums(data.class_sums.copy())
        T = parameterization.transform_to(Parameterization(self.n_classes, 0))
        self._to_ref0 = None if np.array_equal(T, np.eye(self.n_classes - 1)) else T
        self._point: _Point | None = None
        self._hessian0: tuple[FloatArray, FloatArray] | None = None
        self._subsampled = False  # the first subsample is capped (FIRST_ROWS_PER_PARAM)
        #: Newton's method: every loss pass also forms the Hessian (one pass an iteration
        #: instead of two; a rejected line-search point wastes one Hessian).
        self.hessian_with_loss = False
        self._pen_diag = self._flat(penalty.hessian_diagonal((self.p1, self.n_classes - 1)))

    # ------------------------------------------------------------------ protocol views
    @property
    def y(self) -> NDArray[np.intp]:
        raise NotImplementedError("the class codes of Dask data stay on the workers")

    @property
    def normalized_weights(self) -> FloatArray:
        raise NotImplementedError("the weights of Dask data stay on the workers")

    def set_exact(self, exact: bool) -> None:
        """Products are always float64 (float32 blocks are converted on the fly)."""

    @property
    def column_factor(self) -> FloatArray:
        """``1 / column_scale``, shape ``(p_kept,)``: the scaled features are ``X * factor``."""
        return self._inv_scale

    # ------------------------------------------------------------------ coefficients
    def _flat(self, M: FloatArray) -> FloatArray:
        return np.ascontiguousarray(M.T).reshape(-1)

    def _kernel_coefficients(self, B: FloatArray) -> tuple[FloatArray, FloatArray | None]:
        W = B[int(self.fit_intercept) :] * self._inv_scale[:, None]
        return np.ascontiguousarray(W), (B[0].copy() if self.fit_intercept else None)

    def _scaled_sums(self, sums: FloatArray) -> FloatArray:
        sums[int(self.fit_intercept) :] *= self._inv_scale[:, None]
        return sums

    def full_coefficients(self, theta: FloatArray) -> FloatArray:
        """``B`` of shape ``(p1, K)`` for ``theta`` (scaled features)."""
        return self.param.to_full(theta, self.p1)

    def row_unscale(self) -> FloatArray:
        """``d`` of shape ``(p1,)``: ``B_original = d[:, None] * B``."""
        if self.fit_intercept:
            return np.concatenate([[1.0], self._inv_scale])
        return self._inv_scale.copy()

    def original_coefficients(self, theta: FloatArray) -> FloatArray:
        """``B`` of shape ``(p1, K)`` on the original features' scale."""
        return self.row_unscale()[:, None] * self.full_coefficients(theta)

    def free_from_original(self, B: FloatArray) -> FloatArray:
        """Free vector for a ``(p1, K)`` matrix on the original scale."""
        return self.param.from_full(B / self.row_unscale()[:, None])

    def coefficient_key(self, theta: FloatArray) -> Any:
        """``(W, b)`` on X's scale at ``theta``, as one graph key (for other passes)."""
        return shared(self._kernel_coefficients(self.full_coefficients(theta)))

    # ------------------------------------------------------------------ values
    def _evaluate(self, theta: FloatArray) -> _Point:
        point = self._point
        if point is None or not np.array_equal(theta, point.theta):
            key = self.coefficient_key(theta)
            if self.hessian_with_loss:
                found, H0 = run_pass(
                    self.counter,
                    "loss+hessian",
                    self.blocks,
                    _loss_hessian_part,
                    _add_loss_hessian,
                    key,
                    self._common,
                    shared(self._inv_scale),
                )
                self._hessian0 = (np.array(theta, copy=True), H0)
            else:
                found = run_pass(self.counter, "loss", self.blocks, _loss_part, _add_loss, key)
            assert found.sums is not None
            sums = self._scaled_sums(found.sums)
            if self._common != 1.0:
                sums *= self._common
            point = _Point(
                np.array(theta, copy=True), self._common * found.nll, found.min_prob, sums
            )
            self._point = point
        return point

    def loss(self, theta: FloatArray) -> float:
        """Mean negative log-likelihood (no penalty)."""
        return self._evaluate(theta).loss

    def loglik(self, theta: FloatArray) -> float:
        """``sum_i s_i log P(y_i | x_i)``."""
        return -self.sum_weights * self.loss(theta)

    def min_probability(self, theta: FloatArray) -> float:
        """Smallest fitted probability over rows of positive weight and classes."""
        return self._evaluate(theta).min_prob

    def value(self, theta: FloatArray) -> float:
        Theta = self.param.theta_matrix(theta, self.p1)
        return self.loss(theta) + self.penalty.value(Theta)

    def value_and_gradient(self, theta: FloatArray) -> tuple[float, FloatArray]:
        point = self._evaluate(theta)
        Theta = self.param.theta_matrix(theta, self.p1)
        grad = self.param.free_gradient(point.gradient_sums - self._class_sums)
        grad += self._flat(self.penalty.gradient(Theta))
        return point.loss + self.penalty.value(Theta), grad

    def gradient(self, theta: FloatArray) -> FloatArray:
        return self.value_and_gradient(theta)[1]

    # ------------------------------------------------------------------ curvature
    def loss_hessian_ref0(self, theta: FloatArray) -> FloatArray:
        """Hessian of the mean loss in reference-class-0 coordinates: one pass (cached).

        Returns
        -------
        ndarray of shape ((K-1) * p1, (K-1) * p1)
            A fresh copy.
        """
        cached = self._hessian0
        if cached is None or not np.array_equal(cached[0], theta):
            H: FloatArray = run_pass(
                self.counter,
                "hessian",
                self.blocks,
                _hessian_part,
                _add,
                self.coefficient_key(theta),
                self._common,
                shared(self._inv_scale),
                None,
            )
            cached = self._hessian0 = (np.array(theta, copy=True), H)
        return cached[1].copy()

    def loss_hessian(self, theta: FloatArray) -> FloatArray:
        """Hessian of the mean loss in the free coordinates (no penalty)."""
        H0 = self.loss_hessian_ref0(theta)
        T = self._to_ref0
        if T is None:
            return H0
        k1, p1 = self.n_classes - 1, self.p1
        H4 = H0.reshape(k1, p1, k1, p1)
        out = np.einsum("ac,cidj,bd->aibj", T, H4, T, optimize=True)
        return np.ascontiguousarray(out.reshape(k1 * p1, k1 * p1))

    def hessian(self, theta: FloatArray) -> FloatArray:
        """Hessian of ``f`` (loss and penalty), ``(m, m)``: one pass."""
        H = self.loss_hessian(theta)
        H[np.diag_indices_from(H)] += self._pen_diag
        return H

    def information(self, theta: FloatArray) -> FloatArray:
        """The curvature inference inverts (mean scale): :meth:`hessian`."""
        return self.hessian(theta)

    def hessp(self, theta: FloatArray, v: FloatArray) -> FloatArray:
        """Hessian times ``v``: one pass of :func:`~mnlogit.objective.kernels.curvature_sums`."""
        V = self.param.theta_matrix(v, self.p1) @ self.param.A.T
        sums: FloatArray = run_pass(
            self.counter,
            "hessp",
            self.blocks,
            _hessp_part,
            _add,
            self.coefficient_key(theta),
            shared(self._kernel_coefficients(V)),
            self._common,
        )
        out = self.param.free_gradient(self._scaled_sums(sums))
        out += self._pen_diag * v
        return out

    def curvature_product(self, theta: FloatArray, v: FloatArray) -> FloatArray:
        return self.hessp(theta, v)

    def curvature_preconditioner(self, theta: FloatArray) -> Inverse | None:
        return None

    def kronecker_preconditioner(self, theta: FloatArray) -> Inverse | None:
        return None

    # ------------------------------------------------------------------ not offered
    def probabilities(self, theta: FloatArray) -> FloatArray:
        raise NotImplementedError("n x K probabilities of Dask data are not gathered")

    def linear_predictor(self, theta: FloatArray) -> FloatArray:
        raise NotImplementedError("n x K linear predictors of Dask data are not gathered")

    def backproject(self, U: FloatArray) -> FloatArray:
        raise NotImplementedError("per-row derivatives of Dask data are not gathered")

    # ------------------------------------------------------------------ subsample
    def gather_rows(self, stride: int) -> Rows:
        """Every ``stride``-th row of the data (global row numbers), gathered: one pass."""
        offsets = block_rows_offsets(self.data.rows)
        parts = [
            delayed(_rows_part, pure=True)(block, int((-start) % stride), stride)
            for block, start in zip(self.blocks, offsets, strict=True)
        ]
        # gathered to the client part by part: a tree of concatenations would hold the
        # whole subsample on one worker
        return _concat_rows(*self.counter.gather("subsample", parts, len(parts)))

    def subsample(self, stride: int) -> SolverObjective | None:
        """The same objective on every ``stride``-th row, in memory (float32 features).

        The stride is raised until the subsample holds at most
        :data:`MAX_SUBSAMPLE_BYTES`; the weights are renormalized over it (the
        objective estimates this one: mean scale, same penalty).
        """
        p = self.p1 - int(self.fit_intercept)
        limit = max(1, MAX_SUBSAMPLE_BYTES // max(4 * p, 1))
        if not self._subsampled:
            limit = min(limit, max(FIRST_ROWS_PER_PARAM * self.n_params, FIRST_MIN_ROWS))
            self._subsampled = True
        stride = max(int(stride), -(-self.n_samples // limit), 1)
        rows = self.gather_rows(stride)
        weights = np.ones(rows.codes.size) if rows.weights is None else rows.weights
        return MultinomialObjective(
            rows.X,
            rows.codes,
            self.n_classes,
            weights,
            self.param,
            self.penalty,
            self.fit_intercept,
            feature_scale=1.0 / self._inv_scale,
        )
