"""Fit statistics: null log-likelihood, deviance, information criteria, pseudo-R².

Log-likelihoods are sums over observations weighted by the (frequency) sample
weights; ``n`` in BIC is the sum of those weights, so that a row of weight 2 counts
as two rows everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["FitStatistics", "null_loglik"]


def null_loglik(class_weight_totals: NDArray[np.float64], fit_intercept: bool) -> float:
    """Log-likelihood of the intercept-only model, in closed form.

    With an intercept the maximum-likelihood probabilities of the intercept-only model
    are the weighted class frequencies ``S_k / S``, so ``loglik_null = sum_k S_k log(S_k / S)``.
    Without an intercept the null model has all linear predictors zero, ``P = 1/K``.

    Parameters
    ----------
    class_weight_totals : ndarray of shape (K,)
        ``S_k``, the total sample weight of each class.
    fit_intercept : bool
    """
    totals = np.asarray(class_weight_totals, dtype=np.float64)
    S = float(totals.sum())
    if not fit_intercept:
        return -S * math.log(totals.size)
    pos = totals[totals > 0]
    # log(S_k) - log(S), not log(S_k / S): the ratio of a subnormal class total to S
    # underflows to 0 (weights down to 5e-324 are accepted)
    return float(np.sum(pos * (np.log(pos) - math.log(S))))


@dataclass(frozen=True)
class FitStatistics:
    """Likelihood-based statistics of a fit.

    Attributes
    ----------
    loglik, loglik_null : float
    n_params : int
        Free parameters ``(K-1)(p+1)`` (``(K-1)p`` without intercept). For penalized fits
        this is the nominal count, not an effective degrees of freedom.
    nobs : float
        Sum of sample weights.
    """

    loglik: float
    loglik_null: float
    n_params: int
    nobs: float

    @property
    def deviance(self) -> float:
        """``-2 loglik``."""
        return -2.0 * self.loglik

    @property
    def aic(self) -> float:
        """``-2 loglik + 2 n_params``."""
        return -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        """``-2 loglik + log(nobs) n_params``."""
        return -2.0 * self.loglik + math.log(self.nobs) * self.n_params

    @property
    def pseudo_r2(self) -> float:
        """McFadden's ``1 - loglik / loglik_null`` (``nan`` when ``loglik_null`` is 0)."""
        if self.loglik_null == 0:
            return float("nan")
        return 1.0 - self.loglik / self.loglik_null
