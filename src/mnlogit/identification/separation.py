"""Complete and quasi-complete separation in multinomial logit data, by linear programming.

The multinomial log-likelihood is bounded above by 0, and its maximum fails to exist
exactly when there is a *direction of recession* (Albert & Anderson 1984; Geyer 2009): a
coefficient matrix ``D`` of shape (p+1, K), in reference form (reference column 0), not
zero on the data, such that for every row i with positive weight and every class k::

    x̃_i · (d_{y_i} − d_k)  >=  0          (x̃_i = [1, x_i])

i.e. moving the coefficients along ``D`` never lowers the linear predictor of a row's own
class relative to any other class, so the log-likelihood never decreases along ``D`` and
strictly increases when some inequality ("cell" (i, k)) is strict. These directions form
a polyhedral cone ``C``. Each cell (i, k) is either strict for some ``D`` in ``C`` (then
``P(y = k | x_i) → 0`` along every path to the supremum) or zero on all of ``C``; the
strict ones form the *separated set* ``S``. The data are

- not separated when ``S`` is empty (the MLE exists, once the design has full rank),
- completely separated when every cell is in ``S`` (every row's own class gets
  probability → 1),
- quasi-completely separated otherwise.

``S`` comes from Konis' (2007) linear program, written for the multinomial cells and
repeated until it finds nothing new::

    maximize  Σ_{c not yet in S} (A D)_c   subject to   A D >= 0,   -1 <= D <= 1

where row c of ``A`` is the cell's inequality. Its optimum is 0 exactly when no further
cell can be strict; otherwise the solution makes at least one new cell strict and those
join ``S``. The sum of the solutions makes every cell of ``S`` strict (a point of the
relative interior of ``C``); it is reported as the direction. Each LP is solved by
constraint generation: on a working subset of the cells, adding the cells a solution
violates, until none is violated (most cells are redundant, so the LPs stay small).

Which coefficients diverge. The cells outside ``S`` make the equality constraints
``A_0 D = 0``; their null space ``N`` is the span of ``C``. A coefficient with zero
loading on ``N`` stays finite along every path to the supremum (it is identified by the
limiting model on the cells outside ``S``). Any other coefficient is ``+inf`` if it is
``>= 0`` on all of ``C`` (then it is ``> 0`` on the relative interior, which every path
to the supremum follows asymptotically), ``-inf`` if ``<= 0`` on all of ``C``, and
*undetermined* (``nan``) if it takes both signs on ``C`` (it diverges along some paths
and not others: the data do not determine it). The sign checks are small LPs
``max / min D_jk`` over ``C`` intersected with the box ``|D| <= 1``, one per sign still
unknown; every solution also settles the signs of the other coefficients it moves.

Before any of this, columns aliased in ``[1, X]`` (see
:mod:`mnlogit.identification.collinearity`) are removed: the column space, hence the
separation status, is unchanged and the cone becomes pointed. Columns are scaled by
their largest absolute value and each row by its largest absolute entry (positive
scalings do not change the cone); identical rows are merged for dense X. See
``docs/diagnostics.md``.

:func:`detect_separation` runs these stages in order: :func:`scaled_rows` and
:func:`merge_identical_rows` (the data), then, in :mod:`mnlogit.identification.cone`,
``cell_matrix`` (the inequalities), ``separated_cells`` (the set ``S`` and a direction),
``free_coefficients`` (the null space) and ``coefficient_signs`` (the sign LPs), and
last :func:`separation_kind` and :func:`coefficient_limits` (the verdict). What ``fit``
does with the finding (whether and how to look, what a model file keeps) is in
:mod:`mnlogit.identification.separation_check`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from mnlogit.exceptions import InvalidInputError
from mnlogit.identification.collinearity import detect_collinearity
from mnlogit.identification.cone import (
    ConeLP,
    cell_matrix,
    coefficient_signs,
    free_coefficients,
    separated_cells,
)
from mnlogit.identification.design import as_2d, design_terms, positive_weights
from mnlogit.identification.scales import as_divisors, column_maxabs

__all__ = [
    "MAX_CELLS",
    "MAX_COEF_LPS",
    "MAX_VARIABLES",
    "SeparationResult",
    "coefficient_limits",
    "detect_separation",
    "merge_identical_rows",
    "scaled_rows",
    "separation_kind",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

#: Default cap on the number of cells (rows with positive weight, after merging identical
#: rows, times K - 1): the LPs have that many constraints (before constraint generation).
MAX_CELLS = 200_000
#: Default cap on the number of LP variables, (K - 1) times the kept design columns (the
#: null-space step factors a dense square matrix of that size).
MAX_VARIABLES = 3000
#: Default cap on the number of per-coefficient sign LPs.
MAX_COEF_LPS = 200


@dataclass(frozen=True)
class SeparationResult:
    """What :func:`detect_separation` found.

    Coefficient-shaped arrays are (m, K) with ``m = len(terms)`` rows (``"Intercept"``
    first when fitted, then the features) and one column per class code, in the
    reference form whose ``reference`` column is zero.

    Attributes
    ----------
    checked : bool
        False when the check was skipped (problem above ``max_cells`` or
        ``max_variables``, or the LP solver failed or ran out of time); then
        ``separated`` is False, ``kind`` is ``"none"`` and ``reason`` says why.
    separated : bool
        Whether the maximum-likelihood estimate fails to exist because of separation.
    kind : {"complete", "quasi-complete", "none"}
    direction : ndarray of shape (m, K)
        A direction of recession in original units, unit Frobenius norm (zeros when not
        separated): the log-likelihood increases towards its supremum along
        ``B + s * direction`` as ``s → ∞``. It makes every separated cell strict.
    limits : ndarray of shape (m, K)
        Per coefficient: ``0.0`` finite, ``+inf`` / ``-inf`` diverges to that infinity
        along every path to the supremum, ``nan`` not determined by the data (takes both
        signs over the directions of recession, or an aliased column). The reference
        column is 0.
    limits_resolved : bool
        False when the search stopped early (``max_coef_lps``, ``time_limit``, or 100
        rounds of the search for separated cells): some entries of ``limits`` are then
        ``nan`` for want of checking, and ``kind`` may say quasi-complete where more
        LPs would have found complete separation.
    zero_probability : ndarray of shape (n, K), bool
        ``True`` at (i, k) when ``P(y_i = k | x_i) → 0`` in the limit (cell (i, k) is
        separated). All False on rows with zero weight.
    separated_pairs : tuple of (int, int)
        Class-code pairs ``(k, l)``, ``k < l``, with some observation of one of them
        whose probability of the other goes to 0.
    involved : tuple of str
        Terms (``"Intercept"`` or feature names) with a coefficient that diverges or is
        undetermined because of the separation.
    aliased : tuple of str
        Terms left out beforehand as linear combinations of earlier ones.
    terms : tuple of str
    class_names : tuple of str
    reference : int
        Class code whose column is zero in ``direction`` and ``limits``.
    n_cells : int
        Number of inequalities examined (after merging identical rows).
    empty_classes : tuple of int
        Class codes with no row of positive weight (always separated: their probability
        can go to 0 everywhere).
    reason : str
        Why the check was skipped ("" when it ran).
    """

    checked: bool
    separated: bool
    kind: Literal["complete", "quasi-complete", "none"]
    direction: FloatArray
    limits: FloatArray
    limits_resolved: bool
    zero_probability: BoolArray = field(repr=False)
    separated_pairs: tuple[tuple[int, int], ...]
    involved: tuple[str, ...]
    aliased: tuple[str, ...]
    terms: tuple[str, ...]
    class_names: tuple[str, ...]
    reference: int
    n_cells: int
    empty_classes: tuple[int, ...] = ()
    reason: str = ""

    @property
    def infinite(self) -> tuple[tuple[str, str, float], ...]:
        """``(class name, term, ±inf)`` for each coefficient that diverges."""
        rows, cols = np.nonzero(np.isinf(self.limits))
        return tuple(
            (self.class_names[k], self.terms[j], float(self.limits[j, k]))
            for j, k in zip(rows.tolist(), cols.tolist(), strict=True)
        )

    @property
    def undetermined(self) -> tuple[tuple[str, str], ...]:
        """``(class name, term)`` for coefficients the separated data do not determine
        (excluding aliased columns)."""
        if not self.separated:
            return ()
        mask = np.isnan(self.limits)
        mask[[self.terms.index(a) for a in self.aliased]] = False
        rows, cols = np.nonzero(mask)
        return tuple(
            (self.class_names[k], self.terms[j])
            for j, k in zip(rows.tolist(), cols.tolist(), strict=True)
        )

    @property
    def n_separated_obs(self) -> int:
        """Number of rows with some class probability going to 0."""
        return int(self.zero_probability.any(axis=1).sum())

    @property
    def message(self) -> str:
        """A paragraph naming the separated classes, the predictors and what to do."""
        if not self.checked:
            return f"Separation was not checked: {self.reason}"
        if not self.separated:
            text = (
                "No separation: no combination of the predictors orders the classes "
                "without overlap, so the maximum-likelihood estimate exists (given a "
                "full-rank design)."
            )
            if self.aliased:
                text += " Collinear columns (not identified): " + ", ".join(self.aliased) + "."
            return text
        cn = self.class_names
        pairs = ", ".join(f"{cn[k]!r} vs {cn[l]!r}" for k, l in self.separated_pairs)
        if self.kind == "complete":
            head = (
                "Complete separation: a linear combination of the predictors classifies "
                "every observation correctly, so the maximum-likelihood estimate does "
                "not exist (coefficients diverge; fitted probabilities go to 0 and 1)."
            )
        else:
            head = (
                "Quasi-complete separation: a linear combination of the predictors "
                f"separates some classes (for {self.n_separated_obs} observations some "
                "class probability goes to 0) with ties on the boundary, so the "
                "maximum-likelihood estimate does not exist."
            )
        lines = [head, f"Separated classes: {pairs}."]
        if self.empty_classes:
            shown = ", ".join(repr(cn[k]) for k in self.empty_classes)
            lines.append(f"No observations (with positive weight) of class {shown}.")
        if self.involved:
            lines.append("Predictors involved: " + ", ".join(self.involved) + ".")
        inf = self.infinite
        if inf:
            shown = ", ".join(f"{t}[{c}] -> {'+' if v > 0 else '-'}inf" for c, t, v in inf[:12])
            more = f" (and {len(inf) - 12} more)" if len(inf) > 12 else ""
            lines.append(
                f"Diverging coefficients (reference class {cn[self.reference]!r}): {shown}{more}."
            )
        und = self.undetermined
        if und:
            shown = ", ".join(f"{t}[{c}]" for c, t in und[:12])
            more = f" (and {len(und) - 12} more)" if len(und) > 12 else ""
            lines.append(f"Not determined by the data: {shown}{more}.")
        if self.aliased:
            lines.append("Left out as collinear: " + ", ".join(self.aliased) + ".")
        if not self.limits_resolved:
            lines.append(
                "(The search stopped early, at max_coef_lps or time_limit: some "
                "coefficients are listed as not determined for want of checking.)"
            )
        lines.append(
            "Use penalty='l2' (ridge) or penalty='firth' (bias-reduced) for finite "
            "estimates, or remove or merge the predictors or classes involved."
        )
        return "\n".join(lines)


def detect_separation(
    X: Any,
    y: Any,
    n_classes: int,
    sample_weight: Any = None,
    fit_intercept: bool = True,
    feature_names: Sequence[str] | None = None,
    class_names: Sequence[Any] | None = None,
    *,
    reference: int = 0,
    max_cells: int = MAX_CELLS,
    max_variables: int = MAX_VARIABLES,
    max_coef_lps: int = MAX_COEF_LPS,
    time_limit: float = 60.0,
) -> SeparationResult:
    """Detect complete or quasi-complete separation for the multinomial logit MLE.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
        Features; sparse X is passed to the LP solver as a sparse constraint matrix.
    y : array-like of shape (n,)
        Integer class codes in ``0 .. n_classes - 1``.
    n_classes : int
        K >= 2. A class with no row of positive weight is separated (its probability can
        go to 0 everywhere).
    sample_weight : array-like of shape (n,), optional
        Only which weights are zero matters: those rows are ignored.
    fit_intercept : bool, default=True
    feature_names : sequence of str of length p, optional
        Default: data-frame columns, else ``x0, x1, …``.
    class_names : sequence of length K, optional
        Labels for messages (default: the codes).
    reference : int, default=0
        Class code whose coefficients are fixed at zero in ``direction`` and ``limits``.
    max_cells : int, default=200_000
        Skip the check (``checked=False``) when there are more inequalities than this.
    max_variables : int, default=3000
        Skip the check when the direction has more free entries than this.
    max_coef_lps : int, default=200
        At most this many per-coefficient sign LPs; coefficients still unresolved are
        ``nan`` and ``limits_resolved`` is False.
    time_limit : float, default=60
        Wall-clock budget in seconds for all the LPs together (passed on to HiGHS as
        each LP's ``time_limit``). If it runs out before anything is known,
        ``checked=False``; later, the unresolved signs are ``nan`` and
        ``limits_resolved`` is False.

    Returns
    -------
    SeparationResult
    """
    Xa, columns = as_2d(X)
    n, K = Xa.shape[0], int(n_classes)
    codes, reference, w = _check_labels(Xa, y, n_classes, reference, sample_weight)
    pos = np.flatnonzero(w > 0)
    parts = _result_parts(
        Xa.shape[1], K, n, reference, fit_intercept,
        feature_names if feature_names is not None else columns, class_names, codes[pos],
    )  # fmt: skip
    if pos.size * (K - 1) > max_cells:
        # Checked before any copy of X: the de-duplicated count below can only be smaller,
        # but computing it costs copies and a sort that a big problem should not pay.
        return parts.unchecked(
            f"the linear program would have up to {pos.size * (K - 1)} inequalities (rows with "
            f"positive weight times K-1), more than max_cells={max_cells}",
            pos.size * (K - 1),
        )

    # 1. Drop aliased columns; scale columns, then rows; merge identical cells.
    method: Literal["gram", "auto"] = "gram" if sp.issparse(Xa) else "auto"
    features = parts.terms[int(fit_intercept) :]
    col = detect_collinearity(Xa, fit_intercept, features, (w > 0) * 1.0, method=method)
    kept = col.kept
    parts = replace(parts, aliased=col.aliased)
    # the variables are known now: refuse before the scaled copy of the rows is made
    too_wide = _over_size_caps(0, (K - 1) * kept.size, max_cells, max_variables)
    if too_wide:
        return parts.unchecked(too_wide, pos.size * (K - 1))
    Z, zrows, scale = scaled_rows(Xa, pos, kept, fit_intercept)
    Z, zy, inverse = merge_identical_rows(Z, codes[zrows])
    n_cells = zy.size * (K - 1)
    too_big = _over_size_caps(n_cells, (K - 1) * kept.size, max_cells, max_variables)
    if too_big:
        return parts.unchecked(too_big, n_cells)
    if kept.size == 0 or zy.size == 0:  # every design column (or row) is zero: nothing can move
        return parts.not_separated(n_cells, kept)

    # 2. The cells and the LPs over their cone: the separated set S and a direction.
    A, cell_row, cell_cls = cell_matrix(Z, zy, K, reference)
    cone = ConeLP(A, time.monotonic() + float(time_limit))
    found = separated_cells(cone)
    if found is None:
        return parts.unchecked(f"the linear program did not solve ({cone.last_message})", n_cells)
    strict, d_star, complete_search = found
    if not strict.any():
        return parts.not_separated(n_cells, kept)

    # 3. Which coefficients diverge, and to which infinity.
    free = free_coefficients(A, strict)
    (can_pos, can_neg), resolved = coefficient_signs(cone, d_star, free, max_coef_lps)
    coef_limits = coefficient_limits(free, can_pos, can_neg)

    # 4. Back to the rows, terms and classes of the caller.
    limits, direction = _in_terms(parts, kept, scale, coef_limits, d_star)
    zero_prob = np.zeros((n, K), dtype=bool)
    zero_prob[zrows] = _cells_by_row(zy.size, K, cell_row[strict], cell_cls[strict])[inverse]
    return parts.result(
        n_cells=n_cells,
        kind=separation_kind(strict, all_rows_kept=zrows.size == pos.size),
        direction=direction,
        limits=limits,
        limits_resolved=resolved and complete_search,
        zero_probability=zero_prob,
        pairs=_separated_pairs(zy[cell_row[strict]], cell_cls[strict]),
        involved=_involved_terms(parts.terms, kept, limits),
    )


def _check_labels(
    Xa: FloatArray | sp.csr_array, y: Any, n_classes: int, reference: int, sample_weight: Any
) -> tuple[IntArray, int, FloatArray]:
    """Validated class codes, reference and row weights.

    Returns
    -------
    codes : ndarray of shape (n,)
    reference : int
    weights : ndarray of shape (n,)
    """
    n = Xa.shape[0]
    K = int(n_classes)
    if K < 2:
        raise InvalidInputError(f"n_classes must be at least 2, got {n_classes!r}")
    codes = np.asarray(y)
    if codes.shape != (n,):
        raise InvalidInputError(f"y has shape {codes.shape}; expected ({n},)")
    if codes.size and (
        not np.issubdtype(codes.dtype, np.integer) or codes.min() < 0 or codes.max() >= K
    ):
        raise InvalidInputError(f"y must hold integer class codes in 0..{K - 1}")
    if not 0 <= int(reference) < K:
        raise InvalidInputError(f"reference must be a class code in 0..{K - 1}")
    return codes.astype(np.intp), int(reference), positive_weights(sample_weight, n)


def _result_parts(
    p: int,
    K: int,
    n: int,
    reference: int,
    fit_intercept: bool,
    feature_names: Sequence[str] | None,
    class_names: Sequence[Any] | None,
    observed: IntArray,
) -> _ResultParts:
    """The names of the result's rows (terms) and columns (classes), checked, and the
    classes absent from ``observed`` (the codes of the rows with positive weight)."""
    terms = design_terms(p, fit_intercept, feature_names)
    names = tuple(str(c) for c in (class_names if class_names is not None else range(K)))
    if len(names) != K:
        raise InvalidInputError(f"class_names has {len(names)} names; expected {K}")
    if not terms:
        raise InvalidInputError("the design has no columns (p = 0 and no intercept)")
    present = np.zeros(K, dtype=bool)
    present[observed] = True
    empty = tuple(int(k) for k in np.flatnonzero(~present))
    return _ResultParts(tuple(terms), names, reference, n, K, empty=empty)


def scaled_rows(
    Xa: FloatArray | sp.csr_array, pos: IntArray, kept: IntArray, fit_intercept: bool
) -> tuple[FloatArray | sp.csr_array, IntArray, FloatArray]:
    """Kept design columns on the positive-weight rows, column- then row-scaled.

    Each kept column of ``[1, X]`` is divided by its largest absolute value over the
    rows ``pos``, then each row by its largest absolute entry. Positive scalings of
    columns and rows do not change the cone of directions of recession (a column scale
    only rescales that coefficient), and they make the LP's tolerances relative.

    Parameters
    ----------
    Xa : ndarray or csr_array of shape (n, p)
    pos : ndarray of int of shape (n+,)
        The rows with positive weight.
    kept : ndarray of int of shape (r,)
        Indices into the design columns (intercept first when fitted), increasing.
    fit_intercept : bool

    Returns
    -------
    Z : ndarray or csr_array of shape (n', r)
        Each row has largest absolute entry 1; all-zero rows (possible without an
        intercept) are dropped, since every cell of such a row is identically zero.
    rows : ndarray of shape (n',)
        Original row indices of Z's rows.
    scale : ndarray of shape (r,)
        The column scales (1 for a column that is zero on ``pos``).
    """
    mx = column_maxabs(Xa, None if pos.size == Xa.shape[0] else pos)
    scale = as_divisors(np.concatenate([np.ones(int(fit_intercept)), mx])[kept])
    sub = Xa[pos]
    off = int(fit_intercept)
    if sp.issparse(sub):
        parts = [sp.csr_array(np.ones((pos.size, 1)))] if fit_intercept else []
        D = sp.hstack([*parts, sp.csr_array(sub)], format="csr")[:, kept]
        D = sp.csr_array(D @ sp.diags_array(1.0 / scale))
        rmax = np.asarray(abs(D).max(axis=1).toarray()).ravel()
        nz = rmax > 0
        D = sp.csr_array(sp.diags_array(1.0 / rmax[nz]) @ D[np.flatnonzero(nz)])
        return D, pos[nz], scale
    Dd = np.empty((pos.size, kept.size))
    feat = kept[kept >= off] - off
    if fit_intercept and kept.size and kept[0] == 0:
        Dd[:, 0] = 1.0
        Dd[:, 1:] = sub[:, feat]
    else:
        Dd[:, :] = sub[:, feat]
    Dd /= scale
    rmax = np.abs(Dd).max(axis=1) if kept.size else np.zeros(pos.size)
    nz = rmax > 0
    return Dd[nz] / rmax[nz, None], pos[nz], scale


def merge_identical_rows(
    Z: FloatArray | sp.csr_array, codes: IntArray
) -> tuple[FloatArray | sp.csr_array, IntArray, IntArray]:
    """Merge identical (row, class) pairs, whose cells are identical (dense Z only).

    Parameters
    ----------
    Z : ndarray or csr_array of shape (n', r)
    codes : ndarray of int of shape (n',)

    Returns
    -------
    Z_unique : ndarray of shape (u, r), or Z itself when sparse (u = n')
        The distinct pairs in lexicographic order of ``(Z row, class)``.
    codes_unique : ndarray of shape (u,)
    inverse : ndarray of shape (n',)
        ``Z_unique[inverse]`` is Z (the identity for sparse Z).
    """
    if sp.issparse(Z):
        return Z, codes, np.arange(codes.size)
    _, first, inverse = np.unique(
        np.column_stack([np.asarray(Z), codes]), axis=0, return_index=True, return_inverse=True
    )
    return np.asarray(Z)[first], codes[first], inverse.ravel()


def _over_size_caps(n_cells: int, n_variables: int, max_cells: int, max_variables: int) -> str:
    """Why the LP is not attempted ("" when it fits under both caps)."""
    if n_cells > max_cells:
        return (
            f"the linear program would have {n_cells} inequalities, more than max_cells={max_cells}"
        )
    if n_variables > max_variables:
        return (
            f"the direction would have {n_variables} free entries, more than "
            f"max_variables={max_variables}"
        )
    return ""


def separation_kind(
    strict: BoolArray, all_rows_kept: bool
) -> Literal["complete", "quasi-complete", "none"]:
    """Name the separated set: none, complete (every cell of every row), or quasi-complete.

    Parameters
    ----------
    strict : ndarray of bool, shape (m,)
        Which cells are in the separated set.
    all_rows_kept : bool
        False when some positive-weight rows were all zero and so had no cells: their
        own class keeps a probability below 1 in the limit, so the separation is at most
        quasi-complete.

    Returns
    -------
    {"complete", "quasi-complete", "none"}
    """
    if not strict.any():
        return "none"
    return "complete" if strict.all() and all_rows_kept else "quasi-complete"


def coefficient_limits(free: BoolArray, can_pos: BoolArray, can_neg: BoolArray) -> FloatArray:
    """Where each free coefficient goes along the paths to the supremum.

    Parameters
    ----------
    free : ndarray of bool, shape (q,)
        Loading on the span of the cone (others stay finite).
    can_pos, can_neg : ndarrays of bool, shape (q,)
        Whether the coefficient is positive / negative somewhere on the cone.

    Returns
    -------
    ndarray of shape (q,)
        ``0.0`` not free; ``+inf`` only positive; ``-inf`` only negative; ``nan`` both
        signs (not determined by the data) or neither (sign not checked).
    """
    limits = np.zeros(free.size)
    limits[free & can_pos & ~can_neg] = np.inf
    limits[free & can_neg & ~can_pos] = -np.inf
    limits[free & (can_pos == can_neg)] = np.nan
    return limits


def _in_terms(
    parts: _ResultParts,
    kept: IntArray,
    scale: FloatArray,
    coef_limits: FloatArray,
    d_star: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Limits and direction of the free coefficients as (terms, classes) matrices.

    Parameters
    ----------
    parts : _ResultParts
    kept : ndarray of shape (r,)
    scale : ndarray of shape (r,)
        Column scales: the direction is divided by them (back to original units).
    coef_limits, d_star : ndarrays of shape ((K - 1) r,)
        Class block by class block (classes other than the reference, in order).

    Returns
    -------
    limits : ndarray of shape (m, K)
        nan on aliased rows, 0 in the reference column.
    direction : ndarray of shape (m, K)
        Unit Frobenius norm (zeros if ``d_star`` is zero).
    """
    r = kept.size
    limits = parts.finite_limits(kept)
    direction = np.zeros((len(parts.terms), parts.K))
    nonref = [c for c in range(parts.K) if c != parts.reference]
    for b, c in enumerate(nonref):
        limits[kept, c] = coef_limits[b * r : (b + 1) * r]
        direction[kept, c] = d_star[b * r : (b + 1) * r] / scale
    nrm = np.linalg.norm(direction)
    if nrm > 0:
        direction /= nrm
    return limits, direction


def _cells_by_row(n_rows: int, K: int, cell_row: IntArray, cell_cls: IntArray) -> BoolArray:
    """Cells as a (rows, classes) mask of shape (n_rows, K): True at (cell_row, cell_cls)."""
    cells = np.zeros((n_rows, K), dtype=bool)
    cells[cell_row, cell_cls] = True
    return cells


def _separated_pairs(own: IntArray, other: IntArray) -> tuple[tuple[int, int], ...]:
    """Sorted class pairs ``(k, l)``, ``k < l``, of the separated cells (own, other class)."""
    pairs = {(min(a, b), max(a, b)) for a, b in zip(own.tolist(), other.tolist(), strict=True)}
    return tuple(sorted(pairs))


def _involved_terms(terms: tuple[str, ...], kept: IntArray, limits: FloatArray) -> tuple[str, ...]:
    """Kept terms with some coefficient that is not finite (±inf or nan)."""
    involved = np.zeros(len(terms), dtype=bool)
    involved[kept] = ~np.all(limits[kept] == 0.0, axis=1)
    return tuple(terms[j] for j in np.flatnonzero(involved))


@dataclass(frozen=True)
class _ResultParts:
    """The parts of a :class:`SeparationResult` known before the LP, and its constructors."""

    terms: tuple[str, ...]
    names: tuple[str, ...]
    reference: int
    n: int
    K: int
    aliased: tuple[str, ...] = ()
    empty: tuple[int, ...] = ()

    def finite_limits(self, kept: IntArray) -> FloatArray:
        """Limits with every kept coefficient finite: 0 there and in the reference
        column, nan on aliased rows; shape (m, K)."""
        limits = np.full((len(self.terms), self.K), np.nan)
        limits[kept] = 0.0
        limits[:, self.reference] = 0.0
        return limits

    def result(
        self,
        *,
        n_cells: int,
        kind: Literal["complete", "quasi-complete", "none"],
        direction: FloatArray,
        limits: FloatArray,
        limits_resolved: bool,
        zero_probability: BoolArray,
        pairs: tuple[tuple[int, int], ...],
        involved: tuple[str, ...],
    ) -> SeparationResult:
        """A checked result."""
        return SeparationResult(
            checked=True,
            separated=kind != "none",
            kind=kind,
            direction=direction,
            limits=limits,
            limits_resolved=limits_resolved,
            zero_probability=zero_probability,
            separated_pairs=pairs,
            involved=involved,
            aliased=self.aliased,
            terms=self.terms,
            class_names=self.names,
            reference=self.reference,
            n_cells=n_cells,
            empty_classes=self.empty,
        )

    def not_separated(self, n_cells: int, kept: IntArray) -> SeparationResult:
        """The checked result "no separation"."""
        return self.result(
            n_cells=n_cells, kind="none", direction=np.zeros((len(self.terms), self.K)),
            limits=self.finite_limits(kept), limits_resolved=True,
            zero_probability=np.zeros((self.n, self.K), dtype=bool), pairs=(), involved=(),
        )  # fmt: skip

    def unchecked(self, reason: str, n_cells: int) -> SeparationResult:
        """The result of a check that was skipped, saying why."""
        m = len(self.terms)
        return SeparationResult(
            checked=False,
            separated=False,
            kind="none",
            direction=np.zeros((m, self.K)),
            limits=np.full((m, self.K), np.nan),
            limits_resolved=False,
            zero_probability=np.zeros((self.n, self.K), dtype=bool),
            separated_pairs=(),
            involved=(),
            aliased=self.aliased,
            terms=self.terms,
            class_names=self.names,
            reference=self.reference,
            n_cells=n_cells,
            empty_classes=self.empty,
            reason=reason,
        )
