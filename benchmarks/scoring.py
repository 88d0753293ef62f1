"""One scoring function for every method, and the cost of one pass over ``X``.

Every fitted model is scored by :func:`common_objective`: mnlogit's penalized mean
negative log-likelihood, in float64, at the fitted coefficients. Probabilities do not
depend on the parameterization (adding a vector to every class's coefficients changes
nothing), so the loss is the same whatever form a library returns: statsmodels'
reference-class coefficients, scikit-learn's symmetric ones, mnlogit's either. The L2
penalty *does* depend on the form; it is taken, as in scikit-learn and mnlogit's
penalized fits, on the symmetric form: the weights centred over classes,
``alpha/2 * ||W - mean_k W||_F^2`` (intercepts unpenalized). mnlogit's
``Parameterization.from_full`` does that centring.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["common_objective", "pass_time", "reference_objective"]


def _as_float64(X: Any) -> Any:
    if X.dtype == np.float64:
        return X
    return X.astype(np.float64)


def _full_B(intercept: NDArray[np.float64], coef: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(p+1, K)``: the intercept row over the transposed ``coef``."""
    return np.vstack([np.asarray(intercept, np.float64)[None, :], np.asarray(coef, np.float64).T])


def common_objective(
    X: Any,
    y: NDArray[np.intp],
    intercept: NDArray[np.float64],
    coef: NDArray[np.float64],
    alpha: float,
) -> float:
    """mnlogit's penalized mean objective at ``(intercept, coef)``, in float64.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
        Any float dtype; scored in float64.
    y : ndarray of shape (n,)
        Class codes ``0 .. K-1``.
    intercept : ndarray of shape (K,)
    coef : ndarray of shape (K, p)
    alpha : float
        Ridge strength on the mean loss (0 for none).

    Returns
    -------
    float
        ``-(1/n) sum_i log P(y_i | x_i) + alpha/2 ||W_centred||_F^2``.
    """
    from mnlogit.objective import MultinomialObjective, make_penalty
    from mnlogit.parameterization import Parameterization

    K = coef.shape[0]
    X64 = _as_float64(X)
    param = Parameterization(K, None)
    penalty = make_penalty("l2" if alpha > 0 else None, alpha, True)
    obj = MultinomialObjective(X64, y, K, np.ones(X64.shape[0]), param, penalty, fit_intercept=True)
    return float(obj.value(param.from_full(_full_B(intercept, coef))))


def reference_objective(
    X: Any,
    y: NDArray[np.intp],
    intercept: NDArray[np.float64],
    coef: NDArray[np.float64],
    alpha: float,
) -> float:
    """The same value as :func:`common_objective`, written out in plain numpy.

    A cross-check that the benchmark does not depend on mnlogit scoring itself right.
    """
    X64 = _as_float64(X)
    eta = np.asarray(X64 @ np.asarray(coef, np.float64).T) + np.asarray(intercept, np.float64)
    m = eta.max(axis=1, keepdims=True)
    lse = np.log(np.exp(eta - m).sum(axis=1)) + m[:, 0]
    loss = float(np.mean(lse - eta[np.arange(eta.shape[0]), y]))
    Wc = coef - coef.mean(axis=0, keepdims=True)
    return loss + 0.5 * alpha * float(np.vdot(Wc, Wc))


def pass_time(X: Any, K: int, repeats: int = 5, seed: int = 0) -> float:
    """Seconds for one ``X @ W`` plus one ``X.T @ G`` (best of ``repeats``).

    ``W`` is ``(p, K)`` and ``G`` is ``(n, K)``, both in ``X``'s dtype: the two products
    a gradient evaluation needs, the unit that "pass equivalents" count.
    """
    rng = np.random.default_rng(seed)
    n, p = X.shape
    W = rng.standard_normal((p, K)).astype(X.dtype)
    G = rng.standard_normal((n, K)).astype(X.dtype)
    XT = X.T
    best = np.inf
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        eta = X @ W
        grad = XT @ G
        elapsed = time.perf_counter() - t0
        del eta, grad
        if i > 0:  # the first round is a warm-up
            best = min(best, elapsed)
    return float(best)
