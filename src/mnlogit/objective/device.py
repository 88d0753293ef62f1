"""The penalized multinomial objective of data on an array-API device (GPU, or CPU).

:class:`DeviceObjective` is :class:`~mnlogit.objective.MultinomialObjective`'s counterpart
for ``X`` held by another array namespace (PyTorch, CuPy, array-api-strict): the same
mean-scale objective, parameterization, feature scaling and penalty, with the data passes
run by the array-API block kernels (:mod:`mnlogit.objective.xp_kernels`) on ``X``'s device.
It satisfies :class:`~mnlogit.objective.protocol.SolverObjective`, so the existing solvers
run unchanged on float64 host vectors of length ``(K-1)(p+1)``: each call sends the
coefficients to the device (``(p, K)``) and brings back only sums -- a scalar, ``(p1, K)``
gradient sums, ``(m, m)`` Hessian parts -- never an ``n``-sized array.

Capabilities: ``"hessian"`` (Newton), ``"hessp"`` (Newton-CG, without a
preconditioner), ``"subsample"`` (``subsample-newton``: a float32 copy of every
``s``-th row on the device) and ``"kronecker"``, whose curvature model is here the exact
Hessian (a GEMM on the device costs less than the model's bookkeeping). Not offered:
IRLS (its solver is refused).

Precision: float32 ``X`` iterates on float32 products, then finishes with float64
products of row blocks converted on the device (``set_exact``), where the device has
float64. A device without float64 (Apple's MPS) computes everything in float32 and the
fit says so (:attr:`DeviceObjective.float64`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from mnlogit.arrays import Placement, to_host
from mnlogit.objective import xp_kernels as xk
from mnlogit.objective.penalties import Penalty
from mnlogit.objective.protocol import (
    HESSIAN,
    HESSP,
    KRONECKER,
    SUBSAMPLE,
    Inverse,
    SolverObjective,
)
from mnlogit.parameterization import Parameterization

__all__ = ["DeviceObjective"]

FloatArray = NDArray[np.float64]


@dataclass
class _Point:
    """What is known at the last point (device arrays where noted)."""

    theta: FloatArray
    loss: float
    gradient_sums: FloatArray | None = None  # host (p1, K), scaled features
    prob: Any = None  # device (n, K), work dtype


class DeviceObjective:
    """Objective, gradient, Hessian and Hessian-vector product of device data.

    Parameters
    ----------
    placement : Placement
        The namespace and device of ``X``.
    X : device array of shape (n, p)
        float32 or float64, on ``placement.device``.
    codes : device array of shape (n,)
        Integer class codes ``0 .. K-1``.
    n_classes : int
    sample_weight : device array of shape (n,)
        Non-negative frequency weights (work dtype) with a positive sum.
    parameterization : Parameterization
    penalty : Penalty
    fit_intercept : bool
    feature_scale : ndarray of shape (p,), optional
        Host column scales (see :class:`~mnlogit.objective.MultinomialObjective`).
    equal_weights : bool, default=False
        Whether all weights are equal (then the kernels skip the per-row products).
    """

    capabilities = frozenset({HESSIAN, HESSP, SUBSAMPLE, KRONECKER})

    def __init__(
        self,
        placement: Placement,
        X: Any,
        codes: Any,
        n_classes: int,
        sample_weight: Any,
        parameterization: Parameterization,
        penalty: Penalty,
        fit_intercept: bool = True,
        feature_scale: FloatArray | None = None,
        equal_weights: bool = False,
    ) -> None:
        xp = placement.xp
        self.placement = placement
        self.X = X
        self.codes = codes
        self.n_samples, self.n_features = int(X.shape[0]), int(X.shape[1])
        self.n_classes = n_classes
        self.work = placement.work_dtype
        self.float64 = placement.float64
        self.sample_weight = sample_weight
        self.sum_weights = float(xp.sum(sample_weight))
        self.param = parameterization
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.p1 = self.n_features + int(fit_intercept)
        self.n_params = (n_classes - 1) * self.p1
        self.low_precision = X.dtype == xp.float32 and self.float64
        self.exact = not self.low_precision
        self._w = sample_weight / self.sum_weights
        self._kernel_w = None if equal_weights else self._w
        self._common = 1.0 / self.n_samples if equal_weights else 1.0
        self._inv_scale = None if feature_scale is None else 1.0 / np.asarray(feature_scale)
        self._cf = None if self._inv_scale is None else placement.put(self._inv_scale)
        self._to_ref0 = parameterization.transform_to(Parameterization(n_classes, 0))
        self._point: _Point | None = None
        # once probabilities were asked for (Newton, Newton-CG, inference), every sweep
        # keeps them: the next Hessian then needs no second pass at the same point
        self._keep_prob = False
        self._host_codes: NDArray[np.intp] | None = None
        sums = xk.class_sums(
            xp, X, codes, self._w, n_classes, intercept=fit_intercept, work=self.work
        )
        # sum_i w_i onehot(y_i) [1, x_i] (scaled features): the gradient's constant part
        self._class_sums = self._scaled(to_host(sums).astype(np.float64))

    # ------------------------------------------------------------------ helpers
    @property
    def y(self) -> NDArray[np.intp]:
        """Class codes ``(n,)`` on the host, copied once when first asked for.

        Only ``subsample-newton`` reads them (that every class is in its subsample,
        ``n / 16`` rows); the device objective itself uses :attr:`codes`.
        """
        if self._host_codes is None:
            self._host_codes = to_host(self.codes).astype(np.intp)
        return self._host_codes

    @property
    def normalized_weights(self) -> Any:
        """Weights over their total ``(n,)`` on the device."""
        return self._w

    @property
    def _compute(self) -> Any:
        return self.X.dtype if not self.exact else self.work

    def set_exact(self, exact: bool) -> None:
        """float64 products (``True``) or X's float32 ones (``False``)."""
        self.exact = bool(exact) or not self.low_precision
        self._point = None

    def _scaled(self, sums: FloatArray) -> FloatArray:
        if self._inv_scale is not None:
            sums[int(self.fit_intercept) :] *= self._inv_scale[:, None]
        return sums

    def _kernel_coefficients(self, B: FloatArray) -> tuple[FloatArray, FloatArray | None]:
        """``(W, b)`` on the host from a ``(p1, K')`` matrix; ``W`` on X's scale."""
        W = B[int(self.fit_intercept) :]
        if self._inv_scale is not None:
            W = W * self._inv_scale[:, None]
        return np.ascontiguousarray(W), (B[0] if self.fit_intercept else None)

    def _device_coefficients(self, B: FloatArray) -> tuple[Any, Any]:
        """``(W, b)`` on the device from a ``(p1, K')`` host matrix; ``W`` on X's scale."""
        W, b = self._kernel_coefficients(B)
        return self.placement.put(W), (None if b is None else self.placement.put(b))

    def full_coefficients(self, theta: FloatArray) -> FloatArray:
        """``B`` ``(p1, K)`` of the free vector (scaled features)."""
        return self.param.to_full(theta, self.p1)

    def row_unscale(self) -> FloatArray:
        """``d`` ``(p1,)``: ``B_original = d[:, None] * B``."""
        if self._inv_scale is None:
            return np.ones(self.p1)
        if self.fit_intercept:
            return np.concatenate([[1.0], self._inv_scale])
        return self._inv_scale

    def original_coefficients(self, theta: FloatArray) -> FloatArray:
        """``B`` ``(p1, K)`` on the original features' scale."""
        return self.row_unscale()[:, None] * self.full_coefficients(theta)

    def free_from_original(self, B: FloatArray) -> FloatArray:
        """Free vector for a ``(p1, K)`` matrix on the original scale."""
        return self.param.from_full(B / self.row_unscale()[:, None])

    # ------------------------------------------------------------------ the cache
    def _evaluate(self, theta: FloatArray, gradient: bool = False, prob: bool = False) -> _Point:
        point = self._point
        fresh = point is None or not np.array_equal(theta, point.theta)
        if point is None or fresh:
            point = _Point(np.array(theta, copy=True), 0.0)
        elif not (gradient and point.gradient_sums is None) and not (prob and point.prob is None):
            return point
        Wh, bh = self._kernel_coefficients(self.full_coefficients(point.theta))
        W = self.placement.put(Wh)
        b = None if bh is None else self.placement.put(bh)
        found = xk.loss_sweep(
            self.placement.xp,
            self.X,
            self.codes,
            self._kernel_w,
            W,
            b,
            compute=self._compute,
            work=self.work,
            gradient=gradient and point.gradient_sums is None,
            keep_prob=(prob or self._keep_prob) and point.prob is None,
        )
        point.loss = self._common * float(found.nll)
        if found.gradient_sums is not None:
            point.gradient_sums = self._scaled(to_host(found.gradient_sums).astype(np.float64))
        if found.prob is not None:
            point.prob = found.prob
        self._keep_prob = self._keep_prob or prob
        self._point = point
        return point

    # ------------------------------------------------------------------ values
    def loss(self, theta: FloatArray) -> float:
        """Mean negative log-likelihood (no penalty)."""
        return self._evaluate(theta).loss

    def loglik(self, theta: FloatArray) -> float:
        """Weighted log-likelihood on the sum scale."""
        return -self.sum_weights * self.loss(theta)

    def value(self, theta: FloatArray) -> float:
        """Penalized mean objective."""
        return self.loss(theta) + self.penalty.value(self.param.theta_matrix(theta, self.p1))

    def value_and_gradient(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """``f(theta)`` and its gradient ``((K-1) p1,)``: one pass over X."""
        point = self._evaluate(theta, gradient=True)
        assert point.gradient_sums is not None
        XtP = point.gradient_sums * self._common - self._class_sums
        grad = self.param.free_gradient(XtP)
        Theta = self.param.theta_matrix(theta, self.p1)
        grad += self._flat(self.penalty.gradient(Theta))
        return point.loss + self.penalty.value(Theta), grad

    def _flat(self, M: FloatArray) -> FloatArray:
        return np.ascontiguousarray(M.T).reshape(-1)

    def probabilities(self, theta: FloatArray) -> Any:
        """Class probabilities ``(n, K)`` at ``theta``, a device array (work dtype)."""
        return self._evaluate(theta, prob=True).prob

    def linear_predictor(self, theta: FloatArray) -> Any:
        """``eta`` ``(n, K)`` at ``theta`` (device array)."""
        W, b = self._device_coefficients(self.full_coefficients(theta))
        return xk.linear_predictor(self.placement.xp, self.X, W, b, self._compute, self.work)

    def backproject(self, U: Any) -> FloatArray:
        """A per-row derivative ``U`` ``(n, K)`` (device) carried back to ``theta``."""
        sums = xk.backproject_rows(
            self.placement.xp, self.X, U, self._compute, self.work, self.fit_intercept
        )
        return self.param.free_gradient(self._scaled(to_host(sums).astype(np.float64)))

    def min_probability(self, theta: FloatArray) -> float:
        """Smallest fitted probability over rows of positive weight (one reduction)."""
        xp = self.placement.xp
        P = self.probabilities(theta)
        positive = xp.reshape(self.sample_weight > 0, (-1, 1))
        return float(
            xp.min(
                xp.where(
                    positive, P, xp.asarray(np.inf, dtype=P.dtype, device=self.placement.device)
                )
            )
        )

    # ------------------------------------------------------------------ curvature
    def _loss_hessian(self, theta: FloatArray, T: FloatArray | None) -> FloatArray:
        """The loss Hessian ``(m, m)``: two device products, assembled on the host."""
        P = self.probabilities(theta)
        k1, p1 = self.n_classes - 1, self.p1
        ZtZ, D = xk.loss_hessian(
            self.placement.xp,
            self.X,
            P[:, 1:],
            self._w,
            intercept=self.fit_intercept,
            column_factor=self._cf,
            T=None if T is None else self.placement.put(T),
            compute=self._compute,
            work=self.work,
        )
        H = -to_host(ZtZ).astype(np.float64)
        D3 = to_host(D).astype(np.float64).reshape(p1, k1, p1)
        Tm = np.eye(k1) if T is None else T
        for b in range(k1):
            for c in range(b, k1):
                block = np.tensordot(Tm[b] * Tm[c], D3, axes=([0], [1]))
                H[b * p1 : (b + 1) * p1, c * p1 : (c + 1) * p1] += block
                if c != b:
                    H[c * p1 : (c + 1) * p1, b * p1 : (b + 1) * p1] += block.T
        return 0.5 * (H + H.T)

    def loss_hessian_ref0(self, theta: FloatArray) -> FloatArray:
        """Hessian of the mean loss in the reference-class-0 coordinates."""
        return self._loss_hessian(theta, None)

    def hessian(self, theta: FloatArray) -> FloatArray:
        """Hessian of ``f`` ``((K-1) p1, (K-1) p1)``, formed on the device."""
        k1 = self.n_classes - 1
        T = self._to_ref0
        H = self._loss_hessian(theta, None if np.array_equal(T, np.eye(k1)) else T)
        H[np.diag_indices_from(H)] += self._penalty_diagonal()
        return H

    def information(self, theta: FloatArray) -> FloatArray:
        """The curvature inference inverts (mean scale): :meth:`hessian`."""
        return self.hessian(theta)

    def _penalty_diagonal(self) -> FloatArray:
        return self._flat(self.penalty.hessian_diagonal((self.p1, self.n_classes - 1)))

    def hessp(self, theta: FloatArray, v: FloatArray) -> FloatArray:
        """Hessian-vector product: one ``X @ D`` and one ``Xᵀ R`` on the device."""
        P = self.probabilities(theta)
        V = self.param.theta_matrix(v, self.p1) @ self.param.A.T
        W, b = self._device_coefficients(V)
        sums = xk.curvature_sums(
            self.placement.xp,
            self.X,
            P,
            self._w,
            W,
            b,
            compute=self._compute,
            work=self.work,
        )
        out = self.param.free_gradient(self._scaled(to_host(sums).astype(np.float64)))
        return out + self._penalty_diagonal() * v

    def curvature_product(self, theta: FloatArray, v: FloatArray) -> FloatArray:
        """:meth:`hessp` (no cheaper product on a device)."""
        return self.hessp(theta, v)

    def curvature_preconditioner(self, theta: FloatArray) -> Inverse | None:
        """None: plain conjugate gradients."""
        return None

    def kronecker_preconditioner(self, theta: FloatArray) -> Inverse:
        """``g -> H^{-1} g`` with ``H`` the exact Hessian at ``theta`` (``"kronecker"``).

        Where the numpy path approximates the curvature by a Kronecker-factored model to
        save CPU flops, a device forms the exact Hessian at GEMM speed (``subsample-newton``
        asks for this on its subsamples with more than 100 parameters). Cholesky; an
        eigendecomposition with eigenvalues floored at 1e-10 of the largest when the
        Hessian is singular.
        """
        H = self.hessian(theta)
        try:
            factor = scipy.linalg.cho_factor(H, check_finite=False)
            if np.all(np.isfinite(factor[0])):
                return lambda g: np.asarray(scipy.linalg.cho_solve(factor, g))
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            pass
        w, V = scipy.linalg.eigh(H, check_finite=False)
        w = np.maximum(w, max(float(np.max(np.abs(w))), 1e-300) * 1e-10)
        return lambda g: np.asarray(V @ ((V.T @ g) / w))

    def subsample(self, stride: int) -> DeviceObjective:
        """The same objective on every ``stride``-th row, copied on the device as float32.

        As :meth:`mnlogit.objective.MultinomialObjective.subsample`: the subsample only
        serves as a warm start and a preconditioner (``subsample-newton``), so its
        products run in float32; weights are renormalized over the subsample.

        Returns
        -------
        DeviceObjective
            On ``n / stride`` rows (a ``1 / stride`` copy of ``X``, on the device).
        """
        xp = self.placement.xp
        dtype = xp.float32 if self.float64 else self.X.dtype
        X = xp.astype(self.X[::stride, :], dtype, copy=True)
        scale = None if self._inv_scale is None else 1.0 / self._inv_scale
        return DeviceObjective(
            self.placement,
            X,
            self.codes[::stride],
            self.n_classes,
            self.sample_weight[::stride],
            self.param,
            self.penalty,
            self.fit_intercept,
            feature_scale=scale,
            equal_weights=self._kernel_w is None,
        )

    # ------------------------------------------------------------------ inference
    def weighted_gram(self, h: Any) -> FloatArray:
        """``[1, X]ᵀ diag(h) [1, X]`` (scaled features) for a device ``h`` ``(n,)``."""
        G = xk.weighted_gram(
            self.placement.xp,
            self.X,
            h,
            intercept=self.fit_intercept,
            column_factor=self._cf,
            work=self.work,
        )
        return to_host(G).astype(np.float64)

    def _onehot(self) -> Any:
        xp = self.placement.xp
        classes = xp.reshape(xp.arange(self.n_classes, device=self.codes.device), (1, -1))
        return xp.astype(xp.reshape(self.codes, (-1, 1)) == classes, self.work)

    def residuals(self, theta: FloatArray) -> Any:
        """Per-row score in ``eta``, ``onehot(y) - P`` ``(n, K)``, a device array."""
        return self._onehot() - self.probabilities(theta)

    def robust_meat(self, theta: FloatArray) -> FloatArray:
        """``M = sum_i s_i u_i u_iᵀ`` in free coordinates (the sandwich's meat), host.

        ``u_i = R_i ⊗ [1, x̃_i]`` with ``R = (onehot(y) - P) A``; formed on the device as
        the rank update of :func:`~mnlogit.objective.xp_kernels.loss_hessian` with
        ``R`` in place of the probabilities (``ZᵀZ`` with weights ``s_i / S``) times ``S``.
        """
        R = self.residuals(theta) @ self.placement.put(self.param.A)
        ZtZ, _ = xk.loss_hessian(
            self.placement.xp,
            self.X,
            R,
            self._w,
            intercept=self.fit_intercept,
            column_factor=self._cf,
            T=None,
            compute=self.work,
            work=self.work,
        )
        M = to_host(ZtZ).astype(np.float64) * self.sum_weights
        return 0.5 * (M + M.T)

    def cluster_meat(self, theta: FloatArray, groups: Any) -> FloatArray:
        """``G/(G-1) sum_g U_g U_gᵀ`` in free coordinates (the cluster sandwich's meat).

        ``U_g`` (the summed scores of cluster ``g``, scaled features) by
        :func:`~mnlogit.objective.xp_kernels.cluster_scores` on the device; only the
        ``(m, m)`` product ``UᵀU`` comes to the host.

        Parameters
        ----------
        theta : ndarray of shape (m,)
        groups : device integer array of shape (n,)
            Cluster codes ``0 .. G-1`` on ``X``'s device.
        """
        xp = self.placement.xp
        n_groups = int(xp.max(groups)) + 1
        if n_groups < 2:
            raise ValueError("cluster-robust covariance needs at least two groups")
        R = self.residuals(theta) @ self.placement.put(self.param.A)
        U = xk.cluster_scores(
            xp,
            self.X,
            R,
            self.sample_weight,
            groups,
            n_groups,
            intercept=self.fit_intercept,
            column_factor=self._cf,
            work=self.work,
        )
        M = to_host(U.T @ U).astype(np.float64) * (n_groups / (n_groups - 1.0))
        return 0.5 * (M + M.T)


if TYPE_CHECKING:  # mypy checks that the device objective satisfies the solvers' protocol

    def _conforms(d: DeviceObjective) -> SolverObjective:
        return d
