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
    """

    name = "l2"

    def __init__(self, alpha: float, intercept_row: bool) -> None:
        self.alpha = float(alpha)
        self._start = 1 if intercept_row else 0

    def value(self, theta: FloatArray) -> float:
        w = theta[self._start :]
        return 0.5 * self.alpha * float(np.vdot(w, w))

    def gradient(self, theta: FloatArray) -> FloatArray:
        g = self.alpha * theta
        g[: self._start] = 0.0
        return g

    def hessian_diagonal(self, shape: tuple[int, int]) -> FloatArray:
        d = np.full(shape, self.alpha)
        d[: self._start] = 0.0
        return d


def make_penalty(name: str | None, alpha: float, intercept_row: bool) -> Penalty:
    """Build a penalty from its public name (``None`` or ``"l2"``)."""
    if name is None or name == "none":
        return NoPenalty()
    if name == "l2":
        return L2Penalty(alpha, intercept_row)
    raise ValueError(f"penalty must be None or 'l2', got {name!r}")
