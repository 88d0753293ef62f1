"""The residual matrix of the lasso family's outer (proximal Newton) steps, compiled.

Each outer step of :mod:`mnlogit.solvers.proximal_newton` forms, besides the gradient
products and the softmax loss, the residual matrix ``w (P - Y)``, the weighted
probabilities ``w P`` the inner solver reads and the intercepts' gradient: with the
row-major ``(K, n)`` arrays of sparse X, NumPy took a pass (and a temporary) for each
(docs/penalties.md, "Twelfth pass"); :func:`weighted_residuals` makes them in one. (The
penalty's value and KKT residuals are compiled beside the penalty:
:mod:`mnlogit.objective.sparse_penalty_kernels`.)
"""

from __future__ import annotations

from typing import Any

from mnlogit.objective.compiled import compiled

__all__ = ["weighted_residuals"]


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
