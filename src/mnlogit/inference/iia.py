"""Tests of the independence of irrelevant alternatives (IIA).

Under IIA the odds between two classes do not depend on the other classes, so the
multinomial logit restricted to the observations whose class is not ``j`` (and to the
classes other than ``j``) has the same coefficients as the full model. Three tests
compare the two, for each omitted class ``j`` in turn:

``"hausman"`` (Hausman & McFadden 1984; Stata ``hausman ..., alleqs constant``; SPost
``mlogtest, hausman``; R ``mlogit::hmftest``)
    ``H = (b_r - b_f)' (V_r - V_f)^- (b_r - b_f)`` on the ``m`` coefficients the two
    models share, both against the same base class, ``V`` the inverse information of each
    fit. ``V_r - V_f`` is positive semi-definite only asymptotically: when it is not, the
    table says so, ``^-`` is the Moore-Penrose inverse of its correlation-scaled form,
    the degrees of freedom are its rank, and a negative ``H`` gets no p-value.
``"suest"`` (the generalized Hausman test of Stata's ``suest``; Weesie 1999)
    The same contrast with ``Var(b_r - b_f)`` from the stacked per-row scores of the two
    fits, ``sum_i s_i (g_ri - g_fi)(g_ri - g_fi)'`` with ``g_i = V u_i`` (``u_i`` the score
    of row ``i``, zero for the restricted fit on rows of class ``j``): positive
    semi-definite by construction and valid without the full model being efficient. No
    small-sample factor (Stata's ``suest`` multiplies by ``N/(N-1)``, which divides the
    statistic by that factor).
``"small-hsiao"`` (Small & Hsiao 1985; SPost ``mlogtest, smhsiao``)
    The rows are split at random into halves A and B; the full model is fitted on each,
    ``b_AB = b_A / sqrt(2) + (1 - 1 / sqrt(2)) b_B``; on the rows of B not in class ``j``
    the restricted model is fitted (log-likelihood ``L_r``) and its log-likelihood is
    evaluated at ``b_AB`` (``L_AB``, probabilities over the classes other than ``j``).
    ``SH = -2 (L_AB - L_r) >= 0`` with the restricted model's parameter count as df. One
    split, drawn from ``random_state``, serves every omitted class.

What they can and cannot say: these tests have poor size and power in samples of the
usual size. Fry & Harris (1996) and Cheng & Long (2007) found the Hausman-McFadden and
Small-Hsiao tests often reject a true IIA model, often fail to reject a false one, and
contradict each other (and Small-Hsiao changes with the random split). A rejection is a
prompt to think about whether the alternatives are distinct substitutes (McFadden's
"blue bus/red bus"), not proof; a non-rejection is not proof of IIA.

Every omitted class gets one row; when a test cannot be computed (a class left without
observations, separation or a singular information in a refit, collinearity after
dropping rows) the row holds ``nan`` and its ``note`` says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats
from numpy.typing import NDArray

from mnlogit.exceptions import InvalidInputError
from mnlogit.fitted import FittedModel
from mnlogit.identification.validation import label_codes
from mnlogit.inference.refits import (
    NotTestable,
    Refit,
    TrainingData,
    aliased_columns,
    check_classes,
    checked_fit,
)
from mnlogit.objective import log_softmax

__all__ = ["IIA_METHODS", "iia_tests", "quadratic_form"]

FloatArray = NDArray[np.float64]
IIA_METHODS = ("hausman", "suest", "small-hsiao")
COLUMNS = ["statistic", "df", "p_value", "note"]


@dataclass(frozen=True)
class _Row:
    statistic: float
    df: float
    p_value: float
    note: str


def quadratic_form(
    diff: FloatArray, V: FloatArray, scale: FloatArray
) -> tuple[float, int, int, int]:
    """``diff' V^- diff`` with the Moore-Penrose inverse of the scaled ``V``.

    ``V`` is scaled to ``S V S`` with ``S = diag(1 / scale)`` (so a coefficient's units do
    not decide the rank), eigen-decomposed, and eigenvalues with ``|w| <= 1e-10 max|w|``
    are dropped.

    Parameters
    ----------
    diff : ndarray of shape (m,)
    V : ndarray of shape (m, m)
        Symmetric; need not be positive semi-definite.
    scale : ndarray of shape (m,)
        Positive scales (standard errors).

    Returns
    -------
    statistic : float
    rank : int
    n_negative : int
        Eigenvalues kept that are negative.
    m : int
    """
    s = 1.0 / scale
    Vs = V * np.outer(s, s)
    w, U = np.linalg.eigh(0.5 * (Vs + Vs.T))
    keep = np.abs(w) > 1e-10 * max(float(np.abs(w).max(initial=0.0)), 1e-300)
    z = U[:, keep].T @ (diff * s)
    stat = float(np.sum(z * z / w[keep]))
    return stat, int(keep.sum()), int(np.sum(w[keep] < 0)), int(diff.size)


def _chi2_row(stat: float, rank: int, n_negative: int, m: int, notes: list[str]) -> _Row:
    """A row from a Hausman-type quadratic form, with notes on what it is."""
    if rank == 0:
        raise NotTestable("the variance of the contrast is zero: nothing to test")
    if n_negative:
        notes.append(
            f"V_r - V_f is not positive semi-definite ({n_negative} of its {rank} nonzero "
            "eigenvalues negative): statistic from its Moore-Penrose inverse, df = rank"
        )
    elif rank < m:
        notes.append(
            f"the variance of the contrast has rank {rank} < {m}: generalized inverse, df = rank"
        )
    if stat < 0:
        notes.append(
            "negative statistic: the chi-squared reference does not apply; Hausman and "
            "McFadden (1984) read it as no evidence against IIA"
        )
        return _Row(stat, float(rank), float("nan"), "; ".join(notes))
    return _Row(stat, float(rank), float(scipy.stats.chi2.sf(stat, rank)), "; ".join(notes))


# --------------------------------------------------------------------------- fitting


def _aliased_note(state: FittedModel, data: TrainingData, what: str) -> str | None:
    names = aliased_columns(state, data)
    if not names:
        return None
    return (
        f"{what}: column(s) {', '.join(names)} collinear after dropping rows, "
        "left out of the comparison"
    )


# --------------------------------------------------------------------------- layout


def _common_positions(
    full: FittedModel, restricted: FittedModel, constant: bool
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Entries of ``vec(B)`` the two fits share, in the full and restricted layouts."""
    p1 = full.p1
    off = int(full.fit_intercept)
    full_classes = list(full.classes)
    pos_f: list[int] = []
    pos_r: list[int] = []
    bad_f, bad_r = full.aliased_mask, restricted.aliased_mask
    for kr in restricted.free_classes():
        kf = full_classes.index(restricted.classes[kr])
        for t in range(0 if constant else off, p1):
            a, b = kf * p1 + t, kr * p1 + t
            if not bad_f[a] and not bad_r[b]:
                pos_f.append(a)
                pos_r.append(b)
    return np.asarray(pos_f, dtype=np.intp), np.asarray(pos_r, dtype=np.intp)


def _design(X: FloatArray, fit_intercept: bool) -> FloatArray:
    return np.column_stack([np.ones(X.shape[0]), X]) if fit_intercept else X


def _scores_times_cov(state: FittedModel, data: TrainingData, pos: NDArray[np.intp]) -> FloatArray:
    """``G = U cov[:, pos]``: each row's score (in ``vec(B)``) times the covariance columns.

    Returns
    -------
    ndarray of shape (n, len(pos))
    """
    assert state.cov is not None
    B = state.coefficient_matrix()
    Xt = _design(data.X, state.fit_intercept)
    P = np.exp(log_softmax(Xt @ B))
    resid = (data.y[:, None] == state.classes[None, :]).astype(np.float64) - P
    K, p1 = state.n_classes, state.p1
    C = state.cov[:, pos].reshape(K, p1, pos.size)
    G = np.zeros((data.y.shape[0], pos.size))
    for k in range(K):
        G += resid[:, [k]] * (Xt @ C[k])
    return G


# --------------------------------------------------------------------------- the tests


def _hausman(full: FittedModel, restricted: FittedModel, constant: bool, notes: list[str]) -> _Row:
    pos_f, pos_r = _common_positions(full, restricted, constant)
    if pos_f.size == 0:
        raise NotTestable("the two models share no coefficients")
    assert full.cov is not None and restricted.cov is not None
    diff = restricted.coefficient_vector()[pos_r] - full.coefficient_vector()[pos_f]
    Vr = restricted.cov[np.ix_(pos_r, pos_r)]
    V = Vr - full.cov[np.ix_(pos_f, pos_f)]
    scale = np.sqrt(np.maximum(np.diag(Vr), 1e-300))
    return _chi2_row(*quadratic_form(diff, V, scale), notes)


def _suest(
    full: FittedModel,
    restricted: FittedModel,
    data: TrainingData,
    kept: NDArray[np.bool_],
    constant: bool,
    notes: list[str],
) -> _Row:
    pos_f, pos_r = _common_positions(full, restricted, constant)
    if pos_f.size == 0:
        raise NotTestable("the two models share no coefficients")
    diff = restricted.coefficient_vector()[pos_r] - full.coefficient_vector()[pos_f]
    G = -_scores_times_cov(full, data, pos_f)
    G[kept] += _scores_times_cov(restricted, data.subset(kept), pos_r)
    V = G.T @ (data.weights()[:, None] * G)
    scale = np.sqrt(np.maximum(np.diag(V), 1e-300))
    return _chi2_row(*quadratic_form(diff, V, scale), notes)


def _restricted_loglik(
    B: FloatArray, data: TrainingData, classes: NDArray[Any], fit_intercept: bool
) -> float:
    """Log-likelihood of the model restricted to ``classes`` at ``B`` (p1, len(classes))."""
    logp = log_softmax(_design(data.X, fit_intercept) @ B)
    codes = label_codes(classes, data.y)
    return float(np.sum(data.weights() * logp[np.arange(codes.size), codes]))


@dataclass(frozen=True)
class _Halves:
    """Small-Hsiao's split: the full model on half A and on half B, and half B's rows."""

    combined: FloatArray  # b_AB, shape (p1, K)
    half_b: TrainingData
    fit_intercept: bool


def _halves(
    refit: Refit, data: TrainingData, classes: NDArray[Any], reference: Any, random_state: Any
) -> _Halves:
    rng = np.random.default_rng(random_state)
    n = data.y.shape[0]
    in_a = np.zeros(n, dtype=bool)
    in_a[rng.permutation(n)[: n // 2]] = True
    fits = []
    for name, rows in (("half A", in_a), ("half B", ~in_a)):
        half = data.subset(rows)
        check_classes(half, list(classes), f"the random {name}")
        state = checked_fit(refit, half, reference, False, f"full model on {name}")
        dropped = aliased_columns(state, half)
        if dropped:
            raise NotTestable(
                f"full model on {name}: column(s) {', '.join(dropped)} collinear; try "
                "another random_state"
            )
        fits.append(state.coefficient_matrix())
    r2 = 1.0 / np.sqrt(2.0)
    combined = r2 * fits[0] + (1.0 - r2) * fits[1]
    return _Halves(combined, data.subset(~in_a), bool(state.fit_intercept))


def _small_hsiao(
    refit: Refit,
    halves: _Halves,
    classes: NDArray[Any],
    omitted: Any,
    base: Any,
    notes: list[str],
) -> _Row:
    kept_classes = classes[classes != omitted]
    part = halves.half_b.subset(halves.half_b.y != omitted)
    check_classes(part, list(kept_classes), "half B without the omitted class")
    restricted = checked_fit(refit, part, base, False, "restricted model on half B")
    note = _aliased_note(restricted, part, "restricted model on half B")
    if note:
        notes.append(note)
    assert restricted.outcome is not None
    l_r = float(restricted.outcome.statistics.loglik)
    l_ab = _restricted_loglik(
        halves.combined[:, classes != omitted], part, kept_classes, halves.fit_intercept
    )
    df = int(restricted.outcome.statistics.n_params)
    stat = -2.0 * (l_ab - l_r)
    return _Row(stat, float(df), float(scipy.stats.chi2.sf(stat, df)), "; ".join(notes))


# --------------------------------------------------------------------------- driver


def _base_for(classes: NDArray[Any], reference: Any, omitted: Any) -> Any:
    """The base class of both fits: the model's reference unless it is omitted."""
    if reference is not None and reference != omitted:
        return reference
    return next(c for c in classes if c != omitted)


def iia_tests(
    data: TrainingData,
    classes: NDArray[Any],
    reference: Any,
    refit: Refit,
    method: str = "hausman",
    omit: Sequence[Any] | None = None,
    constant: bool = True,
    random_state: Any = None,
) -> pd.DataFrame:
    """One IIA test per omitted class.

    Parameters
    ----------
    data : TrainingData
        The training data.
    classes : ndarray of shape (K,)
        The model's sorted class labels.
    reference : label or None
        The model's reference class (the base of both fits unless omitted, then the
        first other class; ``None``, the symmetric form: the first class).
    refit : Refit
    method : {"hausman", "suest", "small-hsiao"}
    omit : sequence of labels, optional
        The classes to omit; default all.
    constant : bool, default=True
        Compare the intercepts too (Stata's ``hausman ..., constant``; Hausman and
        McFadden include them: under IIA they are unchanged by dropping a class).
        Small-Hsiao always uses every parameter.
    random_state : int, Generator or None
        The Small-Hsiao split.

    Returns
    -------
    DataFrame of shape (len(omit), 4)
        Indexed by ``omitted``; columns ``statistic, df, p_value, note``.
    """
    if method not in IIA_METHODS:
        raise InvalidInputError(f"method must be one of {IIA_METHODS}, got {method!r}")
    labels = list(classes)
    chosen = labels if omit is None else list(omit)
    unknown = [c for c in chosen if c not in labels]
    if unknown:
        raise InvalidInputError(f"omit: {unknown} are not classes of the model ({labels})")
    rows: dict[Any, _Row] = {}
    fulls: dict[Any, FittedModel] = {}
    halves: _Halves | NotTestable | None = None
    for omitted in chosen:
        notes: list[str] = []
        base = _base_for(classes, reference, omitted)
        if base != reference and method != "small-hsiao":  # Small-Hsiao is base-free
            notes.append(f"base class {base}")
        try:
            if len(labels) < 3:
                raise NotTestable(
                    "IIA needs at least three classes (two remain after omitting one)"
                )
            kept = data.y != omitted
            if method == "small-hsiao":
                if halves is None:
                    try:
                        halves = _halves(refit, data, classes, reference, random_state)
                    except NotTestable as exc:
                        halves = exc
                if isinstance(halves, NotTestable):
                    raise halves
                rows[omitted] = _small_hsiao(refit, halves, classes, omitted, base, notes)
                continue
            part = data.subset(kept)
            check_classes(part, [c for c in labels if c != omitted], "the restricted sample")
            if base not in fulls:
                fulls[base] = checked_fit(refit, data, base, True, "full model")
            restricted = checked_fit(refit, part, base, True, "restricted model")
            note = _aliased_note(restricted, part, "restricted model")
            if note:
                notes.append(note)
            if method == "hausman":
                rows[omitted] = _hausman(fulls[base], restricted, constant, notes)
            else:
                rows[omitted] = _suest(fulls[base], restricted, data, kept, constant, notes)
        except NotTestable as exc:
            nan = float("nan")
            rows[omitted] = _Row(nan, nan, nan, "; ".join([*notes, str(exc)]))
    frame = pd.DataFrame(
        [[r.statistic, r.df, r.p_value, r.note] for r in rows.values()],
        index=pd.Index(list(rows), name="omitted"),
        columns=COLUMNS,
    )
    frame.attrs["method"] = method
    return frame
