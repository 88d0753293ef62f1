"""Penalties on the feature weights (intercepts are never penalized).

A penalty acts on the free-parameter matrix ``Theta`` of shape ``(p1, K-1)``;
``intercept_row`` says whether row 0 is an intercept to be left alone. Because the
parameterization matrices have orthonormal columns (see
:mod:`mnlogit.parameterization`), ``||Theta_W||_F == ||W||_F``, so the ridge
penalty below is the ridge penalty on the full weight matrix ``W`` of the chosen
form. In the symmetric form that is the penalty scikit-learn and glmnet use.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = ["L2Penalty", "NoPenalty", "Penalty", "make_penalty"]

FloatArray = NDArray[np.float64]


class Penalty(Protocol):
    """What the objective needs from a penalty. Values are on the mean-loss scale."""

    name: str
    alpha: float

    def value(self, theta: FloatArray) -> float:
        """Penalty at ``theta`` (shape ``(p1, K-1)``)."""
        ...

    def gradient(self, theta: FloatArray) -> FloatArray:
        """Gradient, same shape as ``theta``."""
        ...

    def hessian_diagonal(self, shape: tuple[int, int]) -> FloatArray:
        """Constant diagonal Hessian as a ``(p1, K-1)`` array."""
        ...


class NoPenalty:
    """Maximum likelihood: no penalty."""

    name = "none"
    alpha = 0.0

    def value(self, theta: FloatArray) -> float:
        return 0.0

    def gradient(self, theta: FloatArray) -> FloatArray:
        return np.zeros_like(theta)

    def hessian_diagonal(self, shape: tuple[int, int]) -> FloatArray:
        return np.zeros(shape)


class L2Penalty:
    """Ridge: ``alpha / 2 * ||W||_F^2`` on the feature rows.

    Parameters
    ----------
    alpha : float
        Strength on the mean log-loss; scikit-learn's ``C`` maps as
        ``alpha = 1 / (C * sum(sample_weight))``.
    intercept_row : bool
        Whether row 0 of ``theta`` is an (unpenalized) intercept.
    row_weights : ndarray of shape (p,), optional
        Per-feature weights ``r_j`` of the penalty, ``alpha/2 * sum_j r_j ||theta_j||^2``.
        The objective passes ``1 / s_j^2`` when it works on features scaled by ``s``, so
        that the penalty is the ridge penalty on the original coefficients.
    """

    name = "l2"

    def __init__(
        self, alpha: float, intercept_row: bool, row_weights: FloatArray | None = None
    ) -> None:
        self.alpha = float(alpha)
        self._start = 1 if intercept_row else 0
        self._rows = None if row_weights is None else np.asarray(row_weights, dtype=np.float64)

    def _weights(self, shape: tuple[int, int]) -> FloatArray:
        d = np.full(shape, self.alpha)
        if self._rows is not None:
            d[self._start :] *= self._rows[:, None]
        d[: self._start] = 0.0
        return d

    def value(self, theta: FloatArray) -> float:
        return 0.5 * float(np.sum(self._weights(theta.shape) * theta * theta))

    def gradient(self, theta: FloatArray) -> FloatArray:
        return np.asarray(self._weights(theta.shape) * theta)

    def hessian_diagonal(self, shape: tuple[int, int]) -> FloatArray:
        return self._weights(shape)


def make_penalty(
    name: str | None,
    alpha: float,
    intercept_row: bool,
    row_weights: FloatArray | None = None,
) -> Penalty:
    """Build a penalty from its public name (``None`` or ``"l2"``)."""
    if name is None or name == "none":
        return NoPenalty()
    if name == "l2":
        return L2Penalty(alpha, intercept_row, row_weights)
    raise ValueError(f"penalty must be None or 'l2', got {name!r}")
