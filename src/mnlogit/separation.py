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

Before any of this, columns aliased in ``[1, X]`` (see :mod:`mnlogit.collinearity`) are
removed: the column space, hence the separation status, is unchanged and the cone
becomes pointed. Columns are scaled by their largest absolute value and each row by its
largest absolute entry (positive scalings do not change the cone); identical rows are
merged for dense X. See ``docs/diagnostics.md``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

from mnlogit.collinearity import as_2d, design_terms, detect_collinearity, positive_weights
from mnlogit.exceptions import InvalidInputError

__all__ = ["SeparationResult", "detect_separation"]

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
#: A coefficient or cell value counts as nonzero above this (directions scaled to
#: max-abs 1, rows of the cell matrix to max-abs 1).
_ZERO = 1e-6
#: Cells violated by more than this are added to the working set (HiGHS' feasibility
#: tolerance).
_FEAS = 1e-7
#: Size of the first working set of cells (at least 20 per variable).
_INITIAL_CELLS = 2000
#: At most this many rounds of the search for the separated set.
_MAX_ROUNDS = 100
#: Rows per chunk when reducing the equality cells to a triangular factor.
_CHUNK_ELEMENTS = 2**21


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
    n, p = Xa.shape
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
    codes = codes.astype(np.intp)
    if not 0 <= int(reference) < K:
        raise InvalidInputError(f"reference must be a class code in 0..{K - 1}")
    reference = int(reference)
    w = positive_weights(sample_weight, n)
    terms = design_terms(p, fit_intercept, feature_names if feature_names is not None else columns)
    names = tuple(str(c) for c in (class_names if class_names is not None else range(K)))
    if len(names) != K:
        raise InvalidInputError(f"class_names has {len(names)} names; expected {K}")
    m_terms = len(terms)
    if m_terms == 0:
        raise InvalidInputError("the design has no columns (p = 0 and no intercept)")

    pos = np.flatnonzero(w > 0)
    if pos.size * (K - 1) > max_cells:
        # Checked before any copy of X: the de-duplicated count below can only be smaller,
        # but computing it costs copies and a sort that a big problem should not pay.
        present0 = np.zeros(K, dtype=bool)
        present0[codes[pos]] = True
        return _Base(
            terms, names, reference, n, K, (), tuple(int(k) for k in np.flatnonzero(~present0))
        ).unchecked(
            f"the linear program would have up to {pos.size * (K - 1)} inequalities (rows with "
            f"positive weight times K-1), more than max_cells={max_cells}",
            pos.size * (K - 1),
        )
    col = detect_collinearity(
        Xa,
        fit_intercept,
        terms[int(fit_intercept) :],
        (w > 0) * 1.0,
        method="gram" if sp.issparse(Xa) else "auto",
    )
    kept = col.kept
    present = np.zeros(K, dtype=bool)
    present[codes[pos]] = True
    empty = tuple(int(k) for k in np.flatnonzero(~present))
    base = _Base(terms, names, reference, n, K, col.aliased, empty)

    Z, zrows, scale = _scaled_rows(Xa, pos, kept, fit_intercept)
    zy = codes[zrows]
    # Identical (row, class) pairs give identical cells: merge them (dense only).
    if not sp.issparse(Z):
        _, first, inverse = np.unique(
            np.column_stack([np.asarray(Z), zy]), axis=0, return_index=True, return_inverse=True
        )
        Z, zy, inverse = np.asarray(Z)[first], zy[first], inverse.ravel()
    else:
        inverse = np.arange(zrows.size)
    n_cells = zy.size * (K - 1)
    if n_cells > max_cells:
        return base.unchecked(
            f"the linear program would have {n_cells} inequalities, more than "
            f"max_cells={max_cells}",
            n_cells,
        )
    r = kept.size
    if (K - 1) * r > max_variables:
        return base.unchecked(
            f"the direction would have {(K - 1) * r} free entries, more than "
            f"max_variables={max_variables}",
            n_cells,
        )
    if r == 0 or zy.size == 0:  # every design column (or row) is zero: nothing can move
        return base.result(
            n_cells=n_cells, kind="none", direction=np.zeros((m_terms, K)),
            limits=base.finite_limits(kept), limits_resolved=True,
            zero_probability=np.zeros((n, K), dtype=bool), pairs=(), involved=(),
        )  # fmt: skip
    nonref = [c for c in range(K) if c != reference]
    block = {c: b for b, c in enumerate(nonref)}
    A, cell_row, cell_cls = _cell_matrix(sp.csr_array(Z), zy, K, reference, block, r)
    q = A.shape[1]

    cone = _ConeLP(A, time.monotonic() + float(time_limit))
    found = _separated_cells(cone)
    if found is None:
        return base.unchecked(f"the linear program did not solve ({cone.last_message})", n_cells)
    strict, d_star, complete_search = found
    if not strict.any():
        return base.result(
            n_cells=n_cells, kind="none", direction=np.zeros((m_terms, K)),
            limits=base.finite_limits(kept), limits_resolved=True,
            zero_probability=np.zeros((n, K), dtype=bool), pairs=(), involved=(),
        )  # fmt: skip
    has_zero_rows = zrows.size < pos.size
    kind: Literal["complete", "quasi-complete"] = (
        "complete" if strict.all() and not has_zero_rows else "quasi-complete"
    )

    # Span of C = null space of the cells outside S; finite coefficients have no loading.
    N = _null_space(A[~strict], q)
    free = np.linalg.norm(N, axis=1) > _ZERO if N.shape[1] else np.zeros(q, dtype=bool)
    (can_pos, can_neg), resolved = _coefficient_signs(cone, d_star, free, max_coef_lps)
    resolved = resolved and complete_search
    coef_limits = np.zeros(q)
    coef_limits[free & can_pos & ~can_neg] = np.inf
    coef_limits[free & can_neg & ~can_pos] = -np.inf
    coef_limits[free & (can_pos == can_neg)] = np.nan

    # Back to terms × classes, original units.
    limits = base.finite_limits(kept)
    direction = np.zeros((m_terms, K))
    for c, b in block.items():
        limits[kept, c] = coef_limits[b * r : (b + 1) * r]
        direction[kept, c] = d_star[b * r : (b + 1) * r] / scale
    nrm = np.linalg.norm(direction)
    if nrm > 0:
        direction /= nrm

    zero_prob = np.zeros((n, K), dtype=bool)
    cells_u = np.zeros((zy.size, K), dtype=bool)
    cells_u[cell_row[strict], cell_cls[strict]] = True
    zero_prob[zrows] = cells_u[inverse]
    sep_pairs = sorted(
        {
            (min(a, b), max(a, b))
            for a, b in zip(zy[cell_row[strict]].tolist(), cell_cls[strict].tolist(), strict=True)
        }
    )
    inv_terms = np.zeros(m_terms, dtype=bool)
    inv_terms[kept] = ~np.all(limits[kept] == 0.0, axis=1)
    return base.result(
        n_cells=n_cells,
        kind=kind,
        direction=direction,
        limits=limits,
        limits_resolved=resolved,
        zero_probability=zero_prob,
        pairs=tuple(sep_pairs),
        involved=tuple(terms[j] for j in np.flatnonzero(inv_terms)),
    )


@dataclass(frozen=True)
class _Base:
    """The parts of a result that do not depend on the LP."""

    terms: list[str]
    names: tuple[str, ...]
    reference: int
    n: int
    K: int
    aliased: tuple[str, ...]
    empty: tuple[int, ...]

    def finite_limits(self, kept: IntArray) -> FloatArray:
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
            terms=tuple(self.terms),
            class_names=self.names,
            reference=self.reference,
            n_cells=n_cells,
            empty_classes=self.empty,
        )

    def unchecked(self, reason: str, n_cells: int) -> SeparationResult:
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
            terms=tuple(self.terms),
            class_names=self.names,
            reference=self.reference,
            n_cells=n_cells,
            empty_classes=self.empty,
            reason=reason,
        )


def _col_scale(
    Xa: FloatArray | sp.csr_array, pos: IntArray, kept: IntArray, fit_intercept: bool
) -> FloatArray:
    """Largest |entry| of each kept design column over the positive-weight rows, (r,)."""
    p = Xa.shape[1]
    sub = Xa[pos]
    if sp.issparse(sub):
        mx = np.asarray(abs(sub).max(axis=0).toarray()).ravel() if pos.size else np.zeros(p)
    else:
        mx = np.abs(sub).max(axis=0) if pos.size else np.zeros(p)
    full = np.concatenate([np.ones(int(fit_intercept)), mx])[kept]
    return np.where(full > 0, full, 1.0)


def _scaled_rows(
    Xa: FloatArray | sp.csr_array, pos: IntArray, kept: IntArray, fit_intercept: bool
) -> tuple[FloatArray | sp.csr_array, IntArray, FloatArray]:
    """Kept design columns on the positive-weight rows, column- then row-scaled.

    Returns
    -------
    Z : ndarray or csr_array of shape (n', r)
        Each row has largest absolute entry 1; all-zero rows (possible without an
        intercept) are dropped, since every cell of such a row is identically zero.
    rows : ndarray of shape (n',)
        Original row indices of Z's rows.
    scale : ndarray of shape (r,)
        The column scales (:func:`_col_scale`).
    """
    scale = _col_scale(Xa, pos, kept, fit_intercept)
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


def _cell_matrix(
    Z: sp.csr_array, zy: IntArray, K: int, reference: int, block: dict[int, int], r: int
) -> tuple[sp.csr_array, IntArray, IntArray]:
    """Sparse matrix of the cell inequalities ``x̃_i · (d_{y_i} − d_k) >= 0``.

    Parameters
    ----------
    Z : csr_array of shape (n', r)
    zy : ndarray of shape (n',)
    K, reference : int
    block : dict
        Class code -> block index of its free coefficients (all but the reference).
    r : int
        Kept design columns.

    Returns
    -------
    A : csr_array of shape (n' (K-1), (K-1) r)
        Variables ordered class block by class block.
    cell_row, cell_cls : ndarray of shape (n' (K-1),)
        The Z row and the other class k of each cell.
    """
    Zc = Z.tocoo()
    zr = np.asarray(Zc.row, dtype=np.intp)
    zc = np.asarray(Zc.col, dtype=np.intp)
    zd = np.asarray(Zc.data, dtype=np.float64)
    block_of = np.array([block.get(c, 0) for c in range(K)], dtype=np.intp)
    rows_i: list[IntArray] = []
    cols_i: list[IntArray] = []
    vals: list[FloatArray] = []
    cell_row: list[IntArray] = []
    cell_cls: list[IntArray] = []
    offset = 0
    for k in range(K):
        idx = np.flatnonzero(zy != k)
        local = np.full(zy.size, -1)
        local[idx] = np.arange(idx.size) + offset
        sel = local[zr] >= 0
        er, ec, ed = local[zr[sel]], zc[sel], zd[sel]
        own = zy[zr[sel]]
        keep_own = own != reference
        if keep_own.any():
            bo = block_of[own[keep_own]]
            rows_i.append(er[keep_own])
            cols_i.append(ec[keep_own] + bo * r)
            vals.append(ed[keep_own])
        if k != reference:
            rows_i.append(er)
            cols_i.append(ec + block[k] * r)
            vals.append(-ed)
        cell_row.append(idx)
        cell_cls.append(np.full(idx.size, k, dtype=np.intp))
        offset += idx.size
    q = (K - 1) * r
    A = sp.coo_array(
        (np.concatenate(vals), (np.concatenate(rows_i), np.concatenate(cols_i))),
        shape=(offset, q),
    ).tocsr()
    return A, np.concatenate(cell_row), np.concatenate(cell_cls)


def _null_space(A0: sp.csr_array, q: int) -> FloatArray:
    """Orthonormal basis of the null space of ``A0`` (shape (m0, q)), shape (q, q - rank).

    The rows are reduced chunk by chunk to a (q, q) triangular factor, whose SVD gives
    the basis; singular values below ``max(m0, q) * eps * s_max`` count as zero.
    """
    m0 = A0.shape[0]
    if m0 == 0:
        return np.eye(q)
    R = np.zeros((0, q))
    step = max(1, _CHUNK_ELEMENTS // max(q, 1))
    for lo in range(0, m0, step):
        stacked = np.vstack([R, A0[lo : lo + step].toarray()])
        R = sla.qr(stacked, mode="r", check_finite=False)[0][: min(stacked.shape)]
    _, s, Vt = sla.svd(R, full_matrices=True, check_finite=False)
    tol = max(m0, q) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    rank = int((s > tol).sum())
    return np.asarray(Vt[rank:].T, dtype=np.float64)


class _ConeLP:
    """``maximize obj · D  subject to  A D >= 0, -1 <= D <= 1`` by constraint generation.

    Most cells are redundant, so each LP is solved on a working subset of them (at first
    a deterministic sample); cells the solution violates by more than HiGHS' feasibility
    tolerance are added and the LP is solved again. The final solution satisfies every
    cell, and is optimal for the full problem because the subset problem is a
    relaxation. The working set is kept between calls.

    Parameters
    ----------
    A : csr_array of shape (m, q)
        Cell inequalities, rows scaled to largest absolute entry at most 1.
    deadline : float
        ``time.monotonic()`` value after which no LP is started.
    """

    def __init__(self, A: sp.csr_array, deadline: float) -> None:
        self.A = A
        m = A.shape[0]
        self.active = np.zeros(m, dtype=bool)
        size = min(m, max(_INITIAL_CELLS, 20 * A.shape[1]))
        self.active[np.random.default_rng(0).choice(m, size=size, replace=False)] = True
        self.deadline = deadline
        self.last_message = ""
        self.n_lps = 0

    def maximize(self, obj: FloatArray) -> FloatArray | None:
        """Optimal D of shape (q,), or None when the solver failed or time ran out."""
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                self.last_message = "time limit reached"
                return None
            sub: Any = -self.A[np.flatnonzero(self.active)]  # HiGHS takes sparse A_ub
            res = linprog(
                -obj, A_ub=sub, b_ub=np.zeros(sub.shape[0]), bounds=(-1.0, 1.0),
                method="highs", options={"time_limit": left},
            )  # fmt: skip
            self.n_lps += 1
            if res.status != 0 or res.x is None:
                self.last_message = str(res.message)
                return None
            D = np.asarray(res.x, dtype=np.float64)
            violated = ~self.active & (self.A @ D < -_FEAS)
            if not violated.any():
                return D
            self.active |= violated


def _separated_cells(cone: _ConeLP) -> tuple[BoolArray, FloatArray, bool] | None:
    """The separated set S and a direction making every cell of S strict.

    Repeats Konis' LP, ``maximize Σ_{c not yet in S} (A D)_c`` over the cone and the box:
    its optimum is 0 exactly when no further cell can be strict, and otherwise the
    solution makes at least one new cell strict. The sum of the solutions is strict on
    all of S (each is >= 0 on every cell).

    Returns
    -------
    strict : ndarray of shape (m,), bool
    direction : ndarray of shape (q,)
    complete_search : bool
        False when the rounds stopped at ``_MAX_ROUNDS`` (S may then be too small).
    None
        When the first LP failed (nothing is known).
    """
    A = cone.A
    m, q = A.shape
    known = np.zeros(m, dtype=bool)
    total = np.zeros(q)
    for _ in range(_MAX_ROUNDS):
        obj = np.asarray(A[np.flatnonzero(~known)].sum(axis=0), dtype=np.float64).ravel()
        D = cone.maximize(obj) if np.any(obj) else np.zeros(q)
        if D is None:
            return None if not known.any() else (known, total, False)
        size = np.abs(D).max()
        if size == 0:
            return known, total, True
        D = D / size
        new = ~known & (A @ D > _ZERO)
        if not new.any():
            return known, total, True
        known |= new
        total += D
    return known, total, False


def _coefficient_signs(
    cone: _ConeLP, d_star: FloatArray, free: BoolArray, max_lps: int
) -> tuple[tuple[BoolArray, BoolArray], bool]:
    """Which coefficients can be positive / negative over the cone of directions.

    ``max ± D_j`` over the cone and the box, for each free coefficient and sign not yet
    seen. Every LP solution (and ``d_star``) marks the signs of all the coefficients it
    moves, so usually far fewer than two LPs per coefficient are needed.

    Returns
    -------
    (can_pos, can_neg) : ndarrays of shape (q,), bool
    resolved : bool
        False when ``max_lps``, the time limit or a solver failure stopped the search
        (unknown signs stay False, which the caller turns into nan together with the
        both-signs case).
    """
    q = d_star.size
    can_pos = np.zeros(q, dtype=bool)
    can_neg = np.zeros(q, dtype=bool)

    def mark(D: FloatArray) -> None:
        size = np.abs(D).max()
        if size > 0:
            can_pos[(D / size > _ZERO) & free] = True
            can_neg[(D / size < -_ZERO) & free] = True

    mark(d_star)
    n_lps = 0
    for j in np.flatnonzero(free):
        for sign, known in ((1.0, can_pos), (-1.0, can_neg)):
            if known[j]:
                continue
            if n_lps >= max_lps:
                return (can_pos, can_neg), False
            obj = np.zeros(q)
            obj[j] = sign
            D = cone.maximize(obj)
            n_lps += 1
            if D is None:
                return (can_pos, can_neg), False
            mark(D)
    return (can_pos, can_neg), True
