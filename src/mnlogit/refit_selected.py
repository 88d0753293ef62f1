"""The unpenalized refit of the terms a sparse fit selected (``MultinomialLogit.refit_selected``).

A lasso-type fit chooses which terms enter the model by looking at the data; the usual
standard errors, tests and intervals of a model on those terms treat them as if they had
been fixed in advance, and so are too optimistic (too small, p-values too small, intervals
too narrow). The refit is offered because people ask for it (the "relaxed lasso" /
"post-lasso" estimate, Belloni and Chernozhukov 2013) and because its point estimates are
unshrunk; its inference is **not** adjusted for the selection. Valid post-selection
inference needs methods made for it (sample splitting: select on one half, refit on the
other; or selective inference, R's ``selectiveInference``), which mnlogit does not offer.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from mnlogit.exceptions import InvalidInputError
from mnlogit.fitted import FittedModel

__all__ = ["SPARSE_PENALTIES", "SelectingModel", "refit_selected", "selected_columns"]

#: the penalties whose fits select terms (their zero coefficients are exact)
SPARSE_PENALTIES = ("l1", "elasticnet", "group")


class SelectingModel(Protocol):
    """What the refit uses of a fitted estimator (``MultinomialLogit``): its fitted state,
    its parameters and ``fit`` (of a clone). The estimator is not imported here: it
    imports this module."""

    fitted_: FittedModel

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, groups: Any = None) -> Any: ...


Model = TypeVar("Model", bound=SelectingModel)


def selected_columns(model: SelectingModel) -> NDArray[np.intp]:
    """Positions of the features with a nonzero coefficient in any class.

    Parameters
    ----------
    model : fitted MultinomialLogit

    Returns
    -------
    ndarray of shape (q,)
        Increasing column positions of ``model.coef_`` (of the design matrix for a
        formula model).
    """
    check_is_fitted(model, "coef_")
    return np.flatnonzero(np.any(model.fitted_.coef != 0, axis=0))


def _selected_data(
    model: SelectingModel, X: Any, y: Any, sample_weight: Any
) -> tuple[Any, Any, Any]:
    """The selected columns of the design matrix (named), the labels and the weights
    (of the rows a formula model kept)."""
    state = model.fitted_
    keep = selected_columns(model)
    names = [str(n) for n in state.feature_names]
    if state.design is not None:
        if y is not None:
            raise InvalidInputError("with a formula model, pass the data frame alone (no y)")
        Xd, labels, kept = state.design.training_arrays(X, model.get_params()["missing"])
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)[kept]
        return pd.DataFrame(Xd[:, keep], columns=[names[j] for j in keep]), labels, sample_weight
    if y is None:
        raise InvalidInputError("refit_selected needs y (the labels the model was fitted on)")
    if isinstance(X, pd.DataFrame):
        return X.iloc[:, keep], y, sample_weight
    if sp.issparse(X):
        return sp.csc_array(cast(Any, X))[:, keep], y, sample_weight
    arr = np.asarray(X)
    if arr.ndim != 2 or arr.shape[1] != state.n_features:
        raise InvalidInputError(
            f"X has shape {arr.shape}; the model was fitted on {state.n_features} features"
        )
    return pd.DataFrame(arr[:, keep], columns=[names[j] for j in keep]), y, sample_weight


def refit_selected(
    model: Model,
    X: Any,
    y: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
) -> Model:
    """An unpenalized fit on the features a sparse fit selected — *not* selection-adjusted.

    Parameters
    ----------
    model : fitted MultinomialLogit
        Fitted with ``penalty="l1"``, ``"elasticnet"`` or ``"group"``.
    X : array-like, sparse matrix or data frame of shape (n, p)
        The data the model was fitted on (all p columns; a formula model's data frame).
    y : array-like of shape (n,), optional
        Labels (omitted for formula models).
    sample_weight : array-like of shape (n,), optional

    Returns
    -------
    MultinomialLogit
        Maximum likelihood (``penalty=None``) on the selected columns, with the model's
        other settings (solver, tolerance, covariance type; the reference "auto" unless
        a class was named). Dense X becomes a data frame named by the model's feature
        names, so the summary shows the original names; predict with those columns
        (``X[:, selected_columns(model)]``). Its standard errors, p-values and intervals
        treat the selection as fixed in advance: they are not adjusted for it and are
        too optimistic (see the module docstring).

    Raises
    ------
    InvalidInputError
        The model is not a sparse fit, or it selected no feature.
    """
    check_is_fitted(model, "coef_")
    if model.get_params()["penalty"] not in SPARSE_PENALTIES:
        raise InvalidInputError(
            "refit_selected refits the terms a sparse fit selected; this model was fitted "
            f"with penalty={model.get_params()['penalty']!r} (use penalty='l1', "
            "'elasticnet' or 'group')"
        )
    if selected_columns(model).size == 0:
        outcome = model.fitted_.outcome
        at = "" if outcome is None else f" at alpha={outcome.alpha:.4g}"
        raise InvalidInputError(
            f"no feature has a nonzero coefficient{at}: nothing to refit (choose a smaller alpha)"
        )
    data, labels, weights = _selected_data(model, X, y, sample_weight)
    reference = model.get_params()["reference"]
    refit: Model = clone(model).set_params(
        penalty=None,
        alpha=None,
        l1_ratio=None,
        penalty_factor=None,
        formula=None,
        fit_intercept=model.fitted_.fit_intercept,
        warm_start=False,
        reference="auto" if reference is None else reference,
    )
    return refit.fit(data, labels, sample_weight=weights)
