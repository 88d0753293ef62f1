"""Building a fitted model from given coefficients (``MultinomialLogit.from_coefficients``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from mnlogit.exceptions import InvalidInputError

__all__ = ["build_from_coefficients"]


def build_from_coefficients(
    cls: Any,
    classes: ArrayLike,
    intercept: ArrayLike,
    coef: ArrayLike,
    reference: Any = None,
    feature_names: ArrayLike | None = None,
) -> Any:
    """A fitted ``cls`` (``MultinomialLogit``) from given numbers.

    See :meth:`mnlogit.MultinomialLogit.from_coefficients` for the parameters.
    """
    labels = np.asarray(classes)
    K = labels.size
    if K < 2 or np.unique(labels).size != K:
        raise InvalidInputError("classes must hold at least two distinct labels")
    b = np.atleast_1d(np.asarray(intercept, dtype=np.float64))
    W = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    if W.shape[0] != b.shape[0]:
        raise InvalidInputError(
            f"intercept has {b.shape[0]} entries but coef has {W.shape[0]} rows"
        )
    ref_pos = None
    if reference is not None:
        hits = np.flatnonzero(labels == reference)
        if hits.size != 1:
            raise InvalidInputError(f"reference={reference!r} is not one of the classes")
        ref_pos = int(hits[0])
    if W.shape[0] == K - 1:
        if ref_pos is None:
            raise InvalidInputError("coef with K-1 rows needs the reference class")
        W = np.insert(W, ref_pos, 0.0, axis=0)
        b = np.insert(b, ref_pos, 0.0)
    if W.shape[0] != K:
        raise InvalidInputError(f"coef must have {K} or {K - 1} rows, got {W.shape[0]}")
    B = np.vstack([b[None, :], W.T])
    shift = B.mean(axis=1, keepdims=True) if ref_pos is None else B[:, [ref_pos]]
    B = B - shift
    order = np.argsort(labels, kind="stable")
    model = cls(reference=reference)
    model.classes_ = labels[order]
    model.reference_ = reference
    model.intercept_ = np.ascontiguousarray(B[0, order])
    model.coef_ = np.ascontiguousarray(B[1:, order].T)
    model.n_features_in_ = W.shape[1]
    model.fit_intercept_ = True
    model.design_ = None
    if feature_names is not None:
        names = np.asarray(feature_names, dtype=object)
        if names.shape != (W.shape[1],):
            raise InvalidInputError(
                f"feature_names must have {W.shape[1]} entries, got {names.shape}"
            )
        model.feature_names_in_ = names
    return model
