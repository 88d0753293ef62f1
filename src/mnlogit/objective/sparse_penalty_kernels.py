"""The sparse penalties' value and KKT residuals, compiled.

The lasso family's solver (:mod:`mnlogit.solvers.proximal_newton`) evaluates the penalty at
every trial point of its line searches and the KKT residuals of the strong set at every
outer step: with ``p K`` arrays of tens of thousands of entries, NumPy's temporaries and its
pass per operation took a few tenths of a second on the sparse benchmark path
(docs/penalties.md, "Twelfth pass"). These loops do each in one pass over ``W`` and ``G``;
:class:`~mnlogit.objective.sparse_penalties.SparsePenalty` calls them (its ``value`` and
``residuals``), so they are the definitions. A module of its own so that importing the
penalties does not import numba.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mnlogit.objective.compiled import compiled

__all__ = ["kkt_residuals", "penalty_value"]


@compiled
def penalty_value(W: Any, lam1: Any, lam2: Any, group: bool) -> float:
    """``sum_j lam1_j pen1(W_j) + lam2_j / 2 ||W_j||^2`` with ``pen1`` the L1 norm (lasso,
    elastic net) or the 2-norm (group): ``alpha * penalty(W)``,
    :meth:`SparsePenalty.value <mnlogit.objective.sparse_penalties.SparsePenalty.value>`.

    Parameters
    ----------
    W : ndarray of shape (p, K)
    lam1, lam2 : ndarrays of shape (p,)
        :meth:`SparsePenalty.strengths` at ``alpha``.
    group : bool

    Returns
    -------
    float
    """
    total = 0.0
    K = W.shape[1]
    for j in range(W.shape[0]):
        first = 0.0
        sq = 0.0
        for k in range(K):
            v = W[j, k]
            first += abs(v)
            sq += v * v
        if group:
            first = np.sqrt(sq)
        total += lam1[j] * first + 0.5 * lam2[j] * sq
    return total


@compiled
def kkt_residuals(
    features: Any, W: Any, G: Any, lam1: Any, lam2: Any, group: bool, rms: Any, out: Any
) -> None:
    """The standardized KKT residuals of ``features``: ``out[t]`` (m,) is the distance from
    ``-G_j`` to the penalty's subdifferential at ``W_j`` (``j = features[t]``; max over the
    classes for the lasso, the 2-norm for the group), divided by ``rms[j]``: the KKT
    residuals of :class:`~mnlogit.objective.sparse_penalties.SparsePenalty`. NaN in ``G``
    or ``W`` gives NaN, as NumPy's maxima do.

    Parameters
    ----------
    features : ndarray of shape (m,) of int
    W, G : ndarrays of shape (p, K)
    lam1, lam2 : ndarrays of shape (p,)
    group : bool
    rms : ndarray of shape (p,)
    out : ndarray of shape (m,)
    """
    K = W.shape[1]
    for t in range(features.shape[0]):
        j = features[t]
        a = lam1[j]
        c = lam2[j]
        if group:
            norm = 0.0
            for k in range(K):
                norm += W[j, k] * W[j, k]
            norm = np.sqrt(norm)
            s = 0.0
            if norm > 0.0:
                for k in range(K):
                    r = G[j, k] + c * W[j, k] + a * W[j, k] / norm
                    s += r * r
                res = np.sqrt(s)
            else:
                for k in range(K):
                    r = G[j, k] + c * W[j, k]
                    s += r * r
                d = np.sqrt(s) - a
                res = d if not d <= 0.0 else 0.0  # NaN stays NaN
        else:
            res = 0.0
            for k in range(K):
                v = W[j, k]
                r = G[j, k] + c * v
                if v > 0.0:
                    e = abs(r + a)
                elif v < 0.0:
                    e = abs(r - a)
                else:
                    e = abs(r) - a
                    e = e if not e <= 0.0 else 0.0  # NaN stays NaN
                if e > res or e != e:  # a NaN stays (as NumPy's max)
                    res = e
        out[t] = res / rms[j]
