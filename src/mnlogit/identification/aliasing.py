"""What ``fit`` does with aliased (collinear) columns: drop them, then put them back as zeros.

Before the solver, for unpenalized and Firth fits, :func:`drop_aliased` removes the
columns that are linear combinations of earlier ones (R's ``lm`` rule,
:mod:`mnlogit.identification.collinearity`) with a
:class:`~mnlogit.exceptions.CollinearityWarning`. The reduced fit estimates the kept
columns only; the helpers here map its coefficients and covariance back to the full
design. Aliased coefficients are reported as not estimable: ``coef_`` holds 0 for them
(so predictions are those of the identified model), tables show NaN, and no finite
standard error is ever given for them. Ridge fits keep every column: the penalty makes
the estimate unique.

The check runs up to :data:`MAX_COLLINEARITY_COLUMNS` design columns
(``docs/diagnostics.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnlogit.exceptions import CollinearityWarning, warn
from mnlogit.identification.collinearity import (
    CollinearityResult,
    certify_full_rank,
    detect_collinearity,
)
from mnlogit.identification.scales import ColumnSums

__all__ = [
    "MAX_COLLINEARITY_COLUMNS",
    "aliased_mask",
    "drop_aliased",
    "expand_coefficients",
    "expand_covariance",
    "kept_rows",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


#: Largest number of design columns for which ``fit`` checks collinearity.
MAX_COLLINEARITY_COLUMNS = 2000


def drop_aliased(
    X: Any,
    fit_intercept: bool,
    names: list[str],
    sample_weight: FloatArray,
    col_maxabs: FloatArray | None = None,
    column_sums: ColumnSums | None = None,
) -> tuple[Any, IntArray | None, CollinearityResult | None]:
    """Remove aliased columns, warning about them.

    Skipped (nothing dropped, ``result`` None) when the design has more than
    :data:`MAX_COLLINEARITY_COLUMNS` columns or X has none.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
        Validated features (finite: the check does not look again).
    fit_intercept : bool
    names : list of str, length p
        Feature names for the warning.
    sample_weight : ndarray of shape (n,)
        Rows with weight 0 are left out of the check.
    col_maxabs : ndarray of shape (p,), optional
        :func:`~mnlogit.identification.scales.column_maxabs` of X, when already known.
    column_sums : ColumnSums, optional
        :func:`~mnlogit.identification.scales.column_maxabs_and_gram` of X, when known
        (read only for equally weighted rows). With a row sample's Gram matrix
        (``gram="sample"``) the check first tries
        :func:`~mnlogit.identification.collinearity.certify_full_rank`, which proves
        most full-rank designs full rank without ``XᵀX``.

    Returns
    -------
    X_kept : ndarray or sparse matrix of shape (n, p_kept)
        ``X`` itself when nothing was dropped.
    kept : ndarray of shape (p_kept,) or None
        Indices of the kept feature columns (None when nothing was dropped).
    result : CollinearityResult or None
        None when the check was skipped (too many columns).

    Warns
    -----
    CollinearityWarning
        Naming the dropped columns and what they equal.
    """
    if X.shape[1] + int(fit_intercept) > MAX_COLLINEARITY_COLUMNS or X.shape[1] == 0:
        return X, None, None
    if column_sums is not None and column_sums.sample is not None:
        # the read summed a row sample's Gram matrix only: most designs are proved to
        # keep every column from it; the others are checked on all rows below
        certified = certify_full_rank(
            column_sums.sample, int(X.shape[0]), column_sums.maxabs, fit_intercept, names
        )
        if certified is not None:
            return X, None, certified
    result = detect_collinearity(
        X,
        fit_intercept=fit_intercept,
        feature_names=names,
        sample_weight=sample_weight,
        check_finite=False,  # validated by fit
        col_maxabs=col_maxabs,
        column_sums=column_sums,
    )
    if not result.collinear:
        return X, None, result
    kept = np.asarray(result.kept_features, dtype=np.intp)
    warn(
        CollinearityWarning(
            f"{result.message}\nmnlogit dropped the aliased column(s) "
            f"{list(result.aliased)} from the fit; their coefficients are reported as not "
            "estimable (NaN in tables, 0 in coef_)."
        )
    )
    return X[:, kept], kept, result


def kept_rows(kept: IntArray, fit_intercept: bool) -> IntArray:
    """Rows of the full coefficient matrix that the reduced fit estimated.

    Parameters
    ----------
    kept : ndarray of shape (p_kept,)
        Kept feature columns, as from :func:`drop_aliased`.
    fit_intercept : bool

    Returns
    -------
    ndarray of shape (p_kept + fit_intercept,)
        Row indices into the ``(p + fit_intercept, K)`` matrix ``[intercept; coef.T]``:
        the intercept row 0 (when fitted), then the kept features shifted by one.
    """
    off = int(fit_intercept)
    head = np.array([0], dtype=np.intp) if fit_intercept else np.empty(0, dtype=np.intp)
    return np.concatenate([head, kept + off]).astype(np.intp)


def expand_coefficients(coef: FloatArray, kept: IntArray, n_features: int) -> FloatArray:
    """Coefficients of the reduced fit placed in the full feature columns, zeros elsewhere.

    Parameters
    ----------
    coef : ndarray of shape (K, p_kept)
    kept : ndarray of shape (p_kept,)
    n_features : int
        p, the number of columns of the original X.

    Returns
    -------
    ndarray of shape (K, p)
    """
    full = np.zeros((coef.shape[0], n_features))
    full[:, kept] = coef
    return full


def expand_covariance(
    cov: FloatArray, kept: IntArray, n_features: int, K: int, fit_intercept: bool
) -> FloatArray:
    """Covariance of the full ``vec(B)``, with zero rows and columns for aliased coefficients.

    The aliased coefficients were fixed at zero in the fit; the inference layer shows
    them as NaN.

    Parameters
    ----------
    cov : ndarray of shape (K (p_kept + fit_intercept), K (p_kept + fit_intercept))
        Covariance of the reduced ``vec(B)``, ``B`` of shape (p_kept + fit_intercept, K)
        stacked column by column (class by class).
    kept : ndarray of shape (p_kept,)
    n_features : int
        p.
    K : int
        Number of classes (columns of B).
    fit_intercept : bool

    Returns
    -------
    ndarray of shape (K (p + fit_intercept), K (p + fit_intercept))
    """
    p1 = n_features + int(fit_intercept)
    rows = kept_rows(kept, fit_intercept)
    idx = np.concatenate([k * p1 + rows for k in range(K)])
    full = np.zeros((K * p1, K * p1))
    full[np.ix_(idx, idx)] = cov
    return full


def aliased_mask(
    kept: IntArray | None, n_features: int, K: int, fit_intercept: bool
) -> NDArray[np.bool_]:
    """Which entries of the full ``vec(B)`` belong to aliased columns.

    Parameters
    ----------
    kept : ndarray of shape (p_kept,) or None
        Kept feature columns; None when nothing was dropped (no entry is aliased).
    n_features : int
        p.
    K : int
    fit_intercept : bool

    Returns
    -------
    ndarray of bool, shape (K (p + fit_intercept),)
        ``vec(B)`` of ``B`` of shape (p + fit_intercept, K), class by class.
    """
    p1 = n_features + int(fit_intercept)
    mask = np.zeros(K * p1, dtype=bool)
    if kept is None:
        return mask
    gone = np.setdiff1d(np.arange(n_features), kept) + int(fit_intercept)
    for k in range(K):
        mask[k * p1 + gone] = True
    return mask
