"""Firth's penalized likelihood for the multinomial logit.

Maximizes ``loglik(theta) + 1/2 log det I(theta)``, with ``I`` the Fisher information of
the free parameters (Jeffreys-prior penalty; Firth 1993, Kosmidis & Firth 2011 for the
multinomial case). The penalty keeps estimates finite under separation and removes the
O(1/n) bias of maximum likelihood. ``log det I`` changes only by a constant under a
linear reparameterization, so the fitted probabilities do not depend on the reference
class.

On the mean scale used by the solvers the objective is::

    f(theta) = -(1/S) loglik(theta) - (1/(2S)) log det I(theta)

Its gradient uses ``d/d theta_r 1/2 log det I = 1/2 tr(I^{-1} dI/d theta_r)``, computed
row by row on the linear predictor: with ``Q_i[a, b] = x_i^T (I^{-1})_{ab} x_i`` (the
per-row leverage blocks, classes ``1 .. K-1``) and ``v_ia = p_ia (Q_i[a, a] - 2 (Q_i p_i)_a)``,

    d (1/2 log det I) / d eta_ic = 1/2 s_i (v_ic [c >= 1] - p_ic sum_a v_ia).

For curvature, Newton gets the exact Hessian of the penalized objective (central
differences of the analytic gradient) for up to 200 free parameters, and the Fisher
information beyond (positive definite, so still descent directions; the line search on
the exact objective guarantees progress, but convergence is then only linear). Inference
uses the inverse Fisher information at the penalized estimate (as R's ``logistf``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from mnlogit.objective.blocks import row_blocks
from mnlogit.objective.loss import ProbabilityVisitor
from mnlogit.objective.multinomial import MultinomialObjective
from mnlogit.objective.protocol import HESSIAN, HESSP, Inverse

__all__ = ["EXACT_HESSIAN_MAX_PARAMS", "FirthObjective", "leverage_scores"]

FloatArray = NDArray[np.float64]

#: Largest number of free parameters for which Newton uses the exact Hessian of the
#: Firth objective (by differences of the gradient, 2m gradient evaluations).
EXACT_HESSIAN_MAX_PARAMS = 200


def leverage_scores(
    X_b: Any,
    P_b: FloatArray,
    inv4: FloatArray,
    s_b: FloatArray,
    unscale: FloatArray,
    fit_intercept: bool,
) -> FloatArray:
    """``d (1/2 log det I) / d eta`` for a block of rows (the module docstring's formula).

    A block kernel: each row's share is its own, so a caller may split the rows anyhow
    (the in-memory objective walks row blocks, a Dask engine its partitions).

    Parameters
    ----------
    X_b : ndarray or sparse matrix of shape (m, p)
    P_b : ndarray of shape (m, K)
        The probabilities.
    inv4 : ndarray of shape (K-1, p1, K-1, p1)
        The inverse Fisher information (sum scale, reference-0 coordinates, scaled features).
    s_b : ndarray of shape (m,)
        Effective sample weights (not normalized).
    unscale : ndarray of shape (p1,)
        ``[1, 1 / feature_scale]``: the rows on the scaled features.
    fit_intercept : bool

    Returns
    -------
    ndarray of shape (m, K)
    """
    m = X_b.shape[0]
    Xc = X_b.toarray() if hasattr(X_b, "toarray") else np.asarray(X_b, dtype=np.float64)
    if fit_intercept:
        Xc = np.hstack([np.ones((m, 1)), Xc])
    Xc = Xc * unscale  # scaled-feature rows, matching the information's coordinates
    # Q[i, a, b] = x_i^T inv[a, :, b, :] x_i
    with np.errstate(all="ignore"):
        Q = np.einsum("it,atbu,iu->iab", Xc, inv4, Xc, optimize=True)
        p = P_b[:, 1:]
        v = p * (np.einsum("iaa->ia", Q) - 2.0 * np.einsum("iab,ib->ia", Q, p))
        s = s_b[:, None]
        U = np.zeros((m, P_b.shape[1]))
        U[:, 1:] = 0.5 * s * v
        U -= 0.5 * s * P_b * v.sum(axis=1, keepdims=True)
    return U


class FirthObjective:
    """Wraps an unpenalized :class:`MultinomialObjective` with Firth's penalty.

    Parameters
    ----------
    base : MultinomialObjective
        Built with ``NoPenalty``.

    Notes
    -----
    Offers Newton and Newton-CG what they need (``capabilities``); not IRLS, whose
    working responses ignore the penalty, nor a subsample or a curvature model.
    """

    capabilities = frozenset({HESSIAN, HESSP})

    def __init__(self, base: MultinomialObjective) -> None:
        if base.penalty.name != "none":
            raise ValueError("Firth's penalty replaces the ridge penalty; build base unpenalized")
        self.base = base
        # The attributes solvers and the estimator read.
        self.n_params = base.n_params
        self.p1 = base.p1
        self.param = base.param
        self.sum_weights = base.sum_weights
        self.sample_weight = base.sample_weight
        self.fit_intercept = base.fit_intercept
        self.n_features = base.n_features
        self.n_samples = base.n_samples
        self.X = base.X
        self.n_classes = base.n_classes
        self.penalty = base.penalty
        self._cache: tuple[FloatArray, float, FloatArray] | None = None

    # ------------------------------------------------------------------ delegated
    # The data-level maps are the base objective's; spelled out (no __getattr__) so that
    # readers and type checkers see exactly what a Firth objective offers.
    @property
    def y(self) -> NDArray[np.intp]:
        """The base objective's class codes ``(n,)`` (read when asked for: a device
        objective copies them to the host only then)."""
        return self.base.y

    def probabilities(self, theta: FloatArray) -> FloatArray:
        return self.base.probabilities(theta)

    def visit_probabilities(self, theta: FloatArray, visit: ProbabilityVisitor) -> None:
        self.base.visit_probabilities(theta, visit)

    def min_probability(self, theta: FloatArray) -> float:
        return self.base.min_probability(theta)

    @property
    def low_precision(self) -> bool:
        return self.base.low_precision

    @property
    def normalized_weights(self) -> FloatArray:
        return self.base.normalized_weights

    def set_exact(self, exact: bool) -> None:
        self.base.set_exact(exact)
        self._cache = None  # the penalty at a point depends on the products' precision

    def residuals(self, theta: FloatArray) -> FloatArray:
        return self.base.residuals(theta)

    def linear_predictor(self, theta: FloatArray) -> FloatArray:
        return self.base.linear_predictor(theta)

    def backproject(self, U: FloatArray) -> FloatArray:
        return self.base.backproject(U)

    def weighted_gram(self, h: FloatArray) -> FloatArray:
        return self.base.weighted_gram(h)

    def row_unscale(self) -> FloatArray:
        return self.base.row_unscale()

    def full_coefficients(self, theta: FloatArray) -> FloatArray:
        return self.base.full_coefficients(theta)

    def original_coefficients(self, theta: FloatArray) -> FloatArray:
        return self.base.original_coefficients(theta)

    def free_from_original(self, B: FloatArray) -> FloatArray:
        return self.base.free_from_original(B)

    # ------------------------------------------------------------------ penalty
    def _information_ref0(self, theta: FloatArray) -> FloatArray:
        """Fisher information (sum scale) in reference-class-0 coordinates."""
        return self.base.loss_hessian_ref0(theta) * self.sum_weights

    def _penalty(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """``1/2 log det I`` and its gradient with respect to ``theta``."""
        if self._cache is not None and np.array_equal(self._cache[0], theta):
            return self._cache[1], self._cache[2]
        base = self.base
        info = self._information_ref0(theta)
        try:
            chol = scipy.linalg.cholesky(info, lower=True, check_finite=True)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError, ValueError):
            return float("-inf"), np.zeros_like(theta)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            half_logdet = float(np.sum(np.log(np.diag(chol))))
            inv = scipy.linalg.cho_solve((chol, True), np.eye(info.shape[0]))
        if not (np.isfinite(half_logdet) and np.all(np.isfinite(inv))):
            return float("-inf"), np.zeros_like(theta)
        k1, p1 = base.n_classes - 1, base.p1
        grad = self._penalty_gradient(theta, inv.reshape(k1, p1, k1, p1))
        if not np.all(np.isfinite(grad)):
            return float("-inf"), np.zeros_like(theta)
        self._cache = (np.array(theta, copy=True), half_logdet, grad)
        return half_logdet, grad

    def _penalty_gradient(self, theta: FloatArray, inv4: FloatArray) -> FloatArray:
        """``d (1/2 log det I) / d theta`` from the inverse information ``inv4``
        ``(K-1, p1, K-1, p1)``: the per-row leverage scores carried back to ``theta``."""
        base = self.base
        P = np.array(base.probabilities(theta))
        U = np.zeros((base.n_samples, base.n_classes))
        with np.errstate(all="ignore"):
            self._leverage_scores(P, inv4, U)
        return base.backproject(U)

    def _leverage_scores(self, P: FloatArray, inv4: FloatArray, U: FloatArray) -> None:
        """Fill ``U`` (n, K) with ``d (1/2 log det I) / d eta``, block by block.

        Each row's share is computed on its own, so the block size (rows of width
        ``(K-1) p1``, the leverage blocks' work per row) bounds memory only.
        """
        base = self.base
        unscale = base.row_unscale()
        k1 = base.n_classes - 1
        for sl in row_blocks(base.n_samples, k1 * base.p1):
            U[sl] = leverage_scores(
                base.X[sl], P[sl], inv4, base.sample_weight[sl], unscale, base.fit_intercept
            )

    # ------------------------------------------------------------------ objective
    def value(self, theta: FloatArray) -> float:
        """``-(loglik + 1/2 log det I) / S``."""
        half_logdet, _ = self._penalty(theta)
        return self.base.value(theta) - half_logdet / self.sum_weights

    def value_and_gradient(self, theta: FloatArray) -> tuple[float, FloatArray]:
        f, g = self.base.value_and_gradient(theta)
        half_logdet, pg = self._penalty(theta)
        return f - half_logdet / self.sum_weights, g - pg / self.sum_weights

    def gradient(self, theta: FloatArray) -> FloatArray:
        return self.value_and_gradient(theta)[1]

    def information(self, theta: FloatArray) -> FloatArray:
        """The Fisher information (mean scale): the covariance of a Firth fit is its inverse."""
        return self.base.hessian(theta)

    def hessian(self, theta: FloatArray) -> FloatArray:
        """Curvature for Newton steps (mean scale).

        With at most :data:`EXACT_HESSIAN_MAX_PARAMS` free parameters, the exact Hessian
        of the penalized objective by central differences of the analytic gradient (Newton
        then converges quadratically; the Fisher information alone gives only linear
        convergence, slow near separation); otherwise the Fisher information.
        """
        m = theta.size
        if m > EXACT_HESSIAN_MAX_PARAMS:
            return self.information(theta)
        H = np.empty((m, m))
        for j in range(m):
            h = 1e-5 * max(1.0, abs(float(theta[j])))
            e = np.zeros(m)
            e[j] = h
            H[:, j] = (self.gradient(theta + e) - self.gradient(theta - e)) / (2 * h)
        self.base.probabilities(theta)  # restore the base cache at theta
        return 0.5 * (H + H.T)

    def hessp(self, theta: FloatArray, v: FloatArray) -> FloatArray:
        """Product with the Fisher information (mean scale)."""
        return self.base.hessp(theta, v)

    def curvature_product(self, theta: FloatArray, v: FloatArray) -> FloatArray:
        """:meth:`hessp`: Newton-CG's directions use the Fisher information in float64."""
        return self.hessp(theta, v)

    def curvature_preconditioner(self, theta: FloatArray) -> Inverse | None:
        """None: no curvature model of the penalty, so Newton-CG runs plain CG."""
        return None

    def kronecker_preconditioner(self, theta: FloatArray) -> Inverse | None:
        """None: not offered (no ``"kronecker"`` capability)."""
        return None

    def subsample(self, stride: int) -> None:
        """None: not offered (no ``"subsample"`` capability)."""
        return None

    def loglik(self, theta: FloatArray) -> float:
        """The (unpenalized) log-likelihood, sum scale."""
        return self.base.loglik(theta)

    def penalized_loglik(self, theta: FloatArray) -> float:
        """``loglik + 1/2 log det I`` (sum scale)."""
        return self.base.loglik(theta) + self._penalty(theta)[0]
