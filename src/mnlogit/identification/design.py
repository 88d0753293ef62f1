"""The design ``[1, X]`` as the collinearity and separation checks read it.

Both checks are public functions of raw data, so they share these steps: X as a float
ndarray or CSR array (no copy for float32/float64 arrays), the names of the design's
columns (``"Intercept"`` first when fitted), and validated non-negative row weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from mnlogit.exceptions import InvalidInputError
from mnlogit.objective.blocks import row_blocks

__all__ = ["as_2d", "design_terms", "positive_weights"]

FloatArray = NDArray[np.float64]


def design_terms(p: int, fit_intercept: bool, feature_names: Sequence[str] | None) -> list[str]:
    """Names of the design columns: ``"Intercept"`` (if any), then features (``x0, x1, …``).

    Parameters
    ----------
    p : int
        Number of features.
    fit_intercept : bool
    feature_names : sequence of str of length p, or None

    Returns
    -------
    list of str, length p + fit_intercept
    """
    if feature_names is None:
        names = [f"x{j}" for j in range(p)]
    else:
        names = [str(f) for f in feature_names]
        if len(names) != p:
            raise InvalidInputError(f"feature_names has {len(names)} names but X has {p} columns")
    return (["Intercept"] if fit_intercept else []) + names


def as_2d(X: Any, check_finite: bool = True) -> tuple[FloatArray | sp.csr_array, list[str] | None]:
    """X as a float ndarray or CSR array, and its column names when it is a data frame.

    Float32 and float64 arrays are used as they are (no copy); other types become float64.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n, p)
    check_finite : bool, default=True
        Refuse NaN and infinite values (``fit`` has checked them already).

    Returns
    -------
    X : ndarray or scipy.sparse.csr_array of shape (n, p)
    columns : list of str or None
    """
    columns = [str(c) for c in X.columns] if hasattr(X, "columns") else None
    if sp.issparse(X):
        Xs = sp.csr_array(cast(Any, X))
        if Xs.dtype not in (np.float32, np.float64):
            Xs = Xs.astype(np.float64)
        if Xs.ndim != 2:
            raise InvalidInputError(f"X must be 2-D, got shape {Xs.shape}")
        if check_finite and not np.all(np.isfinite(Xs.data)):
            raise InvalidInputError("X contains NaN or infinite values")
        return Xs, columns
    Xd = np.asarray(X)
    if Xd.dtype not in (np.float32, np.float64):
        Xd = np.asarray(X, dtype=np.float64)
    if Xd.ndim != 2:
        raise InvalidInputError(f"X must be 2-D, got shape {Xd.shape}")
    # in row blocks: np.isfinite(X) whole is an n x p boolean array (14 MiB on
    # dense-50k-300-20, the separation check's largest temporary)
    if check_finite and not all(
        np.isfinite(Xd[sl]).all() for sl in row_blocks(Xd.shape[0], Xd.shape[1])
    ):
        raise InvalidInputError("X contains NaN or infinite values")
    return Xd, columns


def positive_weights(sample_weight: Any, n: int) -> FloatArray:
    """Validated non-negative finite row weights (ones when None).

    Parameters
    ----------
    sample_weight : array-like of shape (n,) or None
    n : int
        Number of rows of X.

    Returns
    -------
    ndarray of float64, shape (n,)
        With at least one positive entry.

    Raises
    ------
    InvalidInputError
        Wrong shape, NaN, infinite or negative values, or every weight zero.
    """
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise InvalidInputError(f"sample_weight has shape {w.shape}; expected ({n},)")
    # two reductions, no n-sized temporaries: a NaN makes the minimum NaN, an infinity
    # makes an extreme infinite
    lo, hi = (float(w.min()), float(w.max())) if w.size else (0.0, 0.0)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0:
        raise InvalidInputError("sample_weight must be finite and non-negative")
    if not hi > 0:
        raise InvalidInputError("every sample weight is zero: there are no rows to examine")
    return w
