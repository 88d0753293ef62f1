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

from mnlogit import dense_sweep, float32_curvature
from mnlogit.hessian_kernel import dense_loss_hessian
from mnlogit.parameterization import Parameterization
from mnlogit.penalties import Penalty
from mnlogit.precision import float64_product, row_chunks

__all__ = ["MultinomialObjective", "log_softmax"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

# Rows per chunk when forming X.T @ (h * X) for dense X: bounds the temporary to
# about 2**21 elements (16 MiB in float64) whatever n is.
_CHUNK_ELEMENTS = 2**18


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
        if self.y.size and (self.y.min() < 0 or self.y.max() >= n_classes):
            raise ValueError(f"y must hold class codes 0 .. {n_classes - 1}")
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
        self._inv_scale: FloatArray | None = (
            None if feature_scale is None else 1.0 / np.asarray(feature_scale, dtype=np.float64)
        )
        # theta_ref0 = Theta @ T: used to build the Hessian from one kernel.
        self._to_ref0 = parameterization.transform_to(Parameterization(n_classes, 0))
        self._cached_theta: FloatArray | None = None
        self._xtp: FloatArray | None = None
        # Products run in X's dtype when X is float32 (``exact = False``, the fast mode) or
        # in float64 through row chunks converted on the fly (``exact = True``); float64
        # X is always exact. The n x K buffers are float64 either way.
        self.low_precision = bool(getattr(X, "dtype", np.float64) == np.float32)
        self.exact = not self.low_precision
        # At most one n x K buffer persists: the probabilities, which the Hessian,
        # Hessian-vector products and inference read. Dense X makes it on the first such
        # call (value-and-gradient sweeps need only block-sized scratch, so a fit by
        # gradients alone never holds it); sparse X, whose products take whole matrices,
        # from the start. The linear predictor lives in block-sized scratch (dense X) or
        # in the probability buffer itself, turned into probabilities in place (sparse X).
        self._blockwise = isinstance(X, np.ndarray)
        self._prob: FloatArray | None = (
            None if self._blockwise else np.empty((self.n_samples, n_classes))
        )
        self._prob_ok = False  # whether _prob holds the probabilities at _cached_theta
        self._work: FloatArray | None = None  # weighted fits only, allocated on first use
        # Sparse X only, made on the first curvature_product: X's values as float32
        # (sharing its index arrays) and the probabilities as float32.
        self._f32: float32_curvature.Float32Operands | None = None
        self._prob32: NDArray[np.float32] | None = None
        self._pen_diag: FloatArray | None = None
        self._loss = float("nan")
        self._ones_k = np.ones(n_classes)
        # rows per block when visiting a kept probability buffer: dense X, the sweep's
        # blocks (so a visitor sees the same blocks from the buffer or from a sweep)
        self._visit_rows = (
            dense_sweep.sweep_rows(self.n_features, n_classes)
            if self._blockwise
            else max(64, _CHUNK_ELEMENTS // n_classes)
        )
        # smallest probability (rows of positive weight) of the last dense sweep
        self._min_prob: float | None = None
        self._unweighted = bool(np.all(self._ws == self._ws[0])) if self.n_samples else True
        self._all_positive = self._unweighted or bool(np.all(self._ws > 0))
        # sum_i (s_i/S) onehot(y_i) [1, x_i]: the constant part of the gradient, (p1, K).
        self._class_sums = self._weighted_class_sums()

    def _weighted_class_sums(self) -> FloatArray:
        """``sum_i w_i onehot(y_i) [1, x_i]``, shape ``(p1, K)``, in float64.

        Dense X: one small one-hot block per row chunk (no ``n``-sized temporaries).
        """
        K = self.n_classes
        if self.sparse:
            coo: Any = (self._ws, (np.arange(self.n_samples), self.y))
            onehot = sp.csr_matrix(coo, shape=(self.n_samples, K), dtype=np.float64)
            XtY = np.asarray((onehot.T @ self.X).toarray().T, dtype=np.float64)
        else:
            # the one-hot block as (K, rows), as in the sweep (a third faster than
            # Xc.T @ block on dense-50k-300-20)
            YX = np.zeros((K, self.n_features))
            for sl in self._chunks():
                Xc = np.asarray(self.X[sl], dtype=np.float64)
                m = Xc.shape[0]
                block = np.zeros((K, m))
                block[self.y[sl], np.arange(m)] = self._ws[sl]
                YX += block @ Xc
            XtY = np.ascontiguousarray(YX.T)
        if self._inv_scale is not None:
            XtY *= self._inv_scale[:, None]
        if not self.fit_intercept:
            return XtY
        totals = np.bincount(self.y, weights=self._ws, minlength=K).astype(np.float64)
        return np.vstack([totals[None, :], XtY])

    def set_exact(self, exact: bool) -> None:
        """Choose float64 products (``True``) or X's own float32 ones (``False``).

        Only matters for float32 ``X``; float64 ``X`` is always exact.
        """
        self.exact = bool(exact) or not self.low_precision
        self._cached_theta = None
        self._xtp = None
        self._prob32 = None
        self._prob_ok = False

    def subsample(self, stride: int) -> MultinomialObjective:
        """The same objective on every ``stride``-th row (a systematic subsample).

        The ``n / stride`` selected rows are copied, contiguous (BLAS cannot multiply a
        row-strided view without copying it on every product) and as float32 for dense
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
        scale = None if self._inv_scale is None else 1.0 / self._inv_scale
        sub = MultinomialObjective(
            X,
            self.y[::stride],
            self.n_classes,
            self.sample_weight[::stride],
            self.param,
            self.penalty,
            self.fit_intercept,
            feature_scale=scale,
        )
        return sub

    # ------------------------------------------------------------------ helpers
    def _flat(self, M: FloatArray) -> FloatArray:
        """``(p1, K-1)`` matrix to the class-major free vector."""
        return np.ascontiguousarray(M.T).reshape(-1)

    def _scaled_weights(self, B: FloatArray) -> FloatArray:
        """The ``(p, K')`` rows of ``B`` that multiply ``X``, on X's own scale."""
        W = B[int(self.fit_intercept) :]
        if self._inv_scale is not None:
            W = W * self._inv_scale[:, None]
        return W

    def _xw(self, W: FloatArray, out: FloatArray) -> FloatArray:
        """``out[...] = X @ W`` for ``W`` ``(p, K')`` and a float64 ``out`` ``(n, K')``.

        Dense float64 X: one BLAS product written into ``out``. Float32 X: a float32
        product (fast mode) or float64 products of converted row chunks (exact mode).
        """
        X = self.X
        if self.sparse or not isinstance(X, np.ndarray):
            if self.low_precision and not self.exact:
                out[...] = X @ W.astype(np.float32)
            else:
                out[...] = X @ W
        elif X.dtype == np.float32 and not self.exact:
            out[...] = X @ W.astype(np.float32)
        else:
            float64_product(X, W, out, _CHUNK_ELEMENTS)
        return out

    def _chunks(self) -> list[slice]:
        return row_chunks(self.n_samples, self.n_features, _CHUNK_ELEMENTS)

    def _eta_from_full(self, B: FloatArray) -> FloatArray:
        """Linear predictor ``(n, K)`` from a full ``(p1, K)`` matrix."""
        eta = self._xw(self._scaled_weights(B), np.empty((self.n_samples, B.shape[1])))
        if self.fit_intercept:
            eta += B[0]
        return eta

    def _xt_full(self, U: FloatArray) -> FloatArray:
        """``[U.sum(0); X.T @ U]`` of shape ``(p1, K')`` for a per-row ``(n, K')`` matrix."""
        X = self.X
        fast32 = self.low_precision and not self.exact
        colsum = np.asarray(U.sum(axis=0), dtype=np.float64)
        Uc = U.astype(np.float32) if fast32 else U
        if self.sparse:
            XtU = np.asarray(X.T @ Uc, dtype=np.float64)
        elif X.dtype == np.float64 or fast32:
            # (U^T X)^T: BLAS is faster with the long dimension inner here
            XtU = np.asarray((Uc.T @ X).T, dtype=np.float64)
        else:
            XtU = np.zeros((self.n_features, U.shape[1]))
            for sl in self._chunks():
                XtU += (U[sl].T @ X[sl].astype(np.float64)).T
        if self._inv_scale is not None:
            XtU *= self._inv_scale[:, None]
        if self.fit_intercept:
            return np.vstack([colsum[None, :], XtU])
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

    def _update(self, theta: FloatArray, gradient: bool = False) -> None:
        """Probabilities at ``theta`` into the cache; with ``gradient``, also ``[1, X]ᵀ G``.

        ``G`` is ``P`` (equal weights) or ``w * P``; the result, ``(p1, K)``, goes to
        ``self._xtp``. For dense ``X`` everything happens in one sweep over row blocks of
        about 2**18 numbers: ``X_b @ W``, the shifted exponentials, the row sums and
        ``G_b.T @ X_b`` while ``X_b`` is still in cache -- one read of ``X`` per gradient
        instead of two, and the ``n x K`` work done on cache-resident blocks.
        """
        same = self._cached_theta is not None and np.array_equal(theta, self._cached_theta)
        if same and (not gradient or self._xtp is not None):
            return
        if not same:
            self._prob32 = None
            self._min_prob = None
        B = self.full_coefficients(theta)
        W = self._scaled_weights(B)
        if not self._blockwise:
            assert self._prob is not None
            if not same:
                self._xtp = None
                self._loss = self._softmax_block(self._prob, B, W)
                self._prob_ok = True
            if gradient:
                self._xtp = self._xt_full(self._weighted_prob())
        elif same and not self._prob_ok:
            # the gradient at a point whose probabilities were not kept: sweep again
            self._dense_sweep(B, W, gradient=True)
        elif same:
            # the probabilities at this point are kept: only the gradient product
            self._xtp = self._xt_full(self._weighted_prob())
        else:
            self._dense_sweep(B, W, gradient)
        self._cached_theta = np.array(theta, copy=True)

    def _probabilities_at(self, theta: FloatArray) -> FloatArray:
        """The cached ``(n, K)`` probabilities at ``theta``, making the buffer if needed.

        Dense X: when the last sweep kept no probabilities (no buffer yet), one more
        sweep without the gradient fills a new buffer; the cached loss and gradient
        product stay as they were.
        """
        self._update(theta)
        if self._prob is None or not self._prob_ok:
            if self._prob is None:
                self._prob = np.empty((self.n_samples, self.n_classes))
            self._sweep_again(theta)
        assert self._prob is not None
        return self._prob

    def _sweep_again(self, theta: FloatArray, visit: Any = None) -> None:
        """A dense sweep (no gradient) at the cached ``theta``, keeping the gradient product."""
        xtp = self._xtp
        B = self.full_coefficients(theta)
        self._dense_sweep(B, self._scaled_weights(B), gradient=False, visit=visit)
        self._xtp = xtp

    def visit_probabilities(self, theta: FloatArray, visit: Any) -> None:
        """Call ``visit(prob, rows)`` on row blocks of the probabilities at ``theta``.

        ``prob`` is a read-only ``(rows, K)`` block (valid during the call only), ``rows``
        its slice. Dense X with no probability buffer kept: one sweep over row blocks,
        no ``n x K`` buffer made (the cached loss and gradient product are kept).
        """
        self._update(theta)
        if self._prob is not None and self._prob_ok:
            step = self._visit_rows
            for a in range(0, self.n_samples, step):
                sl = slice(a, min(a + step, self.n_samples))
                visit(self._prob[sl], sl)
            return
        self._sweep_again(theta, visit)

    def min_probability(self, theta: FloatArray) -> float:
        """Smallest fitted probability over the rows with positive weight (``inf`` if none)."""
        self._update(theta)
        if self._min_prob is not None:  # kept by the last dense sweep, at theta
            return self._min_prob
        found = [float("inf")]

        def visit(prob: FloatArray, sl: slice) -> None:
            block = prob if self._all_positive else prob[self._ws[sl] > 0]
            if block.size:
                found[0] = min(found[0], float(block.min()))

        self.visit_probabilities(theta, visit)
        return found[0]

    def _weighted_prob(self) -> FloatArray:
        """``G = P`` for equal weights, else ``w * P`` (in the lazily made work buffer).

        Needs the probability buffer filled at the cached point.
        """
        assert self._prob is not None and self._prob_ok
        if self._unweighted:
            return self._prob
        if self._work is None:
            self._work = np.empty_like(self._prob)
        return np.multiply(self._prob, self._ws[:, None], out=self._work)

    def _softmax_block(self, prob: FloatArray, B: FloatArray, W: Any) -> float:
        """Probabilities ``(n, K)`` into ``prob`` (sparse X, whole matrices); the loss.

        The linear predictor is formed in ``prob`` itself and turned into the
        probabilities in place (no second ``n x K`` buffer). The loss is
        ``sum_i w_i (log sum_k exp(eta_ik) - eta_i,y_i)`` with ``eta`` shifted by its row
        maximum (which cancels).
        """
        self._xw(W, prob)
        if self.fit_intercept:
            prob += B[0]
        prob -= _row_max(prob)[:, None]
        hit = np.take_along_axis(prob, self.y[:, None], axis=1)[:, 0]
        np.exp(prob, out=prob)
        total = prob @ self._ones_k
        prob *= (1.0 / total)[:, None]
        return float(self._ws @ np.log(total) - self._ws @ hit)

    def _dense_sweep(
        self,
        B: FloatArray,
        W: FloatArray,
        gradient: bool,
        visit: Any = None,
    ) -> None:
        """The one-pass dense kernel of :meth:`_update` (:func:`mnlogit.dense_sweep.sweep`).

        Sets the cached loss, smallest probability and gradient product; the probability
        buffer, when it exists, is filled.
        """
        found = dense_sweep.sweep(self, B, W, gradient, visit)
        self._loss = found.loss
        self._prob_ok = self._prob is not None
        self._min_prob = found.min_prob
        self._xtp = found.xtp

    def probabilities(self, theta: FloatArray) -> FloatArray:
        """Class probabilities ``(n, K)`` at ``theta`` (a read-only view of the cache)."""
        view = self._probabilities_at(theta).view()
        view.flags.writeable = False
        return view

    # ------------------------------------------------------------------ values
    def loss(self, theta: FloatArray) -> float:
        """Mean negative log-likelihood ``-(1/S) sum_i s_i log P(y_i|x_i)`` (no penalty)."""
        self._update(theta)
        return self._loss

    def loglik(self, theta: FloatArray) -> float:
        """Weighted log-likelihood on the sum scale, ``sum_i s_i log P(y_i|x_i)``."""
        return -self.sum_weights * self.loss(theta)

    def value(self, theta: FloatArray) -> float:
        """Penalized mean objective ``f(theta)``."""
        Theta = self.param.theta_matrix(theta, self.p1)
        return self.loss(theta) + self.penalty.value(Theta)

    def value_and_gradient(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """``f(theta)`` and its gradient of shape ``((K-1) * p1,)``."""
        self._update(theta, gradient=True)
        f = self.value(theta)
        # sum_i w_i (P_i - onehot(y_i)) [1, x_i]: the one-hot part is the constant
        # _class_sums, so only P (times w, unless all weights are equal) meets X.
        assert self._xtp is not None
        XtP = self._xtp.copy()
        if self._unweighted:
            XtP *= self._ws[0] if self.n_samples else 0.0
        XtP -= self._class_sums
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
        return self.param.free_gradient(self._xt_full(U))

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
        """``[1, X].T @ diag(h) @ [1, X]`` of shape ``(p1, p1)``, never copying ``X``.

        Parameters
        ----------
        h : ndarray of shape (n,)
        stride : int, default=1
            Dense X only: sum over every ``stride``-th row and multiply by ``stride`` (an
            estimate, for preconditioners; reads about ``1/stride`` of X). For ``h >= 0``
            each chunk is one symmetric product (``syrk``).
        """
        X = self.X
        p = self.n_features
        inv = self._inv_scale
        if self.sparse:
            # One sparse product, on a scaled copy of X when the columns are scaled: the
            # scaling exists for values whose squares would overflow or underflow.
            Xs: Any = X if inv is None else sp.csr_matrix(X) @ sp.diags(inv)
            XtHX = np.asarray((Xs.T @ Xs.multiply(h[:, None]).tocsc()).toarray())
            border = np.asarray(Xs.T @ h).ravel()
        else:
            # Row chunks converted to float64 (and scaled) one at a time: temporaries of
            # about 2**18 numbers, never a copy of X.
            XtHX = np.zeros((p, p))
            border = np.zeros(p)
            nonnegative = bool(np.all(h >= 0))
            for chunk in self._chunks():
                sl = slice(chunk.start, chunk.stop, stride)
                Xc = np.asarray(X[sl], dtype=np.float64)
                if inv is not None:
                    Xc = Xc * inv
                hc = h[sl]
                if nonnegative:
                    Z = Xc * np.sqrt(hc)[:, None]
                    XtHX += Z.T @ Z  # numpy runs this as a syrk
                else:
                    XtHX += Xc.T @ (Xc * hc[:, None])
                border += hc @ Xc
            if stride > 1:
                XtHX *= stride
                border *= stride
        if not self.fit_intercept:
            return XtHX
        out = np.empty((p + 1, p + 1))
        out[0, 0] = h.sum()
        if stride > 1 and not self.sparse:
            out[0, 0] = stride * h[::stride].sum()
        out[0, 1:] = border
        out[1:, 0] = border
        out[1:, 1:] = XtHX
        return out

    def loss_hessian_ref0(self, theta: FloatArray) -> FloatArray:
        """Hessian of the mean loss in the reference-class-0 coordinates.

        Block ``(a, b)`` over classes ``1 .. K-1`` is ``Y.T @ diag(h_ab) @ Y`` with
        ``Y = [1, X]`` and ``h_ab = s_i P_ia (I(a=b) - P_ib) / S``. For dense ``X`` the
        whole matrix comes from one symmetric rank-``r`` update per row chunk: with
        ``Z = [P_a sqrt(s/S) Y]_a`` (``r x (K-1) p1``), ``H = blockdiag(Y.T diag(s P_a / S) Y)
        - Z.T Z``, the second term a single BLAS ``syrk`` (half the flops of the
        ``K(K-1)/2`` separate Gram products, and near peak speed).

        Returns
        -------
        ndarray of shape ((K-1) * p1, (K-1) * p1)
            float64, except float32 for float32 ``X`` in fast mode (``exact=False``, the
            subsample preconditioners of ``subsample-newton``).
        """
        P = self._probabilities_at(theta)
        k1 = self.n_classes - 1
        p1 = self.p1
        m = k1 * p1
        if self.sparse:
            H = np.empty((m, m))
            for a in range(k1):
                pa = self._ws * P[:, a + 1]
                for b in range(a, k1):
                    h = pa * ((1.0 if a == b else 0.0) - P[:, b + 1])
                    block = self.weighted_gram(h)
                    H[a * p1 : (a + 1) * p1, b * p1 : (b + 1) * p1] = block
                    if b != a:
                        H[b * p1 : (b + 1) * p1, a * p1 : (a + 1) * p1] = block.T
            return H
        return self._dense_hessian(P[:, 1:], None)

    def _dense_hessian(self, P1: FloatArray, T: FloatArray | None) -> FloatArray:
        """The dense-``X`` kernel of :meth:`loss_hessian_ref0`; ``P1`` is ``P[:, 1:]``.

        See :func:`mnlogit.hessian_kernel.dense_loss_hessian`; float32 (``ssyrk``) in
        fast mode on float32 X (subsample preconditioners), float64 otherwise.
        """
        return dense_loss_hessian(
            self.X,
            P1,
            self._ws,
            self._inv_scale,
            self.fit_intercept,
            T,
            float32=self.low_precision and not self.exact,
        )

    def hessian(self, theta: FloatArray) -> FloatArray:
        """Hessian of ``f`` at ``theta`` (loss plus penalty).

        Returns
        -------
        ndarray of shape ((K-1) * p1, (K-1) * p1)
        """
        k1, p1 = self.n_classes - 1, self.p1
        T = self._to_ref0
        identity = np.array_equal(T, np.eye(k1))
        if not self.sparse and not identity:
            H0 = self._dense_hessian(self._probabilities_at(theta)[:, 1:], T)
        else:
            H0 = self.loss_hessian_ref0(theta)
        if self.sparse and not identity:
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
        P = self._probabilities_at(theta)
        V = self.param.theta_matrix(v, self.p1)
        d_eta = self._eta_from_full(V @ self.param.A.T)
        R = P * (d_eta - np.einsum("ij,ij->i", P, d_eta)[:, None])
        R *= self._ws[:, None]
        out = self.backproject(R)
        out += self._penalty_diagonal() * v
        return out

    def curvature_product(self, theta: FloatArray, v: FloatArray) -> FloatArray:
        """Hessian-vector product for search directions: float32 products on sparse X.

        For sparse ``X`` the two sparse products of :meth:`hessp` and the ``n x K``
        work between them run in float32, on a float32 copy of ``X``'s (scaled) values
        that shares its index arrays (``nnz`` x 4 bytes, made once), which halves their
        cost (:mod:`mnlogit.float32_curvature`). The result agrees with :meth:`hessp` to about 1e-6
        relative -- ample for a direction that conjugate gradients solve to a relative
        residual of 1e-4 or more; gradients and objective values stay float64, so the
        fit's accuracy is unchanged. Falls back to :meth:`hessp` for dense ``X`` (a
        float32 copy would double the memory), for sparse ``X`` with fewer than
        ``2**22 / K`` stored values (little to gain), for values outside float32's safe
        range (see :func:`mnlogit.precision.float32_sparse`), for sparse formats other than
        CSR and CSC, and for a non-finite result. The copy shares X's index arrays: X must
        not be changed (its indices sorted in place, say) while the objective is in use.

        Parameters
        ----------
        theta, v : ndarray of shape ((K-1) * p1,)

        Returns
        -------
        ndarray of shape ((K-1) * p1,)
        """
        ops = self._float32_operands() if float32_curvature.worthwhile(self) else None
        if ops is not None:
            P64 = self._probabilities_at(theta)
            if self._prob32 is None:
                self._prob32 = P64.astype(np.float32)
            out = float32_curvature.product(self, ops, self._prob32, v)
            if out is not None:
                return out
        return self.hessp(theta, v)

    def curvature_preconditioner(self, theta: FloatArray) -> Any:
        """``r -> P^{-1} r`` for Newton-CG: the block-diagonal Kronecker model at ``theta``.

        See :func:`mnlogit.solvers.curvature.block_diagonal_inverse`; maps vectors of shape
        ``((K-1) * p1,)`` to fresh arrays of that shape. None below
        :data:`mnlogit.solvers.curvature.PRECONDITION_MIN_WORK` (plain CG there).
        """
        from mnlogit.solvers import curvature

        if not curvature.worth_preconditioning(self):
            return None
        return curvature.block_diagonal_inverse(self, theta)

    def _float32_operands(self) -> float32_curvature.Float32Operands | None:
        """The operands of :meth:`curvature_product` (made once), or None when unsafe."""
        if self._f32 is None:
            self._f32 = float32_curvature.operands(self)
        return None if self._f32.x is None else self._f32

    def _penalty_diagonal(self) -> FloatArray:
        """The penalty's Hessian diagonal as a free vector ``((K-1) * p1,)`` (cached)."""
        if self._pen_diag is None:
            shape = (self.p1, self.n_classes - 1)
            self._pen_diag = self._flat(self.penalty.hessian_diagonal(shape))
        return self._pen_diag
