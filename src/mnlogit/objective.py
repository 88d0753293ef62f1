"""The penalized multinomial negative log-likelihood and its derivatives.

Everything here works on the linear predictor ``eta = X @ W + b`` of shape ``(n, K)``
with array operations only (matmul, exp, sums): no Python loop over samples, the
intercept handled beside ``X`` (``G.sum(0)`` next to ``X.T @ G``) so that ``X`` is
never copied, and a sparse ``X`` never densified.

The objective is on the mean scale (DESIGN.md §1)::

    f(theta) = -(1/S) sum_i s_i log P(y_i | x_i) + penalty(theta)

with ``S = sum_i s_i``. Log-likelihoods reported to users are sums: ``-S * loss``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from mnlogit.parameterization import Parameterization
from mnlogit.penalties import Penalty

__all__ = ["MultinomialObjective", "log_softmax"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

# Rows per chunk when forming X.T @ (h * X) for dense X: bounds the temporary to
# about 2**21 elements (16 MiB in float64) whatever n is.
_CHUNK_ELEMENTS = 2**21


def _row_max(A: FloatArray) -> FloatArray:
    """Row maxima of an ``(n, K)`` array; a loop over few columns beats ``max(axis=1)``."""
    if A.shape[1] > 32:
        return np.asarray(A.max(axis=1))
    m = A[:, 0].copy()
    for k in range(1, A.shape[1]):
        np.maximum(m, A[:, k], out=m)
    return m


def log_softmax(eta: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """Row-wise log-softmax, stable for any finite input.

    Parameters
    ----------
    eta : ndarray of shape (n, K)
    out : ndarray of shape (n, K), optional
        Buffer for the result (may be ``eta`` itself).

    Returns
    -------
    ndarray of shape (n, K)
        ``eta - logsumexp(eta, axis=1)``; every entry finite when ``eta`` is.
    """
    if out is None:
        out = np.empty_like(eta)
    m = eta.max(axis=1, keepdims=True)
    np.subtract(eta, m, out=out)
    lse = np.log(np.exp(out).sum(axis=1, keepdims=True))
    out -= lse
    return out


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

    Notes
    -----
    The probabilities at the most recent ``theta`` are cached, so a solver calling
    ``value_and_gradient`` then ``hessian`` at the same point computes them once.
    """

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
    ) -> None:
        self.X = X
        self.sparse = sp.issparse(X)
        self.y = np.asarray(y, dtype=np.intp)
        self.n_samples, self.n_features = X.shape
        self.n_classes = n_classes
        self.sample_weight = np.asarray(sample_weight, dtype=np.float64)
        self.sum_weights = float(self.sample_weight.sum())
        self._ws = self.sample_weight / self.sum_weights
        self.param = parameterization
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.p1 = self.n_features + int(fit_intercept)
        self.n_params = (n_classes - 1) * self.p1
        self._rows = np.arange(self.n_samples)
        self._inv_scale: FloatArray | None = (
            None if feature_scale is None else 1.0 / np.asarray(feature_scale, dtype=np.float64)
        )
        # theta_ref0 = Theta @ T: used to build the Hessian from one kernel.
        self._to_ref0 = parameterization.transform_to(Parameterization(n_classes, 0))
        self._cached_theta: FloatArray | None = None
        self._logp = np.empty((self.n_samples, n_classes))
        self._prob = np.empty((self.n_samples, n_classes))
        self._work = np.empty((self.n_samples, n_classes))
        # Flat positions of each row's observed class in the C-ordered (n, K) buffers.
        self._hit = self._rows * n_classes + self.y
        self._ones_k = np.ones(n_classes)

    # ------------------------------------------------------------------ helpers
    def _flat(self, M: FloatArray) -> FloatArray:
        """``(p1, K-1)`` matrix to the class-major free vector."""
        return np.ascontiguousarray(M.T).reshape(-1)

    def _eta_from_full(self, B: FloatArray) -> FloatArray:
        """Linear predictor ``(n, K)`` from a full ``(p1, K)`` matrix."""
        off = int(self.fit_intercept)
        W = B[off:]
        if self._inv_scale is not None:
            W = W * self._inv_scale[:, None]
        eta = np.asarray(self.X @ W, dtype=np.float64)
        if self.fit_intercept:
            eta += B[0]
        return eta

    def _xt_full(self, U: FloatArray) -> FloatArray:
        """``[U.sum(0); X.T @ U]`` of shape ``(p1, K')`` for a per-row ``(n, K')`` matrix."""
        if self.sparse:
            XtU = np.asarray(self.X.T @ U, dtype=np.float64)
        else:  # (U^T X)^T: BLAS is faster with the long dimension inner here
            XtU = np.asarray((U.T @ self.X).T, dtype=np.float64)
        if self._inv_scale is not None:
            XtU *= self._inv_scale[:, None]
        if self.fit_intercept:
            return np.vstack([U.sum(axis=0, keepdims=True), XtU])
        return XtU

    def full_coefficients(self, theta: FloatArray) -> FloatArray:
        """``B`` of shape ``(p1, K)`` for the free vector ``theta`` (scaled features)."""
        return self.param.to_full(theta, self.p1)

    def row_unscale(self) -> FloatArray:
        """``d`` of shape ``(p1,)``: ``B_original = d[:, None] * B`` (1 for the intercept)."""
        d = np.ones(self.p1) if self._inv_scale is None else self._inv_scale
        if self._inv_scale is not None and self.fit_intercept:
            d = np.concatenate([[1.0], self._inv_scale])
        return d

    def original_coefficients(self, theta: FloatArray) -> FloatArray:
        """``B`` of shape ``(p1, K)`` on the original features' scale."""
        return self.row_unscale()[:, None] * self.full_coefficients(theta)

    def free_from_original(self, B: FloatArray) -> FloatArray:
        """Free vector ``((K-1) * p1,)`` for a ``(p1, K)`` matrix on the original scale."""
        return self.param.from_full(B / self.row_unscale()[:, None])

    def linear_predictor(self, theta: FloatArray) -> FloatArray:
        """``eta`` of shape ``(n, K)`` at ``theta``."""
        return self._eta_from_full(self.full_coefficients(theta))

    def _update(self, theta: FloatArray) -> None:
        if self._cached_theta is not None and np.array_equal(theta, self._cached_theta):
            return
        # Fused, in place: eta into the log-probability buffer, one exp pass.
        B = self.full_coefficients(theta)
        off = int(self.fit_intercept)
        W = B[off:]
        if self._inv_scale is not None:
            W = W * self._inv_scale[:, None]
        logp, prob = self._logp, self._prob
        if self.sparse or not isinstance(self.X, np.ndarray):
            logp[...] = self.X @ W
        else:
            np.matmul(self.X, W, out=logp)
        if self.fit_intercept:
            logp += B[0]
        logp -= _row_max(logp)[:, None]
        np.exp(logp, out=prob)
        total = prob @ self._ones_k  # row sums; a matrix-vector product beats sum(axis=1)
        prob /= total[:, None]
        logp -= np.log(total)[:, None]
        self._cached_theta = np.array(theta, copy=True)

    def probabilities(self, theta: FloatArray) -> FloatArray:
        """Class probabilities ``(n, K)`` at ``theta`` (a read-only view of the cache)."""
        self._update(theta)
        view = self._prob.view()
        view.flags.writeable = False
        return view

    # ------------------------------------------------------------------ values
    def loss(self, theta: FloatArray) -> float:
        """Mean negative log-likelihood ``-(1/S) sum_i s_i log P(y_i|x_i)`` (no penalty)."""
        self._update(theta)
        return -float(np.dot(self._ws, np.take(self._logp, self._hit)))

    def loglik(self, theta: FloatArray) -> float:
        """Weighted log-likelihood on the sum scale, ``sum_i s_i log P(y_i|x_i)``."""
        return -self.sum_weights * self.loss(theta)

    def value(self, theta: FloatArray) -> float:
        """Penalized mean objective ``f(theta)``."""
        Theta = self.param.theta_matrix(theta, self.p1)
        return self.loss(theta) + self.penalty.value(Theta)

    def value_and_gradient(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """``f(theta)`` and its gradient of shape ``((K-1) * p1,)``."""
        f = self.value(theta)
        G = np.multiply(self._prob, self._ws[:, None], out=self._work)
        G.reshape(-1)[self._hit] -= self._ws
        grad = self.param.free_gradient(self._xt_full(G))
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
        return self.param.free_gradient(self._xt_full(U))

    def residuals(self, theta: FloatArray) -> FloatArray:
        """Per-row score with respect to ``eta``: ``onehot(y) - P``, shape ``(n, K)``.

        The log-likelihood score of row ``i`` with respect to ``B`` is
        ``outer([1, x_i], residuals[i])``.
        """
        self._update(theta)
        R = -self._prob
        R[self._rows, self.y] += 1.0
        return R

    # ------------------------------------------------------------------ curvature
    def weighted_gram(self, h: FloatArray) -> FloatArray:
        """``[1, X].T @ diag(h) @ [1, X]`` of shape ``(p1, p1)``, never copying ``X``."""
        X = self.X
        p = self.n_features
        inv = self._inv_scale
        if self.sparse:
            # One sparse product; the column scaling is applied to the p x p result, not to
            # a scaled copy of X.
            XtHX = np.asarray((X.T @ X.multiply(h[:, None]).tocsc()).toarray())
            if inv is not None:
                XtHX *= np.outer(inv, inv)
        else:
            XtHX = np.zeros((p, p))
            step = max(1, _CHUNK_ELEMENTS // max(p, 1))
            for start in range(0, self.n_samples, step):
                Xc = X[start : start + step]
                if inv is not None:
                    Xc = Xc * inv
                XtHX += Xc.T @ (Xc * h[start : start + step, None])
        if not self.fit_intercept:
            return XtHX
        out = np.empty((p + 1, p + 1))
        out[0, 0] = h.sum()
        border = np.asarray(X.T @ h).ravel()
        if inv is not None:
            border = border * inv
        out[0, 1:] = border
        out[1:, 0] = border
        out[1:, 1:] = XtHX
        return out

    def loss_hessian_ref0(self, theta: FloatArray) -> FloatArray:
        """Hessian of the mean loss in the reference-class-0 coordinates.

        Built from ``K(K-1)/2`` weighted Gram matrices ``X.T @ (h_kl * X)`` with
        ``h_kl = s_i P_ik (I(k=l) - P_il) / S`` over classes ``1 .. K-1``.

        Returns
        -------
        ndarray of shape ((K-1) * p1, (K-1) * p1)
        """
        self._update(theta)
        P = self._prob
        k1 = self.n_classes - 1
        p1 = self.p1
        H = np.empty((k1 * p1, k1 * p1))
        for a in range(k1):
            pa = self._ws * P[:, a + 1]
            for b in range(a, k1):
                h = pa * ((1.0 if a == b else 0.0) - P[:, b + 1])
                block = self.weighted_gram(h)
                H[a * p1 : (a + 1) * p1, b * p1 : (b + 1) * p1] = block
                if b != a:
                    H[b * p1 : (b + 1) * p1, a * p1 : (a + 1) * p1] = block.T
        return H

    def hessian(self, theta: FloatArray) -> FloatArray:
        """Hessian of ``f`` at ``theta`` (loss plus penalty).

        Returns
        -------
        ndarray of shape ((K-1) * p1, (K-1) * p1)
        """
        H0 = self.loss_hessian_ref0(theta)
        k1, p1 = self.n_classes - 1, self.p1
        T = self._to_ref0
        if not np.array_equal(T, np.eye(k1)):
            H4 = H0.reshape(k1, p1, k1, p1)
            H0 = np.einsum("ac,cidj,bd->aibj", T, H4, T, optimize=True).reshape(k1 * p1, k1 * p1)
        diag = self._flat(self.penalty.hessian_diagonal((p1, k1)))
        H0[np.diag_indices_from(H0)] += diag
        return H0

    def hessp(self, theta: FloatArray, v: FloatArray) -> FloatArray:
        """Hessian-vector product without forming the Hessian.

        One ``X @ D`` and one ``X.T @ R`` per call.

        Parameters
        ----------
        theta, v : ndarray of shape ((K-1) * p1,)

        Returns
        -------
        ndarray of shape ((K-1) * p1,)
        """
        self._update(theta)
        P = self._prob
        V = self.param.theta_matrix(v, self.p1)
        d_eta = self._eta_from_full(V @ self.param.A.T)
        R = P * (d_eta - np.einsum("ij,ij->i", P, d_eta)[:, None])
        R *= self._ws[:, None]
        out = self.backproject(R)
        out += self._flat(self.penalty.hessian_diagonal(V.shape) * V)
        return out
