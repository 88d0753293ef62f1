"""Identification checks run by ``fit``: aliased (collinear) columns and separation.

- **Collinearity** (before the solver, for unpenalized and Firth fits): columns that are
  linear combinations of earlier ones (R's ``lm`` rule, :mod:`mnlogit.collinearity`) are
  dropped from the fit with a :class:`~mnlogit.exceptions.CollinearityWarning`. Their
  coefficients are reported as not estimable: ``coef_`` holds 0 for them (so
  predictions are those of the identified model), tables show NaN, and no finite
  standard error is ever given for them. Ridge fits keep every column: the penalty makes
  the estimate unique.
- **Separation** (after the solver, for unpenalized fits): the linear program of
  :mod:`mnlogit.separation` -- always for small problems, and for larger ones when the
  fit shows signs of separation (no convergence, or a fitted probability below 1e-10:
  the LP can take tens of seconds on 10^5 inequalities); when the classes are
  (quasi-)completely separated the MLE does not exist, the fit warns with
  :class:`~mnlogit.exceptions.SeparationWarning`, keeps the finding in
  ``separation_``, and inference refuses with :class:`~mnlogit.exceptions.SeparationError`.

Both checks have size limits (documented in ``docs/diagnostics.md``): collinearity up
to 2000 design columns; separation up to 200,000 inequalities, i.e. (rows with positive
weight) x (K - 1), checked before any work is done.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnlogit.collinearity import CollinearityResult, detect_collinearity
from mnlogit.exceptions import CollinearityWarning, SeparationWarning
from mnlogit.separation import SeparationResult, detect_separation

__all__ = [
    "MAX_COLLINEARITY_COLUMNS",
    "RecordedSeparation",
    "aliased_mask",
    "drop_aliased",
    "expand_coefficients",
    "expand_covariance",
    "find_separation",
    "kept_rows",
    "separation_suspected",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class RecordedSeparation:
    """What a model file keeps of a :class:`SeparationResult`: enough to refuse inference."""

    kind: str
    message: str


#: Largest number of design columns for which ``fit`` checks collinearity.
MAX_COLLINEARITY_COLUMNS = 2000


def drop_aliased(
    X: Any,
    fit_intercept: bool,
    names: list[str],
    sample_weight: FloatArray,
    col_maxabs: FloatArray | None = None,
) -> tuple[Any, NDArray[np.intp] | None, CollinearityResult | None]:
    """Remove aliased columns, warning about them.

    Returns
    -------
    X_kept : ndarray or sparse matrix of shape (n, p_kept)
    kept : ndarray of shape (p_kept,) or None
        Indices of the kept feature columns (None when nothing was dropped).
    result : CollinearityResult or None
        None when the check was skipped (too many columns).
    """
    if X.shape[1] + int(fit_intercept) > MAX_COLLINEARITY_COLUMNS or X.shape[1] == 0:
        return X, None, None
    result = detect_collinearity(
        X,
        fit_intercept=fit_intercept,
        feature_names=names,
        sample_weight=sample_weight,
        check_finite=False,  # validated by fit
        col_maxabs=col_maxabs,
    )
    if not result.collinear:
        return X, None, result
    kept = np.asarray(result.kept_features, dtype=np.intp)
    warnings.warn(
        CollinearityWarning(
            f"{result.message}\nmnlogit dropped the aliased column(s) "
            f"{list(result.aliased)} from the fit; their coefficients are reported as not "
            "estimable (NaN in tables, 0 in coef_)."
        ),
        stacklevel=4,
    )
    return X[:, kept], kept, result


def kept_rows(kept: NDArray[np.intp], fit_intercept: bool) -> NDArray[np.intp]:
    """Rows of the full ``(p1, K)`` coefficient matrix that the reduced fit estimated."""
    off = int(fit_intercept)
    head = np.array([0], dtype=np.intp) if fit_intercept else np.empty(0, dtype=np.intp)
    return np.concatenate([head, kept + off]).astype(np.intp)


def expand_coefficients(coef: FloatArray, kept: NDArray[np.intp], n_features: int) -> FloatArray:
    """``(K, p)`` coefficients with zeros in the aliased columns."""
    full = np.zeros((coef.shape[0], n_features))
    full[:, kept] = coef
    return full


def expand_covariance(
    cov: FloatArray, kept: NDArray[np.intp], n_features: int, K: int, fit_intercept: bool
) -> FloatArray:
    """Covariance of the full ``vec(B)``: zero rows and columns for aliased coefficients
    (fixed at zero in the fit); the inference layer shows them as NaN."""
    p1 = n_features + int(fit_intercept)
    rows = kept_rows(kept, fit_intercept)
    idx = np.concatenate([k * p1 + rows for k in range(K)])
    full = np.zeros((K * p1, K * p1))
    full[np.ix_(idx, idx)] = cov
    return full


def aliased_mask(
    kept: NDArray[np.intp] | None, n_features: int, K: int, fit_intercept: bool
) -> NDArray[np.bool_]:
    """True for entries of ``vec(B)`` that belong to aliased columns."""
    p1 = n_features + int(fit_intercept)
    mask = np.zeros(K * p1, dtype=bool)
    if kept is None:
        return mask
    gone = np.setdiff1d(np.arange(n_features), kept) + int(fit_intercept)
    for k in range(K):
        mask[k * p1 + gone] = True
    return mask


#: The LP always runs when it has at most this many inequalities (well under a second);
#: bigger fits run it only when the fit itself shows signs of separation.
ALWAYS_CHECK_CELLS = 20_000
#: A fitted probability below this, for any row and class, is such a sign: under
#: separation the separated cells' probabilities are driven to zero.
SUSPICIOUS_PROBABILITY = 1e-10


def separation_suspected(
    min_probability: Callable[[], float],
    sample_weight: FloatArray,
    converged: bool,
    K: int,
) -> bool:
    """Whether to run the separation LP after an unpenalized fit.

    Always for small problems (``rows * (K - 1) <= ALWAYS_CHECK_CELLS``); otherwise when the
    solver did not converge or some fitted probability (rows with positive weight) fell
    below ``SUSPICIOUS_PROBABILITY``. ``min_probability`` returns that smallest
    probability; it is called only when the answer depends on it (it may cost a pass).
    """
    rows = sample_weight > 0
    if int(rows.sum()) * (K - 1) <= ALWAYS_CHECK_CELLS:
        return True
    if not converged:
        return True
    return bool(min_probability() < SUSPICIOUS_PROBABILITY)


def find_separation(
    X: Any,
    codes: NDArray[np.intp],
    K: int,
    sample_weight: FloatArray,
    fit_intercept: bool,
    names: list[str],
    classes: NDArray[Any],
    reference: int | None,
) -> SeparationResult | None:
    """Run the separation LP; warn and return the result when the classes are separated."""
    result = detect_separation(
        X,
        codes,
        K,
        sample_weight=sample_weight,
        fit_intercept=fit_intercept,
        feature_names=names,
        class_names=[str(c) for c in classes.tolist()],
        reference=0 if reference is None else reference,
    )
    if not (result.checked and result.separated):
        return None
    warnings.warn(SeparationWarning(result.message), stacklevel=4)
    return result
