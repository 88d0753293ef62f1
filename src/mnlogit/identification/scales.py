"""Per-column magnitudes of X: the one helper that validation, collinearity and separation share.

- :func:`column_maxabs` -- each column's largest absolute value, over all rows or a subset
  (dense, any scipy.sparse format, integer or float), without an ``n x p`` temporary.
- :func:`as_divisors` -- those values made safe to divide by (1 for an all-zero column),
  as the collinearity and separation checks use them to put every column on scale 1.
- :func:`column_scales` -- the scales the objective divides X by: 1 except for columns of
  extreme magnitude.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.linalg.blas import dsyrk as _syrk

from mnlogit.exceptions import InvalidInputError
from mnlogit.objective.blocks import column_read_blocks, row_blocks

__all__ = [
    "FEATURE_RANGE",
    "ROW_SAMPLE_STEP",
    "SCALE_HIGH",
    "SCALE_LOW",
    "ColumnSums",
    "RowSample",
    "as_divisors",
    "check_column_range",
    "column_maxabs",
    "column_maxabs_and_gram",
    "column_scales",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Columns whose largest absolute value lies in ``[SCALE_LOW, SCALE_HIGH]`` keep scale 1 in
#: :func:`column_scales`.
SCALE_LOW, SCALE_HIGH = 1e-3, 1e3
#: The largest absolute values a fitted column may have (zero columns aside): a column's
#: coefficient is of order ``1 / max|x|``, which float64 holds with full precision only
#: inside this range (a subnormal column would need a coefficient near 1e310, a column
#: at 1.7e308 one near 1e-308 with a subnormal internal scale 1/s).
FEATURE_RANGE = (1e-300, 1e300)


#: Stored values per chunk of :func:`_csr_maxabs` (an 8 MB float64 temporary).
_MAXABS_CHUNK = 2**20
#: Numbers per row of the view :func:`_fold_maxabs` reduces: a reduction over axis 0 of
#: a C-ordered ``(r, p)`` chunk runs its inner loop over only ``p`` numbers, of the
#: ``(r / f, f p)`` view over ``f p`` (1M x 50 float64, one thread: the maximum and
#: minimum 0.115 s -> 0.06 s with ``f = 32``). ``f`` is the power of two nearest below
#: ``_FOLD_WIDTH / p``, between 32 and 256 (2M x 10, one thread: 0.027 s with ``f = 32``,
#: 0.021 s with ``f = 128``; issue-tall8). The maximum and minimum are exact whatever
#: the order, so ``f`` changes no result.
_FOLD_WIDTH = 2048
_FOLD_ROWS_MIN, _FOLD_ROWS_MAX = 32, 256
#: :func:`column_maxabs_and_gram` with ``gram="sample"``: the Gram matrix of every
#: ``ROW_SAMPLE_STEP``-th row (rows ``0, s, 2s, ...``), for the collinearity check's
#: certificate (:func:`mnlogit.identification.collinearity.certify_full_rank`).
ROW_SAMPLE_STEP = 16
#: :func:`column_maxabs_and_gram` with ``gram="sample"`` reads a C-contiguous float64 ``X``
#: of at least this many numbers by the compiled one-pass kernels
#: (:mod:`mnlogit.identification.column_kernels`; docs/benchmarks.md, the lead's runs of
#: the twelfth pass: 1M x 50 0.103 -> 0.054 s, 100k x 20 5.1 -> 1.8 ms, one thread), and
#: each thread's rows hold at least this many numbers.
COMPILED_READ_MIN_ELEMENTS = 2**20
#: Numbers per copy of sampled rows whose Gram matrix one ``syrk`` adds (the compiled read).
SAMPLE_CHUNK_ELEMENTS = 2**16


def _fold_rows(p: int) -> int:
    """Rows laid side by side by :func:`_fold_maxabs` for ``p`` columns (a power of two)."""
    f = _FOLD_ROWS_MIN
    while f * 2 <= _FOLD_ROWS_MAX and f * 2 * p <= _FOLD_WIDTH:
        f *= 2
    return f


def _fold_maxabs(chunk: NDArray[Any], out: FloatArray) -> None:
    """``out = max(out, max|chunk|)`` per column, for a C-contiguous ``(r, p)`` chunk.

    The chunk's first ``f * floor(r / f)`` rows (``f`` = :func:`_fold_rows`) are
    reduced as a ``(r / f, f p)`` view (the maximum and the minimum, no ``abs``
    temporary), then folded to ``p``; the remaining rows directly. A NaN gives NaN and
    an infinite value ``inf``, as ``np.abs(chunk).max(axis=0)`` does (``np.maximum``
    propagates NaN).
    """
    r, p = chunk.shape
    f = _fold_rows(p)
    q = (r // f) * f if chunk.flags.c_contiguous else 0
    if q:
        wide = chunk[:q].reshape(q // f, f * p)
        high = wide.max(axis=0).reshape(f, p).max(axis=0)
        low = wide.min(axis=0).reshape(f, p).min(axis=0)
        np.maximum(out, np.maximum(high, -low), out=out)
    if q < r:
        rest = chunk[q:]
        np.maximum(out, np.maximum(rest.max(axis=0), -rest.min(axis=0)), out=out)


def _csr_maxabs(M: Any) -> FloatArray:
    """:func:`column_maxabs` of a canonical CSR matrix from its stored values, a chunk at
    a time (``abs(X).max(axis=0)`` copies X and converts it to CSC: 3x X's memory)."""
    out = np.zeros(M.shape[1])
    data, indices = M.data, M.indices
    for start in range(0, data.size, _MAXABS_CHUNK):
        chunk = slice(start, start + _MAXABS_CHUNK)
        with np.errstate(invalid="ignore"):  # a NaN gives NaN, as abs(X).max does
            np.maximum.at(out, indices[chunk], np.abs(data[chunk], dtype=np.float64))
    return out


def column_maxabs(X: Any, rows: IntArray | None = None) -> FloatArray:
    """Largest absolute value of each column of ``X`` (over ``rows`` when given).

    A dense ``X`` is read in row chunks: each chunk's maximum and minimum are taken while
    it is still in cache (one read of X, no ``n x p`` temporary such as ``abs(X)``).
    Integer and boolean chunks are converted to float64 first, as negating the type's
    minimum would overflow. A NaN in a column makes its entry NaN, an infinite value
    makes it ``inf`` (what ``np.abs(X).max(axis=0)`` gives).

    Parameters
    ----------
    X : ndarray, np.matrix or scipy.sparse matrix/array of shape (n, p)
    rows : ndarray of int of shape (m,), optional
        Only these rows (a sparse ``X`` is then indexed as CSR). Default: every row.

    Returns
    -------
    ndarray of float64, shape (p,)
        Zeros when no row is selected (``n = 0`` or ``m = 0``).
    """
    M: Any = X
    p = M.shape[1]
    if (M.shape[0] if rows is None else rows.size) == 0:
        return np.zeros(p)
    if sp.issparse(X):  # X is Any: sp.issparse would narrow M to an untyped base class
        if rows is None and M.format == "csr" and M.has_canonical_format:
            return _csr_maxabs(M)
        sub: Any = M if rows is None else sp.csr_array(M)[rows]
        raw: Any = abs(sub).max(axis=0)
        dense = cast(Any, raw).todense() if sp.issparse(raw) else raw  # 1 x p sparse
        return np.asarray(dense, dtype=np.float64).ravel()
    if isinstance(M, np.ndarray) and M.ndim == 2:
        out = np.zeros(p)
        n_rows = M.shape[0] if rows is None else rows.size
        for sl in row_blocks(n_rows, p):
            # a plain ndarray (np.matrix would keep 2-d reductions)
            chunk = np.asarray(M[sl] if rows is None else M[rows[sl]])
            if chunk.dtype.kind in "iub":
                chunk = chunk.astype(np.float64)
            _fold_maxabs(chunk, out)
        return out
    sub = M if rows is None else M[rows]
    return np.asarray(np.maximum(sub.max(axis=0), -sub.min(axis=0)), dtype=np.float64).ravel()


class RowSample(NamedTuple):
    """Sums over a systematic sample of the rows of ``X``: every ``step``-th row.

    Attributes
    ----------
    step : int
        Rows ``0, step, 2 step, ...`` of ``X``.
    rows : int
        How many rows that is (``ceil(n / step)``).
    gram : ndarray of shape (p, p)
        ``X_sᵀ X_s`` of the sampled rows, on ``X``'s own scale (float64).
    colsum : ndarray of shape (p,)
        Their column sums.
    """

    step: int
    rows: int
    gram: FloatArray
    colsum: FloatArray


class ColumnSums(NamedTuple):
    """One read of a dense ``X`` (:func:`column_maxabs_and_gram`).

    Attributes
    ----------
    maxabs : ndarray of shape (p,)
        :func:`column_maxabs`.
    gram : ndarray of shape (p, p) or None
        ``XᵀX`` on ``X``'s own scale (float64); ``None`` when only the row sample's was
        summed (``gram="sample"``).
    colsum : ndarray of shape (p,)
        Column sums.
    class_rows : ndarray of shape (K, p), optional
        Row ``k``: the sum of the rows of class ``k``, times a common row weight (when
        the codes were given).
    sample : RowSample, optional
        The Gram matrix and column sums of every :data:`ROW_SAMPLE_STEP`-th row
        (``gram="sample"``).
    """

    maxabs: FloatArray
    gram: FloatArray | None
    colsum: FloatArray
    class_rows: FloatArray | None = None
    sample: RowSample | None = None


def column_maxabs_and_gram(
    X: NDArray[Any],
    codes: IntArray | None = None,
    n_classes: int = 0,
    weight: float = 1.0,
    *,
    gram: str = "full",
) -> ColumnSums:
    """:func:`column_maxabs` together with ``XᵀX`` and the column sums, in one read of a
    dense float64 ``X`` (each row chunk's maximum, minimum, sums and ``syrk`` while it is
    in cache), for the collinearity check of equally weighted rows -- and, given the
    rows' class codes, each class's column sums times ``weight`` (the constant part of
    the loss's gradient: the same products, on the same row blocks, as
    :func:`mnlogit.objective.kernels.class_sums` with every row weight ``weight``, which
    is then not one more read of ``X``).

    Parameters
    ----------
    X : ndarray of shape (n, p), float64
    codes : ndarray of int of shape (n,), optional
        Class codes ``0 .. n_classes - 1``.
    n_classes : int, default=0
        ``K`` (with ``codes``).
    weight : float, default=1.0
        Every row's weight in ``class_rows``.
    gram : {"full", "sample"}, default="full"
        ``"sample"``: instead of ``XᵀX``, the Gram matrix of every
        :data:`ROW_SAMPLE_STEP`-th row only (``ColumnSums.sample``; a sixteenth of the
        ``syrk`` work, the sampled rows taken from each block while it is in cache), for
        the collinearity check's certificate.

    Returns
    -------
    ColumnSums
        ``class_rows`` of shape ``(K, p)`` when ``codes`` is given: ``weight`` times
        the sum of each class's rows.
    """
    if gram not in ("full", "sample"):
        raise ValueError(f"gram must be 'full' or 'sample', got {gram!r}")
    n, p = X.shape
    sampled = gram == "sample"
    if sampled and _compiled_read(X):
        compiled_sums = _compiled_sample_read(X, codes, n_classes, weight)
        if compiled_sums is not None:
            return compiled_sums
    step = ROW_SAMPLE_STEP
    maxabs = np.zeros(p)
    upper = np.zeros((p, p), order="F")
    sample_colsum = np.zeros(p)
    colsum = np.zeros(p)
    class_rows = None if codes is None else np.zeros((n_classes, p))
    # columns beyond about 1e154 overflow the Gram matrix: the collinearity check then
    # discards it (it uses it for column scales within 1e-100 .. 1e100 only)
    # blocks of READ_ELEMENTS: each is read four times while in L2 (1M x 50: 0.184 ->
    # 0.170 s, 2M x 10: 0.082 -> 0.067 s against the 2^18 blocks; issue-speed10); the
    # class sums' blocks (mnlogit.objective.kernels.class_sums) are the same
    blocks = column_read_blocks(n, max(p, n_classes))
    ones = np.ones(blocks[0].stop - blocks[0].start if blocks else 0)
    with np.errstate(over="ignore", invalid="ignore"):
        for sl in blocks:
            chunk = X[sl]
            _fold_maxabs(chunk, maxabs)
            if sampled:
                # rows 0, step, 2 step, ... of X: this block's from its first such row
                sub = np.ascontiguousarray(chunk[(-sl.start) % step :: step])
                if sub.shape[0]:
                    upper = _syrk(1.0, sub.T, beta=1.0, c=upper, trans=0, overwrite_c=1)
                    sample_colsum += sub.sum(axis=0)
            else:
                # the upper triangle by syrk (half gemm's flops: 0.136 -> 0.112 s on 1M x 50)
                upper = _syrk(1.0, chunk.T, beta=1.0, c=upper, trans=0, overwrite_c=1)
            # the sums as a product with ones: chunk.sum(axis=0) of a C-ordered chunk
            # runs an inner loop of p numbers per row (issue-speed6, 2M x 10 in cache:
            # see docs/benchmarks.md)
            colsum += ones[: chunk.shape[0]] @ chunk
            if class_rows is not None and codes is not None:
                rows = chunk.shape[0]
                onehot = np.zeros((n_classes, rows))  # as class_sums: (K, rows) @ (rows, p)
                onehot[codes[sl], np.arange(rows)] = weight
                class_rows += onehot @ chunk
    full = np.triu(upper) + np.triu(upper, 1).T
    if sampled:
        sample = RowSample(step, -(-n // step), full, sample_colsum)
        return ColumnSums(maxabs, None, colsum, class_rows, sample)
    return ColumnSums(maxabs, full, colsum, class_rows)


def _compiled_read(X: NDArray[Any]) -> bool:
    """Whether :func:`column_maxabs_and_gram` reads ``X`` by the compiled kernels: a
    C-contiguous float64 ``X`` of at least :data:`COMPILED_READ_MIN_ELEMENTS` numbers
    (below it the NumPy read is as fast and no compiled code is loaded)."""
    from mnlogit.objective.compiled import HAVE_NUMBA

    return bool(
        HAVE_NUMBA
        and X.dtype == np.float64
        and X.flags.c_contiguous
        and X.size >= COMPILED_READ_MIN_ELEMENTS
    )


def _compiled_sample_read(
    X: FloatArray, codes: IntArray | None, n_classes: int, weight: float
) -> ColumnSums | None:
    """:func:`column_maxabs_and_gram` with ``gram="sample"`` by the compiled one-pass
    kernels (:mod:`mnlogit.identification.column_kernels`; the rows split over the
    threads :func:`~mnlogit.objective.threads.row_threads` allows) and the sampled
    rows' Gram matrix by ``syrk`` on copies of a few thousand of them at a time.

    Returns ``None`` when a column sum is not finite (``X`` holds a NaN or an infinity,
    or its sums overflow): the caller then reads ``X`` by NumPy, whose extremes carry
    them exactly.
    """
    from mnlogit.identification.column_kernels import column_sums_and_extremes
    from mnlogit.objective.threads import map_row_ranges, row_threads

    n, p = X.shape
    K = n_classes if codes is not None else 0

    def part(start: int, stop: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        high = np.full(p, -np.inf)
        low = np.full(p, np.inf)
        sums = np.zeros((max(K, 1), p))
        rows = np.empty(0, dtype=np.intp) if codes is None else codes[start:stop]
        column_sums_and_extremes(X[start:stop], rows, high, low, sums)
        return high, low, sums

    parts = map_row_ranges(part, n, row_threads(), COMPILED_READ_MIN_ELEMENTS // max(p, 1))
    high, low, sums = parts[0]
    for other_high, other_low, other_sums in parts[1:]:
        np.maximum(high, other_high, out=high)
        np.minimum(low, other_low, out=low)
        sums += other_sums
    colsum = sums.sum(axis=0)
    if not np.all(np.isfinite(colsum)):
        return None
    maxabs = np.maximum(high, -low)
    step = ROW_SAMPLE_STEP
    upper = np.zeros((p, p), order="F")
    sample_colsum = np.zeros(p)
    chunk_rows = max(256, SAMPLE_CHUNK_ELEMENTS // max(p, 1))
    for start in range(0, n, step * chunk_rows):
        sub = np.ascontiguousarray(X[start : min(start + step * chunk_rows, n) : step])
        upper = _syrk(1.0, sub.T, beta=1.0, c=upper, trans=0, overwrite_c=1)
        sample_colsum += sub.sum(axis=0)
    full = np.triu(upper) + np.triu(upper, 1).T
    sample = RowSample(step, -(-n // step), full, sample_colsum)
    class_rows = None if codes is None else sums * weight
    return ColumnSums(maxabs, None, colsum, class_rows, sample)


def as_divisors(maxabs: FloatArray) -> FloatArray:
    """``maxabs`` with 1 where it is not positive (an all-zero column), shape (p,).

    Dividing a column by its largest absolute value puts it on scale 1 and leaves an
    all-zero column zero.

    Parameters
    ----------
    maxabs : ndarray of shape (p,)
        :func:`column_maxabs` values.

    Returns
    -------
    ndarray of float64, shape (p,)
    """
    return np.asarray(np.where(maxabs > 0, maxabs, 1.0), dtype=np.float64)


def column_scales(X: Any, maxabs: FloatArray | None = None) -> FloatArray:
    """Internal column scales: 1, except for columns of extreme magnitude.

    A column whose largest absolute value lies outside ``[1e-3, 1e3]`` is scaled to
    largest absolute value 1; the others are left alone (scale 1). The objective works
    on ``X / s`` (without copying X), so features in wildly different units (1e-150 next
    to 1e150) are fitted as accurately as unit-scale ones and their Gram products do
    not overflow; coefficients, covariances and tests are reported on the original
    scale. The gradient convergence criterion applies to the scaled parameters, which
    makes it comparable across such columns.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
    maxabs : ndarray of shape (p,), optional
        :func:`column_maxabs` of ``X`` when already known.

    Returns
    -------
    ndarray of float64, shape (p,)
        1 also for all-zero and non-finite columns.
    """
    if X.shape[0] == 0:
        return np.ones(X.shape[1])
    s = np.array(column_maxabs(X) if maxabs is None else maxabs, dtype=np.float64)
    keep = ~np.isfinite(s) | (s == 0) | ((s >= SCALE_LOW) & (s <= SCALE_HIGH))
    s[keep] = 1.0
    return s


def check_column_range(maxabs: FloatArray, names: Sequence[str]) -> None:
    """Refuse columns whose largest absolute value is outside :data:`FEATURE_RANGE`.

    Parameters
    ----------
    maxabs : ndarray of shape (p,)
        :func:`column_maxabs` values (0 for an all-zero column, which is allowed).
    names : sequence of str, length p

    Raises
    ------
    InvalidInputError
        Naming the columns and their largest absolute values.
    """
    low, high = FEATURE_RANGE
    bad = np.flatnonzero((maxabs > 0) & ((maxabs < low) | (maxabs > high)))
    if bad.size:
        listed = ", ".join(f"{names[j]!r} (max |x| = {maxabs[j]:.3g})" for j in bad[:10])
        raise InvalidInputError(
            f"column(s) {listed} lie outside [{low:g}, {high:g}] in absolute value: their "
            "coefficients (of order 1/|x|) would leave float64's range or lose precision. "
            "Rescale them (change their units) and refit"
        )
