"""The loss Hessian kernel: ``Y_bᵀ (diag(P) - P Pᵀ) Y_b`` summed over a block of rows.

In reference-0 coordinates (classes ``1 .. K-1``) block ``(a, c)`` of the loss Hessian is
``Yᵀ diag(w P_a (I(a=c) - P_c)) Y`` with ``Y = [1, X diag(column_factor)]``. For dense
``X`` the whole matrix comes from one symmetric rank update per row sub-block:
``H = blockdiag_a(Yᵀ diag(w P_a) Y) − ZᵀZ`` with ``Z = [P_a √w Y]_a``: one BLAS ``syrk``
of the transposed work matrix ``[Zᵀ; Yᵀ]`` gives ``ZᵀZ`` and the block diagonal's
``ZᵀY`` together (half the flops of the ``K(K-1)/2`` separate Gram products, and near
peak speed). With few classes and wide enough blocks (:data:`PAIRWISE_MAX_FREE_CLASSES`,
:data:`PAIRWISE_MIN_COLUMNS`) each block ``(a, b)`` is instead one ``syrk`` of
``sqrt(|h_ab|) X`` of width ``p`` read straight from ``X``'s rows, its intercept border
one product with ``sqrt(|h_ab|)``, the column scaling applied to the sums (fewer flops:
the block diagonal's share of the work grows as ``K`` falls). In float64 with up to
:data:`NARROW_MAX_COLUMNS` columns and :data:`NARROW_MAX_FREE_CLASSES` free classes (two
classes: :data:`NARROW_BINARY_MAX_COLUMNS`), when numba is installed, a compiled kernel
takes precedence over both (:func:`narrow_pair_sums`, issue-speed9): the pairwise kernel's
sums ``Yᵀ diag(h_ab) Y`` without BLAS, each row tile transposed once and every ``4 x 4``
tile of column pairs sixteen dot products in registers, no scaled copy of ``X``; it was
faster than both BLAS kernels on every measured shape but the widest few (table at the
constants), 2.2x on 2M x 10, K = 4. It also takes the float32 preconditioner Hessians
(``float32=True``: float64 sums of float32 rows, faster than the float32 ``syrk``;
62,500 x 50, K = 3: 52 -> 20 ms, the lead's twelfth pass); every call without numba
keeps the BLAS kernels. Under
:func:`~mnlogit.objective.threads.single_blas_thread` the dense paths split their rows
over :func:`~mnlogit.objective.threads.row_threads` Python threads, each with its own
partial sum. Dense ``X`` may give
its probabilities as a function of row ranges (:data:`ProbabilityRows`), so that no
``n x K`` array is needed. Sparse ``X`` with few stored values
a row (one-hot codes) sums the products of its stored values
(:mod:`mnlogit.objective.pair_hessian`, work proportional to ``sum_i r_i²``); other sparse
``X`` takes the dense path, each sub-block of rows densified (``(rows, p)``, bounded by the
block size) just before its ``syrk``. Both replace ``K(K-1)/2`` weighted sparse Gram
products that spent most of their time in size passes and format conversions.

The result is an additive partial sum over row blocks (see
:mod:`mnlogit.objective.kernels` for the vocabulary). ``X_b`` is read in sub-blocks and
never copied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.blas import dsyrk as _syrk
from scipy.linalg.blas import ssyrk as _ssyrk

from mnlogit.objective.blocks import block_rows
from mnlogit.objective.compiled import HAVE_NUMBA, compiled
from mnlogit.objective.kernels import is_sparse
from mnlogit.objective.pair_hessian import dense_work, pair_hessian, pair_work
from mnlogit.objective.threads import map_row_ranges, row_threads

__all__ = [
    "COMBINED_MAX_ENTRIES",
    "HAVE_NUMBA",
    "HESSIAN_MIN_ROWS",
    "NARROW_BINARY_MAX_COLUMNS",
    "NARROW_MAX_COLUMNS",
    "NARROW_MAX_FREE_CLASSES",
    "NARROW_MIN_WORK",
    "NARROW_TILE_ROWS",
    "PAIRWISE_MAX_FREE_CLASSES",
    "PAIRWISE_MIN_COLUMNS",
    "SPLIT_MIN_BLOCKS",
    "ProbabilityRows",
    "load_compiled_kernel",
    "loss_hessian",
]

FloatArray = NDArray[np.float64]
#: ``rows(start, stop)``: the probabilities of classes ``1 .. K-1`` of rows
#: ``start:stop``, shape ``(stop - start, K-1)``, valid until the next call. Lets dense
#: ``X`` form its Hessian without an ``n x K`` probability array (each sub-block's
#: probabilities are computed just before its ``syrk``).
ProbabilityRows = Callable[[int, int], FloatArray]

# The work matrix Z is (rows, (K-1)(p+1)) wide -- the largest temporary of a fit -- so its
# sub-blocks follow the common block size in that width; but at least this many rows, as
# a syrk on fewer rows runs far below peak speed.
HESSIAN_MIN_ROWS = 256
#: Up to this many free classes ``K-1`` (reference-0 coordinates), the dense Hessian may be
#: formed block by block, one ``syrk`` of width ``p`` per block
#: (:func:`_pairwise_loss_hessian`: fewer flops than one of width ``m + p1`` whose
#: ``ZᵀY`` part is the block diagonal, a share that grows as ``1/(K-1)``) ...
PAIRWISE_MAX_FREE_CLASSES = 3
#: ... when ``p1`` is at least this for ``K-1`` free classes. Measured against the
#: transposed wide kernel of issue-speed6 (one thread, 400,000 rows, ``P`` given, seconds
#: pairwise / wide): ``K = 2``: p = 3 0.007 / 0.008, p = 10 0.016 / 0.028, p = 50 0.087 /
#: 0.176; ``K = 3``: p = 10 0.042 / 0.039, p = 15 0.066 / 0.061, p = 20 0.080 / 0.093,
#: p = 50 0.22 / 0.31; ``K = 4``: p = 10 0.076 / 0.050, p = 30 0.25 / 0.22, p = 50 0.41 /
#: 0.45 (the old rule, ``p1 >= 32`` for every ``K-1 <= 3``, was measured against the
#: untransposed wide kernel). ``K = 2`` needs two columns: the pairwise kernel needs one of ``X``.
PAIRWISE_MIN_COLUMNS = {1: 2, 2: 20, 3: 40}
#: The wide update forms ``ZᵀZ`` and the block diagonal by one ``syrk`` of ``[Zᵀ; Yᵀ]``
#: while ``(m + p1)²`` is at most this (8 MiB of float64, ``m + p1 <= 1024``).
COMBINED_MAX_ENTRIES = 2**20
#: Up to this many columns ``p1`` (intercept included) and :data:`NARROW_MAX_FREE_CLASSES`
#: free classes, the dense float64 Hessian is the compiled kernel's
#: (:func:`_narrow_loss_hessian`, when numba is installed): per pair of classes, ``4 x 4``
#: tiles of column pairs, each sixteen dot products along a tile of rows, no BLAS call.
#: Half the flops of the wide update, the same as the pairwise one without its scaled
#: copies of ``X``. Measured against both (one thread, ``P`` given, CPU seconds narrow /
#: best of pairwise and wide; docs/benchmarks.md, issue-speed9): 2M x 10, K = 4: 0.088 /
#: 0.196; 400k x 50, K = 3: 0.111 / 0.165; 200k x 100, K = 3: 0.182 / 0.208; 50k x 200,
#: K = 3: 0.157 / 0.136; 100k x 100, K = 4: 0.164 / 0.196; 50k x 100, K = 6: 0.196 /
#: 0.272; 20k x 100, K = 10: 0.231 / 0.273; 20k x 100, K = 12: 0.346 / 0.411; 20k x 50,
#: K = 20: 0.269 / 0.282; 50k x 30, K = 20: 0.28 / 0.27.
NARROW_MAX_COLUMNS = 128
#: ... (the kernel's sums, ``K(K-1)/2`` blocks of ``p1 x p1`` per thread, grow as ``K²``;
#: its lead over the wide ``syrk`` shrinks as ``(K-1) p1`` grows) ...
NARROW_MAX_FREE_CLASSES = 15
#: ... except for two classes (one ``syrk`` of width ``p``: the pairwise kernel), above
#: this many columns: 100k x 50 0.016 / 0.015, 100k x 100 0.043 / 0.036.
NARROW_BINARY_MAX_COLUMNS = 48
#: ... and only when the Hessian's work ``n (m + p1)²`` (``m = (K-1) p1``) is at least this
#: (the lead, at the merge): the compiled kernel's first call in a process loads its machine
#: code, about 0.12 s (a fresh process's first default fit of 20k x 10, K = 4: 0.151 s
#: against 0.034 s with the BLAS kernels; later fits 0.018 s either way), while below this
#: the BLAS kernels take about 25 ms or less, so a small one-off fit would pay more than
#: it can gain. 2M x 10, K = 4 is 3.9e9; 100k x 20, K = 5 1.6e9; 20k x 50, K = 6 1.9e9.
NARROW_MIN_WORK = 10**9
#: Rows of the compiled kernel's tiles (``Y`` transposed, ``(width, tile)``, the four
#: rows ``h Y_j`` of a column group, ``(4, tile)``, and the pair weights ``(pairs, tile)``
#: stay in L1/L2 while every product reads them). 128 before
#: issue-hess14, whose kernel holds four rows of ``h Y`` rather than ``p1``: kernel alone,
#: one thread, min of 6 rounds, 128 / 192 / 256 rows: 100k x 20, K = 5 17.7 / 16.9 /
#: 17.1 ms; 12.5k x 20, K = 5 1.96 / 1.89 / 1.91; float32 62.5k x 50, K = 3 16.6 / 15.7 /
#: 15.3; float32 125k x 10, K = 4 5.99 / 5.60 / 5.61 (the kernel before: 18.2, 2.02,
#: 19.0, 6.30).
NARROW_TILE_ROWS = 192
#: Rows are split over :func:`~mnlogit.objective.threads.row_threads` Python threads
#: (each its own partial sum) only when every thread gets at least this many sub-blocks.
SPLIT_MIN_BLOCKS = 8


def loss_hessian(
    X_b: Any,
    P1_b: FloatArray | ProbabilityRows,
    w_b: FloatArray | None,
    *,
    intercept: bool,
    column_factor: FloatArray | None = None,
    T: FloatArray | None = None,
    float32: bool = False,
    free_classes: int | None = None,
    compiled: bool = False,
) -> NDArray[Any]:
    """The loss Hessian's partial sum over one block of rows.

    Parameters
    ----------
    X_b : ndarray or sparse matrix of shape (m, p)
    P1_b : ndarray of shape (m, K-1), or ProbabilityRows
        The probabilities of classes ``1 .. K-1``, or (dense ``X_b`` only) a function
        that gives them for a range of rows (then ``free_classes`` is ``K-1``).
    w_b : ndarray of shape (m,), optional
        Row weights (``None``: 1).
    intercept : bool
    column_factor : ndarray of shape (p,), optional
        Column scaling of ``X_b``, applied before products.
    T : ndarray of shape (K-1, K-1), optional
        ``theta_ref0 = theta @ T``: the Hessian in the free coordinates
        ``(T ⊗ I) H (T ⊗ I)ᵀ`` instead of the reference-0 ones.
    float32 : bool, default=False
        Dense ``X_b``: a float32 ``syrk`` and a float32 result (twice as fast, half the
        memory: for preconditioners) -- unless the compiled kernel takes the call, whose
        float64 sums are faster still (then a float64 result).
    free_classes : int, optional
        ``K-1``; required when ``P1_b`` is a function.
    compiled : bool, default=False
        Take the compiled kernel wherever its shape rule applies, however small the
        work (:data:`NARROW_MIN_WORK` guards only against loading its machine code for
        one small fit): for the subsample Hessians of a fit whose full-data Hessian
        reaches that work and so loads the kernel anyway.

    Returns
    -------
    ndarray of shape ((K-1) * p1, (K-1) * p1)
        Symmetric; class-major blocks of ``p1 x p1``. Additive over row blocks.
    """
    w = np.ones(X_b.shape[0]) if w_b is None else w_b
    if callable(P1_b):
        if is_sparse(X_b) or free_classes is None:
            raise ValueError("probabilities by rows need dense X and free_classes")
        return _dense_loss_hessian(
            X_b, P1_b, w, column_factor, intercept, T, float32, k1=free_classes, compiled=compiled
        )
    if is_sparse(X_b):
        if X_b.format != "csr":  # row slices of CSC would rescan every column
            X_b = X_b.tocsr()
        k1, p1 = P1_b.shape[1], X_b.shape[1] + int(intercept)
        if pair_work(X_b, k1, intercept) < dense_work(X_b.shape[0], p1, k1):
            H = pair_hessian(X_b, P1_b, w, intercept, column_factor)
            if T is None:
                return H
            H4 = H.reshape(k1, p1, k1, p1)
            out = np.einsum("ac,cidj,bd->aibj", T, H4, T, optimize=True)
            return np.asarray(out).reshape(k1 * p1, k1 * p1)
    return _dense_loss_hessian(
        X_b, P1_b, w, column_factor, intercept, T, float32, compiled=compiled
    )


def _dense_rows(X: Any, start: int, stop: int) -> NDArray[Any]:
    """Rows ``start:stop`` of ``X`` as a dense array (a view of dense ``X``)."""
    if is_sparse(X):
        block: Any = X[start:stop]
        return np.asarray(block.toarray())
    return np.asarray(X[start:stop])


def _dense_loss_hessian(
    X: Any,
    P1: FloatArray | ProbabilityRows,
    w: FloatArray,
    column_factor: FloatArray | None,
    fit_intercept: bool,
    T: FloatArray | None,
    float32: bool = False,
    k1: int | None = None,
    compiled: bool = False,
) -> NDArray[Any]:
    """The dense-``X`` case of :func:`loss_hessian` (positional arguments).

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n, p)
        Sparse ``X`` is densified one sub-block of rows at a time.
    P1 : ndarray of shape (n, K-1), or ProbabilityRows
        The probabilities of classes ``1 .. K-1`` (or a function of a row range that
        gives them: no ``n x K`` array).
    w : ndarray of shape (n,)
        Row weights.
    column_factor : ndarray of shape (p,), optional
        Column scaling of X.
    fit_intercept : bool
    T : ndarray of shape (K-1, K-1), optional
        ``theta_ref0 = theta @ T``: the Hessian in the free coordinates
        ``(T ⊗ I) H (T ⊗ I)ᵀ``, formed directly -- each chunk's ``Z`` is transformed
        before its ``syrk`` and the block diagonal is spread over the blocks it maps to,
        so no second ``m x m`` array is ever made.
    float32 : bool, default=False
        A float32 ``syrk`` and a float32 result (twice as fast, half the memory: for
        preconditioners); float64 otherwise, and where the compiled kernel takes it.
    k1 : int, optional
        ``K-1`` when ``P1`` is a function.
    compiled : bool, default=False
        The compiled kernel wherever its shape rule applies (see :func:`loss_hessian`).

    Returns
    -------
    ndarray of shape ((K-1) * p1, (K-1) * p1)
    """
    n = X.shape[0]
    if callable(P1):
        rows: ProbabilityRows = P1
        if k1 is None:
            raise ValueError("probabilities by rows need k1")
    else:
        P1_all = P1
        rows = lambda a, b: P1_all[a:b]  # noqa: E731
        k1 = int(P1_all.shape[1])
    p1 = X.shape[1] + int(fit_intercept)
    work = X.shape[0] * (k1 * p1 + p1) ** 2
    if HAVE_NUMBA and _narrow_applies(p1, k1) and (compiled or work >= NARROW_MIN_WORK):
        return _narrow_loss_hessian(X, rows, w, column_factor, fit_intercept, k1, T)
    pairwise = k1 <= PAIRWISE_MAX_FREE_CLASSES and p1 >= PAIRWISE_MIN_COLUMNS.get(k1, 0)
    if T is None and pairwise:
        return _pairwise_loss_hessian(X, rows, w, column_factor, fit_intercept, k1, float32)
    off = int(fit_intercept)
    m = k1 * p1
    step = max(1, min(n, block_rows(m, HESSIAN_MIN_ROWS)))
    dtype = np.float32 if float32 else np.float64
    sqrt_w = np.sqrt(w)
    T_d = None if T is None else T.astype(dtype)

    def partial(lo: int, hi: int) -> tuple[NDArray[Any], NDArray[Any]]:
        return _wide_partial(X, rows, sqrt_w, column_factor, off, k1, T_d, dtype, step, lo, hi)

    parts = map_row_ranges(partial, n, row_threads(), SPLIT_MIN_BLOCKS * step)
    H, D = parts[0]
    for H_j, D_j in parts[1:]:
        H += H_j
        D += D_j
    if T is None:
        for a in range(k1):
            H[a * p1 : (a + 1) * p1, a * p1 : (a + 1) * p1] += D[:, a * p1 : (a + 1) * p1]
    else:  # block (b, c) gains sum_a T[b, a] T[c, a] D_a (upper blocks only)
        D3 = D.reshape(p1, k1, p1)
        for b in range(k1):
            for c in range(b, k1):
                coef = (T[b] * T[c]).astype(dtype)
                H[b * p1 : (b + 1) * p1, c * p1 : (c + 1) * p1] += np.tensordot(
                    coef, D3, axes=([0], [1])
                )
    return _mirrored(H)


def _narrow_applies(p1: int, k1: int) -> bool:
    """Whether the compiled kernel's rule takes ``p1`` columns and ``k1`` free classes."""
    if k1 == 1:
        return p1 <= min(NARROW_MAX_COLUMNS, NARROW_BINARY_MAX_COLUMNS)
    return p1 <= NARROW_MAX_COLUMNS and k1 <= NARROW_MAX_FREE_CLASSES


def _wide_partial(
    X: Any,
    rows: ProbabilityRows,
    sqrt_w: FloatArray,
    column_factor: FloatArray | None,
    off: int,
    k1: int,
    T: NDArray[Any] | None,
    dtype: Any,
    step: int,
    lo: int,
    hi: int,
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Rows ``lo:hi`` of :func:`_dense_loss_hessian`: the upper triangle of ``-ZᵀZ``
    (Fortran order, free coordinates when ``T`` is given) and the block diagonal's
    ``D = Yᵀ Z``, shapes ``(m, m)`` and ``(p1, m)``; its own buffers (one per thread).

    Each sub-block's ``Z`` and ``Y`` are formed transposed, ``[Zᵀ; Yᵀ]`` of shape
    ``(m + p1, rows)``: the products then run along rows of ``rows`` numbers rather than
    ``p1`` (numpy's short inner loops were half the kernel on narrow ``X``), and in
    reference-0 coordinates one ``syrk`` of the whole work matrix gives ``ZᵀZ`` and
    ``ZᵀY = Dᵀ`` together (an unused ``YᵀY`` beside them) instead of a separate product
    ``Yᵀ Z``. One thread, ``P`` given: 1M x 10, K = 4: 0.21 s -> 0.13 s; 100k x 20,
    K = 5: 0.052 -> 0.045; 50k x 100, K = 10: 0.91 -> 0.85 (docs/benchmarks.md). Only
    while the combined matrix is small (:data:`COMBINED_MAX_ENTRIES`): its result is
    copied out of it, so a large one would hold two ``m x m`` arrays at once; beyond
    that, ``ZᵀZ`` by its own ``syrk`` and ``Yᵀ Z`` by a ``gemm``, still transposed.
    """
    p1 = X.shape[1] + off
    m = k1 * p1
    syrk = _ssyrk if dtype == np.float32 else _syrk
    work = np.empty((m + p1) * step, dtype=dtype)  # [Zᵀ; Yᵀ] of each sub-block, C order
    free = None if T is None else np.empty(m * step, dtype=dtype)
    combined = T is None and (m + p1) ** 2 <= COMBINED_MAX_ENTRIES
    width = m + p1 if combined else m
    S = np.zeros((width, width), order="F", dtype=dtype)
    D = np.zeros((p1, m), dtype=dtype)
    for start in range(lo, hi, step):
        stop = min(hi, start + step)
        r = stop - start
        W = work[: (m + p1) * r].reshape(m + p1, r)
        Y = W[m:]
        if off:
            Y[0] = sqrt_w[start:stop]
        np.multiply(
            _dense_rows(X, start, stop).T, sqrt_w[start:stop], out=Y[off:], casting="unsafe"
        )
        if column_factor is not None:
            Y[off:] *= column_factor[:, None]
        P = rows(start, stop)
        for a in range(k1):  # Z_aᵀ = P_a Yᵀ
            np.multiply(Y, P[:, a], out=W[a * p1 : (a + 1) * p1], casting="unsafe")
        if combined:
            S = syrk(-1.0, W.T, beta=1.0, c=S, trans=1, overwrite_c=1)
            continue
        Zt = W[:m]
        if T is not None and free is not None:  # block b of the free Z is sum_a T[b, a] Z_a
            Zt = free[: m * r].reshape(m, r)
            np.matmul(T, W[:m].reshape(k1, p1 * r), out=Zt.reshape(k1, p1 * r))
        S = syrk(-1.0, Zt.T, beta=1.0, c=S, trans=1, overwrite_c=1)
        D += Y @ W[:m].T
    if combined:
        D -= S[:m, m:].T  # the upper triangle's block (Z, Y) holds -ZᵀY
        return np.asfortranarray(S[:m, :m]), D
    return S, D


def _mirrored(H: NDArray[Any]) -> NDArray[Any]:
    """The Fortran-ordered ``H`` with its upper triangle mirrored into the lower one, in
    column blocks (small temporaries, no second ``m x m`` array), as a C-ordered view."""
    m = H.shape[0]
    block = 256
    for j0 in range(0, m, block):
        j1 = min(m, j0 + block)
        H[j1:, j0:j1] = H[j0:j1, j1:].T
        tile = H[j0:j1, j0:j1]
        tile[...] = np.triu(tile) + np.triu(tile, 1).T
    return np.ascontiguousarray(H.T)  # symmetric: the transpose is the C-ordered view


def _pairwise_loss_hessian(
    X: Any,
    rows: ProbabilityRows,
    w: FloatArray,
    column_factor: FloatArray | None,
    fit_intercept: bool,
    k1: int,
    float32: bool,
) -> NDArray[Any]:
    """:func:`_dense_loss_hessian` for few classes, reference-0 coordinates: block
    ``(a, b)`` is ``Yᵀ diag(h_ab) Y`` with ``h_aa = w P_a (1 - P_a) >= 0`` and
    ``h_ab = -w P_a P_b <= 0``, each one ``syrk`` of ``sqrt(|h_ab|) Y``.

    ``K(K-1)/2`` rank updates of width ``p1`` do ``(K-1)K/4 · n p1²`` multiply-adds,
    against ``n m²/2 + n m p1`` for one update of width ``m`` plus the block diagonal's
    product (``m = (K-1) p1``): 0.375 against 1 ``n m²`` for ``K = 3``.
    """
    n = X.shape[0]
    off = int(fit_intercept)
    p1 = X.shape[1] + off
    m = k1 * p1
    step = max(1, min(n, block_rows(2 * p1, HESSIAN_MIN_ROWS)))
    dtype = np.float32 if float32 else np.float64
    pairs = [(a, b) for a in range(k1) for b in range(a, k1)]

    def partial(lo: int, hi: int) -> dict[tuple[int, int], PairSums]:
        return _pairwise_partial(X, rows, w, pairs, dtype, step, lo, hi)

    parts = map_row_ranges(partial, n, row_threads(), SPLIT_MIN_BLOCKS * step)
    sums = parts[0]
    for part in parts[1:]:
        for pair in pairs:
            sums[pair] = PairSums(*(x + y for x, y in zip(sums[pair], part[pair], strict=True)))
    H = np.zeros((m, m), order="F", dtype=dtype)
    for (a, b), (G, border, total) in sums.items():
        full = np.triu(G) + np.triu(G, 1).T
        if column_factor is not None:  # the sums are of X: scale its columns now
            full *= np.outer(column_factor, column_factor).astype(dtype)
            border = border * column_factor.astype(dtype)
        block = H[a * p1 : (a + 1) * p1, b * p1 : (b + 1) * p1]
        block[off:, off:] = full
        if off:
            block[0, 0] = total
            block[0, 1:] = border
            block[1:, 0] = border
    return _mirrored(H)


class PairSums(NamedTuple):
    """One block ``(a, b)`` of :func:`_pairwise_loss_hessian`, summed over rows, on the
    scale of ``X``: ``gram = Xᵀ diag(h) X`` (upper triangle, shape ``(p, p)``, Fortran
    order), ``border = Xᵀ h`` (shape ``(p,)``) and ``total = sum h``."""

    gram: NDArray[Any]
    border: NDArray[Any]
    total: float


def _pairwise_partial(
    X: Any,
    rows: ProbabilityRows,
    w: FloatArray,
    pairs: list[tuple[int, int]],
    dtype: Any,
    step: int,
    lo: int,
    hi: int,
) -> dict[tuple[int, int], PairSums]:
    """Rows ``lo:hi`` of :func:`_pairwise_loss_hessian`: each block's :class:`PairSums`
    with ``h = ±w P_a (δ_ab − P_b)`` -- one ``syrk`` of ``sqrt(|h|) X`` and one product
    with ``sqrt(|h|)`` for its border, straight from the rows of ``X`` (no intercept
    column copied in, no column scaling: both are applied to the sums); its own buffers
    (one per thread)."""
    p = X.shape[1]
    syrk = _ssyrk if dtype == np.float32 else _syrk
    Vbuf = np.empty((step, p), dtype=dtype)
    hbuf = np.empty(step)
    h32 = np.empty(step, dtype=dtype)
    grams = {pair: np.zeros((p, p), order="F", dtype=dtype) for pair in pairs}
    borders = {pair: np.zeros(p, dtype=dtype) for pair in pairs}
    totals = dict.fromkeys(pairs, 0.0)
    for start in range(lo, hi, step):
        stop = min(hi, start + step)
        r = stop - start
        Xr = _dense_rows(X, start, stop)
        P = rows(start, stop)
        wr = w[start:stop]
        h = hbuf[:r]
        for a, b in pairs:
            if a == b:
                np.multiply(P[:, a], 1.0 - P[:, a], out=h)
            else:
                np.multiply(P[:, a], P[:, b], out=h)
            h *= wr
            alpha = 1.0 if a == b else -1.0
            totals[a, b] += alpha * float(h.sum())
            np.sqrt(h, out=h)
            V = Vbuf[:r]
            np.multiply(Xr, h[:, None], out=V, casting="unsafe")
            grams[a, b] = syrk(alpha, V.T, beta=1.0, c=grams[a, b], trans=0, overwrite_c=1)
            hv = h32[:r]
            hv[...] = h
            borders[a, b] += alpha * (hv @ V)
    return {pair: PairSums(grams[pair], borders[pair], totals[pair]) for pair in pairs}


def _narrow_loss_hessian(
    X: Any,
    rows: ProbabilityRows,
    w: FloatArray,
    column_factor: FloatArray | None,
    fit_intercept: bool,
    k1: int,
    T: FloatArray | None,
) -> FloatArray:
    """:func:`_dense_loss_hessian` for narrow ``X`` (:data:`NARROW_MAX_COLUMNS` and its
    companions) by the compiled kernel :func:`narrow_pair_sums`, float64.

    Block ``(a, b)`` is ``Yᵀ diag(h_ab) Y`` with ``h_ab = w P_a (δ_ab − P_b)`` (as in
    :func:`_pairwise_loss_hessian`), the column scaling applied to each row tile of
    ``X`` before the products, and ``T`` (free coordinates) to the assembled
    ``m x m`` matrix (one product of ``k1³ p1²`` multiply-adds, small beside the sums).
    Rows are split over :func:`~mnlogit.objective.threads.row_threads` Python threads (the compiled
    kernel releases the GIL), each with its own sums, added in row order.
    """
    n = X.shape[0]
    off = int(fit_intercept)
    p1 = X.shape[1] + off
    m = k1 * p1
    pairs = [(a, b) for a in range(k1) for b in range(a, k1)]
    step = max(1, min(n, block_rows(2 * p1, HESSIAN_MIN_ROWS)))

    width = -(-p1 // 4) * 4  # the kernel's 4 x 4 tiles
    scale = np.ones(X.shape[1]) if column_factor is None else np.asarray(column_factor, float)

    def partial(lo: int, hi: int) -> FloatArray:
        acc = np.zeros((len(pairs), width, width))
        for start in range(lo, hi, step):
            stop = min(hi, start + step)
            # C order: one compiled variant per dtype of X (a copy only for other layouts;
            # numba also compiles one per layout of the probabilities P)
            Xr = np.ascontiguousarray(_dense_rows(X, start, stop))
            P = rows(start, stop)
            narrow_pair_sums(Xr, scale, P, w[start:stop], off, NARROW_TILE_ROWS, acc)
        return acc

    parts = map_row_ranges(partial, n, row_threads(), SPLIT_MIN_BLOCKS * step)
    acc = parts[0]
    for part in parts[1:]:
        acc += part
    # every pair's upper triangle mirrored at once (not two triu calls a pair: 0.12-0.13
    # -> 0.03-0.06 ms a Hessian with K = 5, p = 20; issue-hess14)
    upper = np.triu(acc[:, :p1, :p1])
    blocks = upper + np.triu(upper, 1).transpose(0, 2, 1)
    H = np.empty((m, m))
    H4 = H.reshape(k1, p1, k1, p1)
    for q, (a, b) in enumerate(pairs):
        H4[a, :, b] = blocks[q]
        H4[b, :, a] = blocks[q]
    if T is None:
        return H
    out = np.asarray(np.einsum("ac,cidj,bd->aibj", T, H4, T, optimize=True)).reshape(m, m)
    upper = np.triu(out)  # exactly symmetric, as the other kernels' results
    return upper + np.triu(upper, 1).T


def load_compiled_kernel() -> bool:
    """Load the compiled Hessian kernel's machine code now (numba's on-disk cache; compiled
    the first time), for float64 and float32 rows and the probabilities' layouts the fits
    pass, rather than in the first fit whose
    Hessian reaches :data:`NARROW_MIN_WORK` (about 0.12-0.2 s once per process).

    For timings of steady-state fits (the benchmarks' warm-up); fits never need it.

    Returns
    -------
    bool
        Whether the compiled kernel exists (numba installed).
    """
    if not HAVE_NUMBA:
        return False
    full = np.full((2, 3), 1.0 / 3.0)
    # numba compiles per layout of the probabilities too: the fits pass P[:, 1:] of an
    # (n, K) array, the last pass Fortran-ordered rows, others contiguous ones
    layouts = (full[:, 1:], np.asfortranarray(full[:, 1:]), np.ascontiguousarray(full[:, 1:]))
    for dtype in (np.float64, np.float32):
        X = np.ones((2, 1), dtype=dtype)
        for P in layouts:
            _narrow_loss_hessian(X, _row_slices(P), np.ones(2), None, True, 2, None)
    return True


def _row_slices(P: FloatArray) -> ProbabilityRows:
    """``rows(start, stop)`` of a probability array (its rows ``start:stop``, a view)."""
    return lambda start, stop: P[start:stop]


@compiled
def _transposed_tile(X: Any, scale: Any, s: int, m: int, off: int, Y: Any) -> None:
    """Rows ``s .. s+m-1`` of ``X``, columns scaled, into ``Y[off:off+p, :m]`` (transposed,
    float64), eight rows at a time: each column's eight values go to eight consecutive
    entries of its row of ``Y`` (one row at a time wrote a value per row of ``Y``, 1 KiB
    apart: 100k x 20 1.4 -> 0.8 ms, 400k x 10 7.0 -> 2.8 ms, 200k x 50 18 -> 11 ms)."""
    p = X.shape[1]
    m8 = m - m % 8
    for r0 in range(0, m8, 8):
        b = s + r0
        for j in range(p):
            f = scale[j]
            row = j + off
            Y[row, r0] = X[b, j] * f
            Y[row, r0 + 1] = X[b + 1, j] * f
            Y[row, r0 + 2] = X[b + 2, j] * f
            Y[row, r0 + 3] = X[b + 3, j] * f
            Y[row, r0 + 4] = X[b + 4, j] * f
            Y[row, r0 + 5] = X[b + 5, j] * f
            Y[row, r0 + 6] = X[b + 6, j] * f
            Y[row, r0 + 7] = X[b + 7, j] * f
    for r in range(m8, m):
        for j in range(p):
            Y[j + off, r] = X[s + r, j] * scale[j]


@compiled
def _pair_weights(P: Any, w: Any, s: int, m: int, h: Any) -> None:
    """``h[q, :m]``: the weights ``w P_a (δ_ab − P_b)`` of rows ``s .. s+m-1`` for each pair
    ``a <= b`` (row-major order ``q``)."""
    k1 = P.shape[1]
    q = 0
    for a in range(k1):
        for b in range(a, k1):
            if a == b:
                for r in range(m):
                    pa = P[s + r, a]
                    h[q, r] = w[s + r] * pa * (1.0 - pa)
            else:
                for r in range(m):
                    h[q, r] = -w[s + r] * P[s + r, a] * P[s + r, b]
            q += 1


@compiled
def _remainder_strips(T: Any, Y: Any, m: int, j: int, full: int, p1: int, acc: Any) -> None:
    """:func:`narrow_pair_sums`' columns ``full .. p1-1`` (the last ``p1 % 4``) against the
    four rows ``T`` (``h Y_j .. h Y_{j+3}`` of one pair): a strip of four sums (five loads)
    for each such column ``Y_c``, not ``4 x 4`` tiles over the zero padding. Adds to ``acc``
    (``(q, q)``) entries ``(j .. j+3, c)`` over the first ``m`` rows."""
    for c in range(full, p1):
        c0 = c1 = c2 = c3 = 0.0
        for r in range(m):
            y = Y[c, r]
            c0 += T[0, r] * y
            c1 += T[1, r] * y
            c2 += T[2, r] * y
            c3 += T[3, r] * y
        acc[j, c] += c0
        acc[j + 1, c] += c1
        acc[j + 2, c] += c2
        acc[j + 3, c] += c3


@compiled
def _tile_and_column(T: Any, Y: Any, m: int, j: int, l: int, c: int, acc: Any) -> None:
    """:func:`narrow_pair_sums`' last ``4 x 4`` tile ``(j, l)`` of a group of four columns
    ``j`` and the one column ``c = p1 - 1`` past a multiple of four, together: twenty sums
    from nine loads (with AVX-512VL's 32 vector registers, none spilled), instead of
    the tile and a strip of four sums from five loads over the rows again (kernel alone,
    one thread, min of 5 rounds: 100k x 20, K = 5 16.9 -> 16.2 ms; 20k x 100, K = 10
    221 -> 213 ms). Adds to ``acc`` (``(q, q)``) over the first ``m`` rows."""
    c00 = c01 = c02 = c03 = c04 = c10 = c11 = c12 = c13 = c14 = 0.0
    c20 = c21 = c22 = c23 = c24 = c30 = c31 = c32 = c33 = c34 = 0.0
    for r in range(m):
        y0, y1, y2, y3, y4 = Y[l, r], Y[l + 1, r], Y[l + 2, r], Y[l + 3, r], Y[c, r]
        t0, t1, t2, t3 = T[0, r], T[1, r], T[2, r], T[3, r]
        c00 += t0 * y0
        c01 += t0 * y1
        c02 += t0 * y2
        c03 += t0 * y3
        c04 += t0 * y4
        c10 += t1 * y0
        c11 += t1 * y1
        c12 += t1 * y2
        c13 += t1 * y3
        c14 += t1 * y4
        c20 += t2 * y0
        c21 += t2 * y1
        c22 += t2 * y2
        c23 += t2 * y3
        c24 += t2 * y4
        c30 += t3 * y0
        c31 += t3 * y1
        c32 += t3 * y2
        c33 += t3 * y3
        c34 += t3 * y4
    for i, (s0, s1, s2, s3, s4) in enumerate(
        (
            (c00, c01, c02, c03, c04),
            (c10, c11, c12, c13, c14),
            (c20, c21, c22, c23, c24),
            (c30, c31, c32, c33, c34),
        )
    ):
        acc[j + i, l] += s0
        acc[j + i, l + 1] += s1
        acc[j + i, l + 2] += s2
        acc[j + i, l + 3] += s3
        acc[j + i, c] += s4


@compiled
def _remainder_triangle(hq: Any, Y: Any, m: int, full: int, p1: int, acc: Any) -> None:
    """The upper triangle of the last ``p1 - full`` columns of one pair, ``Σ h Y_i Y_c``
    (``full <= i <= c < p1``) over the first ``m`` rows, added to ``acc`` (``(q, q)``)."""
    for i in range(full, p1):
        for c in range(i, p1):
            c0 = 0.0
            for r in range(m):
                c0 += hq[r] * Y[i, r] * Y[c, r]
            acc[i, c] += c0


@compiled
def _tile_and_three(T: Any, Y: Any, m: int, j: int, l: int, acc: Any) -> None:
    """:func:`narrow_pair_sums`' group of four columns ``j`` against the three columns
    ``l .. l+2 = p1-3 .. p1-1`` past a multiple of four: twelve sums from seven loads, not a
    ``4 x 4`` tile over a zero column (issue-hess14). Adds to ``acc`` (``(q, q)``) over the
    first ``m`` rows."""
    c00 = c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = 0.0
    for r in range(m):
        y0, y1, y2 = Y[l, r], Y[l + 1, r], Y[l + 2, r]
        t0, t1, t2, t3 = T[0, r], T[1, r], T[2, r], T[3, r]
        c00 += t0 * y0
        c01 += t0 * y1
        c02 += t0 * y2
        c10 += t1 * y0
        c11 += t1 * y1
        c12 += t1 * y2
        c20 += t2 * y0
        c21 += t2 * y1
        c22 += t2 * y2
        c30 += t3 * y0
        c31 += t3 * y1
        c32 += t3 * y2
    for i, (s0, s1, s2) in enumerate(
        ((c00, c01, c02), (c10, c11, c12), (c20, c21, c22), (c30, c31, c32))
    ):
        acc[j + i, l] += s0
        acc[j + i, l + 1] += s1
        acc[j + i, l + 2] += s2


@compiled
def _triangle_of_three(hq: Any, Y: Any, m: int, l: int, acc: Any) -> None:
    """The upper triangle of the last three columns ``l .. l+2`` of one pair,
    ``Σ h Y_i Y_c``, six sums in one pass over the first ``m`` rows (not a ``4 x 4`` tile
    over a zero column), added to ``acc`` (``(q, q)``)."""
    c00 = c01 = c02 = c11 = c12 = c22 = 0.0
    for r in range(m):
        y0, y1, y2 = Y[l, r], Y[l + 1, r], Y[l + 2, r]
        h = hq[r]
        t0, t1, t2 = h * y0, h * y1, h * y2
        c00 += t0 * y0
        c01 += t0 * y1
        c02 += t0 * y2
        c11 += t1 * y1
        c12 += t1 * y2
        c22 += t2 * y2
    acc[l, l] += c00
    acc[l, l + 1] += c01
    acc[l, l + 2] += c02
    acc[l + 1, l + 1] += c11
    acc[l + 1, l + 2] += c12
    acc[l + 2, l + 2] += c22


@compiled
def narrow_pair_sums(X: Any, scale: Any, P: Any, w: Any, off: int, tile: int, acc: Any) -> None:
    """Add ``Yᵀ diag(h_ab) Y`` of a block of rows to ``acc`` (at least the upper triangles).

    ``Y = [1, X diag(scale)]`` (``off = 1``) or ``X diag(scale)`` (``off = 0``);
    ``h_aa = w P_a (1 - P_a)``, ``h_ab = -w P_a P_b``. The rows are walked in tiles of
    ``tile`` rows: each tile's ``Y`` is copied transposed and scaled (float64 whatever
    ``X``'s float dtype; scaled before the products, as in the wide kernel, so that a
    column near 1e200 with its factor near 1e-200 does not overflow;
    :func:`_transposed_tile`) beside its pair weights; then for each pair and each group
    of four columns ``j``, ``T = h_ab Y_j`` (four rows) and the products ``T_i · Y_l``
    along the tile's rows (contiguous, vectorized by the compiler) for the ``4 x 4``
    tiles of ``(j, l)`` on and above the diagonal, sixteen sums kept in registers (eight
    loads for sixteen multiply-adds; written out, as a call per tile measured 5-10%
    slower). ``T`` holds four rows, not the pair's ``p1`` (issue-hess14: less of L1
    taken beside ``Y``). The last ``p1 % 4`` columns take no ``4 x 4`` tiles over zero
    padding: one is summed with each group's last tile (:func:`_tile_and_column`,
    issue-hess14; ``p1 = 21``: 261 products a row and pair instead of 336); two take
    strips of four rows by one column (:func:`_remainder_strips`, issue-speed11) and their
    own upper triangle (:func:`_remainder_triangle`); three a ``4 x 3`` tile per group
    (:func:`_tile_and_three`) and their triangle in one pass
    (:func:`_triangle_of_three`, issue-hess14; before, padded tiles).

    Parameters
    ----------
    X : ndarray of shape (r, p), float32 or float64
    scale : ndarray of shape (p,), float64
        Column scaling of ``X``.
    P : ndarray of shape (r, K-1)
        The probabilities of classes ``1 .. K-1``.
    w : ndarray of shape (r,)
        Row weights.
    off : int
        1 with an intercept column, else 0.
    tile : int
        Rows per tile.
    acc : ndarray of shape (K(K-1)/2, q, q), float64
        ``q >= p1`` a multiple of 4. The sums, pair ``(a, b)`` (``a <= b``, row-major
        order) at index ``a (K-1) - a (a-1)/2 + b - a``; entries ``j <= l < p1`` (and
        those below the diagonal inside a diagonal ``4 x 4`` tile) are added to, the
        others are left as they are.
    """
    n, p = X.shape
    k1 = P.shape[1]
    npair, width = acc.shape[0], acc.shape[1]
    bad = width % 4 or width < p + off or acc.shape[2] != width or scale.shape[0] != p
    if bad or npair != k1 * (k1 + 1) // 2:
        raise ValueError("acc must be (K(K-1)/2, q, q) with q >= p1 a multiple of 4")
    p1 = p + off
    # columns in whole 4 x 4 tiles; the rest by strips where that saves products
    full = p1 - p1 % 4
    three = p1 % 4 == 3
    Y = np.zeros((width, tile))  # rows >= p1 are never read
    h = np.empty((npair, tile))
    T = np.empty((4, tile))
    for s in range(0, n, tile):
        m = min(tile, n - s)
        if off:
            Y[0, :m] = 1.0
        _transposed_tile(X, scale, s, m, off, Y)
        _pair_weights(P, w, s, m, h)
        for q in range(npair):
            for j in range(0, full, 4):
                for i in range(4):
                    for r in range(m):
                        T[i, r] = h[q, r] * Y[j + i, r]
                # one column past the tiles: with the last tile (see _tile_and_column)
                lend = full - 4 if p1 - full == 1 else full
                for l in range(j, lend, 4):
                    c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = 0.0
                    c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = 0.0
                    for r in range(m):
                        y0, y1, y2, y3 = Y[l, r], Y[l + 1, r], Y[l + 2, r], Y[l + 3, r]
                        t0, t1, t2, t3 = T[0, r], T[1, r], T[2, r], T[3, r]
                        c00 += t0 * y0
                        c01 += t0 * y1
                        c02 += t0 * y2
                        c03 += t0 * y3
                        c10 += t1 * y0
                        c11 += t1 * y1
                        c12 += t1 * y2
                        c13 += t1 * y3
                        c20 += t2 * y0
                        c21 += t2 * y1
                        c22 += t2 * y2
                        c23 += t2 * y3
                        c30 += t3 * y0
                        c31 += t3 * y1
                        c32 += t3 * y2
                        c33 += t3 * y3
                    acc[q, j, l] += c00
                    acc[q, j, l + 1] += c01
                    acc[q, j, l + 2] += c02
                    acc[q, j, l + 3] += c03
                    acc[q, j + 1, l] += c10
                    acc[q, j + 1, l + 1] += c11
                    acc[q, j + 1, l + 2] += c12
                    acc[q, j + 1, l + 3] += c13
                    acc[q, j + 2, l] += c20
                    acc[q, j + 2, l + 1] += c21
                    acc[q, j + 2, l + 2] += c22
                    acc[q, j + 2, l + 3] += c23
                    acc[q, j + 3, l] += c30
                    acc[q, j + 3, l + 1] += c31
                    acc[q, j + 3, l + 2] += c32
                    acc[q, j + 3, l + 3] += c33
                if lend < full:
                    _tile_and_column(T, Y, m, j, lend, full, acc[q])
                elif three:
                    _tile_and_three(T, Y, m, j, full, acc[q])
                else:
                    _remainder_strips(T, Y, m, j, full, p1, acc[q])
            if three:
                _triangle_of_three(h[q], Y, m, full, acc[q])
            else:
                _remainder_triangle(h[q], Y, m, full, p1, acc[q])
