"""Rank of the design ``[1, X]`` and the columns that are linear combinations of others.

:func:`detect_collinearity` follows the rule of R's ``lm`` (LINPACK ``dqrdc2``, "limited
column pivoting"): the design columns are visited in order, and a column is *aliased*
when the part of it that the previously kept columns do not explain is smaller than
``tol`` times its own length::

    || P_perp(kept before j) sqrt(W) x_j ||  <  tol * || sqrt(W) x_j ||       (tol = 1e-7)

Aliased columns are set aside and never used to explain later columns; every other
column is kept. So earlier columns win, the intercept (first) is never aliased, and the
rule does not depend on the scale of any column (both sides scale with ``x_j``). An
all-zero column is always aliased. Rows with zero weight are left out; the other rows
enter with ``sqrt(weight)``, as in R's ``lm.wfit``, so that a frequency weight of 2 is
the same as the row twice.

The computation works on an ``R`` factor of the column-scaled design: a Householder QR
of a dense copy of the design (``method="qr"``, on request), or -- the default, used by
``fit`` -- a pivoted Cholesky factor of the Gram matrix ``[1, X]ᵀ W [1, X]``
(``method="gram"``), which never copies or densifies X; as the Gram matrix resolves
relative residuals only to about 1e-8, every column it finds below 1e-5 is re-checked
on the data by corrected semi-normal equations. See ``docs/diagnostics.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.linalg import lapack

from mnlogit.exceptions import InvalidInputError
from mnlogit.identification.design import as_2d, design_terms, positive_weights
from mnlogit.identification.scales import ColumnSums, RowSample, as_divisors, column_maxabs
from mnlogit.objective.blocks import BLOCK_ELEMENTS, row_blocks

__all__ = [
    "CollinearityResult",
    "certify_full_rank",
    "collinearity_from_gram",
    "detect_collinearity",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: R's ``lm`` default tolerance for the limited-pivoting QR.
DEFAULT_TOL = 1e-7
#: Coefficients smaller than this (in units of the scaled columns) are left out of messages.
_SHOW_COEF = 1e-6
#: In the Gram path, columns whose residual from the Gram-based factor is below this are
#: re-checked on the data (the factor is only accurate to about 1e-8 relative).
_GRAM_SUSPECT = 1e-5
#: :func:`certify_full_rank`: the smallest certified relative residual (a lower bound
#: from a row sample) that keeps every column without the full Gram matrix -- ten times
#: the Gram path's own suspect threshold, a thousand times the default ``tol``.
SAMPLE_CERTIFIED = 1e-4
# A dense X enters the Gram matrix, and suspects are re-checked, in row chunks of
# mnlogit.objective.blocks.BLOCK_ELEMENTS numbers (2 MiB in float64): no n x p temporary.


@dataclass(frozen=True)
class CollinearityResult:
    """What :func:`detect_collinearity` found.

    Attributes
    ----------
    terms : tuple of str, length m
        The design columns, in order: ``"Intercept"`` first when ``fit_intercept``, then
        the feature names. ``m = p + fit_intercept``.
    rank : int
        Numerical rank of the design: the number of kept columns.
    kept : ndarray of shape (rank,)
        Indices into ``terms`` of the kept columns, increasing.
    aliased_index : ndarray of shape (m - rank,)
        Indices into ``terms`` of the aliased columns, increasing.
    coefficients : ndarray of shape (m - rank, m)
        Row ``a`` expresses aliased column ``aliased_index[a]`` through the kept columns
        before it, in the original units: ``design[:, aliased_index[a]] ≈ design @
        coefficients[a]`` on the rows with positive weight. Zero outside the kept columns
        that precede the aliased one.
    scaled_coefficients : ndarray of shape (m - rank, m)
        The same relation between the columns scaled to unit length (weighted, on the
        rows with positive weight): each entry is the size of that kept column's share
        in the aliased column, relative to the aliased column's length. Messages leave
        out terms below 1e-6 on this scale.
    relative_residuals : ndarray of shape (m,)
        For each column, the length of its part not explained by the kept columns before
        it, relative to its own length (the quantity compared with ``tol``; 0 for a zero
        column).
    tol : float
        The tolerance used.
    method : {"qr", "gram", "sample"}
        How the ``R`` factor was computed. ``"sample"``: no column is aliased, proved on a
        systematic row sample (:func:`certify_full_rank`); ``relative_residuals`` then
        hold certified lower bounds of the full data's residuals (each at least
        :data:`SAMPLE_CERTIFIED`), not the residuals themselves.
    fit_intercept : bool
        Whether ``terms[0]`` is the intercept.
    """

    terms: tuple[str, ...]
    rank: int
    kept: IntArray
    aliased_index: IntArray
    coefficients: FloatArray
    scaled_coefficients: FloatArray
    relative_residuals: FloatArray
    tol: float
    method: Literal["qr", "gram", "sample"]
    fit_intercept: bool

    @property
    def collinear(self) -> bool:
        """True when some column is aliased (the design is rank deficient)."""
        return self.rank < len(self.terms)

    @property
    def aliased(self) -> tuple[str, ...]:
        """Names of the aliased columns, in design order."""
        return tuple(self.terms[j] for j in self.aliased_index)

    @property
    def kept_features(self) -> IntArray:
        """Indices into the columns of X (not ``terms``) of the kept features, shape (r,)."""
        return np.asarray(self.kept[self.kept >= int(self.fit_intercept)] - int(self.fit_intercept))

    @property
    def aliased_features(self) -> IntArray:
        """Indices into the columns of X of the aliased features, shape (m - rank,)."""
        return np.asarray(self.aliased_index - int(self.fit_intercept))

    def combination(self, name: str, min_share: float = 1e-9) -> dict[str, float]:
        """The kept columns, and their coefficients, that an aliased column equals.

        Parameters
        ----------
        name : str
            One of :attr:`aliased`.
        min_share : float, default=1e-9
            Leave out terms whose :attr:`scaled_coefficients` entry is at most this in
            absolute value (rounding noise; 0 keeps every nonzero coefficient).

        Returns
        -------
        dict
            ``{kept term: coefficient in original units}``, in design order.
        """
        if name not in self.aliased:
            raise KeyError(f"{name!r} is not an aliased column (aliased: {list(self.aliased)})")
        a = self.aliased.index(name)
        row = self.coefficients[a]
        share = np.abs(self.scaled_coefficients[a])
        return {
            self.terms[j]: float(row[j])
            for j in self.kept
            if row[j] != 0.0 and share[j] > min_share
        }

    def _describe(self, a: int) -> str:
        name = self.terms[self.aliased_index[a]]
        combo = self.combination(name, min_share=_SHOW_COEF)
        if not combo:
            return f"{name!r} is zero on every row with positive weight"
        if self.fit_intercept and list(combo) == ["Intercept"]:
            return f"{name!r} is constant ({_fmt(combo['Intercept'])} on every row)"
        parts = [f"{_fmt(c)}*{t}" for t, c in combo.items()]
        return f"{name!r} = " + " + ".join(parts).replace("+ -", "- ")

    @property
    def message(self) -> str:
        """One paragraph naming the aliased columns and what they equal."""
        m = len(self.terms)
        if not self.collinear:
            return f"The design has full column rank ({self.rank} columns): no collinearity."
        k = m - self.rank
        lines = [
            f"The design has {m} columns but rank {self.rank}: {k} column"
            f"{'s are' if k > 1 else ' is'} (numerically) a linear combination of earlier "
            f"columns (relative tolerance {self.tol:g}) and would be aliased:"
        ]
        lines += [f"  {self._describe(a)}" for a in range(k)]
        lines.append(
            "Their coefficients are not identified. Remove or merge these columns, or fit "
            "with a penalty (penalty='l2') that makes the estimates unique."
        )
        return "\n".join(lines)


def _fmt(c: float) -> str:
    return f"{c:.6g}"


def _checked_tol(tol: float | None) -> float:
    """The relative tolerance: ``DEFAULT_TOL`` for None, else ``tol`` checked in (0, 1)."""
    tol = DEFAULT_TOL if tol is None else float(tol)
    if not 0.0 < tol < 1.0:
        raise InvalidInputError(f"tol must be in (0, 1), got {tol!r}")
    return tol


def detect_collinearity(
    X: Any,
    fit_intercept: bool = True,
    feature_names: Sequence[str] | None = None,
    sample_weight: Any = None,
    tol: float | None = None,
    *,
    method: Literal["auto", "qr", "gram"] = "auto",
    check_finite: bool = True,
    col_maxabs: FloatArray | None = None,
    column_sums: ColumnSums | None = None,
) -> CollinearityResult:
    """Find the columns of ``[1, X]`` that are linear combinations of earlier columns.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n, p)
        Features (a data frame's column names are used when ``feature_names`` is None).
    fit_intercept : bool, default=True
        Whether the design has an intercept column (first, never aliased).
    feature_names : sequence of str of length p, optional
        Names for messages; else data-frame columns, else ``x0, x1, …``.
    sample_weight : array-like of shape (n,), optional
        Non-negative weights; rows with zero weight are ignored, the others enter with
        ``sqrt(weight)``.
    tol : float, optional
        Relative tolerance in (0, 1); default ``1e-7`` (R's ``lm``).
    method : {"auto", "qr", "gram"}, default="auto"
        ``"qr"``: Householder QR of a column-scaled dense copy of the positive-weight rows
        of the design (copies n × (p+1) numbers). ``"gram"``: an ``R`` factor of the
        scaled Gram matrix (memory (p+1)², X neither copied nor densified), with every
        suspected column re-checked on the data by corrected semi-normal equations.
        ``"auto"``: ``"gram"``, so that fitting never copies ``X`` (the QR copy doubled the
        peak memory of a fit; see docs/benchmarks.md).
    check_finite : bool, default=True
        Refuse NaN and infinite values; ``fit`` passes False, having checked them.
    col_maxabs : ndarray of shape (p,), optional
        Each column's largest absolute value over all rows, when already known (used
        only when every row has positive weight).

    column_sums : ColumnSums, optional
        :func:`~mnlogit.identification.scales.column_maxabs_and_gram` of ``X`` (the
        ``"gram"`` method then reads ``X`` only to re-check suspected columns).
    Returns
    -------
    CollinearityResult
    """
    Xa, columns = as_2d(X, check_finite=check_finite)
    n, p = Xa.shape
    terms = design_terms(p, fit_intercept, feature_names if feature_names is not None else columns)
    tol = _checked_tol(tol)
    w = positive_weights(sample_weight, n)
    # Equal weights (no weights, or all alike: their max-normalized square roots are all
    # exactly 1) need none of the n-vectors below: sw is None means every row, unit weight
    # (on 2M rows they were 0.08 s of a 1 s fit, tall-2m-10-4).
    equal = bool(w.min() == w.max())
    rows = None if equal else np.flatnonzero(w > 0)
    every_row = rows is None or rows.size == n
    m = p + int(fit_intercept)
    if m == 0:
        raise InvalidInputError("the design has no columns (p = 0 and no intercept)")
    if method == "auto":
        method = "gram"
    if method not in ("qr", "gram"):
        raise InvalidInputError(f"method must be 'auto', 'qr' or 'gram', got {method!r}")
    sw = None if equal else np.sqrt(w / w.max())
    if col_maxabs is not None and every_row:
        mx = as_divisors(col_maxabs)
    else:
        mx = as_divisors(column_maxabs(Xa, None if every_row else rows))
    design: _Design | None
    if method == "qr":
        R0, scale = _r_factor_qr(
            Xa,
            np.arange(n) if rows is None else rows,
            np.ones(n) if sw is None else sw,
            mx,
            fit_intercept,
        )
        design, suspect_tol = None, tol
    else:
        R0, scale = _r_factor_gram(Xa, sw, mx, fit_intercept, column_sums)
        design = _Design(Xa, sw, scale, fit_intercept)
        suspect_tol = min(max(2.0 * tol, _GRAM_SUSPECT), 1.0)
    kept, aliased, coef, resid = _limited_pivoting(R0, tol, suspect_tol, design)
    return _result(terms, kept, aliased, coef, resid, scale, tol, method, fit_intercept)


def _result(
    terms: Sequence[str],
    kept: IntArray,
    aliased: IntArray,
    coef: FloatArray,
    resid: FloatArray,
    scale: FloatArray,
    tol: float,
    method: Literal["qr", "gram", "sample"],
    fit_intercept: bool,
) -> CollinearityResult:
    """The result, with the aliased columns' coefficients back in original units."""
    # Back to original units: scaled column j is sqrt(w) * x_j / scale_j.
    coef_orig = np.zeros((aliased.size, len(terms)))
    for a, j in enumerate(aliased):
        coef_orig[a, kept] = coef[a, kept] * scale[j] / scale[kept]
    return CollinearityResult(
        terms=tuple(terms),
        rank=int(kept.size),
        kept=kept,
        aliased_index=aliased,
        coefficients=coef_orig,
        scaled_coefficients=coef,
        relative_residuals=resid,
        tol=tol,
        method=method,
        fit_intercept=fit_intercept,
    )


def collinearity_from_gram(
    gram: FloatArray,
    col_maxabs: FloatArray,
    fit_intercept: bool,
    feature_names: Sequence[str],
    tol: float | None = None,
) -> CollinearityResult:
    """R's alias rule decided on a Gram matrix alone (data that cannot be read again cheaply).

    For data held elsewhere (a Dask engine reduces the Gram matrix over partitions): the
    same pivoted-Cholesky factor as ``method="gram"`` of :func:`detect_collinearity`, but
    suspected columns are *not* re-checked on the data, so relative residuals are resolved
    only to about 1e-8 (against the tolerance 1e-7).

    Parameters
    ----------
    gram : ndarray of shape (m, m)
        ``Yᵀ diag(w) Y`` with ``Y = [1, X diag(1 / as_divisors(col_maxabs))]`` (the ones
        column only with ``fit_intercept``), ``w`` the non-negative weights (any common
        factor).
    col_maxabs : ndarray of shape (p,)
        Each column's largest absolute value (the scaling ``Y`` used).
    fit_intercept : bool
    feature_names : sequence of str, length p
    tol : float, optional
        Relative tolerance in (0, 1); default ``1e-7``.

    Returns
    -------
    CollinearityResult
        With ``method="gram"``.
    """
    tol = _checked_tol(tol)
    mx = as_divisors(np.asarray(col_maxabs, dtype=np.float64))
    terms = design_terms(mx.size, fit_intercept, list(feature_names))
    R0, scale = _r_factor_from_gram(np.array(gram, dtype=np.float64), mx, int(fit_intercept))
    kept, aliased, coef, resid = _limited_pivoting(R0, tol, tol, None)
    return _result(terms, kept, aliased, coef, resid, scale, tol, "gram", fit_intercept)


def certify_full_rank(
    sample: RowSample,
    n_rows: int,
    col_maxabs: FloatArray,
    fit_intercept: bool,
    feature_names: Sequence[str],
    tol: float | None = None,
) -> CollinearityResult | None:
    """R's alias rule, when it keeps every column, proved from a row sample's Gram matrix.

    For equally weighted rows. Adding rows can only lengthen the residual of a column
    after projection on the others: for any coefficients ``β``,
    ``||d_j - D β||`` over all rows is at least the same norm over the sampled rows. So
    column ``j``'s relative residual on the full data is at least
    ``ρ_j ||d_j||_s / ||d_j||``, with ``ρ_j`` its relative residual on the sample (the
    ``R`` factor of the sample's scaled Gram matrix, as :func:`collinearity_from_gram`
    forms it) and ``||d_j|| <= sqrt(n) max|x_j|`` (exactly ``sqrt(n)`` for the
    intercept). When every such bound is at least :data:`SAMPLE_CERTIFIED` (and
    ``100 tol``), no column can be aliased and the full ``XᵀX`` is not needed; otherwise
    the check is left to :func:`detect_collinearity`.

    Parameters
    ----------
    sample : RowSample
        ``ColumnSums.sample`` of :func:`~mnlogit.identification.scales.column_maxabs_and_gram`.
    n_rows : int
        Rows of ``X`` (all of weight one, or all of one common weight).
    col_maxabs : ndarray of shape (p,)
        Each column's largest absolute value over all rows.
    fit_intercept : bool
    feature_names : sequence of str, length p
    tol : float, optional
        Relative tolerance in (0, 1); default ``1e-7``.

    Returns
    -------
    CollinearityResult or None
        With ``method="sample"``, every column kept and ``relative_residuals`` the
        certified lower bounds; ``None`` when not certified.
    """
    tol = _checked_tol(tol)
    mx = np.asarray(col_maxabs, dtype=np.float64)
    if sample.rows < 1 or not np.all((mx >= 1e-100) & (mx <= 1e100)):
        return None  # a zero column (aliased) or squares that may over- or underflow
    off = int(fit_intercept)
    m = mx.size + off
    G = np.zeros((m, m))
    G[off:, off:] = sample.gram / (mx[:, None] * mx[None, :])
    if fit_intercept:
        G[0, 0] = float(sample.rows)
        G[0, 1:] = G[1:, 0] = sample.colsum / mx
    sample_norm = np.sqrt(np.clip(np.diag(G), 0.0, None))  # ||d_j|| on the sample
    R0, scale = _r_factor_from_gram(G, mx, off)
    bound = _diag(R0, m) * sample_norm / np.sqrt(float(n_rows))
    if not np.all(bound >= max(SAMPLE_CERTIFIED, 100.0 * tol)):
        return None
    terms = design_terms(mx.size, fit_intercept, list(feature_names))
    none = np.zeros(0, dtype=np.intp)
    return _result(
        terms, np.arange(m), none, np.zeros((0, m)), bound, scale, tol, "sample", fit_intercept
    )


class _Design:
    """The scaled weighted design ``diag(sw) [1, X] diag(1 / scale)``, never formed.

    Parameters
    ----------
    Xa : ndarray or csr_array of shape (n, p)
    sw : ndarray of shape (n,) or None
        Square roots of the (max-normalized) weights; zero on ignored rows. None: every
        row with weight 1.
    scale : ndarray of shape (m,)
    fit_intercept : bool
    """

    def __init__(
        self,
        Xa: FloatArray | sp.csr_array,
        sw: FloatArray | None,
        scale: FloatArray,
        fit_intercept: bool,
    ) -> None:
        self.Xa, self.sw, self.scale, self.off = Xa, sw, scale, int(fit_intercept)

    def matmat(self, cols: IntArray, C: FloatArray) -> FloatArray:
        """``D[:, cols] @ C`` for C of shape (len(cols), s); returns shape (n, s)."""
        V = np.zeros((self.scale.size, C.shape[1]))
        V[cols] = C / self.scale[cols, None]
        out = np.asarray(self.Xa @ V[self.off :], dtype=np.float64)
        if self.off:
            out = out + V[0]
        return out if self.sw is None else np.asarray(out * self.sw[:, None])

    def rmatmat(self, R: FloatArray) -> FloatArray:
        """``D.T @ R`` for R of shape (n, s); returns shape (m, s)."""
        Rw = R if self.sw is None else R * self.sw[:, None]
        g = np.asarray(self.Xa.T @ Rw, dtype=np.float64)
        if self.off:
            g = np.vstack([Rw.sum(axis=0), g])
        return np.asarray(g / self.scale[:, None])

    def columns(self, cols: IntArray) -> FloatArray:
        """Columns ``cols`` of D, shape (n, len(cols))."""
        return self.matmat(cols, np.eye(cols.size))


def _r_factor_qr(
    Xa: FloatArray | sp.csr_array,
    rows: IntArray,
    sw: FloatArray,
    mx: FloatArray,
    fit_intercept: bool,
) -> tuple[FloatArray, FloatArray]:
    """``R`` factor of the scaled design (Householder QR of a copy) and the column scales.

    Returns
    -------
    R0 : ndarray of shape (min(n+, m), m)
        Upper trapezoidal; ``R0[:, j]`` are the coordinates of the scaled design column
        ``sqrt(w) * x_j / scale[j]`` (unit length, or zero) in an orthonormal basis.
    scale : ndarray of shape (m,)
    """
    p = Xa.shape[1]
    off = int(fit_intercept)
    swr = sw[rows]
    D = np.empty((rows.size, p + off), order="F")
    if fit_intercept:
        D[:, 0] = swr
    sub = Xa[rows]
    D[:, off:] = sub.toarray() if sp.issparse(sub) else sub
    D[:, off:] *= swr[:, None] / mx
    nrm = np.linalg.norm(D, axis=0)
    nrm_safe = np.where(nrm > 0, nrm, 1.0)
    D /= nrm_safe
    R0 = np.ascontiguousarray(
        sla.qr(D, mode="r", overwrite_a=True, check_finite=False)[0][: min(D.shape)],
        dtype=np.float64,
    )
    R0[:, nrm == 0] = 0.0
    scale = np.concatenate([np.ones(off), mx]) * nrm_safe
    return R0, np.asarray(scale, dtype=np.float64)


def _sparse_row_chunks(Xa: Any) -> list[slice]:
    """Row slices of a CSR matrix holding about ``BLOCK_ELEMENTS`` stored values each."""
    n = Xa.shape[0]
    return row_blocks(n, max(1, -(-int(Xa.nnz) // max(n, 1))))


def _r_factor_gram(
    Xa: FloatArray | sp.csr_array,
    sw: FloatArray | None,
    mx: FloatArray,
    fit_intercept: bool,
    column_sums: ColumnSums | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Like :func:`_r_factor_qr`, from the Gram matrix: X is not copied or densified.

    The factor comes from a pivoted Cholesky factorization of the scaled Gram matrix,
    re-triangularized in the original column order; its columns have the inner products
    of the design's columns (to rounding of the Gram matrix). ``sw`` None: every row with
    weight 1 (the same sums as ones, without the ``n``-vectors).
    """
    p = Xa.shape[1]
    off = int(fit_intercept)
    m = p + off
    unit = sw is None
    wr = None if sw is None else sw * sw
    G = np.zeros((m, m))
    colsum = np.zeros(p)
    if (
        column_sums is not None
        and column_sums.gram is not None
        and unit
        and np.all((mx >= 1e-100) & (mx <= 1e100))
    ):
        # XᵀX already summed in the read that found the column scales: scaled now (the
        # same per-entry rounding as scaling first; no square over- or underflows here)
        G[off:, off:] = column_sums.gram / (mx[:, None] * mx[None, :])
        colsum = column_sums.colsum / mx
    elif sp.issparse(Xa):
        # in row chunks of about BLOCK_ELEMENTS stored values: the scaled copies are
        # chunk-sized (whole, two copies of X and a transposed product: 3x X's memory)
        inv = sp.diags_array(1.0 / mx)
        for sl in _sparse_row_chunks(Xa):
            Z = Xa[sl] @ inv
            WZ = Z if wr is None else sp.diags_array(wr[sl]) @ Z
            G[off:, off:] += (Z.T @ WZ).toarray()
            colsum += np.asarray(WZ.sum(axis=0)).ravel()
    elif unit and np.all((mx >= 1e-3) & (mx <= 1e3)):
        # Equal weights, moderate magnitudes: X.T X of each chunk as it is (a syrk, no
        # scaled temporary), scaled afterwards; nothing can overflow in this range.
        for sl in row_blocks(Xa.shape[0], p):
            Xs = Xa[sl] if Xa.dtype == np.float64 else Xa[sl].astype(np.float64)
            G[off:, off:] += Xs.T @ Xs
            colsum += Xs.sum(axis=0)
            del Xs  # before the next chunk's conversion
        G[off:, off:] /= mx[:, None] * mx[None, :]
        colsum /= mx
    else:
        for sl in row_blocks(Xa.shape[0], p):
            s = np.ones(Xa[sl].shape[0]) if sw is None else sw[sl]
            Zs = Xa[sl] * (s[:, None] / mx)
            G[off:, off:] += Zs.T @ Zs
            colsum += s @ Zs
    if fit_intercept:
        G[0, 0] = float(Xa.shape[0]) if wr is None else wr.sum()
        G[0, 1:] = colsum
        G[1:, 0] = colsum
    return _r_factor_from_gram(G, mx, off)


def _r_factor_from_gram(G: FloatArray, mx: FloatArray, off: int) -> tuple[FloatArray, FloatArray]:
    """:func:`_r_factor_gram`'s factor from the scaled Gram matrix ``G`` (changed in place)."""
    m = G.shape[0]
    d = np.sqrt(np.clip(np.diag(G), 0.0, None))
    d_safe = np.where(d > 0, d, 1.0)
    G /= d_safe[:, None]
    G /= d_safe[None, :]
    # Pivoted Cholesky Pᵀ G P = Uᵀ U (LAPACK pstrf), stopped at its own rank tolerance:
    # F = U Pᵀ has FᵀF = G to rounding; what it drops is re-checked on the data.
    U, piv, rank, _ = lapack.dpstrf(G, lower=0)
    F = np.zeros((max(int(rank), 1), m))
    F[: int(rank), piv - 1] = np.triu(U[: int(rank)])
    R0 = np.ascontiguousarray(
        sla.qr(F, mode="r", overwrite_a=True, check_finite=False)[0][: min(F.shape)],
        dtype=np.float64,
    )
    R0[:, d == 0] = 0.0
    cn = np.linalg.norm(R0, axis=0)
    R0 /= np.where(cn > 0, cn, 1.0)
    scale = np.concatenate([np.ones(off), mx]) * d_safe
    return R0, np.asarray(scale, dtype=np.float64)


def _limited_pivoting(
    R0: FloatArray, tol: float, suspect_tol: float, design: _Design | None
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """R's limited column pivoting on an ``R`` factor with unit-length (or zero) columns.

    Visits the columns in order and aliases column j when its residual after projection
    on the kept columns before it is below ``tol``. A Householder QR of the not-yet-aliased
    columns gives, on its diagonal, a lower bound of every such residual (projection on a
    superset of the kept columns), so columns whose diagonal is at least ``suspect_tol``
    are kept outright; the others ("suspects") are checked one by one, in order, against
    the exact set of kept columns before them, read off one QR of ``[kept, suspects]``.
    One round suffices unless a suspect turns out to be kept, which changes the kept set
    seen by the later suspects.

    Parameters
    ----------
    R0 : ndarray of shape (r, m)
    tol : float
    suspect_tol : float
        At least ``tol``; larger when ``R0`` is only approximate (Gram path).
    design : _Design or None
        When given, residuals of suspects are computed on the data (two steps of
        corrected semi-normal equations) instead of in ``R0``'s coordinates.

    Returns
    -------
    kept : ndarray of shape (rank,)
    aliased : ndarray of shape (m - rank,)
    coef : ndarray of shape (m - rank, m)
        In the scaled units: scaled column ``aliased[a]`` ≈ scaled design @ ``coef[a]``.
    resid : ndarray of shape (m,)
    """
    m = R0.shape[1]
    status = np.zeros(m, dtype=np.int8)  # 0 unknown, 1 kept, -1 aliased
    resid = np.zeros(m)
    coef_of: dict[int, FloatArray] = {}
    norms = np.linalg.norm(R0, axis=0)
    status[norms == 0] = -1
    kept_diag = np.zeros(0)
    first_round = True
    while True:
        active = np.flatnonzero(status >= 0)
        # In the first round R0 is already triangular: its diagonal is the residual of
        # each column against all the columns before it.
        Ra = R0 if first_round and active.size == m else _r_only(R0[:, active])
        first_round = False
        diag = _diag(Ra, active.size)
        unknown = status[active] == 0
        sure = unknown & (diag >= suspect_tol)
        status[active[sure]] = 1
        suspects = active[unknown & ~sure]
        if suspects.size == 0:
            kept_diag = diag
            break
        kept_now = np.flatnonzero(status == 1)
        k = kept_now.size
        Rb = _r_only(np.hstack([R0[:, kept_now], R0[:, suspects]]))
        Rk = Rb[:k, :k]
        kept_diag = _diag(Rk, k)
        before = np.searchsorted(kept_now, suspects)
        res, C = _residuals(Rb, k, before, kept_now, suspects, design)
        turned = np.flatnonzero(res >= tol)
        n_alias = suspects.size if turned.size == 0 else int(turned[0])
        for t in range(n_alias):
            u = int(suspects[t])
            status[u] = -1
            resid[u] = res[t]
            full = np.zeros(m)
            full[kept_now] = C[:, t]
            coef_of[u] = full
        if turned.size == 0:
            break
        # The first suspect that is not aliased is kept; the later ones depended on it
        # being aliased, so they are examined again in a new round.
        status[suspects[n_alias]] = 1
    kept = np.flatnonzero(status == 1)
    aliased = np.flatnonzero(status == -1)
    out = np.zeros((aliased.size, m))
    for a, j in enumerate(aliased.tolist()):
        if j in coef_of:
            out[a] = coef_of[j]
    resid[kept] = (
        kept_diag if kept_diag.size == kept.size else _diag(_r_only(R0[:, kept]), kept.size)
    )
    return kept, aliased, out, resid


def _r_only(A: FloatArray) -> FloatArray:
    """R factor (economic: min(r, k) rows) of a QR of ``A`` of shape (r, k)."""
    if A.shape[1] == 0 or A.shape[0] == 0:
        return np.zeros((min(A.shape), A.shape[1]))
    R = sla.qr(A, mode="r", check_finite=False)[0]
    return np.asarray(R[: min(A.shape)])


def _diag(R: FloatArray, k: int) -> FloatArray:
    """|diag(R)| padded with zeros to length k (columns past the last row have none)."""
    d = np.zeros(k)
    kd = min(R.shape[0], k)
    d[:kd] = np.abs(np.diag(R)[:kd])
    return d


def _residuals(
    Rb: FloatArray,
    k: int,
    before: IntArray,
    kept: IntArray,
    suspects: IntArray,
    design: _Design | None,
) -> tuple[FloatArray, FloatArray]:
    """Residual of each suspect on the kept columns before it, and its coefficients.

    Parameters
    ----------
    Rb : ndarray of shape (r, k + s)
        R factor of ``[kept columns, suspect columns]``: the first ``before[t]`` entries
        of suspect t's column are its components along the kept columns before it, and
        the norm of the rest is its residual (exact in the coordinates of ``R0``).
    k : int
        Number of kept columns.
    before : ndarray of shape (s,)
        How many kept columns precede each suspect.
    kept, suspects : ndarray of shape (k,) and (s,)
        Column indices.
    design : _Design or None
        When given (Gram path) the residuals are recomputed on the data and the
        coefficients refined by two steps of corrected semi-normal equations, with
        ``Rk = Rb[:k, :k]`` as the factor of the kept columns' Gram matrix.

    Returns
    -------
    res : ndarray of shape (s,)
    C : ndarray of shape (k, s)
        Coefficients on the kept columns (zero from ``before[t]`` on).
    """
    s = suspects.size
    Rk = Rb[:k, :k]
    Z = np.zeros((k, s))
    nr = min(Rb.shape[0], k)
    Z[:nr] = Rb[:nr, k:]
    mask = np.arange(k)[:, None] < before[None, :]
    Z *= mask
    # Back substitution with zeros below row before[t] gives zeros there as well, and the
    # leading block's solution above: one solve for every suspect.
    C = sla.solve_triangular(Rk, Z, check_finite=False) if k else Z
    if design is None:
        tail = Rb[:, k:].copy()
        tail[: mask.shape[0]][mask] = 0.0
        return np.linalg.norm(tail, axis=0), C
    res = np.empty(s)
    step = max(1, BLOCK_ELEMENTS // max(design.Xa.shape[0], 1))
    for lo in range(0, s, step):
        blk = slice(lo, min(lo + step, s))
        T = design.columns(suspects[blk])
        Cb = C[:, blk]
        for _ in range(2 if k else 0):
            Rres = T - design.matmat(kept, Cb)
            G = design.rmatmat(Rres)[kept] * mask[:, blk]
            Y = sla.solve_triangular(Rk, G, trans="T", check_finite=False) * mask[:, blk]
            Cb = Cb + sla.solve_triangular(Rk, Y, check_finite=False)
        C[:, blk] = Cb
        res[blk] = np.linalg.norm(T - design.matmat(kept, Cb), axis=0)
    return res, C
