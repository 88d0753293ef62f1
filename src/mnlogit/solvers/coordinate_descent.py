"""Compiled column kernels of the sparse-penalty solver: coordinate descent on a quadratic model.

The proximal Newton solver (:mod:`mnlogit.solvers.proximal_newton`) replaces the mean
weighted negative log-likelihood at the current point by its second-order model

    q(D) = sum_jk G_jk Delta_jk + sum_k g0_k delta_k
           + 1/2 sum_i w_i d_i^T (diag(p_i) - p_i p_i^T) d_i,     d_i = Delta^T x_i + delta

(the exact Hessian of the softmax loss, all ``K`` classes, no reference class), and these
kernels minimize ``q + alpha * penalty`` over the coefficients of a set of features by
cyclic coordinate descent, glmnet's way: one sweep over all the given features, then
sweeps over the nonzero ones until they settle, then a sweep over all again.

- ``"l1"`` / ``"elasticnet"``: one coordinate ``(j, k)`` at a time, with its exact
  curvature ``h_jk = sum_i w_i x_ij^2 p_ik (1 - p_ik)`` and a soft-threshold. The
  cross-class terms of the Hessian enter through the maintained products
  ``pd_i = p_i . d_i``, so the model is exact, not class-by-class. Optionally
  (``lasso_blocks``, on for sparse X) a feature's ``K`` steps take two passes over its
  column instead of one per class, the later classes' gradients updated through the
  feature's block Hessian (:func:`_lasso_block_steps`: the same steps); with more than
  one pass over the classes, the feature's ``K``-dimensional model is minimized nearly
  exactly before its column is read again.
- Optionally (``support_newton``), lasso / elastic net, when a sweep over the nonzero
  coordinates leaves their signs as they were: conjugate gradients on that support
  (:func:`~mnlogit.solvers.support_cg.support_cg`), kept when they lower the model plus
  penalty, then sweeps again.
- ``"group"``: feature ``j``'s ``K`` coefficients at once, minimized exactly with the
  block's own ``K x K`` Hessian ``H_j = sum_i w_i x_ij^2 (diag(p_i) - p_i p_i^T)``: in
  ``H_j``'s eigenbasis the block optimum ``(H_j + lam2 + lam1 / r) u = H_j z - g`` with
  ``r = ||u||`` is a scalar equation in ``r``, solved by Newton's method.

The loops are plain Python compiled with numba (``njit``) when it is installed, else run
as Python (correct, but slow: numba is a dependency for this reason; see
``docs/penalties.md``). Columns are read from a column-major dense ``X`` or from a CSC
matrix's ``(indptr, indices, data)``; any float dtype of ``X`` works and every sum is
accumulated in float64. Arrays over rows and classes are indexed ``[k, i]`` (shape
``(K, n)``): class-major for dense X (a class's column is contiguous), the transpose of a
row-major ``(n, K)`` array for sparse X (a row's ``K`` classes share cache lines; see
``ColumnData.empty_predictor``). The sparse lasso's block steps keep, for the inner solve,
each row's ``d_i``, ``w_i p_i``, ``p_i . d_i`` and ``1 / w_i`` in one 64-byte aligned record
(:func:`_row_records`); the other kernels read those through strided views. Their
sweeps run in a kernel of their own (:func:`_record_sweep`), with nothing of the other
paths in its loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mnlogit.objective.compiled import HAVE_NUMBA, compiled, inlined
from mnlogit.solvers.local_array import LOCAL_DOUBLES, local_doubles
from mnlogit.solvers.prefetch import prefetch
from mnlogit.solvers.support_cg import support_cg
from mnlogit.solvers.symmetric_eigen import symmetric_eigen

__all__ = [
    "HAVE_NUMBA",
    "best_shift",
    "block_hessians",
    "cd_quadratic",
    "column_rms",
    "curvatures_close",
    "dense_products",
    "dense_shifted",
    "dense_softmax_finish",
    "linear_predictor",
    "probabilities_close",
    "records_buffer",
]


#: :func:`dense_products`: rows per block (a block of ``M``, ``K`` of them, stays in L1) ...
PRODUCT_ROWS = 512
#: ... and columns per group (one read of a block of ``M`` serves this many columns). Not a
#: setting: the kernel's body is written out for exactly eight columns and two classes.
PRODUCT_COLUMNS = 8
assert PRODUCT_COLUMNS == 8, "dense_products is unrolled for eight columns"


@compiled
def dense_products(Xd: Any, features: Any, M: Any, out: Any) -> None:
    """``out[j, k] = sum_i X_ij M[k, i]`` for ``j`` in ``features`` of dense ``X`` (others
    untouched), blocked: ``PRODUCT_ROWS`` rows at a time, and within them a tile of
    ``PRODUCT_COLUMNS`` columns and two classes of ``M`` (one vectorized loop with 16 sums:
    each row's eight values of ``X`` serve two classes; an odd ``K``'s last class takes the
    eight-sum loop), so ``X`` is read once from memory and ``M`` from L1. Faster than BLAS's
    ``M @ X`` for the ``K`` (2-10) rows of ``M`` here (docs/penalties.md, "Tenth pass"; the
    two-class tile 13-20% faster than one class at a time, "Nineteenth pass"); float32 or
    float64 ``X``, float64 sums.

    Parameters
    ----------
    Xd : ndarray of shape (n, p), column-major
    features : ndarray of shape (m,) of int
    M : ndarray of shape (K, n), float64, C-contiguous
    out : ndarray of shape (p, K), float64
    """
    K, n = M.shape
    m = features.shape[0]
    for t in range(m):
        for k in range(K):
            out[features[t], k] = 0.0
    for start in range(0, n, PRODUCT_ROWS):
        stop = min(start + PRODUCT_ROWS, n)
        rows = stop - start
        t = 0
        while t + PRODUCT_COLUMNS <= m:
            f = features[t : t + PRODUCT_COLUMNS]
            x0 = Xd[start:stop, f[0]]
            x1 = Xd[start:stop, f[1]]
            x2 = Xd[start:stop, f[2]]
            x3 = Xd[start:stop, f[3]]
            x4 = Xd[start:stop, f[4]]
            x5 = Xd[start:stop, f[5]]
            x6 = Xd[start:stop, f[6]]
            x7 = Xd[start:stop, f[7]]
            k = 0
            while k + 2 <= K:
                ma = M[k, start:stop]
                mb = M[k + 1, start:stop]
                a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
                b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = 0.0
                for i in range(rows):
                    u = ma[i]
                    v = mb[i]
                    y0, y1, y2, y3 = x0[i], x1[i], x2[i], x3[i]
                    y4, y5, y6, y7 = x4[i], x5[i], x6[i], x7[i]
                    a0 += y0 * u
                    a1 += y1 * u
                    a2 += y2 * u
                    a3 += y3 * u
                    a4 += y4 * u
                    a5 += y5 * u
                    a6 += y6 * u
                    a7 += y7 * u
                    b0 += y0 * v
                    b1 += y1 * v
                    b2 += y2 * v
                    b3 += y3 * v
                    b4 += y4 * v
                    b5 += y5 * v
                    b6 += y6 * v
                    b7 += y7 * v
                _add_eight(out, f, k, a0, a1, a2, a3, a4, a5, a6, a7)
                _add_eight(out, f, k + 1, b0, b1, b2, b3, b4, b5, b6, b7)
                k += 2
            if k < K:
                mk = M[k, start:stop]
                s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
                for i in range(rows):
                    v = mk[i]
                    s0 += x0[i] * v
                    s1 += x1[i] * v
                    s2 += x2[i] * v
                    s3 += x3[i] * v
                    s4 += x4[i] * v
                    s5 += x5[i] * v
                    s6 += x6[i] * v
                    s7 += x7[i] * v
                _add_eight(out, f, k, s0, s1, s2, s3, s4, s5, s6, s7)
            t += PRODUCT_COLUMNS
        while t < m:
            x0 = Xd[start:stop, features[t]]
            for k in range(K):
                mk = M[k, start:stop]
                s0 = 0.0
                for i in range(rows):
                    s0 += x0[i] * mk[i]
                out[features[t], k] += s0
            t += 1


@inlined
def _add_eight(
    out: Any,
    f: Any,
    k: int,
    s0: float,
    s1: float,
    s2: float,
    s3: float,
    s4: float,
    s5: float,
    s6: float,
    s7: float,
) -> None:
    """``out[f[c], k] += s_c`` for the eight columns ``f`` of :func:`dense_products`' tile."""
    out[f[0], k] += s0
    out[f[1], k] += s1
    out[f[2], k] += s2
    out[f[3], k] += s3
    out[f[4], k] += s4
    out[f[5], k] += s5
    out[f[6], k] += s6
    out[f[7], k] += s7


@compiled
def dense_shifted(eta: Any, D: Any, t: float, point: Any, Z: Any, top: Any) -> None:
    """The start of the dense loss's pass at ``eta + t D``: ``point = eta + t D`` (when
    ``D`` has ``K`` rows; else ``point`` is not written and ``eta`` is the point), the rows'
    largest predictor ``top_i = max_k point_ki`` and ``Z = point - top``. The caller takes
    ``exp(Z)``, its column sums and their logarithms in NumPy (vectorized; numba's scalar
    ``exp`` is slower, docs/penalties.md, "Tenth pass") and ends with
    :func:`dense_softmax_finish`.

    Parameters
    ----------
    eta : ndarray of shape (K, n)
    D : ndarray of shape (K, n) or (0, 0)
    t : float
    point, Z : ndarrays of shape (K, n), written
    top : ndarray of shape (n,), written
    """
    K, n = eta.shape
    if D.shape[0] == K:
        for k in range(K):
            for i in range(n):
                point[k, i] = eta[k, i] + t * D[k, i]
        src = point
    else:
        src = eta
    for i in range(n):
        top[i] = src[0, i]
    for k in range(1, K):
        for i in range(n):
            top[i] = max(top[i], src[k, i])
    for k in range(K):
        for i in range(n):
            Z[k, i] = src[k, i] - top[i]


@compiled
def dense_softmax_finish(
    point: Any,
    top: Any,
    total: Any,
    logs: Any,
    w: Any,
    codes: Any,
    PZ: Any,
    wP: Any,
    M: Any,
    g0: Any,
) -> float:
    """The end of the dense loss's pass (:func:`dense_shifted`): from ``PZ = exp(point -
    top)``, its column sums ``total`` and their logarithms ``logs``, the probabilities
    ``P = PZ / total`` (in place), ``w P``, the residual matrix ``M = w (P - Y)`` and its row
    sums ``g0``; returns the mean weighted NLL ``sum_i w_i (logs_i + top_i - point_{y_i i})``.
    ``total`` is overwritten by its reciprocals.

    Parameters
    ----------
    point : ndarray of shape (K, n)
    top, total, logs, w : ndarrays of shape (n,) (``total`` overwritten)
    codes : ndarray of shape (n,) of int
    PZ, wP, M : ndarrays of shape (K, n) (``PZ`` overwritten; ``wP``, ``M`` written)
    g0 : ndarray of shape (K,), written
    """
    K, n = PZ.shape
    loss = 0.0
    for i in range(n):
        loss += w[i] * (logs[i] + top[i] - point[codes[i], i])
        total[i] = 1.0 / total[i]  # (a product per entry below, not a division)
    for k in range(K):
        s = 0.0
        for i in range(n):
            p = PZ[k, i] * total[i]
            PZ[k, i] = p
            v = w[i] * p
            wP[k, i] = v
            M[k, i] = v
            s += v
        g0[k] = s
    for i in range(n):
        M[codes[i], i] -= w[i]
        g0[codes[i]] -= w[i]
    return loss


@compiled
def linear_predictor(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    features: Any,
    W: Any,
    b: Any,
    out: Any,
) -> None:
    """``out[k, i] = b_k + sum_{j in features} X_ij W[j, k]`` (float64 sums).

    Parameters
    ----------
    Xd : ndarray of shape (n, p), column-major (unused when ``sparse``)
    indptr, indices, data : ndarrays
        The CSC arrays of X (unused unless ``sparse``).
    sparse : bool
    features : ndarray of shape (m,) of int
    W : ndarray of shape (p, K)
    b : ndarray of shape (K,)
    out : ndarray of shape (K, n), float64
    """
    K = out.shape[0]
    n = out.shape[1]
    for k in range(K):
        for i in range(n):
            out[k, i] = b[k]
    for t in range(features.shape[0]):
        j = features[t]
        for k in range(K):
            c = W[j, k]
            if c == 0.0:
                continue
            if sparse:
                for q in range(indptr[j], indptr[j + 1]):
                    out[k, indices[q]] += data[q] * c
            else:
                for i in range(n):
                    out[k, i] += Xd[i, j] * c


@compiled
def column_rms(
    Xd: Any, indptr: Any, indices: Any, data: Any, sparse: bool, w: Any, out: Any
) -> None:
    """``out[j] = sqrt(sum_i w_i X_ij^2)`` (``w`` sums to 1: the weighted RMS).

    Parameters
    ----------
    w : ndarray of shape (n,)
    out : ndarray of shape (p,)
    """
    p = out.shape[0]
    n = w.shape[0]
    for j in range(p):
        s = 0.0
        if sparse:
            for q in range(indptr[j], indptr[j + 1]):
                s += w[indices[q]] * data[q] * data[q]
        else:
            for i in range(n):
                x = Xd[i, j]
                s += w[i] * x * x
        out[j] = np.sqrt(s)


@compiled
def _coordinate(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    j: int,
    k: int,
    wP: Any,
    D: Any,
    pd: Any,
) -> float:
    """``sum_i w_i x_ij p_ik (d_ik - pd_i)``: the model's curvature term for ``(j, k)``."""
    s = 0.0
    if sparse:
        for q in range(indptr[j], indptr[j + 1]):
            i = indices[q]
            s += data[q] * wP[k, i] * (D[k, i] - pd[i])
    else:
        for i in range(wP.shape[1]):
            s += Xd[i, j] * wP[k, i] * (D[k, i] - pd[i])
    return s


@compiled
def _move(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    j: int,
    k: int,
    step: float,
    P: Any,
    D: Any,
    pd: Any,
) -> None:
    """``d_ik += x_ij step`` and ``pd_i += p_ik x_ij step``."""
    if sparse:
        for q in range(indptr[j], indptr[j + 1]):
            i = indices[q]
            v = data[q] * step
            D[k, i] += v
            pd[i] += P[k, i] * v
    else:
        for i in range(P.shape[1]):
            v = Xd[i, j] * step
            D[k, i] += v
            pd[i] += P[k, i] * v


@compiled
def _move_then_coordinate(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    j: int,
    k: int,
    step: float,
    m: int,
    P: Any,
    wP: Any,
    D: Any,
    pd: Any,
) -> float:
    """:func:`_move` of ``(j, k)`` and :func:`_coordinate` of ``(j, m)`` in one pass."""
    s = 0.0
    if sparse:
        for q in range(indptr[j], indptr[j + 1]):
            i = indices[q]
            x = data[q]
            v = x * step
            D[k, i] += v
            e = pd[i] + P[k, i] * v
            pd[i] = e
            s += x * wP[m, i] * (D[m, i] - e)
    else:
        for i in range(P.shape[1]):
            x = Xd[i, j]
            v = x * step
            D[k, i] += v
            e = pd[i] + P[k, i] * v
            pd[i] = e
            s += x * wP[m, i] * (D[m, i] - e)
    return s


@compiled
def _block_gradient(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    j: int,
    wP: Any,
    D: Any,
    pd: Any,
    out: Any,
) -> None:
    """:func:`_coordinate` for all ``K`` classes of feature ``j`` in one pass."""
    K = wP.shape[0]
    for k in range(K):
        out[k] = 0.0
    if sparse:
        for q in range(indptr[j], indptr[j + 1]):
            i = indices[q]
            x = data[q]
            e = pd[i]
            for k in range(K):
                out[k] += x * wP[k, i] * (D[k, i] - e)
    else:
        for i in range(wP.shape[1]):
            x = Xd[i, j]
            e = pd[i]
            for k in range(K):
                out[k] += x * wP[k, i] * (D[k, i] - e)


@compiled
def _block_move(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    j: int,
    steps: Any,
    P: Any,
    D: Any,
    pd: Any,
) -> None:
    """:func:`_move` for all ``K`` classes of feature ``j`` in one pass."""
    K = P.shape[0]
    if sparse:
        for q in range(indptr[j], indptr[j + 1]):
            i = indices[q]
            x = data[q]
            e = 0.0
            for k in range(K):
                v = x * steps[k]
                D[k, i] += v
                e += P[k, i] * v
            pd[i] += e
    else:
        for i in range(P.shape[1]):
            x = Xd[i, j]
            e = 0.0
            for k in range(K):
                v = x * steps[k]
                D[k, i] += v
                e += P[k, i] * v
            pd[i] += e


@compiled
def _block_move_weighted(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    j: int,
    steps: Any,
    wP: Any,
    winv: Any,
    D: Any,
    pd: Any,
) -> None:
    """:func:`_block_move` with ``p_ik`` read as ``(w_i p_ik) / w_i`` from ``wP``, which the
    gradient pass just before brought into the cache (``winv``: ``1 / w_i``, 0 for a row of
    weight 0, whose ``pd_i`` no sum reads)."""
    K = wP.shape[0]
    if sparse:
        for q in range(indptr[j], indptr[j + 1]):
            i = indices[q]
            x = data[q]
            e = 0.0
            for k in range(K):
                v = x * steps[k]
                D[k, i] += v
                e += wP[k, i] * v
            pd[i] += e * winv[i]
    else:
        for i in range(wP.shape[1]):
            x = Xd[i, j]
            e = 0.0
            for k in range(K):
                v = x * steps[k]
                D[k, i] += v
                e += wP[k, i] * v
            pd[i] += e * winv[i]


#: Doubles per 64-byte cache line: a row record (:func:`_row_records`) starts on a line and
#: its length is a whole number of lines.
LINE_DOUBLES = 8


def records_buffer(n: int, K: int, p: int = 0, blocks: int = 0) -> Any:
    """Room for the row records of ``n`` rows and ``K`` classes (:func:`_row_records`), to
    be kept and passed to every :func:`cd_quadratic` of a fit (memory mapped once: a fresh
    3.8 MB array per inner solve cost 1.6-1.8 ms in page faults on the sparse benchmark,
    0.2 ms to fill a reused one); after them, room for the inner solve's other large
    arrays (:func:`_scratch_size`): the snapshots of Anderson's extrapolation for up to
    ``p`` features and the block Hessians of up to ``blocks`` features (the sparse
    benchmark's late inner solves took about 2,400 fresh pages, 10 MB, each for these).

    Returns
    -------
    ndarray of shape (n * r + LINE_DOUBLES + s,)
        Uninitialized float64 (untouched memory costs nothing until used).
    """
    return np.empty(n * _record_width(K) + LINE_DOUBLES + _scratch_size(n, K, p, blocks))


def _scratch_size(n: int, K: int, p: int, blocks: int) -> int:
    """Doubles of the inner solve's reusable arrays (:func:`_start_and_snapshots`,
    :func:`_model_curvatures`): ``ANDERSON_DEPTH + 1`` snapshots of ``D`` (K n), ``pd``
    (n) and ``p`` features' coefficients (p K), then ``blocks`` block Hessians (K K)."""
    return (ANDERSON_DEPTH + 1) * (K * n + n + p * K) + blocks * K * K


@compiled
def _room(scratch: Any, at: int, size: int) -> Any:
    """``scratch[at : at + size]`` (size,) when it lies inside ``scratch``, else a new array."""
    if at >= 0 and at + size <= scratch.shape[0]:
        return scratch[at : at + size]
    return np.empty(size)


@compiled
def _record_width(K: int) -> int:
    """Doubles per row record: ``2 K + 2`` rounded up to a multiple of ``LINE_DOUBLES``."""
    return -(-(2 * K + 2) // LINE_DOUBLES) * LINE_DOUBLES


@compiled
def _row_records(wP: Any, winv: Any, store: Any = None) -> Any:
    """The per-row numbers a sparse lasso block step reads, interleaved in one row-major
    array ``R`` (n, r): row ``i`` is ``[d_i (K), w_i p_i (K), pd_i, 1 / w_i]`` padded with
    zeros to ``r`` (:func:`_record_width`; K = 10: 22 -> 24 doubles), each row starting on
    a 64-byte boundary (numpy aligns to 16 bytes: the buffer is one line longer and
    sliced). A row visit then reads 3 adjacent cache lines (K = 10) instead of 6 scattered
    ones in the separate ``D``, ``wP`` (K, n), ``pd``, ``winv`` (n,). ``d`` and ``pd`` start
    at zero (the model's centre); ``wP`` (K, n) and ``winv`` (n,) are copied in. ``R`` lies
    in ``store`` (:func:`records_buffer`) when given and large enough, else in a new array."""
    K, n = wP.shape
    r = _record_width(K)
    need = n * r + LINE_DOUBLES
    if store is None:  # noqa: SIM108 - (numba prunes this statement for an omitted store)
        buf = np.empty(need)
    else:
        buf = store if store.shape[0] >= need else np.empty(need)
    off = (-(buf.ctypes.data // 8)) % LINE_DOUBLES
    R = buf[off : off + n * r].reshape((n, r))
    for i in range(n):
        for k in range(K):
            R[i, k] = 0.0
            R[i, K + k] = wP[k, i]
        R[i, 2 * K] = 0.0
        R[i, 2 * K + 1] = winv[i]
        for c in range(2 * K + 2, r):
            R[i, c] = 0.0
    return R


#: Row visits ahead whose records the block steps' gradient pass prefetches
#: (:func:`_record_gradient`; 6, 8, 12, 16 measured: 3.6-3.7, 3.5-3.7, 3.5-3.6, 3.6-3.7 ms
#: for the two passes over the sparse benchmark's 5,000 columns, 4.7-5.1 ms without).
PREFETCH_AHEAD = 8


@inlined
def _record_gradient(indptr: Any, indices: Any, data: Any, j: int, R: Any, out: Any) -> None:
    """:func:`_block_gradient` (sparse X) reading the row records ``R`` (n, r) of
    :func:`_row_records`: ``out[k] = sum_i x_ij (w_i p_ik) (d_ik - pd_i)`` (K,)
    (:func:`_record_sums`). The sums go to a local array
    (:func:`~mnlogit.solvers.local_array.local_doubles`, which cannot alias ``R``: kept in
    registers, not stored at every row; the gradient pass over the sparse benchmark's
    columns 3.1-3.4 -> 1.6-1.9 ms), copied to ``out`` at the end; with more than
    ``LOCAL_DOUBLES`` classes, summed in ``out`` itself."""
    K = out.shape[0]
    if K > LOCAL_DOUBLES:
        _record_gradient_into(indptr, indices, data, j, R, out)
        return
    acc = local_doubles()
    _record_sums(indptr, indices, data, j, R, K, acc)
    for k in range(K):
        out[k] = acc[k]


@inlined
def _record_sums(indptr: Any, indices: Any, data: Any, j: int, R: Any, K: int, acc: Any) -> None:
    """``acc[k] = sum_i x_ij (w_i p_ik) (d_ik - pd_i)`` for ``k < K`` (``acc`` (K,) or
    longer) from the row records ``R`` (n, r). (A row taken as a contiguous slice: the
    compiled loop over its classes vectorizes.) The records of the rows ``PREFETCH_AHEAD``
    visits ahead are prefetched (random rows: the hardware cannot guess them); the move
    pass after the steps finds them in the cache. The positions and row indices are taken
    as unsigned (``np.uintp``: no test for a negative index to wrap around, on every
    visit; the input's validation refuses a sparse matrix with indices outside its shape,
    :func:`~mnlogit.identification.check_sparse_structure`)."""
    r = R.shape[1]
    step = np.uintp(PREFETCH_AHEAD)  # (unsigned + unsigned stays unsigned: compiled, and in
    # NumPy 1.x without numba, where np.uintp + a Python int is a float64)
    lo, hi = np.uintp(indptr[j]), np.uintp(indptr[j + 1])
    for k in range(K):
        acc[k] = 0.0
    for q in range(lo, min(lo + step, hi)):
        for c in range(0, r, LINE_DOUBLES):
            prefetch(R, np.uintp(indices[q]), c)
    for q in range(lo, hi):
        later = np.uintp(q) + step
        if later < hi:
            ahead = np.uintp(indices[later])
            for c in range(0, r, LINE_DOUBLES):
                prefetch(R, ahead, c)
        row = R[np.uintp(indices[q])]
        x = data[q]
        e = row[2 * K]
        for k in range(K):
            acc[k] += x * row[K + k] * (row[k] - e)


@compiled
def _record_gradient_into(indptr: Any, indices: Any, data: Any, j: int, R: Any, out: Any) -> None:
    """:func:`_record_gradient` summing in ``out`` (K,) itself (more than
    ``LOCAL_DOUBLES`` classes)."""
    _record_sums(indptr, indices, data, j, R, out.shape[0], out)


@inlined
def _record_move(indptr: Any, indices: Any, data: Any, j: int, steps: Any, R: Any) -> None:
    """:func:`_block_move_weighted` (sparse X) on the row records ``R`` (n, r): ``d_ik +=
    x_ij steps_k`` and ``pd_i += x_ij (sum_k (w_i p_ik) steps_k) / w_i`` (K,) of ``steps``
    (:func:`_record_steps`)."""
    _record_steps(indptr, indices, data, j, steps.shape[0], steps, R)


@inlined
def _record_steps(indptr: Any, indices: Any, data: Any, j: int, K: int, steps: Any, R: Any) -> None:
    """:func:`_record_move` with the first ``K`` of ``steps``. (The product is summed before
    the moves are stored: a loop that stored ``d_ik`` between the reads of the row took 15%
    longer over the sweep's columns; unsigned positions and row indices as there.)"""
    for q in range(np.uintp(indptr[j]), np.uintp(indptr[j + 1])):
        row = R[np.uintp(indices[q])]
        x = data[q]
        e = 0.0
        for k in range(K):
            e += row[K + k] * steps[k]
        for k in range(K):
            row[k] += x * steps[k]
        row[2 * K] += x * e * row[2 * K + 1]


@compiled
def _inverse_weights(w: Any) -> Any:
    """``1 / w_i`` (n,), 0 where ``w_i = 0`` or where ``1 / w_i`` overflows (a subnormal
    weight: such a row adds at most about 1e-308 to any sum, so its stale ``p_i · d_i``
    does no harm, while an infinite ``1 / w_i`` would turn the sums to NaN)."""
    out = np.zeros(w.shape[0])
    for i in range(w.shape[0]):
        if w[i] > 0.0 and 1.0 / w[i] < np.inf:
            out[i] = 1.0 / w[i]
    return out


@compiled
def _curvatures(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    features: Any,
    w: Any,
    P: Any,
    h: Any,
) -> None:
    """Per-coordinate curvatures ``h[j, k] = sum_i w_i x_ij^2 p_ik (1 - p_ik)``."""
    K = P.shape[0]
    n = P.shape[1]
    for t in range(features.shape[0]):
        j = features[t]
        for k in range(K):
            s = 0.0
            if sparse:
                for q in range(indptr[j], indptr[j + 1]):
                    i = indices[q]
                    s += w[i] * data[q] * data[q] * P[k, i] * (1.0 - P[k, i])
            else:
                for i in range(n):
                    x = Xd[i, j]
                    s += w[i] * x * x * P[k, i] * (1.0 - P[k, i])
            h[j, k] = s


@compiled
def _sparse_curvatures(
    indptr: Any, indices: Any, data: Any, features: Any, w: Any, P: Any, h: Any
) -> None:
    """:func:`_curvatures` for sparse X in one pass over each column, all ``K`` classes of a
    row at once (``P`` is the (K, n) view of a row-major array: a row's classes are
    adjacent; a pass per class strides through the same rows ``K`` times)."""
    K = P.shape[0]
    for t in range(features.shape[0]):
        j = features[t]
        for k in range(K):
            h[j, k] = 0.0
        for q in range(indptr[j], indptr[j + 1]):
            i = indices[q]
            x = 1.0 * data[q]
            c = w[i] * x * x
            for k in range(K):
                h[j, k] += c * P[k, i] * (1.0 - P[k, i])


@compiled
def _block_curvatures(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    features: Any,
    w: Any,
    P: Any,
    evals: Any,
    evecs: Any,
) -> None:
    """Eigenvalues ``evals[j]`` (K,) and vectors ``evecs[j]`` (K, K) of each block Hessian
    ``H_j = sum_i w_i x_ij^2 (diag(p_i) - p_i p_i^T)``. Sparse X: by :func:`_lasso_block`'s
    gathered rows (``w P`` formed once, in ``P``'s layout; the row loop over all ``K x K``
    entries did not vectorize: the group's sparse benchmark path spent 57 ms per inner
    solve here, the lead measured)."""
    K = P.shape[0]
    n = P.shape[1]
    H = np.zeros((K, K))
    scratch = np.empty((K + 2, K))
    wP = np.empty((n, K)).T if sparse else np.empty((K, 0))
    if sparse:
        for i in range(n):
            for k in range(K):
                wP[k, i] = w[i] * P[k, i]
    for t in range(features.shape[0]):
        j = features[t]
        H[:] = 0.0
        if sparse:
            _lasso_block(Xd, indptr, indices, data, sparse, j, wP, P, H, np.zeros((0, 0)))
        else:
            for i in range(n):
                x = Xd[i, j]
                c = w[i] * x * x
                if c == 0.0:
                    continue
                for k in range(K):
                    H[k, k] += c * P[k, i]
                    for m in range(K):
                        H[k, m] -= c * P[k, i] * P[m, i]
        _store_eigen(H, j, scratch, evals, evecs)


@compiled
def _store_eigen(H: Any, j: int, scratch: Any, evals: Any, evecs: Any) -> None:
    """``evals[j]`` (K,), the eigenvalues of the block Hessian ``H`` (K, K) clipped at 0, and
    ``evecs[j]`` (K, K), its eigenvectors as columns (:func:`symmetric_eigen`: no LAPACK call
    per block, ``scratch`` (K + 2, K) reused)."""
    K = H.shape[0]
    symmetric_eigen(H, scratch[0], evecs[j], scratch[1], scratch[2:])
    for k in range(K):
        evals[j, k] = max(scratch[0, k], 0.0)


@compiled
def _block_eigen(features: Any, H: Any, evals: Any, evecs: Any) -> None:
    """Eigenvalues ``evals[j]`` (K,) and vectors ``evecs[j]`` (K, K) of the given block
    Hessians ``H[t]`` of ``j = features[t]``."""
    K = H.shape[1]
    scratch = np.empty((K + 2, K))
    for t in range(features.shape[0]):
        _store_eigen(H[t], features[t], scratch, evals, evecs)


def block_hessians(Xd: Any, features: Any, wP: Any, P: Any, rows: int = 2048) -> Any:
    """The block Hessians ``H_j = sum_i w_i x_ij^2 (diag(p_i) - p_i p_i^T)`` of dense
    float64 columns, by matrix products over chunks of ``rows`` rows (BLAS: for ``K`` of
    a few classes 10-20 times faster than the compiled loop).

    Only the upper triangle is summed, the diagonal with it: ``H_j[k, m] = sum_i x_ij^2
    q_i[k, m]`` with ``q_i[k, m] = w_i p_ik ([k = m] - p_im)`` for ``k <= m``, one product
    with ``K (K + 1) / 2`` columns per chunk.

    Parameters
    ----------
    Xd : ndarray of shape (n, p), float64
    features : ndarray of shape (m,) of int
    wP : ndarray of shape (K, n)
        Row weights times the probabilities.
    P : ndarray of shape (K, n)
        The probabilities.
    rows : int
        Rows per chunk (the temporaries are ``rows x m`` and ``K (K + 1) / 2 x rows``).

    Returns
    -------
    ndarray of shape (m, K, K)
    """
    K, n = P.shape
    m = features.shape[0]
    upper, lower = np.triu_indices(K)
    same = (upper == lower)[:, None].astype(np.float64)
    total = np.zeros((m, upper.size))
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        sq = Xd[start:stop][:, features]
        sq *= sq
        q = wP[upper, start:stop] * (same - P[lower, start:stop])
        total += sq.T @ q.T
    H = np.empty((m, K, K))
    H[:, upper, lower] = total
    H[:, lower, upper] = total
    return H


@inlined
def _group_optimum(mu: Any, cp: Any, lam1: float, lam2: float, out: Any, r0: float = 0.0) -> None:
    """In the eigenbasis of the block Hessian ``V diag(mu) V^T``: ``out = V^T u`` (K,) of the
    ``u`` with ``(V diag(mu) V^T + lam2 + lam1 / ||u||) u = c``, given ``cp = V^T c`` (K,)
    (``u = 0`` when ``||c|| <= lam1``). ``r0 >= 0``: where Newton's search for ``||u||``
    starts (the block's current norm in a sweep: within a few percent of the answer once
    the sweeps settle, 4.3-4.9 -> 3.0-3.2 iterations on the sparse benchmark's group path;
    0: from the left). (``cp`` and ``out`` may be longer than ``mu`` (K,): their first
    ``K`` are read and written.)"""
    K = mu.shape[0]
    norm = 0.0
    for m in range(K):
        norm += cp[m] * cp[m]
    norm = np.sqrt(norm)
    if norm <= lam1:
        for m in range(K):
            out[m] = 0.0
        return
    if lam1 == 0.0:  # unpenalized (or ridge only): the pseudo-inverse's solution
        top = mu[K - 1] + lam2
        for m in range(K):
            a = mu[m] + lam2
            out[m] = cp[m] / a if a > 1e-12 * top else 0.0
        return
    # phi(r) = S(r)^(-1/2) - 1, S(r) = sum_m cp_m^2 / (r a_m + lam1)^2: increasing in r,
    # phi(0) < 0; Newton (a start right of the root steps left of it, or halves, and goes
    # on from there)
    r = r0 if r0 > 0.0 else 0.0
    for _ in range(100):
        S = 0.0
        dS = 0.0
        for m in range(K):
            a = mu[m] + lam2
            inv = 1.0 / (r * a + lam1)
            t = cp[m] * cp[m] * inv * inv
            S += t
            dS -= 2.0 * t * a * inv
        phi = 1.0 / np.sqrt(S) - 1.0
        if abs(phi) <= 1e-14:
            break
        dphi = -0.5 * dS / (S * np.sqrt(S))
        if dphi <= 0.0:  # (c only where a_m = 0: phi is constant, below 0, no root; from
            # any start)
            r = 0.0
            break
        step = -phi / dphi
        r = max(r + step, 0.5 * r)
        if abs(step) <= 1e-15 * r:
            break
    if not r > 0.0:  # c beyond lam1 in the Hessian's null space (lam2 = 0): no finite
        for m in range(K):  # optimum of the block's model; no step (the line search and
            out[m] = 0.0  # the KKT check of the outer loop decide)
        return
    for m in range(K):
        out[m] = cp[m] / (mu[m] + lam2 + lam1 / r)


@compiled
def _dense_group_gradient(Xd: Any, j: int, wP: Any, D: Any, pd: Any, out: Any) -> None:
    """:func:`_block_gradient` for dense X: one pass per class over the class-major arrays
    (contiguous along the rows, so each pass vectorizes; the ``K``-wide loop over a row's
    classes strides through ``K`` rows of the arrays and does not)."""
    n = wP.shape[1]
    for k in range(wP.shape[0]):
        s = 0.0
        for i in range(n):
            s += Xd[i, j] * wP[k, i] * (D[k, i] - pd[i])
        out[k] = s


@compiled
def _dense_group_move(Xd: Any, j: int, steps: Any, P: Any, D: Any, pd: Any) -> None:
    """:func:`_block_move` for dense X, one vectorized pass per class that moves."""
    n = P.shape[1]
    for k in range(P.shape[0]):
        step = steps[k]
        if step == 0.0:
            continue
        for i in range(n):
            v = Xd[i, j] * step
            D[k, i] += v
            pd[i] += P[k, i] * v


@inlined
def _group_block(
    j: int,
    q: Any,
    G: Any,
    W: Any,
    mu: Any,
    V: Any,
    lam1: float,
    lam2: float,
    cp: Any,
    up: Any,
    steps: Any,
) -> float:
    """Feature ``j``'s block ``z = W[j]`` set to the exact optimum of its model, given the
    column pass's sums ``q`` (the data part of the model's gradient at ``z``; ``G[j]`` is
    added to it in place), the block Hessian's eigenvalues ``mu`` (K,) and eigenvectors
    ``V`` (K, K) as columns; returns ``||u - z||^2`` with the steps ``u - z`` in ``steps``
    (0: no move, ``steps`` then unwritten). ``cp``, ``up``: scratch of ``K`` or more
    (``steps`` may be ``cp``). A zero block whose gradient stays within ``lam1`` stays
    without the products in the eigenbasis (``c = -g`` there: :func:`_group_optimum` would
    return 0). Shared by :func:`_group_step` and :func:`_group_record_sweep`: the same
    steps in the same order."""
    K = W.shape[1]
    radius = 0.0
    zero = True
    for k in range(K):
        q[k] += G[j, k]  # the model's gradient g at the block's current value z = W[j]
        radius += W[j, k] * W[j, k]
        if W[j, k] != 0.0:
            zero = False
    if zero:
        norm = 0.0
        for k in range(K):
            norm += q[k] * q[k]
        if np.sqrt(norm) <= lam1:
            return 0.0
    for m in range(K):  # c = H_j z - g in the eigenbasis: mu * (V^T z) - V^T g
        sz = 0.0
        sg = 0.0
        for k in range(K):
            sz += V[k, m] * W[j, k]
            sg += V[k, m] * q[k]
        cp[m] = mu[m] * sz - sg
    _group_optimum(mu, cp, lam1, lam2, up, np.sqrt(radius))
    change = 0.0
    for k in range(K):
        u = 0.0
        for m in range(K):
            u += V[k, m] * up[m]
        steps[k] = u - W[j, k]
        W[j, k] = u
        change += steps[k] * steps[k]
    return change


@compiled
def _group_step(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    j: int,
    P: Any,
    wP: Any,
    G: Any,
    lam1: float,
    lam2: float,
    mu: Any,
    V: Any,
    W: Any,
    D: Any,
    pd: Any,
    work: Any,
    winv: Any,
    rec: Any,
) -> float:
    """Feature ``j``'s block set to its exact optimum; returns the scaled change. With the
    row records ``rec`` (n, r) (sparse X; :func:`_row_records`, of which ``D``, ``wP``,
    ``pd`` and ``winv`` are then views) the two passes over the column read them
    (:func:`_record_gradient`, :func:`_record_move`: the same sums in the same order),
    else the separate arrays."""
    K = P.shape[0]
    q, up, cp = work[0], work[1], work[2]
    if rec.shape[0]:
        _record_gradient(indptr, indices, data, j, rec, q)
    elif sparse:
        _block_gradient(Xd, indptr, indices, data, sparse, j, wP, D, pd, q)
    else:
        _dense_group_gradient(Xd, j, wP, D, pd, q)
    steps = cp  # (V^T c is read no more once the steps are written)
    change = _group_block(j, q, G, W, mu, V, lam1, lam2, cp, up, steps)
    if change > 0.0 and rec.shape[0]:
        _record_move(indptr, indices, data, j, steps, rec)
    elif change > 0.0 and sparse:
        _block_move_weighted(Xd, indptr, indices, data, sparse, j, steps, wP, winv, D, pd)
    elif change > 0.0:
        _dense_group_move(Xd, j, steps, P, D, pd)
    return (mu[K - 1] + lam2) * np.sqrt(change)


#: ``h[j, k]`` of a coordinate whose curvature is not computed yet: :func:`_lasso_steps`
#: (per-class steps) computes it at the coordinate's first step that needs it, the sparse
#: block steps (:func:`_lasso_block_steps`) take all ``K`` from the diagonal of the
#: feature's block Hessian when they first form it.
LAZY_CURVATURE = -1.0


@compiled
def curvatures_close(P: Any, P0: Any, drift: float) -> bool:
    """Whether every ``P_ik (1 - P_ik)`` is within ``drift`` (relative) of ``P0_ik (1 -
    P0_ik)``: then every lasso curvature ``h_jk = sum_i w_i x_ij^2 P_ik (1 - P_ik)`` at ``P``
    is within ``drift`` of the one at ``P0`` (one pass over the two ``(K, n)`` arrays, stopping
    at the first entry that moved further)."""
    for k in range(P.shape[0]):
        for i in range(P.shape[1]):
            v0 = P0[k, i] * (1.0 - P0[k, i])
            if abs(P[k, i] * (1.0 - P[k, i]) - v0) > drift * v0:
                return False
    return True


@compiled
def probabilities_close(P: Any, P0: Any, drift: float) -> bool:
    """Whether every ``P_ik`` is within ``drift`` (relative) of ``P0_ik`` (arrays (K, n),
    any layout; stops at the first entry that moved further). Then every block Hessian
    ``H_j = sum_i w_i x_ij^2 (diag(p_i) - p_i p_i^T)`` at ``P`` lies between ``1 - drift``
    and ``1 + drift`` times the one at ``P0`` (``v^T (diag(p) - p p^T) v`` is the variance
    of ``v`` under ``p``, ``min_c sum_k p_k (v_k - c)^2``, which moves with the ``p_k``)."""
    for k in range(P.shape[0]):
        for i in range(P.shape[1]):
            if abs(P[k, i] - P0[k, i]) > drift * P0[k, i]:
                return False
    return True


@compiled
def _curvature(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    j: int,
    k: int,
    P: Any,
    wP: Any,
) -> float:
    """One coordinate's curvature ``sum_i x_ij^2 (w_i p_ik) (1 - p_ik)`` (:func:`_curvatures`)."""
    s = 0.0
    if sparse:
        for q in range(indptr[j], indptr[j + 1]):
            i = indices[q]
            x = 1.0 * data[q]  # float64 (X may be float32)
            s += x * x * wP[k, i] * (1.0 - P[k, i])
    else:
        for i in range(P.shape[1]):
            x = 1.0 * Xd[i, j]
            s += x * x * wP[k, i] * (1.0 - P[k, i])
    return s


@compiled
def _soft_threshold(z: float, lam1: float, denominator: float) -> float:
    """A lasso coordinate's exact minimizer ``S(z, lam1) / denominator``, with ``z`` the
    coordinate's curvature times its value minus its model gradient and ``denominator`` its
    curvature plus the ridge part."""
    if z > lam1:
        return (z - lam1) / denominator
    if z < -lam1:
        return (z + lam1) / denominator
    return 0.0


@compiled
def _stepped(
    hk: float, wk: float, gk: float, only_nonzero: bool, screen: float, lam1: float
) -> bool:
    """Whether a sweep steps a lasso coordinate: one with curvature ``hk > 0`` that is
    nonzero (``wk``), or zero when the sweep is not ``only_nonzero`` and its gradient at the
    model's centre ``gk`` is at least ``screen * lam1`` (``screen = 0``: every coordinate;
    the first sweep of an inner solve screens, ``FIRST_SWEEP_SCREEN``). A curvature not
    computed yet (``LAZY_CURVATURE``) counts as positive: :func:`_lasso_steps` computes it
    when the step needs it."""
    if not (hk > 0.0 or hk == LAZY_CURVATURE):
        return False
    if wk != 0.0:
        return True
    return not only_nonzero and abs(gk) >= screen * lam1


@compiled
def _lasso_steps(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    j: int,
    only_nonzero: bool,
    screen: float,
    P: Any,
    wP: Any,
    G: Any,
    lam1: float,
    lam2: float,
    h: Any,
    W: Any,
    D: Any,
    pd: Any,
    order: Any,
) -> float:
    """Exact soft-thresholded steps on feature ``j``'s coordinates in turn (all ``K``, or
    the nonzero ones; :func:`_stepped`); returns the largest scaled change. A step's update
    of ``D`` shares its pass over the column with the next coordinate's gradient. A
    curvature still ``LAZY_CURVATURE`` is computed (and stored in ``h``) when the step needs
    it: a nonzero coordinate, or a zero one whose model gradient exceeds ``lam1`` (the
    others stay zero whatever their curvature)."""
    K = P.shape[0]
    count = 0
    for k in range(K):
        if _stepped(h[j, k], W[j, k], G[j, k], only_nonzero, screen, lam1):
            order[count] = k
            count += 1
    if count == 0:
        return 0.0
    biggest = 0.0
    k = order[0]
    g = G[j, k] + _coordinate(Xd, indptr, indices, data, sparse, j, k, wP, D, pd)
    for t in range(count):
        k = order[t]
        hk = h[j, k]
        if hk == LAZY_CURVATURE and (W[j, k] != 0.0 or abs(g) > lam1):
            hk = max(_curvature(Xd, indptr, indices, data, sparse, j, k, P, wP), 0.0)
            h[j, k] = hk
        step = 0.0
        if hk > 0.0:  # (a zero coordinate under its threshold stays zero: no curvature needed)
            new = _soft_threshold(hk * W[j, k] - g, lam1, hk + lam2)
            step = new - W[j, k]
            W[j, k] = new
            change = (hk + lam2) * abs(step)
            if change > biggest:
                biggest = change
        if t + 1 < count:
            m = order[t + 1]
            if step != 0.0:
                g = _move_then_coordinate(
                    Xd, indptr, indices, data, sparse, j, k, step, m, P, wP, D, pd
                )
            else:
                g = _coordinate(Xd, indptr, indices, data, sparse, j, m, wP, D, pd)
            g += G[j, m]
        elif step != 0.0:
            _move(Xd, indptr, indices, data, sparse, j, k, step, P, D, pd)
    return biggest


#: A feature's lasso steps go by its block Hessian when more than this many of its
#: coordinates are to be stepped, or with the row records (:func:`_lasso_block_steps`).
BLOCK_MIN_CLASSES = 2
#: A repeated pass over a feature's classes (``passes > 1``) stops once its largest step,
#: curvature times change, is at most this fraction of the first pass's.
BLOCK_PASS_TOL = 0.01
#: ... or once it is at most this fraction of the sweep's tolerance (in the column's units).
BLOCK_PASS_FLOOR = 0.1


@inlined
def _lasso_block_steps(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    j: int,
    only_nonzero: bool,
    screen: float,
    P: Any,
    wP: Any,
    G: Any,
    lam1: float,
    lam2: float,
    h: Any,
    Hj: Any,
    ready: Any,
    winv: Any,
    W: Any,
    D: Any,
    pd: Any,
    work: Any,
    order: Any,
    passes: int,
    floor: float,
    rec: Any,
) -> float:
    """The same cyclic steps as :func:`_lasso_steps` on feature ``j``'s coordinates, in two
    passes over the column instead of one per class: all ``K`` model gradients in one pass,
    the soft-thresholded steps in class order with each step's effect on the later gradients
    from the block Hessian ``Hj`` (K, K) (the model is quadratic: moving ``(j, k)`` by ``s``
    changes ``(j, m)``'s gradient by ``Hj[m, k] s``), then all moves in one pass. ``Hj`` is
    computed at the feature's first visit in the inner solve where one of its coordinates is
    nonzero or has a model gradient over its threshold (``ready`` (1,): whether it is; a
    feature whose coordinates are zero and under their thresholds costs none), and the
    curvatures ``h[j]`` still ``LAZY_CURVATURE`` are taken from its diagonal (the same sums:
    no separate pass for them). With at most ``BLOCK_MIN_CLASSES`` coordinates to
    step and no row records, :func:`_lasso_steps` (a pass per class is then cheaper than
    two over all ``K``); with the records, the block step still (its passes over the
    records cost less than one per class over their strided views: the sparse
    benchmark's captured call 60, 884 of its 4,988 features with at most two nonzero
    coordinates, 55-61 -> 48 ms; the repeated class passes then minimize over those
    coordinates more exactly, so the iterates are not the per-class ones).

    ``passes > 1``: the class loop is repeated on the feature's ``K``-dimensional model,
    which ``Hj`` and the gradients ``q`` hold without reading the column again, up to
    ``passes`` times or until a pass's largest step is at most ``BLOCK_PASS_TOL`` times the
    first's or at most ``floor`` (``BLOCK_PASS_FLOOR`` times the sweep's tolerance in the
    column's units: smaller steps do not count in the sweep's stop). The classes of one
    feature are coupled through ``diag(p) - p p^T``; exact block minimization needs fewer
    sweeps over the data. The moves then take the summed steps in one pass; the returned
    change is the larger of the first pass's largest and that of the summed steps (never
    below what one pass returned). ``rec`` (n, r): the row records (:func:`_row_records`),
    of which ``D``, ``wP``, ``pd`` and ``winv`` are then views, read by the two passes; or
    an empty (0, 0) array."""
    K = P.shape[0]
    count = 0
    for k in range(K):
        if _stepped(h[j, k], W[j, k], G[j, k], only_nonzero, screen, lam1):
            count += 1
    if count == 0 or (count <= BLOCK_MIN_CLASSES and not rec.shape[0]):
        return _lasso_steps(
            Xd, indptr, indices, data, sparse, j, only_nonzero, screen, P, wP, G, lam1, lam2,
            h, W, D, pd, order,
        )  # fmt: skip
    q, steps = work[0], work[1]
    if rec.shape[0]:  # (the row records: D, wP, pd and winv are views of rec)
        _record_gradient(indptr, indices, data, j, rec, q)
    else:
        _block_gradient(Xd, indptr, indices, data, sparse, j, wP, D, pd, q)
    if not ready[0]:  # the block Hessian, and the curvatures from its diagonal, if needed
        needed = False
        for k in range(K):
            if W[j, k] != 0.0 or abs(G[j, k] + q[k]) > lam1:
                needed = True
        if not needed:  # (every coordinate zero and under its threshold: no step)
            return 0.0
        _lasso_block(Xd, indptr, indices, data, sparse, j, wP, P, Hj, rec)
        ready[0] = True
        for k in range(K):
            if h[j, k] == LAZY_CURVATURE:
                h[j, k] = max(Hj[k, k], 0.0)
    biggest = 0.0
    moved = False
    for k in range(K):
        steps[k] = 0.0
    for rep in range(passes):
        last = 0.0
        for k in range(K):
            hk = h[j, k]
            if not _stepped(hk, W[j, k], G[j, k], only_nonzero, screen, lam1):
                continue
            new = _soft_threshold(hk * W[j, k] - (G[j, k] + q[k]), lam1, hk + lam2)
            step = new - W[j, k]
            if step == 0.0:
                continue
            W[j, k] = new
            steps[k] += step
            moved = True
            for m in range(K):
                q[m] += Hj[k, m] * step
            change = (hk + lam2) * abs(step)
            if change > last:
                last = change
        if rep == 0:
            biggest = last
        if not moved or last <= max(BLOCK_PASS_TOL * biggest, floor):
            break
    for k in range(K):
        change = (h[j, k] + lam2) * abs(steps[k])
        if change > biggest:
            biggest = change
    if moved and rec.shape[0]:
        _record_move(indptr, indices, data, j, steps, rec)
    elif moved:
        _block_move_weighted(Xd, indptr, indices, data, sparse, j, steps, wP, winv, D, pd)
    return biggest


@compiled
def _pair_products(AB: Any, K: int, H: Any) -> None:
    """The upper triangle of ``H`` (K, K) from ``AB`` (2 E, r) (:func:`_lasso_block`'s rows
    ``a_k`` = ``AB[k]`` and ``b_k`` = ``AB[E + k]``, ``E`` even, the rows from ``K`` on
    zero): ``H[k, k] = sum a_k (1 - b_k)`` (not ``sum a_k - sum a_k b_k``, whose rounding
    is relative to ``sum a_k``: ``1 - b_k`` is exact, so only the rounding of ``b_k`` itself,
    an ulp of 1, reaches it; it is the curvature ``h[j, k]`` too), ``H[k, m] = -sum a_k b_m``
    for ``m > k``. Two rows of ``a`` against two of ``b`` per pass over the ``r`` columns:
    four products per four loads instead of one per two (the 5,000 block Hessians of the
    sparse benchmark's captured call 96, timed alone: 7.7-8.6 -> 5.8-6.3 ms, with one
    gathered array instead of two; docs/penalties.md, "Fourteenth pass")."""
    E = AB.shape[0] // 2
    r = AB.shape[1]
    for k in range(0, E, 2):
        s0, s1, s01 = 0.0, 0.0, 0.0
        for t in range(r):
            a0, a1 = AB[k, t], AB[k + 1, t]
            s0 += a0 * (1.0 - AB[E + k, t])
            s1 += a1 * (1.0 - AB[E + k + 1, t])
            s01 += a0 * AB[E + k + 1, t]
        H[k, k] = s0
        if k + 1 < K:
            H[k + 1, k + 1] = s1
            H[k, k + 1] = -s01
        for m in range(k + 2, E, 2):
            s00, s01, s10, s11 = 0.0, 0.0, 0.0, 0.0
            for t in range(r):
                a0, a1 = AB[k, t], AB[k + 1, t]
                b0, b1 = AB[E + m, t], AB[E + m + 1, t]
                s00 += a0 * b0
                s01 += a0 * b1
                s10 += a1 * b0
                s11 += a1 * b1
            H[k, m] = -s00
            if m + 1 < K:
                H[k, m + 1] = -s01
            if k + 1 < K:
                H[k + 1, m] = -s10
                if m + 1 < K:
                    H[k + 1, m + 1] = -s11


@compiled
def _lasso_block(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    j: int,
    wP: Any,
    P: Any,
    H: Any,
    rec: Any,
) -> None:
    """Feature ``j``'s block Hessian ``H = sum_i w_i x_ij^2 (diag(p_i) - p_i p_i^T)`` (K, K).

    Sparse X: the column's rows of ``x_ij^2 w_i p_i`` and ``p_i`` are gathered into one
    class-major array (2 E, r) (r stored values, ``E`` = K rounded up to even, a padding
    row of zeros), then the upper triangle's entries are contiguous dot products over the
    ``r`` rows, two classes against two at a time (:func:`_pair_products`; the triangular
    loop over a row's classes did not vectorize: 2.3x slower on the sparse benchmark's
    columns). Dense X: a compiled loop over the rows. The upper triangle is mirrored.
    ``rec`` (n, r): the row records (:func:`_row_records`; ``wP`` its view), from which
    ``w_i p_i`` is gathered (the strided view's loop took 15% longer) and ``p_i`` as
    ``(w_i p_i) (1 / w_i)`` (no read of ``P``'s row: a row of weight 0, stored as ``1 / w_i
    = 0``, adds 0 either way), or an empty (0, 0) array. That ``p_i`` is within an ulp or
    two of ``P``'s, so ``1 - p_ik`` carries an absolute error of a few 1e-16 where ``p`` is
    near 1 (from ``P`` itself about 1e-16, ``P``'s own rounding): a curvature of a
    coordinate whose rows all have ``p`` within about 1e-14 of 1 may be a few 1e-16 times
    ``sum a_k`` instead of smaller still, or 0, which only makes that coordinate's model
    step shorter (a negative one is taken as 0, as before; the outer line search and KKT
    check see the true objective). Measured against the separate read of ``P``'s row:
    6.4-6.7 against 7.7-8.6 ms for the sparse benchmark's 5,000 block Hessians, and
    4-6% of the whole path when the exact ``sum_{m != k} p_im`` replaced ``1 - p_ik`` (the
    lead's review; docs/penalties.md, "Fourteenth pass")."""
    K = P.shape[0]
    if sparse:
        lo = indptr[j]
        r = indptr[j + 1] - lo
        E = K + K % 2
        AB = np.empty((2 * E, r))  # rows [0, E): x_ij^2 w_i p_ik; [E, 2 E): p_ik
        for t in range(r):
            i = indices[lo + t]
            x = 1.0 * data[lo + t]  # float64 (X may be float32)
            c = x * x
            if rec.shape[0]:
                row = rec[i]
                v = row[2 * K + 1]
                for k in range(K):
                    a = row[K + k]
                    AB[k, t] = c * a
                    AB[E + k, t] = a * v
                continue
            for k in range(K):
                AB[k, t] = c * wP[k, i]
                AB[E + k, t] = P[k, i]
        for k in range(K, E):
            AB[k] = 0.0
            AB[E + k] = 0.0
        _pair_products(AB, K, H)
    else:
        H[:] = 0.0
        for i in range(P.shape[1]):
            x = 1.0 * Xd[i, j]
            c = x * x
            if c == 0.0:
                continue
            for k in range(K):
                a = c * wP[k, i]
                H[k, k] += a * (1.0 - P[k, i])
                for m in range(k + 1, K):
                    H[k, m] -= a * P[m, i]
    for k in range(K):
        for m in range(k + 1, K):
            H[m, k] = H[k, m]


@compiled
def _sweep(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    features: Any,
    only_nonzero: bool,
    screen: float,
    P: Any,
    wP: Any,
    G: Any,
    lam1: Any,
    lam2: Any,
    group: bool,
    h: Any,
    evals: Any,
    evecs: Any,
    rms: Any,
    blocks: Any,
    ready: Any,
    passes: int,
    tol: float,
    winv: Any,
    W: Any,
    D: Any,
    pd: Any,
    rec: Any,
) -> float:
    """One cyclic pass over ``features``; returns the largest scaled change. The lasso's
    steps on a feature take two passes over its column when ``blocks`` holds the block
    Hessians of ``features`` (:func:`_lasso_block_steps`, with ``passes`` over its
    classes, cut short below ``BLOCK_PASS_FLOOR * tol``, reading the row records ``rec``
    when not empty; inlined here with its two passes,
    :func:`~mnlogit.objective.compiled.inlined`: no call and no reference counts of its 17
    arrays per feature), else one pass per class. With the block steps, the next feature's block
    Hessian is prefetched before a feature's steps (its lines are read after this feature's
    gradient pass has filled the cache with records: the replicated nonzero sweep at the
    sparse benchmark's captured call 96 took 0.2-0.5 ms less). With the row records, the
    block steps for every feature and at most ``LOCAL_DOUBLES`` classes, the sweep is
    :func:`_record_sweep`'s (the same steps; that nonzero sweep 5.2-5.3 -> 4.3-4.4 ms,
    docs/penalties.md, "Seventeenth pass")."""
    K = P.shape[0]
    if group and rec.shape[0] and K <= LOCAL_DOUBLES:
        return _group_record_sweep(
            indptr, indices, data, features, only_nonzero, G, lam1, lam2, evals, evecs, rms, W,
            rec,
        )  # fmt: skip
    by_block = blocks.shape[0] == features.shape[0]
    if by_block and rec.shape[0] and K <= LOCAL_DOUBLES and not group:
        return _record_sweep(
            Xd, indptr, indices, data, features, only_nonzero, screen, P, wP, G, lam1, lam2,
            h, blocks, ready, passes, tol, rms, W, rec,
        )  # fmt: skip
    biggest = 0.0
    work = np.empty((3, K))
    order = np.empty(K, dtype=np.int64)
    flat = blocks.reshape((blocks.shape[0], K * K))
    for t in range(features.shape[0]):
        j = features[t]
        if by_block and t + 1 < features.shape[0]:  # the next block Hessian, towards L1
            for c in range(0, K * K + LINE_DOUBLES - 1, LINE_DOUBLES):
                prefetch(flat, t + 1, min(c, K * K - 1))
        if only_nonzero:
            nz = False
            for k in range(K):
                if W[j, k] != 0.0:
                    nz = True
            if not nz:
                continue
        if group:
            change = _group_step(
                Xd, indptr, indices, data, sparse, j, P, wP, G, lam1[j], lam2[j],
                evals[j], evecs[j], W, D, pd, work, winv, rec,
            )  # fmt: skip
        elif by_block:
            change = _lasso_block_steps(
                Xd, indptr, indices, data, sparse, j, only_nonzero, screen, P, wP, G,
                lam1[j], lam2[j], h, blocks[t], ready[t : t + 1], winv, W, D, pd, work, order,
                passes, BLOCK_PASS_FLOOR * tol * rms[j], rec,
            )  # fmt: skip
        else:
            change = _lasso_steps(
                Xd, indptr, indices, data, sparse, j, only_nonzero, screen, P, wP, G,
                lam1[j], lam2[j], h, W, D, pd, order,
            )  # fmt: skip
        change /= rms[j]
        if change > biggest:
            biggest = change
    return biggest


@compiled
def _record_sweep(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    features: Any,
    only_nonzero: bool,
    screen: float,
    P: Any,
    wP: Any,
    G: Any,
    lam1: Any,
    lam2: Any,
    h: Any,
    blocks: Any,
    ready: Any,
    passes: int,
    tol: float,
    rms: Any,
    W: Any,
    rec: Any,
) -> float:
    """:func:`_sweep` on the sparse lasso's row records with the block steps (``rec`` (n, r)
    not empty, ``blocks`` (m, K, K) a block Hessian per feature of ``features`` (m,),
    ``K <= LOCAL_DOUBLES``): the same steps in the same order as
    :func:`_lasso_block_steps` with the records, written out in one loop with nothing else
    in it. The class gradients and steps live in local arrays
    (:func:`~mnlogit.solvers.local_array.local_doubles`), the block Hessian and the flag are
    indexed ``blocks[t, k, m]`` and ``ready[t]`` (no per-feature array views, so no
    reference counts per feature), and the group's, dense X's and per-class steps are not
    in its compiled body."""
    K = P.shape[0]
    if K > LOCAL_DOUBLES:  # (its local arrays hold LOCAL_DOUBLES classes; _sweep checks)
        raise ValueError("_record_sweep: more classes than LOCAL_DOUBLES")
    nf = features.shape[0]
    q, steps = local_doubles(), local_doubles()
    flat = blocks.reshape((nf, K * K))
    biggest = 0.0
    for t in range(nf):
        j = features[t]
        if t + 1 < nf:  # the next block Hessian, towards L1
            for c in range(0, K * K + LINE_DOUBLES - 1, LINE_DOUBLES):
                prefetch(flat, t + 1, min(c, K * K - 1))
        lam1j, lam2j = lam1[j], lam2[j]
        count = 0
        for k in range(K):
            if _stepped(h[j, k], W[j, k], G[j, k], only_nonzero, screen, lam1j):
                count += 1
        if count == 0:  # (with only_nonzero: every coordinate zero)
            continue
        _record_sums(indptr, indices, data, j, rec, K, q)
        if not ready[t]:  # the block Hessian, and the curvatures from its diagonal, if needed
            needed = False
            for k in range(K):
                if W[j, k] != 0.0 or abs(G[j, k] + q[k]) > lam1j:
                    needed = True
            if not needed:
                continue
            _lasso_block(Xd, indptr, indices, data, True, j, wP, P, blocks[t], rec)
            ready[t] = True
            for k in range(K):
                if h[j, k] == LAZY_CURVATURE:
                    h[j, k] = max(blocks[t, k, k], 0.0)
        floor = BLOCK_PASS_FLOOR * tol * rms[j]
        big = 0.0
        moved = False
        for k in range(K):
            steps[k] = 0.0
        for rep in range(passes):
            last = 0.0
            for k in range(K):
                hk = h[j, k]
                if not _stepped(hk, W[j, k], G[j, k], only_nonzero, screen, lam1j):
                    continue
                new = _soft_threshold(hk * W[j, k] - (G[j, k] + q[k]), lam1j, hk + lam2j)
                step = new - W[j, k]
                if step == 0.0:
                    continue
                W[j, k] = new
                steps[k] += step
                moved = True
                for m in range(K):
                    q[m] += blocks[t, k, m] * step
                change = (hk + lam2j) * abs(step)
                if change > last:
                    last = change
            if rep == 0:
                big = last
            if not moved or last <= max(BLOCK_PASS_TOL * big, floor):
                break
        for k in range(K):
            change = (h[j, k] + lam2j) * abs(steps[k])
            if change > big:
                big = change
        if moved:
            _record_steps(indptr, indices, data, j, K, steps, rec)
        big /= rms[j]
        if big > biggest:
            biggest = big
    return biggest


@compiled
def _group_record_sweep(
    indptr: Any,
    indices: Any,
    data: Any,
    features: Any,
    only_nonzero: bool,
    G: Any,
    lam1: Any,
    lam2: Any,
    evals: Any,
    evecs: Any,
    rms: Any,
    W: Any,
    rec: Any,
) -> float:
    """:func:`_sweep` for the group penalty on sparse X's row records (``rec`` (n, r) of
    :func:`_row_records`, ``K <= LOCAL_DOUBLES``): the steps of :func:`_group_step` in the
    same order (:func:`_group_block`), in one loop as :func:`_record_sweep` is for the
    lasso: the block's gradient, its eigenbasis vectors and its step live in local arrays
    (:func:`~mnlogit.solvers.local_array.local_doubles`, which the compiler keeps out of
    the records' way), not in rows of a work array passed in."""
    K = W.shape[1]
    if K > LOCAL_DOUBLES:  # (its local arrays hold LOCAL_DOUBLES classes; _sweep checks)
        raise ValueError("_group_record_sweep: more classes than LOCAL_DOUBLES")
    q, cp, up = local_doubles(), local_doubles(), local_doubles()
    biggest = 0.0
    for t in range(features.shape[0]):
        j = features[t]
        if only_nonzero:
            zero = True
            for k in range(K):
                if W[j, k] != 0.0:
                    zero = False
            if zero:
                continue
        _record_sums(indptr, indices, data, j, rec, K, q)
        lam2j = lam2[j]
        change = _group_block(j, q, G, W, evals[j], evecs[j], lam1[j], lam2j, cp, up, cp)
        if change > 0.0:
            _record_steps(indptr, indices, data, j, K, cp, rec)
        big = (evals[j, K - 1] + lam2j) * np.sqrt(change) / rms[j]
        if big > biggest:
            biggest = big
    return biggest


@compiled
def best_shift(row: Any, a: float) -> float:
    """The ``c`` minimizing ``sum_k a |row_k - c| + (1 - a)/2 (row_k - c)^2`` (glmnet's
    ``elc``): the mean for ``a = 0``; for ``a = 1`` the median, or of the median interval
    the point nearest 0 (the smallest move)."""
    K = row.shape[0]
    total = 0.0
    below = 0
    above = 0
    for k in range(K):
        total += row[k]
        if row[k] < 0.0:
            below += 1
        elif row[k] > 0.0:
            above += 1
    if a <= 0.0:
        return total / K
    if a >= 1.0 and _median_holds_zero(K, below, above):
        return 0.0
    w = np.sort(row)
    if a >= 1.0:
        lo = w[(K - 1) // 2]
        hi = w[K // 2]
        return min(max(0.0, lo), hi)
    # the subgradient a (#below - #above) + (1 - a)(K c - total) is increasing in c
    for m in range(K + 1):
        c = (total - a * (2 * m - K) / (1.0 - a)) / K
        left = w[m - 1] if m > 0 else -np.inf
        right = w[m] if m < K else np.inf
        if left <= c <= right:
            return c
    for m in range(K):  # a kink: 0 lies in the subdifferential at w[m]
        c = w[m]
        below = 0
        above = 0
        for k in range(K):
            if w[k] < c:
                below += 1
            elif w[k] > c:
                above += 1
        smooth = (1.0 - a) * (K * c - total)
        ties = K - below - above
        if a * (below - above - ties) + smooth <= 0.0 <= a * (below - above + ties) + smooth:
            return c
    return total / K


@compiled
def _median_holds_zero(K: int, below: int, above: int) -> bool:
    """Whether 0 lies in the median interval of ``K`` values of which ``below`` are below 0
    and ``above`` above (at most ``K // 2`` below: its upper end is >= 0; at most ``K - 1 -
    (K - 1) // 2`` above: its lower end is <= 0): then the lasso's row needs no shift
    (:func:`best_shift`), the common case once the rows are centred, found without
    sorting."""
    return below <= K // 2 and above <= K - 1 - (K - 1) // 2


@compiled
def _center_rows(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    features: Any,
    lam1: Any,
    lam2: Any,
    W: Any,
    D: Any,
    pd: Any,
) -> None:
    """Shift each row ``W_j`` by the constant that minimizes its penalty.

    The loss, and its quadratic model, do not change when a constant is added to a
    feature's ``K`` coefficients (the linear predictor moves by the same amount in every
    class), so the shift only lowers the penalty. Coordinate steps cannot find it along
    that flat direction: glmnet re-centres the same way. ``D`` moves with ``W``
    (``d_ik -= x_ij c`` in every class, ``pd_i -= x_ij c``). The lasso's no-shift case is
    found here, before :func:`best_shift`'s call and its row view (a sweep's 5,000 rows of
    the sparse benchmark's captured call 96: 0.19-0.20 -> 0.12-0.13 ms).
    """
    K = W.shape[1]
    for t in range(features.shape[0]):
        j = features[t]
        nz, below, above = False, 0, 0
        for k in range(K):
            v = W[j, k]
            if v != 0.0:
                nz = True
            if v < 0.0:
                below += 1
            elif v > 0.0:
                above += 1
        if not nz:
            continue
        strength = lam1[j] + lam2[j]
        a = lam1[j] / strength if strength > 0.0 else 0.0
        if a >= 1.0 and _median_holds_zero(K, below, above):
            continue
        c = best_shift(W[j], a)
        if c == 0.0:
            continue
        for k in range(K):
            W[j, k] -= c
        if sparse:
            for q in range(indptr[j], indptr[j + 1]):
                i = indices[q]
                v = data[q] * c
                for k in range(K):
                    D[k, i] -= v
                pd[i] -= v
        else:
            for i in range(D.shape[1]):
                v = Xd[i, j] * c
                for k in range(K):
                    D[k, i] -= v
                pd[i] -= v


@compiled
def _intercept_sweep(w: Any, P: Any, g0: Any, b: Any, D: Any, pd: Any) -> float:
    """Exact coordinate steps on the (unpenalized) intercepts; returns the largest change."""
    K = P.shape[0]
    n = P.shape[1]
    biggest = 0.0
    for k in range(K):
        g = g0[k]
        hk = 0.0
        for i in range(n):
            g += w[i] * P[k, i] * (D[k, i] - pd[i])
            hk += w[i] * P[k, i] * (1.0 - P[k, i])
        if hk <= 0.0:
            continue
        step = -g / hk
        b[k] += step
        for i in range(n):
            D[k, i] += step
            pd[i] += P[k, i] * step
        change = hk * abs(step)
        if change > biggest:
            biggest = change
    return biggest


@compiled
def _intercept_hessian(w: Any, P: Any, use: bool) -> Any:
    """The intercepts' block Hessian ``sum_i w_i (diag(p_i) - p_i p_i^T)`` (K, K) when
    ``use`` (with the lasso's block steps, and for the group penalty with sparse X: the
    row-major arrays), else an empty (0, 0) array (:func:`_intercepts` steps class by
    class)."""
    K = P.shape[0] if use else 0
    H = np.zeros((K, K))
    for i in range(P.shape[1]):
        for k in range(K):
            a = w[i] * P[k, i]
            H[k, k] += a
            for m in range(k, K):
                H[k, m] -= a * P[m, i]
    for k in range(K):
        for m in range(k + 1, K):
            H[m, k] = H[k, m]
    return H


@compiled
def _intercepts(
    w: Any, P: Any, wP: Any, g0: Any, H0: Any, b: Any, D: Any, pd: Any, rec: Any, lift: Any
) -> float:
    """:func:`_intercept_sweep`, or with the intercepts' block Hessian ``H0`` (K, K) (when
    given, not (0, 0)) the same steps in two passes over the rows instead of two per class
    (as :func:`_lasso_block_steps`: all gradients, the steps in class order each updating
    the later gradients through ``H0``, all moves; with the row records ``rec`` (n, r), of
    which ``wP``, ``D`` and ``pd`` are views, the passes read the records, ``p_ik`` as
    ``(w_i p_ik) / w_i``). With the records and ``lift`` (K,) (not empty) the move is left
    to the caller: the steps are written to ``lift`` (overwritten, not added: the caller
    applies and clears it between two calls), and the records must be moved by them
    (:func:`_record_intercept_move`, or :func:`_record_snapshot` in its pass) before they
    are read again."""
    K = P.shape[0]
    if H0.shape[0] != K:
        return _intercept_sweep(w, P, g0, b, D, pd)
    q = g0.copy()
    steps = np.zeros(K)
    if rec.shape[0]:
        _record_intercept_gradient(rec, q)
    else:
        for i in range(P.shape[1]):
            e = pd[i]
            for k in range(K):
                q[k] += wP[k, i] * (D[k, i] - e)
    biggest = 0.0
    for k in range(K):
        hk = H0[k, k]
        if hk <= 0.0:
            continue
        step = -q[k] / hk
        steps[k] = step
        b[k] += step
        for m in range(K):
            q[m] += H0[k, m] * step
        if hk * abs(step) > biggest:
            biggest = hk * abs(step)
    if rec.shape[0] and lift.shape[0] == K:
        lift[:] = steps
        return biggest
    if rec.shape[0]:
        _record_intercept_move(rec, steps)
        return biggest
    for i in range(P.shape[1]):
        e = 0.0
        for k in range(K):
            D[k, i] += steps[k]
            e += P[k, i] * steps[k]
        pd[i] += e
    return biggest


@compiled
def _lift(rec: Any, lift: Any) -> None:
    """Move the row records ``rec`` (n, r) by the intercepts' pending steps ``lift`` (K,)
    (:func:`_intercepts`), if any, and zero them."""
    for k in range(lift.shape[0]):
        if lift[k] != 0.0:
            _record_intercept_move(rec, lift)
            break
    lift[:] = 0.0


@compiled
def _record_intercept_gradient(R: Any, q: Any) -> None:
    """Add ``sum_i (w_i p_ik) (d_ik - pd_i)`` over all rows of the records ``R`` (n, r) to
    ``q`` (K,) (summed in a local array, :func:`~mnlogit.solvers.local_array.local_doubles`,
    for at most ``LOCAL_DOUBLES`` classes, in ``q`` itself for more: the same sums; the
    benchmark's 20,000 records 0.17-0.18 -> 0.14-0.15 ms)."""
    K = q.shape[0]
    if K > LOCAL_DOUBLES:
        _record_column_sums(R, K, q)
        return
    acc = local_doubles()
    for k in range(K):
        acc[k] = q[k]
    _record_column_sums(R, K, acc)
    for k in range(K):
        q[k] = acc[k]


@inlined
def _record_column_sums(R: Any, K: int, acc: Any) -> None:
    """``acc[k] += sum_i (w_i p_ik) (d_ik - pd_i)`` for ``k < K`` over all rows of the
    records ``R`` (n, r), in row order (indexed ``R[i, k]``: no row views)."""
    for i in range(R.shape[0]):
        e = R[i, 2 * K]
        for k in range(K):
            acc[k] += R[i, K + k] * (R[i, k] - e)


@compiled
def _record_intercept_move(R: Any, steps: Any) -> None:
    """``d_ik += steps_k`` and ``pd_i += (sum_k (w_i p_ik) steps_k) / w_i`` over all rows of
    the records ``R`` (n, r)."""
    K = steps.shape[0]
    for i in range(R.shape[0]):
        row = R[i]
        e = 0.0
        for k in range(K):
            e += row[K + k] * steps[k]
        for k in range(K):
            row[k] += steps[k]
        row[2 * K] += e * row[2 * K + 1]


#: The lasso's first sweep of an inner solve steps the zero coordinates whose gradient at
#: the model's centre is at least this fraction of their threshold ``lam1`` (and every
#: nonzero one); the full sweeps after it step all (:func:`_stepped`; measured in
#: docs/penalties.md, "Sixth pass").
FIRST_SWEEP_SCREEN = 0.9
#: Iterates Anderson acceleration combines (the inner solver's active sweeps).
ANDERSON_DEPTH = 2
#: Group penalty: once the sweeps over the nonzero blocks have settled, the sweep that
#: confirms convergence visits only the zero blocks (the nonzero ones were just visited
#: in the last of those sweeps, each moving by at most the tolerance), instead of all.
GROUP_ZERO_CONFIRM = True
#: Lasso with dense X and per-class steps: each coordinate's curvature is computed at its
#: first step that needs it (:func:`_lasso_steps`) instead of for every strong coordinate at
#: the start of an inner solve (the zero coordinates that stay zero need none).
LAZY_DENSE = True


@compiled
def _zero_rows(features: Any, W: Any, settled: bool) -> Any:
    """The features of ``features`` (m,) whose row of ``W`` (p, K) is all zero when
    ``settled`` (the group's sweeps over its nonzero blocks have settled) and
    ``GROUP_ZERO_CONFIRM``; else all of ``features``."""
    K = W.shape[1]
    if not (settled and GROUP_ZERO_CONFIRM):
        return features
    out = np.empty(features.shape[0], dtype=features.dtype)
    count = 0
    for t in range(features.shape[0]):
        j = features[t]
        zero = True
        for k in range(K):
            if W[j, k] != 0.0:
                zero = False
        if zero:
            out[count] = j
            count += 1
    return out[:count]


@compiled
def _model_value(
    features: Any,
    w: Any,
    wP: Any,
    G: Any,
    g0: Any,
    lam1: Any,
    lam2: Any,
    group: bool,
    W: Any,
    W0: Any,
    b: Any,
    b0: Any,
    D: Any,
    pd: Any,
) -> float:
    """The quadratic model plus the penalty at ``(W, b)`` (``D``, ``pd`` its predictor change)."""
    total = _model_linear(features, G, g0, lam1, lam2, group, W, W0, b, b0)
    K = W.shape[1]
    quad = 0.0
    for i in range(w.shape[0]):
        s = -w[i] * pd[i] * pd[i]
        for k in range(K):
            s += wP[k, i] * D[k, i] * D[k, i]
        quad += s
    return total + 0.5 * quad


@compiled
def _model_linear(
    features: Any,
    G: Any,
    g0: Any,
    lam1: Any,
    lam2: Any,
    group: bool,
    W: Any,
    W0: Any,
    b: Any,
    b0: Any,
) -> float:
    """:func:`_model_value` without its quadratic term: the gradient's linear term plus the
    penalty (the quadratic term ``0.5 sum_i (sum_k w_i p_ik d_ik^2 - w_i pd_i^2)`` is summed
    row by row, with the row records in the passes that already read every row:
    :func:`_record_snapshot`, :func:`_anderson`)."""
    K = W.shape[1]
    total = 0.0
    for t in range(features.shape[0]):
        j = features[t]
        first = 0.0
        sq = 0.0
        for k in range(K):
            v = W[j, k]
            total += G[j, k] * (v - W0[t, k])
            first += abs(v)
            sq += v * v
        if group:
            first = np.sqrt(sq)
        total += lam1[j] * first + 0.5 * lam2[j] * sq
    for k in range(K):
        total += g0[k] * (b[k] - b0[k])
    return total


@compiled
def _copy_predictor(D: Any, flat: Any, load: bool) -> None:
    """Copy the ``(K, n)`` array ``D`` into ``flat`` (``K n``,) in ``D``'s own memory order
    (row-major for sparse X, class-major for dense X: both reads sequential), or back when
    ``load``."""
    K, n = D.shape
    if D.strides[0] < D.strides[1]:  # row-major (the transpose of an (n, K) array)
        for i in range(n):
            for k in range(K):
                if load:
                    D[k, i] = flat[i * K + k]
                else:
                    flat[i * K + k] = D[k, i]
    else:
        for k in range(K):
            for i in range(n):
                if load:
                    D[k, i] = flat[k * n + i]
                else:
                    flat[k * n + i] = D[k, i]


@compiled
def _copy_iterate(D: Any, pd: Any, rec: Any, flat: Any, pflat: Any, load: bool) -> None:
    """Copy the predictor change ``D`` (K, n) into ``flat`` (``K n``,) in ``D``'s memory order
    (:func:`_copy_predictor`) and ``pd`` (n,) into ``pflat`` (n,), or back when ``load``;
    with the row records ``rec`` (n, r) (:func:`_row_records`; not empty), of which ``D``
    and ``pd`` are views, row by row from the records (``flat`` row-major)."""
    if rec.shape[0] == 0:
        _copy_predictor(D, flat, load)
        if load:
            pd[:] = pflat
        else:
            pflat[:] = pd
        return
    K = D.shape[0]
    for i in range(rec.shape[0]):
        row = rec[i]
        if load:
            for k in range(K):
                row[k] = flat[i * K + k]
            row[2 * K] = pflat[i]
        else:
            for k in range(K):
                flat[i * K + k] = row[k]
            pflat[i] = row[2 * K]


@compiled
def _snapshot(
    features: Any, W: Any, b: Any, D: Any, pd: Any, rec: Any, slot: int, snaps: Any
) -> None:
    """Store the iterate in ``slot`` of the snapshot arrays ``(Ws, bs, Ds, pds)`` (``Ds``
    (depth, K n) in ``D``'s memory order; ``rec``: :func:`_copy_iterate`)."""
    Ws, bs, Ds, pds = snaps
    for t in range(features.shape[0]):
        Ws[slot, t] = W[features[t]]
    bs[slot] = b
    _copy_iterate(D, pd, rec, Ds[slot], pds[slot], False)


@compiled
def _record_snapshot(
    features: Any,
    W: Any,
    b: Any,
    w: Any,
    rec: Any,
    slot: int,
    snaps: Any,
    lift: Any,
    value: bool,
) -> float:
    """:func:`_snapshot` with the row records ``rec`` (n, r), in the same pass over them the
    intercepts' pending move ``lift`` (K,) (:func:`_intercepts`; each row moved as
    :func:`_record_intercept_move` moves it, before it is copied; ``lift`` is zeroed) and,
    when ``value``, the model's quadratic term at the stored iterate (as
    :func:`_model_value` sums it), returned (else 0). One pass instead of up to three (the
    move, the copy, :func:`_anderson`'s model value) over the records. Slot 0's ``D`` and
    ``pd`` are not copied: with the records :func:`_anderson` reads the later slots' only
    (slot 0's coefficients enter its differences; the support solves store and restore
    their slot 0 with :func:`_snapshot`)."""
    Ws, bs, Ds, pds = snaps
    for t in range(features.shape[0]):
        Ws[slot, t] = W[features[t]]
    bs[slot] = b
    K = lift.shape[0]
    flat, pflat = Ds[slot], pds[slot]
    lifting = False
    for k in range(K):
        if lift[k] != 0.0:
            lifting = True
    copy = slot > 0
    quad = 0.0
    for i in range(rec.shape[0] if lifting or copy or value else 0):
        if lifting:
            e = 0.0
            for k in range(K):
                e += rec[i, K + k] * lift[k]
            for k in range(K):
                rec[i, k] += lift[k]
            rec[i, 2 * K] += e * rec[i, 2 * K + 1]
        if copy:
            for k in range(K):
                flat[i * K + k] = rec[i, k]
            pflat[i] = rec[i, 2 * K]
        if value:
            s = -w[i] * rec[i, 2 * K] * rec[i, 2 * K]
            for k in range(K):
                s += rec[i, K + k] * rec[i, k] * rec[i, k]
            quad += s
    lift[:] = 0.0
    return quad


@compiled
def _restore(
    features: Any, W: Any, b: Any, D: Any, pd: Any, rec: Any, snaps: Any, slot: int
) -> None:
    """Put back the iterate stored in ``slot`` of the snapshot arrays."""
    Ws, bs, Ds, pds = snaps
    for t in range(features.shape[0]):
        W[features[t]] = Ws[slot, t]
    b[:] = bs[slot]
    _copy_iterate(D, pd, rec, Ds[slot], pds[slot], True)


@compiled
def _anderson(
    features: Any,
    w: Any,
    wP: Any,
    G: Any,
    g0: Any,
    lam1: Any,
    lam2: Any,
    group: bool,
    W: Any,
    b: Any,
    D: Any,
    pd: Any,
    rec: Any,
    start: Any,
    snaps: Any,
    now: float,
) -> bool:
    """Anderson extrapolation of the last ``ANDERSON_DEPTH + 1`` iterates, kept when it
    lowers the model's value (Bertrand and Massias 2021, for coordinate descent).

    The current iterate ``(W, b, D, pd)`` is the last one stored (slot ``ANDERSON_DEPTH``);
    the extrapolation is written over it and, when it does not lower the model, that slot
    is put back. The model's predictor change is linear in the coefficients, so the
    extrapolated ``D`` and ``pd`` are the same combination of the stored ones (``rec``:
    the row records, :func:`_copy_iterate`; with them the combination is written straight
    into the records and the model's value summed in the same pass,
    :func:`_record_extrapolate`). ``now``: the model's value at the current iterate
    (:func:`_record_snapshot`'s quadratic term plus :func:`_model_linear`), or NaN
    (then computed here).
    """
    Ws, bs, Ds, pds = snaps
    W0, b0 = start
    M = Ws.shape[0] - 1
    nf, K = Ws.shape[1], Ws.shape[2]
    A = np.empty((M, M))
    for m in range(M):  # A = U U^T, U's rows the differences of successive iterates
        for q in range(m, M):
            s = 0.0
            for t in range(nf):
                for k in range(K):
                    s += (Ws[m + 1, t, k] - Ws[m, t, k]) * (Ws[q + 1, t, k] - Ws[q, t, k])
            for k in range(K):
                s += (bs[m + 1, k] - bs[m, k]) * (bs[q + 1, k] - bs[q, k])
            A[m, q] = s
            A[q, m] = s
    A += (1e-10 * np.trace(A) + 1e-300) * np.eye(M)
    z = np.linalg.solve(A, np.ones(M))
    c = z / z.sum()
    if np.isnan(now):
        now = _model_value(features, w, wP, G, g0, lam1, lam2, group, W, W0, b, b0, D, pd)
    for t in range(nf):
        for k in range(K):
            v = 0.0
            for m in range(M):
                v += c[m] * Ws[m + 1, t, k]
            W[features[t], k] = v
    for k in range(K):
        v = 0.0
        for m in range(M):
            v += c[m] * bs[m + 1, k]
        b[k] = v
    if rec.shape[0]:
        tried = _model_linear(features, G, g0, lam1, lam2, group, W, W0, b, b0)
        tried += 0.5 * _record_extrapolate(c, Ds, pds, w, rec)
    else:
        flat = Ds[0]  # (slot 0 is no longer needed: the extrapolated D is built there)
        for q in range(flat.shape[0]):
            v = 0.0
            for m in range(M):
                v += c[m] * Ds[m + 1, q]
            flat[q] = v
        pflat = pds[0]
        for i in range(pflat.shape[0]):
            v = 0.0
            for m in range(M):
                v += c[m] * pds[m + 1, i]
            pflat[i] = v
        _copy_iterate(D, pd, rec, flat, pflat, True)
        tried = _model_value(features, w, wP, G, g0, lam1, lam2, group, W, W0, b, b0, D, pd)
    if tried < now:
        return True
    _restore(features, W, b, D, pd, rec, snaps, M)
    return False


@compiled
def _record_extrapolate(c: Any, Ds: Any, pds: Any, w: Any, rec: Any) -> float:
    """Write ``sum_m c_m`` of the snapshots ``1 ..`` of ``D`` and ``pd`` (``Ds`` (depth, n K)
    row-major, ``pds`` (depth, n); ``c`` (depth - 1,)) into the row records ``rec`` (n, r)
    and return the model's quadratic term there (as :func:`_model_value` sums it): the
    extrapolation, its copy into the records and the model's value in one pass."""
    M = c.shape[0]
    K = Ds.shape[1] // rec.shape[0] if rec.shape[0] else 0
    quad = 0.0
    for i in range(rec.shape[0]):
        for k in range(K):
            v = 0.0
            for m in range(M):
                v += c[m] * Ds[m + 1, i * K + k]
            rec[i, k] = v
        v = 0.0
        for m in range(M):
            v += c[m] * pds[m + 1, i]
        rec[i, 2 * K] = v
        s = -w[i] * rec[i, 2 * K] * rec[i, 2 * K]
        for k in range(K):
            s += rec[i, K + k] * rec[i, k] * rec[i, k]
        quad += s
    return quad


@compiled
def _model_curvatures(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    features: Any,
    w: Any,
    P: Any,
    group: bool,
    lasso_blocks: bool,
    curvatures: Any,
    p: int,
    lazy: bool,
    kept: Any,
    scratch: Any = None,
    eigen: tuple[Any, Any, Any] | None = None,
) -> tuple[Any, Any, Any, Any, Any]:
    """The quadratic model's curvatures for :func:`cd_quadratic`: the lasso's per-coordinate
    ``h`` (p, K) and, with ``lasso_blocks``, room for its block Hessians (m, K, K) (filled
    by the sweeps as features move) and flags (m,) of those filled, all False (else
    (0, K, K) and (0,)); or the group's block eigenvalues (p, K) and eigenvectors (p, K, K).
    From the given block Hessians ``curvatures`` when it has a row per feature, else from
    the columns; the lasso's per-class ``h`` left ``LAZY_CURVATURE`` when ``lazy`` (computed
    by the sweeps as they need them), or, with a ``kept`` array of shape (p, K), that array
    itself: the curvatures an earlier inner solve computed, reused (``LAZY_CURVATURE``
    where it computed none; the caller decides when they are still close enough). The
    block Hessians' room lies in ``scratch`` (s,) where it fits (:func:`_scratch_size`,
    after the snapshots), else is new. The group's ``eigen`` ``(evals (p, K), evecs (p, K,
    K), fresh (p,) of bool)``, when given with a row per feature of X: kept across inner
    solves, ``fresh[j]`` where feature ``j``'s pair holds a decomposition to use as it is
    (:func:`_block_curvatures` computes the others and sets their flags; the caller
    clears the flags when the centre has moved too far)."""
    K = P.shape[0]
    nf = features.shape[0]
    given = curvatures.shape[0] == nf
    reuse = lazy and not (lasso_blocks or group or given) and kept.shape[0] == p
    h = kept if reuse else np.zeros((p, K))
    blocks = np.zeros((0, K, K))
    if group and not given and eigen is not None and eigen[2].shape[0] == p:
        evals, evecs, fresh = eigen
        todo = np.empty(nf, dtype=features.dtype)
        count = 0
        for t in range(nf):
            if not fresh[features[t]]:
                todo[count] = features[t]
                count += 1
        if count:
            todo = todo[:count]
            _block_curvatures(Xd, indptr, indices, data, sparse, todo, w, P, evals, evecs)
            for t in range(count):
                fresh[todo[t]] = True
        return h, evals, evecs, blocks, np.zeros(0, dtype=np.bool_)
    evals = np.zeros((p if group else 0, K))
    evecs = np.zeros((p if group else 0, K, K))
    if group and given:
        _block_eigen(features, curvatures, evals, evecs)
    elif group:
        _block_curvatures(Xd, indptr, indices, data, sparse, features, w, P, evals, evecs)
    elif given:
        for t in range(nf):
            for k in range(K):
                h[features[t], k] = curvatures[t, k, k]
    elif reuse:  # (kept: its LAZY_CURVATURE entries are computed as the sweeps need them)
        pass
    elif lazy:  # (per coordinate, or with the block steps from the block Hessians' diagonals)
        for t in range(nf):
            for k in range(K):
                h[features[t], k] = LAZY_CURVATURE
    elif sparse:
        _sparse_curvatures(indptr, indices, data, features, w, P, h)
    else:
        _curvatures(Xd, indptr, indices, data, sparse, features, w, P, h)
    if lasso_blocks and not given and not group:
        at = (ANDERSON_DEPTH + 1) * (K * P.shape[1] + P.shape[1] + p * K)
        room = np.empty(0) if scratch is None else scratch
        blocks = _room(room, at, nf * K * K).reshape((nf, K, K))
    return h, evals, evecs, blocks, np.zeros(blocks.shape[0], dtype=np.bool_)


@compiled
def _active_values(indptr: Any, features: Any, W: Any) -> int:
    """Stored values of sparse X over the nonzero coordinates of ``features`` (the work of a
    sweep over them, in column reads)."""
    K = W.shape[1]
    total = 0
    for t in range(features.shape[0]):
        j = features[t]
        count = 0
        for k in range(K):
            if W[j, k] != 0.0:
                count += 1
        total += count * (indptr[j + 1] - indptr[j])
    return total


@compiled
def _signs_settled(features: Any, W: Any, signs: Any) -> bool:
    """Store the sign pattern of ``features``' rows in ``signs`` (m, K); return whether it
    equals the pattern stored there before."""
    K = W.shape[1]
    same = True
    for t in range(features.shape[0]):
        for k in range(K):
            v = W[features[t], k]
            s = 1 if v > 0.0 else (-1 if v < 0.0 else 0)
            if s != signs[t, k]:
                same = False
                signs[t, k] = s
    return same


#: Conjugate-gradient iterations allowed in one support solve (:func:`support_cg`).
SUPPORT_CG_ITER = 200
#: Whether a support solve runs to its end and then zeroes the coordinates that changed sign
#: (else it stops a coordinate at zero when a step reaches it and restarts on the rest).
SUPPORT_CG_PROJECT = True
#: Support solves allowed in one inner solve; after them the sweeps go on alone (a support
#: solve's projection need not lower the model, so this bounds any alternation).
SUPPORT_CG_CALLS = 4
#: A support solve stops at this fraction of the inner tolerance.
SUPPORT_CG_TOL = 0.5


@compiled
def _start_and_snapshots(
    features: Any, W: Any, b: Any, n: int, scratch: Any = None
) -> tuple[Any, Any, Any]:
    """The model's centre ``(W0 (m, K), b0 (K,))``, empty snapshot arrays ``(Ws, bs, Ds,
    pds)`` of ``ANDERSON_DEPTH + 1`` iterates (``Ds``, ``pds`` and ``Ws`` in ``scratch``
    (s,), laid out as :func:`_scratch_size` says, where they fit; else new), and the sign
    patterns' store (m, K) of :func:`_signs_settled`."""
    nf = features.shape[0]
    K = W.shape[1]
    depth = ANDERSON_DEPTH + 1
    W0 = np.empty((nf, K))
    for t in range(nf):
        W0[t] = W[features[t]]
    room = np.empty(0) if scratch is None else scratch
    snaps = (  # (Ws at its place for p features: the blocks' room after it does not move)
        _room(room, depth * (K * n + n), depth * nf * K).reshape((depth, nf, K)),
        np.empty((depth, K)),
        _room(room, 0, depth * K * n).reshape((depth, K * n)),
        _room(room, depth * K * n, depth * n).reshape((depth, n)),
    )
    signs = np.zeros((nf, K), dtype=np.int8)
    return (W0, b.copy()), snaps, signs


@compiled
def _support_solve(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    features: Any,
    w: Any,
    P: Any,
    wP: Any,
    G: Any,
    g0: Any,
    fit_intercept: bool,
    lam1: Any,
    lam2: Any,
    h: Any,
    rms: Any,
    W: Any,
    b: Any,
    D: Any,
    pd: Any,
    work: Any,
    tol: float,
    rec: Any,
    start: Any,
    snaps: Any,
) -> int:
    """One support solve (:func:`support_cg`), kept only when it lowers the model plus
    penalty (a projected solve need not); returns its products, negated when rejected (the
    iterate is then put back; ``rec``: the row records, :func:`_copy_iterate`)."""
    W0, b0 = start
    _snapshot(features, W, b, D, pd, rec, 0, snaps)
    before = _model_value(features, w, wP, G, g0, lam1, lam2, False, W, W0, b, b0, D, pd)
    products = support_cg(
        Xd, indptr, indices, data, sparse, features, w, P, wP, G, g0, fit_intercept, lam1,
        lam2, h, rms, W, b, D, pd, work, SUPPORT_CG_TOL * tol, SUPPORT_CG_ITER,
        SUPPORT_CG_PROJECT,
    )  # fmt: skip
    after = _model_value(features, w, wP, G, g0, lam1, lam2, False, W, W0, b, b0, D, pd)
    if after < before:
        return products
    _restore(features, W, b, D, pd, rec, snaps, 0)
    return -max(products, 1)


def cd_quadratic(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    features: Any,
    w: Any,
    P: Any,
    wP: Any,
    G: Any,
    g0: Any,
    fit_intercept: bool,
    lam1: Any,
    lam2: Any,
    group: bool,
    lasso_blocks: int,
    curvatures: Any,
    rms: Any,
    W: Any,
    b: Any,
    D: Any,
    tol: float,
    max_sweeps: int,
    support_newton: bool,
    work: Any,
    kept: Any,
    store: Any = None,
    eigen: tuple[Any, Any, Any] | None = None,
) -> tuple[int, int]:
    """Minimize the quadratic model plus the penalty over ``features`` (and the intercepts).

    Parameters
    ----------
    Xd, indptr, indices, data, sparse
        X as in :func:`linear_predictor`.
    features : ndarray of shape (m,) of int
        The columns that may move (the strong set).
    w, P, wP : ndarrays of shape (n,), (K, n), (K, n)
        Row weights (sum 1), probabilities at the centre ``W0``, ``w * P`` (``P``'s layout).
    G, g0 : ndarrays of shape (p, K) and (K,)
        The mean loss's gradient at ``W0`` (rows of ``features`` used) and intercept part
        (``fit_intercept``: whether the intercepts move).
    lam1, lam2 : ndarray of shape (p,)
        ``alpha * penalty_factor * l1_ratio`` and ``alpha * penalty_factor * (1 - l1_ratio)``.
    group, lasso_blocks : bool, int
        The group penalty; lasso: 0, or block steps with at most this many class passes.
    curvatures, kept : ndarrays of shape (m, K, K) or (0, K, K), and (p, K) or (0, K)
        The block Hessians of ``features`` (:func:`block_hessians`), or empty; the lasso's
        curvatures (dense X, lazy) carried from an earlier inner solve, ``LAZY_CURVATURE``
        where none is known, updated in place (:func:`_model_curvatures`), or empty.
    rms : ndarray of shape (p,)
        Weighted column RMS (changes are in standardized units).
    W, b, D : ndarrays of shape (p, K), (K,), (K, n)
        In: ``W0``, its intercepts, zeros; out: the model's minimizer (rows of ``features``
        changed), its intercepts, the change of the linear predictor.
    tol, max_sweeps : float, int
        Stop when a full sweep changes no coordinate by more than ``tol`` (curvature times
        step, per standardized unit of the column; see ``GROUP_ZERO_CONFIRM``).
    support_newton, work : bool, ndarray of shape (K, n)
        Lasso: support solves (:func:`_support_solve`) when the signs settle; scratch.
    store : ndarray of shape (s,), optional
        Room for the row records and, after them, the snapshots and block Hessians
        (:func:`records_buffer`, kept across inner solves), or none (then allocated here
        when needed; so is whatever does not fit).
    eigen : tuple of ndarrays of shapes (p, K), (p, K, K) and (p,) of bool, optional
        The group penalty's block Hessians' eigenvalues and eigenvectors kept across inner
        solves, and the flags of the features whose pair is used as it is (the others are
        computed and flagged; :func:`_model_curvatures`). None: all computed afresh.

    Returns
    -------
    (int, int)
        Sweeps done, and the support solves' Hessian-vector products.

    Notes
    -----
    The lasso's block steps with sparse X (``lasso_blocks`` > 0, more than
    ``BLOCK_MIN_CLASSES`` classes) and the group penalty's steps with sparse X keep the
    numbers a row visit reads in one row-major record per row (:func:`_row_records`):
    ``wP`` is copied in, the predictor change out into ``D`` at the end; every other
    kernel reads the records through strided views of the same array. This dispatch is
    plain Python (one call per inner solve), so numba compiles :func:`_descend` only for
    the layouts a fit uses, not both for every signature: the first compile of the sparse
    lasso, group and dense paths together 2.4 -> 1.8 minutes on the 2-core machine.
    """
    n = P.shape[1]
    K = P.shape[0]
    winv = _inverse_weights(w)
    # (K <= BLOCK_MIN_CLASSES: every feature takes the per-class steps, which the records
    # only slow: binary 40k x 4,000 paths 7-10% slower in the lead's review)
    if sparse and (group or (lasso_blocks > 0 and K > BLOCK_MIN_CLASSES)):
        R = _row_records(wP, winv, store)
        Dr = R[:, :K].T
        out = _descend(
            Xd, indptr, indices, data, sparse, features, w, P, R[:, K : 2 * K].T, G, g0,
            fit_intercept, lam1, lam2, group, lasso_blocks, curvatures, rms, W, b, Dr, tol,
            max_sweeps, support_newton, work, kept, R[:, 2 * K], R[:, 2 * K + 1], R,
            _scratch(store, n, K), _eigen(eigen, K),
        )  # fmt: skip
        D[:] = Dr
        return out
    return _descend(
        Xd, indptr, indices, data, sparse, features, w, P, wP, G, g0, fit_intercept, lam1,
        lam2, group, lasso_blocks, curvatures, rms, W, b, D, tol, max_sweeps, support_newton,
        work, kept, np.zeros(n), winv, np.zeros((0, 0)), np.zeros(0), _eigen(eigen, K),
    )  # fmt: skip


def _eigen(eigen: tuple[Any, Any, Any] | None, K: int) -> tuple[Any, Any, Any]:
    """``eigen`` (:func:`cd_quadratic`), or arrays with no rows in its place."""
    if eigen is None:
        return np.zeros((0, K)), np.zeros((0, K, K)), np.zeros(0, dtype=np.bool_)
    return eigen


def _scratch(store: Any, n: int, K: int) -> Any:
    """The part of ``store`` (:func:`records_buffer`) after the row records of ``n`` rows and
    ``K`` classes, or an empty array."""
    need = n * _record_width(K) + LINE_DOUBLES
    return np.zeros(0) if store is None or store.shape[0] < need else store[need:]


@compiled
def _descend(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    features: Any,
    w: Any,
    P: Any,
    wP: Any,
    G: Any,
    g0: Any,
    fit_intercept: bool,
    lam1: Any,
    lam2: Any,
    group: bool,
    lasso_blocks: int,
    curvatures: Any,
    rms: Any,
    W: Any,
    b: Any,
    D: Any,
    tol: float,
    max_sweeps: int,
    support_newton: bool,
    work: Any,
    kept: Any,
    pd: Any,
    winv: Any,
    rec: Any,
    scratch: Any,
    eigen: tuple[Any, Any, Any],
) -> tuple[int, int]:
    """:func:`cd_quadratic`'s sweeps, with ``pd`` (n,) zero, ``winv`` (n,) the inverse
    weights (:func:`_inverse_weights`), ``rec`` the row records (n, r) of which ``wP``,
    ``D``, ``pd`` and ``winv`` are views, or an empty (0, 0) array, ``scratch`` (s,)
    room for the snapshots and block Hessians (:func:`_scratch_size`), or empty, and
    ``eigen`` the group's kept block decompositions (:func:`_model_curvatures`; arrays with
    no rows when none are kept)."""
    n, p = P.shape[1], W.shape[0]
    newton = support_newton and not group
    h, evals, evecs, blocks, ready = _model_curvatures(
        Xd, indptr, indices, data, sparse, features, w, P, group, lasso_blocks > 0, curvatures, p,
        not newton and (lasso_blocks > 0 or (LAZY_DENSE and not sparse)), kept, scratch, eigen,
    )  # fmt: skip
    start, snaps, signs = _start_and_snapshots(features, W, b, n, scratch)
    H0 = _intercept_hessian(w, P, fit_intercept and (lasso_blocks > 0 or (group and sparse)))
    lift = np.zeros(P.shape[0] if rec.shape[0] else 0)  # (the intercepts' pending move)
    products, calls, sweeps, settled = 0, 0, 0, False
    while sweeps < max_sweeps:
        sweeps += 1
        each_sweep = fit_intercept and (not sparse or _active_values(indptr, features, W) >= n)
        screen = FIRST_SWEEP_SCREEN if sweeps == 1 and not group else 0.0
        big = _sweep(
            Xd, indptr, indices, data, sparse, _zero_rows(features, W, settled), False,
            screen, P, wP, G, lam1, lam2, group, h, evals, evecs, rms, blocks, ready,
            lasso_blocks, tol, winv, W, D, pd, rec,
        )  # fmt: skip
        if not group:
            _center_rows(Xd, indptr, indices, data, sparse, features, lam1, lam2, W, D, pd)
        if fit_intercept:
            big = max(big, _intercepts(w, P, wP, g0, H0, b, D, pd, rec, np.zeros(0)))
        if big <= tol and screen == 0.0:  # (after a screened sweep, a full sweep decides)
            break
        filled, settled = 0, group  # the loop below ends settled or out of sweeps
        while sweeps < max_sweeps:
            sweeps += 1
            big = _sweep(
                Xd, indptr, indices, data, sparse, features, True, 0.0, P, wP, G, lam1, lam2,
                group, h, evals, evecs, rms, blocks, ready, lasso_blocks, tol, winv, W, D, pd,
                rec,
            )  # fmt: skip
            if each_sweep:  # (the intercepts read all n rows: with few nonzeros, wait;
                # with the records, their move is left to the snapshot's pass)
                big = max(big, _intercepts(w, P, wP, g0, H0, b, D, pd, rec, lift))
            if big <= tol:
                _lift(rec, lift)
                break
            if newton and calls < SUPPORT_CG_CALLS and _signs_settled(features, W, signs):
                _lift(rec, lift)
                calls += 1
                got = _support_solve(
                    Xd, indptr, indices, data, sparse, features, w, P, wP, G, g0,
                    fit_intercept, lam1, lam2, h, rms, W, b, D, pd, work, tol, rec, start,
                    snaps,
                )  # fmt: skip
                products += abs(got)
                if got < 0:  # rejected: no more support solves in this inner solve
                    calls = SUPPORT_CG_CALLS
                filled = 0
                continue
            now = np.nan  # (the model's value at the last snapshot, from its pass)
            if rec.shape[0]:
                quad = _record_snapshot(
                    features, W, b, w, rec, filled, snaps, lift, filled == ANDERSON_DEPTH
                )  # fmt: skip
                if filled == ANDERSON_DEPTH:
                    now = _model_linear(
                        features, G, g0, lam1, lam2, group, W, start[0], b, start[1]
                    )
                    now += 0.5 * quad
            else:
                _snapshot(features, W, b, D, pd, rec, filled, snaps)
            filled += 1
            if filled == ANDERSON_DEPTH + 1:
                _anderson(
                    features, w, wP, G, g0, lam1, lam2, group, W, b, D, pd, rec, start, snaps, now
                )  # fmt: skip
                filled = 0
    return sweeps, products
