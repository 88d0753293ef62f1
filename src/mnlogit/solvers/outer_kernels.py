"""The lasso family's outer (proximal Newton) steps, compiled (most for sparse X).

Each outer step of :mod:`mnlogit.solvers.proximal_newton` evaluates the loss at a trial
point (the line search's ``eta + t D``, the path's predicted start), and at the accepted
one forms the residual matrix ``w (P - Y)``, the weighted probabilities ``w P`` the inner
solver reads, the intercepts' gradient and the gradient products ``X^T M^T``. With the
row-major ``(K, n)`` arrays of sparse X, NumPy took a pass and a temporary for each
(docs/penalties.md, "Twelfth pass"): :func:`softmax_pass` makes the trial point, its
probabilities, its rows' NLL and the residuals in three passes over the rows, with
NumPy's vectorized ``exp`` between two compiled loops; :func:`gradient_products` sums a
column's ``K`` products in a local array; :func:`extrapolate` and
:func:`subtract_columns` make the path's predicted start's linear predictor,
:func:`predicted_coefficients` its coefficients, :func:`step_slope` the line
search's slope (docs/penalties.md, "Seventeenth pass"). (The penalty's value and KKT
residuals are compiled beside the penalty: :mod:`mnlogit.objective.sparse_penalty_kernels`.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mnlogit.objective.compiled import compiled, inlined
from mnlogit.solvers.local_array import LOCAL_DOUBLES, local_doubles

__all__ = [
    "extrapolate",
    "gradient_products",
    "predicted_coefficients",
    "softmax_pass",
    "step_slope",
    "subtract_columns",
]


def softmax_pass(
    eta0: Any, D: Any, t: float, move: bool, codes: Any, w: Any,
    eta: Any, P: Any, nll: Any, wP: Any, M: Any, g0: Any,
) -> None:  # fmt: skip
    """The loss's pass at ``eta = eta0 + t D`` (or at ``eta0`` when not ``move``): each row's
    probabilities and NLL, ``w P``, the residual matrix and the intercepts' gradient, in
    three passes over the rows: the trial point, its row maxima and ``eta - max``
    (:func:`_shifted_rows`); NumPy's ``exp`` over them in place (vectorized: 0.11-0.15 ms
    for the sparse benchmark's 200,000 values, where a compiled softmax with numba's scalar
    ``exp`` took 1.4 ms); the sums, probabilities, NLL and residuals
    (:func:`_normalized_rows`).

    The arrays are the row-major ``(n, K)`` arrays of sparse X (the transposes of its
    ``(K, n)`` views), C-contiguous.

    Parameters
    ----------
    eta0, D : ndarrays of shape (n, K)
        The start and the step (``D`` unread when not ``move``).
    t : float
    move : bool
    codes : ndarray of shape (n,) of int
    w : ndarray of shape (n,)
        Row weights.
    eta : ndarray of shape (n, K)
        Out when ``move``: ``eta0 + t D`` (unwritten, and may be ``eta0``, when not).
    P : ndarray of shape (n, K)
        Out: ``softmax(eta)`` per row.
    nll : ndarray of shape (n,)
        Out: each row's NLL ``logsumexp_k eta_ik - eta_{i, y_i}`` (the weighted sum is the
        caller's: a BLAS dot).
    wP, M : ndarrays of shape (n, K)
        Out: ``w_i P_ik`` and ``w_i (P_ik - [y_i = k])``.
    g0 : ndarray of shape (K,)
        Out: ``sum_i M_ik``.
    """
    _shifted_rows(eta0, D, t, move, eta, P, nll)
    with np.errstate(under="ignore"):  # (exp of a very negative eta - max is 0: meant)
        np.exp(P, out=P)
    _normalized_rows(eta if move else eta0, codes, w, P, nll, wP, M, g0)


@compiled
def _shifted_rows(eta0: Any, D: Any, t: float, move: bool, eta: Any, Z: Any, top: Any) -> None:
    """:func:`softmax_pass`'s first pass: ``eta = eta0 + t D`` when ``move``, each row's
    maximum ``top`` (n,) and ``Z = eta - top`` (n, K)."""
    n, K = Z.shape
    for i in range(n):
        if move:
            for k in range(K):
                eta[i, k] = eta0[i, k] + t * D[i, k]
            m = eta[i, 0]
            for k in range(1, K):
                m = eta[i, k] if eta[i, k] > m else m
            for k in range(K):
                Z[i, k] = eta[i, k] - m
        else:
            m = eta0[i, 0]
            for k in range(1, K):
                m = eta0[i, k] if eta0[i, k] > m else m
            for k in range(K):
                Z[i, k] = eta0[i, k] - m
        top[i] = m


@compiled
def _normalized_rows(
    eta: Any, codes: Any, w: Any, P: Any, nll: Any, wP: Any, M: Any, g0: Any
) -> None:
    """:func:`softmax_pass`'s last pass: ``P`` (``exp(eta - top)`` on entry) normalized per
    row, ``nll`` (``top`` on entry) the rows' NLL, ``wP``, ``M`` and ``g0``."""
    n, K = P.shape
    for k in range(K):
        g0[k] = 0.0
    for i in range(n):
        s = 0.0
        for k in range(K):
            s += P[i, k]
        for k in range(K):
            P[i, k] /= s
        c = codes[i]
        nll[i] = nll[i] + np.log(s) - eta[i, c]
        wi = w[i]
        for k in range(K):
            v = wi * P[i, k]
            wP[i, k] = v
            r = v - wi if k == c else v
            M[i, k] = r
            g0[k] += r


@compiled
def gradient_products(
    indptr: Any, indices: Any, data: Any, features: Any, M: Any, out: Any
) -> None:
    """``out[j, k] = sum_i X_ij M[i, k]`` for ``j`` in ``features`` of sparse ``X`` (CSC;
    the other rows of ``out`` untouched): one pass over each column for all ``K`` classes
    (a row's classes share cache lines), the sums in a local array (:mod:`local_array`:
    the compiler keeps them in registers; summed in ``out``, each stored value stored and
    reloaded the ``K`` sums); more than ``LOCAL_DOUBLES`` classes sum in ``out``.

    Parameters
    ----------
    indptr, indices, data : ndarrays
        The CSC arrays of X.
    features : ndarray of shape (m,) of int
    M : ndarray of shape (n, K), float64
        The residual matrix, row-major (the transpose of sparse X's ``(K, n)`` view).
    out : ndarray of shape (p, K), float64
    """
    K = M.shape[1]
    acc = local_doubles()
    for t in range(features.shape[0]):
        j = features[t]
        dest = out[j]
        if K > LOCAL_DOUBLES:
            _column_sums(indptr, indices, data, j, M, K, dest)
            continue
        _column_sums(indptr, indices, data, j, M, K, acc)
        for k in range(K):
            dest[k] = acc[k]


@inlined
def _column_sums(indptr: Any, indices: Any, data: Any, j: int, M: Any, K: int, acc: Any) -> None:
    """``acc[k] = sum_i X_ij M[i, k]`` for ``k < K`` over column ``j``'s stored values
    (:func:`gradient_products`' pass, into its local array or, with more than
    ``LOCAL_DOUBLES`` classes, into ``out``'s row)."""
    for k in range(K):
        acc[k] = 0.0
    for q in range(indptr[j], indptr[j + 1]):
        x = data[q]
        row = M[indices[q]]
        for k in range(K):
            acc[k] += x * row[k]


@compiled
def extrapolate(eta_1: Any, eta_2: Any, t: float, out: Any) -> None:
    """``out = eta_1 + t (eta_1 - eta_2)`` in one pass (the path's predicted start; NumPy
    took three passes and two temporaries).

    Parameters
    ----------
    eta_1, eta_2 : ndarrays of shape (n, K), C-contiguous
    t : float
    out : ndarray of shape (n, K), C-contiguous
        Out.
    """
    a = eta_1.reshape(-1)
    b = eta_2.reshape(-1)
    o = out.reshape(-1)
    for q in range(o.size):
        o[q] = a[q] + t * (a[q] - b[q])


@compiled
def subtract_columns(indptr: Any, indices: Any, data: Any, features: Any, C: Any, out: Any) -> None:
    """``out[i, k] -= sum_{j in features} X_ij C[j, k]`` for sparse ``X`` (CSC), in place
    (the predicted start's clipped coordinates taken out of its linear predictor: a pass
    over their columns only).

    Parameters
    ----------
    indptr, indices, data : ndarrays
        The CSC arrays of X.
    features : ndarray of shape (m,) of int
    C : ndarray of shape (p, K)
    out : ndarray of shape (n, K), float64
        Row-major (the transpose of sparse X's ``(K, n)`` view).
    """
    K = out.shape[1]
    for t in range(features.shape[0]):
        j = features[t]
        c = C[j]
        for q in range(indptr[j], indptr[j + 1]):
            x = data[q]
            row = out[indices[q]]
            for k in range(K):
                row[k] -= x * c[k]


@compiled
def step_slope(features: Any, G: Any, W_new: Any, W: Any) -> float:
    """``sum_{j in features} G_j . (W_new_j - W_j)``: the loss's directional derivative along
    an outer step over the strong set (NumPy gathered two ``m x K`` copies for it).

    Parameters
    ----------
    features : ndarray of shape (m,) of int
    G, W_new, W : ndarrays of shape (p, K)

    Returns
    -------
    float
    """
    K = G.shape[1]
    total = 0.0
    for t in range(features.shape[0]):
        j = features[t]
        for k in range(K):
            total += G[j, k] * (W_new[j, k] - W[j, k])
    return total


@compiled
def predicted_coefficients(W_1: Any, W_2: Any, t: float, clip_rows: Any, W: Any, cut: Any) -> bool:
    """The path's predicted coefficients ``W = W_1 + t (W_1 - W_2)`` with the lasso's
    clipping in one pass (NumPy took about ten passes and temporaries over the ``p x K``
    arrays): in a row of ``clip_rows``, a coordinate zero in ``W_1`` or whose sign the line
    flips is set to 0 in ``W`` and its value kept in ``cut`` (0 elsewhere).

    Parameters
    ----------
    W_1, W_2 : ndarrays of shape (p, K)
    t : float
    clip_rows : ndarray of shape (p,) of bool
    W, cut : ndarrays of shape (p, K)
        Out.

    Returns
    -------
    bool
        Whether any coordinate was clipped.
    """
    p, K = W.shape
    clipped = False
    for j in range(p):
        for k in range(K):
            a = W_1[j, k]
            v = a + t * (a - W_2[j, k])
            if clip_rows[j] and (a == 0.0 or v * a < 0.0):
                cut[j, k] = v
                W[j, k] = 0.0
                clipped = True
            else:
                cut[j, k] = 0.0
                W[j, k] = v
    return clipped
