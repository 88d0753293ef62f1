"""Refits on parts of the training data, for the tests that compare models.

The IIA tests refit the model without one class's rows; the likelihood-ratio test that
two classes can be combined refits it with the two merged. Both receive the training
data as :class:`TrainingData` and a :data:`Refit` callable from the estimator (its
settings, another reference class), and turn every way a refit can fail into
:class:`NotTestable`, which the tables report as a note on the row.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnlogit.fitted import FittedModel

__all__ = [
    "NotTestable",
    "Refit",
    "TrainingData",
    "aliased_columns",
    "check_classes",
    "checked_fit",
]

FloatArray = NDArray[np.float64]

#: ``refit(X, y, sample_weight, reference, covariance)``: the fitted state of a
#: maximum-likelihood fit with the model's settings against ``reference`` (with the
#: nonrobust covariance when ``covariance`` is True).
Refit = Callable[[FloatArray, NDArray[Any], FloatArray | None, Any, bool], FittedModel]


class NotTestable(Exception):
    """A row of a test table that gets a note instead of a statistic."""


@dataclass(frozen=True)
class TrainingData:
    """The training data as the refits need them.

    Attributes
    ----------
    X : ndarray of shape (n, p)
        The design matrix (formula applied, aliased columns removed), dense float64.
    y : ndarray of shape (n,)
        Class labels.
    sample_weight : ndarray of shape (n,) or None
        Frequency weights.
    names : tuple of str, optional
        The ``p`` columns' names (default ``x0, x1, ...``), for notes.
    """

    X: FloatArray
    y: NDArray[Any]
    sample_weight: FloatArray | None
    names: tuple[str, ...] | None = None

    def column_names(self, columns: Sequence[int]) -> list[str]:
        """Names of the given columns."""
        return [self.names[j] if self.names else f"x{j}" for j in columns]

    def weights(self) -> FloatArray:
        """Frequency weights, ones when none were given; shape (n,)."""
        if self.sample_weight is None:
            return np.ones(self.y.shape[0])
        return np.asarray(self.sample_weight, dtype=np.float64)

    def subset(self, rows: NDArray[np.bool_]) -> TrainingData:
        """The rows where ``rows`` (shape (n,)) is True."""
        w = None if self.sample_weight is None else self.sample_weight[rows]
        return TrainingData(self.X[rows], self.y[rows], w, self.names)

    def with_labels(self, y: NDArray[Any]) -> TrainingData:
        """The same rows with other labels ``y`` (shape (n,))."""
        return TrainingData(self.X, y, self.sample_weight, self.names)


def checked_fit(
    refit: Refit, data: TrainingData, reference: Any, covariance: bool, what: str
) -> FittedModel:
    """A refit that converged to a maximum-likelihood estimate, or :class:`NotTestable`.

    Parameters
    ----------
    refit : Refit
    data : TrainingData
    reference : label or None
    covariance : bool
        Also require the nonrobust covariance.
    what : str
        The fit's name in the note (``"restricted model"``).

    Returns
    -------
    FittedModel
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = refit(data.X, data.y, data.sample_weight, reference, covariance)
    except (ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise NotTestable(f"{what}: the fit failed ({first})") from exc
    if state.separation is not None:
        raise NotTestable(
            f"{what}: the classes are {state.separation.kind}ly separated (no maximum-"
            "likelihood estimate)"
        )
    if state.outcome is not None and not state.outcome.converged:
        raise NotTestable(f"{what}: the solver did not converge")
    if covariance and state.cov is None:
        raise NotTestable(f"{what}: no covariance ({state.cov_status})")
    return state


def check_classes(data: TrainingData, classes: Sequence[Any], what: str) -> None:
    """Raise :class:`NotTestable` unless every class is observed with positive weight."""
    w = data.weights()
    empty = [c for c in classes if not np.any((data.y == c) & (w > 0))]
    if empty:
        raise NotTestable(f"{what} has no observations of class(es) {empty}")


def aliased_columns(state: FittedModel, data: TrainingData) -> list[str]:
    """Names of the columns of ``data`` a refit dropped as collinear."""
    if state.kept_columns is None:
        return []
    kept = {int(j) for j in state.kept_columns}
    return data.column_names([j for j in range(state.n_features) if j not in kept])
