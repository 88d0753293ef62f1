"""What a fit does about separation: whether and how to look, and what a model keeps.

Every unpenalized fit is checked (:func:`find_separation`). The exact linear program of
:mod:`mnlogit.identification.separation` runs on all rows when it is small
(:data:`ALWAYS_CHECK_CELLS`) or when the fit shows signs of separation
(:func:`separation_suspected`); otherwise a reduced LP on a subset of rows -- those with
the smallest fitted probabilities first, grown by the rows its direction violates --
decides, and only data it finds separated pay for the full LP. :class:`RecordedSeparation`
is what a model file keeps of the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from mnlogit.exceptions import SeparationWarning, warn
from mnlogit.identification.existence import FitProbabilities, certificate_work, not_separated
from mnlogit.identification.separation import (
    MAX_VARIABLES,
    SeparationResult,
    detect_separation,
)
from mnlogit.objective.blocks import row_blocks

__all__ = [
    "ALWAYS_CHECK_CELLS",
    "CERTIFICATE_MAX_WORK",
    "CERTIFICATE_MIN_SAMPLE",
    "CERTIFICATE_SAMPLE_FRACTION",
    "CERTIFICATE_SAMPLE_MAX_WORK",
    "CERTIFICATE_SAMPLE_PER_PARAMETER",
    "REDUCED_ROUNDS",
    "REDUCED_ROWS",
    "SUSPICIOUS_PROBABILITY",
    "RecordedSeparation",
    "certificate_samples",
    "find_separation",
    "separation_suspected",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class RecordedSeparation:
    """What a model file keeps of a :class:`SeparationResult`: enough to refuse inference.

    Attributes
    ----------
    kind : str
        ``"complete"`` or ``"quasi-complete"``.
    message : str
        :attr:`SeparationResult.message` at fit time.
    """

    kind: str
    message: str


#: The full LP always runs when it has at most this many inequalities (cheap at that size;
#: timings in docs/diagnostics.md); bigger fits run it when the fit shows signs of
#: separation, and otherwise the reduced LP on a subset of rows (:func:`find_separation`
#: with candidates): every unpenalized fit is checked, the size decides how.
ALWAYS_CHECK_CELLS = 20_000
#: A fitted probability below this, for any row and class, is such a sign: under
#: separation the separated cells' probabilities are driven to zero.
SUSPICIOUS_PROBABILITY = 1e-10
#: Rows in the first reduced LP of a large fit (:func:`find_separation` with candidates):
#: those with the smallest fitted probabilities, plus the first rows of every class.
REDUCED_ROWS = 2000
#: Rounds of the reduced LP (each adds the rows the last direction violates) before the
#: full LP is run instead.
REDUCED_ROUNDS = 20
#: Largest :func:`~mnlogit.identification.existence.certificate_work` for which a large
#: fit first looks for a certificate that no class is separated (Stiemke's theorem); it
#: decides most well-determined fits in a fraction of the LP's time (docs/diagnostics.md).
CERTIFICATE_MAX_WORK = 2.0**33
#: The certificate's curvature on a sample: an evenly spaced sample of this many rows per
#: free parameter (at least CERTIFICATE_MIN_SAMPLE rows): the proof holds on any sample,
#: and a sample that misses a rare category is only inconclusive (all rows are tried
#: next where affordable). 20, not 50: on dense-200k-100-10 the sample's curvature took
#: 0.96 s of a 3.5 s fit with 45,450 rows.
CERTIFICATE_SAMPLE_PER_PARAMETER = 20
CERTIFICATE_MIN_SAMPLE = 10_000
#: Largest work of the certificate on the sample (its cost does not grow with ``n``, so a
#: larger budget than for all rows): the subset LP it spares took 60 s on
#: ``dense-200k-100-10`` (909 variables), the sample's curvature about 0.3 s.
CERTIFICATE_SAMPLE_MAX_WORK = 2.0**35
#: The sample is tried first (before all rows) when it holds at most ``1 / 4`` of the rows,
#: so that tall fits pay for the certificate in proportion to ``m``, not ``n``.
CERTIFICATE_SAMPLE_FRACTION = 4


def separation_suspected(
    min_probability: Callable[[], float],
    sample_weight: FloatArray,
    converged: bool,
    K: int,
) -> bool:
    """Whether to run the separation LP after an unpenalized fit.

    Always for small problems (``rows * (K - 1) <= ALWAYS_CHECK_CELLS``); otherwise when the
    solver did not converge or some fitted probability (rows with positive weight) fell
    below ``SUSPICIOUS_PROBABILITY``.

    Parameters
    ----------
    min_probability : callable () -> float
        The smallest fitted probability over rows with positive weight and classes;
        called only when the answer depends on it (it may cost a pass over X).
    sample_weight : ndarray of shape (n,)
    converged : bool
        Whether the solver converged.
    K : int
        Number of classes.

    Returns
    -------
    bool
    """
    rows = sample_weight > 0
    if int(rows.sum()) * (K - 1) <= ALWAYS_CHECK_CELLS:
        return True
    if not converged:
        return True
    return bool(min_probability() < SUSPICIOUS_PROBABILITY)


def _cell_margins(
    X: Any, codes: IntArray, weights: FloatArray, direction: FloatArray, fit_intercept: bool
) -> tuple[IntArray, NDArray[np.bool_]]:
    """Where ``direction`` violates or makes strict the cell inequalities of all rows.

    Reads X in row blocks (no ``n x p`` temporary such as ``abs(X)``).

    Returns
    -------
    violated : ndarray of int
        Rows with positive weight where the direction lowers the own class's predictor
        relative to another class beyond rounding.
    strict : ndarray of bool, shape (n,)
        Rows whose every cell is strict (the own class gains on every other class).
    """
    off = int(fit_intercept)
    D, absD = direction[off:], np.abs(direction[off:])
    n = codes.size
    bad = np.zeros(n, dtype=bool)
    strict = np.zeros(n, dtype=bool)
    for sl in row_blocks(n, max(D.shape[0], 1)):
        block: Any = X[sl]
        eta = np.asarray(block @ D, dtype=np.float64)
        mag = np.asarray(abs(block) @ absD, dtype=np.float64)
        if fit_intercept:
            eta += direction[0]
            mag += np.abs(direction[0])
        idx = np.arange(eta.shape[0])
        own = codes[sl]
        margin = eta[idx, own][:, None] - eta
        tol = 1e-7 * (mag[idx, own][:, None] + mag)
        bad[sl] = (margin < -tol).any(axis=1)
        margin[idx, own] = np.inf  # the own class is no constraint
        strict[sl] = (margin > tol).all(axis=1)
    bad &= weights > 0
    return np.flatnonzero(bad).astype(np.intp), strict


def certificate_samples(X: Any, K: int, fit_intercept: bool) -> tuple[IntArray | None, ...]:
    """The row selections the non-separation certificate forms its curvature on, in order.

    An evenly spaced sample of :data:`CERTIFICATE_SAMPLE_PER_PARAMETER` rows per free
    parameter (at least :data:`CERTIFICATE_MIN_SAMPLE`) comes first when it holds at most
    ``1 / CERTIFICATE_SAMPLE_FRACTION`` of the rows (its cost does not grow with ``n``),
    or when all rows would cost more than :data:`CERTIFICATE_MAX_WORK` -- as long as the
    sample costs at most :data:`CERTIFICATE_SAMPLE_MAX_WORK`; all rows (None) next, when
    they cost at most :data:`CERTIFICATE_MAX_WORK`. Empty when neither is affordable. A sample
    that misses a rare category is only inconclusive, and all rows are tried then.
    """
    n = X.shape[0]
    work = certificate_work(X, K, fit_intercept)
    m = (K - 1) * (X.shape[1] + int(fit_intercept))
    k = max(CERTIFICATE_SAMPLE_PER_PARAMETER * m, CERTIFICATE_MIN_SAMPLE)
    tries: list[IntArray | None] = []
    small = k * CERTIFICATE_SAMPLE_FRACTION <= n
    affordable = work * k / n <= CERTIFICATE_SAMPLE_MAX_WORK
    if k < n and affordable and (small or work > CERTIFICATE_MAX_WORK):
        tries.append(np.unique(np.linspace(0, n - 1, k).astype(np.intp)))
    if work <= CERTIFICATE_MAX_WORK:
        tries.append(None)
    return tuple(tries)


def _initial_rows(scores: FloatArray, codes: IntArray, weights: FloatArray, K: int) -> IntArray:
    """The first reduced LP's rows: the lowest scores and some rows of every class."""
    positive = weights > 0
    ranked = np.where(positive, scores, np.inf)
    k = min(REDUCED_ROWS, ranked.size)
    lowest = np.argpartition(ranked, k - 1)[:k] if k else np.zeros(0, np.intp)
    picks = [lowest[positive[lowest]]]
    for k in range(K):
        picks.append(np.flatnonzero(positive & (codes == k))[: max(REDUCED_ROWS // 20, 2)])
    return np.unique(np.concatenate(picks)).astype(np.intp)


def _reduced_separation(
    X: Any,
    codes: IntArray,
    K: int,
    weights: FloatArray,
    fit_intercept: bool,
    names: list[str],
    labels: list[str],
    reference: int,
    scores: FloatArray,
) -> SeparationResult | bool | None:
    """Whether the classes are separated, by the LP on a growing subset of rows.

    The cone of a subset of rows contains the full cone, so a subset that is not
    separated proves the full data are not (``False``); a subset's direction of recession
    that violates no other row proves they are: the subset's result is returned, its
    ``zero_probability`` over all rows and its kind ``"complete"`` only when the
    direction is strict on every cell. Otherwise the violated rows join the subset and
    the LP runs again. ``None`` when this takes more than :data:`REDUCED_ROUNDS` rounds
    or the LP does not solve, and at once when the design has more than
    :data:`~mnlogit.identification.separation.MAX_VARIABLES` LP variables.
    """
    if (K - 1) * (X.shape[1] + int(fit_intercept)) > MAX_VARIABLES:
        # the subset LP would refuse as too wide (X's aliased columns are dropped before
        # the fit): decided before its rows are copied
        return None
    rows = _initial_rows(scores, codes, weights, K)
    Xa: Any = sp.csr_array(cast(Any, X)) if sp.issparse(X) else X
    for _ in range(REDUCED_ROUNDS):
        sub = detect_separation(
            Xa[rows], codes[rows], K, weights[rows], fit_intercept, names, labels,
            reference=reference,
        )  # fmt: skip
        if not sub.checked:
            return None
        if not sub.separated:
            return False
        violated, strict = _cell_margins(Xa, codes, weights, sub.direction, fit_intercept)
        if violated.size == 0:
            complete = bool(strict[weights > 0].all())
            kind: Literal["complete", "quasi-complete"] = (
                "complete" if complete else "quasi-complete"
            )
            zero = np.zeros((codes.size, K), dtype=bool)
            zero[rows] = sub.zero_probability
            return replace(sub, kind=kind, zero_probability=zero)
        rows = np.union1d(rows, violated[: 4 * REDUCED_ROWS]).astype(np.intp)
    return None


def find_separation(
    X: Any,
    codes: IntArray,
    K: int,
    sample_weight: FloatArray,
    fit_intercept: bool,
    names: list[str],
    classes: NDArray[Any],
    reference: int | None,
    probabilities: FloatArray | FitProbabilities | None = None,
    subset_first: bool = False,
    column_factor: FloatArray | None = None,
    certify: bool = True,
) -> SeparationResult | None:
    """Run the separation LP; warn and return the result when the classes are separated.

    With ``probabilities`` (a large fit that converged), a certificate that no class is
    separated is looked for first (:func:`~mnlogit.identification.existence.not_separated`).
    When it does not decide: with ``subset_first`` (no signs of separation) the question
    is decided exactly by the LP on a subset of rows grown by constraint generation
    (:func:`_reduced_separation`), starting from the rows with the smallest fitted
    probability (separated cells' probabilities go to zero); only
    separated data then pay for the full LP that describes the separation.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
        The features the fit used (aliased columns already dropped).
    codes : ndarray of shape (n,)
        Class codes in ``0 .. K - 1``.
    K : int
    sample_weight : ndarray of shape (n,)
        Rows with weight 0 are ignored.
    fit_intercept : bool
    names : list of str, length p
        Feature names for the message.
    classes : ndarray of shape (K,)
        Class labels for the message.
    reference : int or None
        Reference class code; None (symmetric form) reports against class 0.
    probabilities : ndarray of shape (n, K) or FitProbabilities, optional
        The fitted probabilities of a converged fit (or those read by rows, with the
        residual: no ``n x K`` array): a certificate that no class is separated is
        looked for first.
    subset_first : bool, default=False
        With ``probabilities``: when the certificate does not decide, try the LP on a
        growing subset of rows before the full LP (a large fit without signs of
        separation). Without it, the subset LP is still tried after the full LP when that
        one is over its size caps (a fit with signs of separation past the size cliff).
    column_factor : ndarray of shape (p,), optional
        The fit's column scaling (conditioning of the certificate's products).
    certify : bool, default=True
        Look for the certificate with ``probabilities`` (a converged fit's). False: they
        only order the rows of the subset LP (a fit that did not converge, whose
        probabilities prove nothing but still point at the separated cells).

    Returns
    -------
    SeparationResult or None
        None when the data are not separated, or the check was skipped.

    Warns
    -----
    SeparationWarning
        With :attr:`SeparationResult.message`.
    """
    labels = [str(c) for c in classes.tolist()]
    ref = 0 if reference is None else reference
    found: SeparationResult | bool | None = None
    if probabilities is not None and certify:
        samples = certificate_samples(X, K, fit_intercept)
        if samples and not_separated(
            X, codes, sample_weight, probabilities, fit_intercept, column_factor, samples
        ):
            return None

    def reduced() -> SeparationResult | bool | None:
        assert probabilities is not None
        if isinstance(probabilities, FitProbabilities):
            scores = probabilities.row_minimum()
        else:
            scores = probabilities.min(axis=1)
        return _reduced_separation(
            X, codes, K, sample_weight, fit_intercept, names, labels, ref, scores
        )

    if subset_first and probabilities is not None:
        # only now: the certificate may have decided
        found = reduced()
        if found is False:
            return None
    result = detect_separation(
        X, codes, K, sample_weight, fit_intercept, names, labels, reference=ref
    )
    if not result.checked and found is None and probabilities is not None and not subset_first:
        # the full LP is over its size caps and the subset was not tried (a fit with signs
        # of separation past the size cliff, e.g. coefficients run off to 1e5): try it now
        found = reduced()
    if not result.checked and isinstance(found, SeparationResult):
        result = found  # the full LP is over its size caps: the subset's finding stands
    if not (result.checked and result.separated):
        return None
    warn(SeparationWarning(result.message))
    return result
