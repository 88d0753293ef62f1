"""Compiled kernels of the lasso family's outer (proximal Newton) steps.

Each outer step of :mod:`mnlogit.solvers.proximal_newton` evaluates, besides the gradient
products and the softmax loss, the residual matrix, the penalty at every trial point of its
line search and the KKT residuals of the strong set: with ``p K`` and ``n K`` arrays of
tens of thousands of entries, NumPy's temporaries and its pass per operation took a few
tenths of a second on the sparse benchmark path (docs/penalties.md, "Twelfth pass"). These
kernels do each in one pass; the definitions stay those of
:class:`~mnlogit.objective.sparse_penalties.SparsePenalty` (its ``value`` and
``residuals``, against which they are tested).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mnlogit.objective.compiled import compiled

__all__ = ["kkt_residuals", "penalty_value", "weighted_residuals"]


@compiled
def weighted_residuals(P: Any, codes: Any, w: Any, wP: Any, M: Any, g0: Any) -> None:
    """``wP = w P``, the residual matrix ``M[k, i] = w_i (P[k, i] - [y_i = k])`` and the
    intercepts' gradient ``g0[k] = sum_i M[k, i]`` in one pass over the rows (for the
    row-major (K, n) views of sparse X: NumPy's products, the scatter of the own classes
    and the sums took a pass each).

    Parameters
    ----------
    P : ndarray of shape (K, n)
    codes : ndarray of shape (n,) of int
    w : ndarray of shape (n,)
    wP, M : ndarrays of shape (K, n)
        Out.
    g0 : ndarray of shape (K,)
        Out.
    """
    K = P.shape[0]
    for k in range(K):
        g0[k] = 0.0
    for i in range(P.shape[1]):
        wi = w[i]
        c = codes[i]
        for k in range(K):
            v = wi * P[k, i]
            wP[k, i] = v
            m = v - wi if k == c else v
            M[k, i] = m
            g0[k] += m


@compiled
def penalty_value(W: Any, lam1: Any, lam2: Any, group: bool) -> float:
    """``sum_j lam1_j pen1(W_j) + lam2_j / 2 ||W_j||^2`` with ``pen1`` the L1 norm (lasso,
    elastic net) or the 2-norm (group): ``alpha * penalty(W)`` of
    :meth:`SparsePenalty.value <mnlogit.objective.sparse_penalties.SparsePenalty.value>`.

    Parameters
    ----------
    W : ndarray of shape (p, K)
    lam1, lam2 : ndarrays of shape (p,)
        :meth:`SparsePenalty.strengths` at ``alpha``.
    group : bool
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
    classes for the lasso, the 2-norm for the group), divided by ``rms[j]``, as
    :meth:`SparsePenalty.residuals
    <mnlogit.objective.sparse_penalties.SparsePenalty.residuals>` defines it.

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
                res = max(np.sqrt(s) - a, 0.0)
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
                    e = max(abs(r) - a, 0.0)
                if e > res:
                    res = e
        out[t] = res / rms[j]
