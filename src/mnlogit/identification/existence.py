"""A certificate that the classes are not separated, from a converged fit (Stiemke).

The classes are separated exactly when some direction ``D`` satisfies ``a_ik · D >= 0`` on
every cell (row ``i`` with positive weight, class ``k != y_i``) and ``> 0`` on one, with
``a_ik = x̃_i ⊗ (e_{y_i} - e_k)`` over the free classes (see
:mod:`mnlogit.identification.separation`). By Stiemke's theorem of alternatives that
happens if and only if **no** strictly positive weights ``μ_ik`` give ``Σ μ_ik a_ik = 0``.
Such weights are therefore a proof that no direction of recession exists.

A converged fit nearly has them: with ``λ_ik = w_i P_ik`` (weights and fitted
probabilities, all positive), ``Σ λ_ik a_ik = r`` is minus the gradient of the mean loss,
nearly zero. The correction ``μ = λ ∘ (1 - A z)`` with ``G z = r``,
``G = Σ λ_ik a_ik a_ikᵀ``, satisfies ``Σ μ_ik a_ik = r - G z = 0``, and it stays positive
when every cell has ``a_ik · z < 1``. :func:`not_separated` checks that with a margin
(``a_ik · z <= 1/2``): separated data have ``a_ik · z >= 1`` on some cell whatever the
fit, so the margin absorbs rounding; a well-determined fit has ``a_ik · z`` of the order
of its gradient. When the check fails (near-separated data, or no certificate found)
nothing is concluded and the linear program decides.

The correction may use any positive weights ``ν`` on any subset ``S`` of the rows:
``μ = λ - ν ∘ (A z)`` on ``S`` (and ``λ`` elsewhere) with ``(Σ_S ν a aᵀ) z = r`` still
sums to zero, so the proof holds with ``G`` formed on a row sample (``ν = c λ``, ``c`` the
inverse sampled share of the weight) and only the sampled cells checked
(``c a_ik · z <= 1/2``). ``G`` has the shape of the Hessian, ``(K-1)(p+1)`` square: block
``(a, b)`` is a weighted Gram matrix of ``[1, X]`` whose row weights vanish outside the
rows of classes ``a`` and ``b`` off the diagonal, so its cost is about ``2K - 3`` weighted
Gram passes over the rows used (:func:`certificate_work`); ``r`` costs one product with X.
A sample that misses a rare category leaves ``G`` singular: inconclusive, not wrong.

**From the loss Hessian** (:func:`newton_step_certifies`). The fit's own loss Hessian
``H = Σ_i w_i x̃_i x̃_iᵀ ⊗ (diag(P_i) - P_i P_iᵀ)`` is such a matrix too, though not of the
form ``Σ ν a aᵀ``: ``diag(P) - P Pᵀ = Σ_{j<k} P_j P_k (e_j - e_k)(e_j - e_k)ᵀ``, and
``x̃_i ⊗ (e_j - e_k) = a_ik - a_ij`` (with ``a_i,y_i = 0``). Collecting the terms of
``H z`` on each ``a_ik`` gives, with ``s_ik = x̃_i · z_k`` (``z`` as a ``(p1, K)`` matrix)
and ``s̄_i = Σ_j P_ij s_ij``,

    Σ_ik μ_ik a_ik = r - H z        for  μ_ik = w_i P_ik (1 - (s̄_i - s_ik)),  k != y_i.

So the solution of ``H z = r`` -- the Newton step at the fit's point -- is a
certificate when ``s̄_i - s_ik <= 1/2`` on every cell. ``s̄_i - s_ik`` is at most
``max_j s_ij - min_k s_ik <= max_{j,k} Σ_l c_l |z_lj - z_lk|`` with ``c_l`` a bound on
``|x̃_il|`` over the rows, so the check reads neither ``X`` nor the probabilities: a
converged fit whose covariance Hessian was formed anyway is certified by one solve
with it. At a converged, well-determined fit the Newton step is of the order of the
gradient; at a "converged" fit of separated data it is of order one along the
direction of recession (the gradient and the curvature there shrink together), so
the bound fails there and nothing is concluded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numpy.typing import NDArray

from mnlogit.objective.blocks import BLOCK_ELEMENTS, row_blocks
from mnlogit.objective.kernels import backproject, linear_predictor
from mnlogit.objective.pair_hessian import pair_grams

__all__ = [
    "CERTIFICATE_MARGIN",
    "FitProbabilities",
    "certificate_work",
    "newton_step_certifies",
    "not_separated",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Largest ``a_ik · z`` accepted (the exact bound is 1).
CERTIFICATE_MARGIN = 0.5


@dataclass(frozen=True)
class FitProbabilities:
    """A converged fit's probabilities read by rows, and its residual: what the
    certificate needs without an ``n x K`` array or a pass over ``X`` for ``r``.

    Attributes
    ----------
    rows : callable (ndarray of shape (m,) or None) -> ndarray of shape (m, K)
        The fitted probabilities of the given rows (``None``: all ``n`` rows).
    residual : ndarray of shape (p1, K)
        ``Σ_i w_i (onehot(y_i) - P_i) [1, x_i]`` with the normalized weights ``w`` and the
        features times ``column_factor``: minus the mean loss's gradient in ``B``
        (the objective keeps it from the solver's last evaluation).
    row_minimum : callable () -> ndarray of shape (n,)
        Each row's smallest fitted probability (the subset LP's first rows).
    """

    rows: Callable[[IntArray | None], FloatArray]
    residual: FloatArray
    row_minimum: Callable[[], FloatArray]


def certificate_work(X: Any, n_classes: int, fit_intercept: bool) -> float:
    """About the multiply-adds of the weighted Gram products of :func:`not_separated`.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
    n_classes : int
    fit_intercept : bool

    Returns
    -------
    float
        Dense X: ``K n p1²`` (one product per class of its rows' ``K`` weighted Grams);
        sparse X: ``(2K - 3) Σ_i (nnz_i + 1)²`` (``(2K - 3)`` row-passes of Gram products:
        ``K - 1`` diagonal blocks over all rows, the off-diagonal blocks over two classes'
        rows each).
    """
    pairs = float(max(2 * n_classes - 3, 1))
    if not sp.issparse(X):
        n, p = X.shape
        return float(n_classes) * n * float(p + int(fit_intercept)) ** 2
    per_row = np.diff(sp.csr_array(cast(Any, X)).indptr).astype(np.float64) + float(fit_intercept)
    return pairs * float(per_row @ per_row)


def newton_step_certifies(
    hessian: FloatArray,
    gradient: FloatArray,
    to_full: Callable[[FloatArray], FloatArray],
    column_bound: FloatArray,
) -> bool:
    """Whether the loss Hessian at a fit's point proves that no class is separated.

    The certificate from the Hessian (module docstring): ``z = H⁻¹ g``, the Newton step
    up to its sign, is mapped to all ``K`` classes, and ``max_{j,k} Σ_l c_l |z_lj - z_lk|``
    must be at most :data:`CERTIFICATE_MARGIN`. No pass over ``X``.

    Parameters
    ----------
    hessian : ndarray of shape (m, m)
        The Hessian of the mean loss (no penalty) at the point, in the free coordinates
        of ``gradient`` (not changed: Cholesky works on a copy).
    gradient : ndarray of shape (m,)
        The mean loss's gradient at the same point, same coordinates.
    to_full : callable, ndarray of shape (m,) -> ndarray of shape (p1, K)
        The linear map from free coordinates to the coefficient matrix (scaled features,
        intercept row first when fitted).
    column_bound : ndarray of shape (p1,)
        ``c_l >= max_i |x̃_il|`` over the rows of positive weight (1 for the intercept).

    Returns
    -------
    bool
        True: a strictly positive Stiemke certificate exists (proof up to the margin).
        False: inconclusive (``H`` not positive definite in floating point, or the
        step too long).
    """
    try:
        factor = scipy.linalg.cho_factor(hessian, lower=False, check_finite=True)
    except (np.linalg.LinAlgError, ValueError):
        return False
    z = scipy.linalg.cho_solve(factor, gradient, check_finite=False)
    if not np.all(np.isfinite(z)):
        return False
    Z = to_full(z)  # (p1, K)
    c = np.asarray(column_bound, dtype=np.float64)
    worst = 0.0
    for k in range(Z.shape[1]):  # Σ_l c_l |z_lj - z_lk| for every j at once
        worst = max(worst, float(np.max(c @ np.abs(Z - Z[:, k : k + 1]))))
    return bool(worst <= CERTIFICATE_MARGIN)


def _rows(X: Any, rows: IntArray) -> Any:
    return X[rows] if not sp.issparse(X) else sp.csr_array(cast(Any, X))[rows]


def _curvature(
    X: Any,
    codes: IntArray,
    w: FloatArray,
    lam: FloatArray | Callable[[IntArray], FloatArray],
    fit_intercept: bool,
    column_factor: FloatArray | None,
    index: IntArray | None = None,
    n_classes: int | None = None,
) -> FloatArray:
    """``G = Σ λ_ik a_ik a_ikᵀ`` of shape ``((K-1) p1, (K-1) p1)``, class-major blocks.

    ``codes``, ``w`` and ``lam`` describe the rows used; ``index`` (dense X only) their
    rows in ``X`` (None: all rows, in order), read a chunk at a time (no copy of X's rows).
    Dense X may give ``lam`` as a function of positions among the rows used (``(m,)``
    to ``(m, K)``, ``n_classes`` then ``K``): no ``(rows, K)`` array of cell weights.
    """
    if callable(lam):
        if sp.issparse(X) or n_classes is None:
            raise ValueError("cell weights by rows need dense X and n_classes")
        K = int(n_classes)
        cells = lam
    else:
        K = lam.shape[1]
        if sp.issparse(X):
            return _sparse_curvature(X, codes, w, lam, fit_intercept, column_factor)
        lam_all = lam
        cells = lambda sel: lam_all[sel]  # noqa: E731
    p1 = X.shape[1] + int(fit_intercept)
    off = int(fit_intercept)
    G = np.zeros(((K - 1) * p1, (K - 1) * p1))
    # C_c[b] = Σ_{i: y_i = c} λ_ib ỹ_i ỹ_iᵀ for every class b at once: one gemm per chunk of
    # class c's rows (the (rows, K p1) product is the only temporary); then block (a, a)
    # gains Σ_{c != a} C_c[a] + Σ_{b != a} C_a[b] and block (a, b) loses C_a[b] + C_b[a].
    step = max(1, BLOCK_ELEMENTS // (K * p1))
    for c in range(K):
        rows = np.flatnonzero(codes == c)
        C = np.zeros((K * p1, p1))
        for start in range(0, rows.size, step):
            sel = rows[start : start + step]
            Y = np.empty((sel.size, p1))
            if off:
                Y[:, 0] = 1.0
            Y[:, off:] = X[sel if index is None else index[sel]]
            if column_factor is not None:
                Y[:, off:] *= column_factor
            T = (Y[:, None, :] * cells(sel)[:, :, None]).reshape(sel.size, K * p1)
            C += T.T @ Y
        C3 = C.reshape(K, p1, p1)
        own = C3.sum(axis=0) - C3[c]  # Σ_{b != c} C_c[b]
        for a in range(1, K):
            blk = slice((a - 1) * p1, a * p1)
            if a == c:
                G[blk, blk] += own
                continue
            G[blk, blk] += C3[a]
            if c > 0:
                other = slice((c - 1) * p1, c * p1)
                G[other, blk] -= C3[a]
                G[blk, other] -= C3[a]
    return G


def _sparse_curvature(
    X: Any,
    codes: IntArray,
    w: FloatArray,
    lam: FloatArray,
    fit_intercept: bool,
    column_factor: FloatArray | None,
) -> FloatArray:
    """:func:`_curvature` for sparse X: every block at once from the products of stored
    values (:func:`mnlogit.objective.pair_hessian.pair_grams`)."""
    K = lam.shape[1]
    pairs = [(a, c) for a in range(1, K) for c in range(a, K)]

    def weights(rows: slice) -> FloatArray:
        y, lr = codes[rows], lam[rows]
        H = np.empty((y.size, len(pairs)))
        for t, (a, c) in enumerate(pairs):
            if a == c:  # own class: w (1 - P_a); other rows: λ_a
                H[:, t] = np.where(y == a, w[rows] - lr[:, a], lr[:, a])
            else:
                H[:, t] = -np.where(y == a, lr[:, c], np.where(y == c, lr[:, a], 0.0))
        return H

    csr = sp.csr_matrix(cast(Any, X))
    return pair_grams(csr, weights, K - 1, fit_intercept, column_factor)


def not_separated(
    X: Any,
    codes: IntArray,
    weights: FloatArray,
    probabilities: FloatArray | FitProbabilities,
    fit_intercept: bool,
    column_factor: FloatArray | None = None,
    samples: Sequence[IntArray | None] = (None,),
) -> bool:
    """Whether a converged fit's probabilities prove that no class is separated.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
        The design the fit used (full column rank: aliased columns dropped).
    codes : ndarray of shape (n,)
        Class codes ``0 .. K-1``.
    weights : ndarray of shape (n,)
        Non-negative frequency weights; rows of weight 0 are not constraints.
    probabilities : ndarray of shape (n, K) or FitProbabilities
        Fitted probabilities at the solver's final point; or those read by rows with the
        residual ``r`` known (no ``n x K`` array, no pass over ``X`` for ``r``).
    fit_intercept : bool
    column_factor : ndarray of shape (p,), optional
        Column scaling for the products (conditioning only: the answer does not depend
        on it in exact arithmetic).
    samples : sequence of (ndarray of shape (m,) or None), default=(None,)
        The row selections ``G`` is formed on, tried in order until one certifies
        (``None``: all rows). A sample keeps the cost independent of ``n``; the
        residual ``r`` is always summed over all rows, once.

    Returns
    -------
    bool
        True: a strictly positive Stiemke certificate exists, so the classes are not
        separated (proof, up to the margin). False: inconclusive.
    """
    total = float(weights.sum())
    if not total > 0:
        return False
    if isinstance(probabilities, FitProbabilities):
        R = np.asarray(probabilities.residual, dtype=np.float64)
        read = probabilities.rows
    else:
        P = np.asarray(probabilities, dtype=np.float64)
        R = _residual(X, codes, weights / total, P, fit_intercept, column_factor)
        read = lambda rows: P.copy() if rows is None else P[rows]  # noqa: E731
    K = R.shape[1]
    if K < 2:
        return False
    r = np.ascontiguousarray(R[:, 1:].T).reshape(-1)
    for rows in samples:
        if _certified(X, codes, weights, total, read, K, r, fit_intercept, column_factor, rows):
            return True
    return False


def _residual(
    X: Any,
    codes: IntArray,
    w: FloatArray,
    P: FloatArray,
    fit_intercept: bool,
    column_factor: FloatArray | None,
) -> FloatArray:
    """``R = Σ λ_ik a_ik`` as a ``(p1, K)`` matrix: minus the mean loss's gradient in
    ``B`` (scaled features), summed over row blocks of dense X (no ``n x K``
    temporaries; sparse X in one product, as row slices of CSC would rescan every
    column)."""
    K = P.shape[1]
    R = np.zeros((X.shape[1] + int(fit_intercept), K))
    n = codes.size
    blocks = [slice(0, n)] if sp.issparse(X) else row_blocks(n, max(X.shape[1], K))
    for sl in blocks:
        U = P[sl] * -w[sl, None]
        U[np.arange(U.shape[0]), codes[sl]] += w[sl]
        R += backproject(X[sl], U, intercept=fit_intercept)
    if column_factor is not None:
        R[int(fit_intercept) :] *= column_factor[:, None]
    return R


def _certified(
    X: Any,
    codes: IntArray,
    weights: FloatArray,
    total: float,
    read: Callable[[IntArray | None], FloatArray],
    K: int,
    r: FloatArray,
    fit_intercept: bool,
    column_factor: FloatArray | None,
    rows: IntArray | None,
) -> bool:
    """:func:`not_separated` with ``G`` formed on ``rows`` (None: all), given ``r``.

    ``total`` is the weights' sum (the normalized weights ``w = weights / total`` are
    formed on ``rows`` only: no ``n``-vector for a sample), ``read(rows)`` gives the
    probabilities of the given rows of ``X`` (``(m, K)``, a fresh array), ``r`` the residual
    ``((K-1) p1,)``; the cell weights ``λ = w P`` are formed on ``rows`` only -- for
    dense X one chunk of rows at a time, as the curvature reads them.
    """
    scale = 1.0
    chosen = rows
    if rows is None:
        w = weights / total
    else:  # ν = c λ on the sampled rows, c the inverse sampled weight share
        weights = weights[rows]
        w = weights / total  # (weights / total)[rows], the same numbers
        sampled = float(w.sum())
        if not sampled > 0:
            return False
        scale = 1.0 / sampled
        codes = codes[rows]
        if sp.issparse(X):  # a few stored values a row: the copy is small
            X, rows = _rows(X, rows), None
    lam: FloatArray | Callable[[IntArray], FloatArray]
    if sp.issparse(X):
        lam = read(chosen)
        lam *= w[:, None]
    else:
        used_w = w

        def lam(sel: IntArray) -> FloatArray:
            cell = read(sel if chosen is None else chosen[sel])
            cell *= used_w[sel, None]
            return cell

    G = _curvature(X, codes, w, lam, fit_intercept, column_factor, rows, n_classes=K)
    G *= scale
    try:  # G is symmetric: its transpose is the Fortran-ordered array factored in place
        factor = scipy.linalg.cho_factor(G.T, lower=False, overwrite_a=True, check_finite=True)
    except (np.linalg.LinAlgError, ValueError):
        return False
    z = scipy.linalg.cho_solve(factor, r)
    if not np.all(np.isfinite(z)):
        return False
    off = int(fit_intercept)
    p1 = X.shape[1] + off
    Z = np.zeros((p1, K))
    Z[:, 1:] = z.reshape(K - 1, p1).T
    W = Z[off:] if column_factor is None else Z[off:] * column_factor[:, None]
    # a_ik · z = eta_i,y_i - eta_ik on the cells (rows of positive weight, k != y_i), in
    # row blocks of the rows used
    n = codes.size
    top = -np.inf
    blocks = [slice(0, n)] if sp.issparse(X) else row_blocks(n, max(X.shape[1], K))
    for sl in blocks:
        Xb = X[sl] if rows is None else X[rows[sl]]
        eta = linear_predictor(Xb, W, Z[0] if fit_intercept else None)
        idx = np.arange(eta.shape[0])
        margins = eta[idx, codes[sl]][:, None] - eta
        margins[idx, codes[sl]] = -np.inf
        margins[weights[sl] <= 0] = -np.inf
        if margins.size:
            top = max(top, float(np.max(margins)))
    return bool(scale * top <= CERTIFICATE_MARGIN)
