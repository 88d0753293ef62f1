"""The one-pass value-and-gradient kernel for dense X.

:meth:`mnlogit.objective.MultinomialObjective._update` calls :func:`sweep`, which reads
X once: per row block of about :data:`SWEEP_ELEMENTS` numbers it forms the linear
predictor, the softmax and its share of the loss, and ``G_bᵀ X_b`` while ``X_b`` is
still in cache.

The block's linear predictor and probabilities are ``(K, rows)`` arrays, so the
softmax reductions run over contiguous rows and the gradient product ``G_bᵀ X_b`` has
``G_bᵀ`` contiguous. The first product is ``Wᵀ X_bᵀ`` straight into that layout for
float64 products with ``p >= TRANSPOSED_MIN_FEATURES`` and ``K >= 5`` (a quarter to a
third faster there than ``X_b @ W``), else ``X_b @ W`` copied transposed (OpenBLAS is
slower with few output rows, and in float32); see docs/solvers.md.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["SWEEP_ELEMENTS", "TRANSPOSED_MIN_FEATURES", "SweepResult", "sweep", "sweep_rows"]

FloatArray = NDArray[np.float64]

# Numbers of X per row block (2 MiB of float64: the block stays in cache between its
# two products; measured best of 2**14 to 2**22 on the benchmark problems).
SWEEP_ELEMENTS = 2**18
# Fewest features for which the first product is formed as W^T X_b^T.
TRANSPOSED_MIN_FEATURES = 64


class SweepResult(NamedTuple):
    """What one sweep found."""

    loss: float  # the mean loss (no penalty)
    min_prob: float  # the smallest probability over rows of positive weight
    xtp: FloatArray | None  # [1, X]ᵀ G of shape (p1, K) (scaled features), with gradient


def sweep_rows(n_features: int, n_classes: int) -> int:
    """Rows per block for ``n_features`` columns and ``n_classes`` classes."""
    return max(64, SWEEP_ELEMENTS // max(n_features, n_classes, 1))


def sweep(obj: Any, B: FloatArray, W: FloatArray, gradient: bool, visit: Any = None) -> SweepResult:
    """One pass over the dense X of ``obj`` (a MultinomialObjective) at coefficients ``B``.

    Parameters
    ----------
    obj : MultinomialObjective
        With dense X; its probability buffer ``_prob`` ``(n, K)``, when it exists, is
        filled.
    B : ndarray of shape (p1, K)
        Full coefficients (scaled features); row 0 the intercepts when fitted.
    W : ndarray of shape (p, K)
        The rows of ``B`` that multiply X, on X's own scale.
    gradient : bool
        Also form ``[1, X]ᵀ G`` (``G = P`` or ``w * P``).
    visit : callable, optional
        ``visit(prob_block, rows)`` sees each block's probabilities as a ``(rows, K)``
        view.

    Returns
    -------
    SweepResult
    """
    X = obj.X
    n, p, K = obj.n_samples, obj.n_features, obj.n_classes
    fast32 = obj.low_precision and not obj.exact
    Wc = W.astype(np.float32) if fast32 else W
    transposed = not fast32 and p >= TRANSPOSED_MIN_FEATURES and K >= 5
    Wf = np.ascontiguousarray(Wc.T) if transposed else Wc  # (K, p), else (p, K)
    GX = np.zeros((K, p)) if gradient else None
    colsum = np.zeros(K)
    step = sweep_rows(p, K)
    eta_scratch = np.empty(K * min(step, n))
    prob_scratch = np.empty_like(eta_scratch)
    b0 = B[0][:, None] if obj.fit_intercept else None
    arange = np.arange(min(step, n))
    ws = obj._ws
    pmin = float("inf")
    loss = 0.0
    for a in range(0, n, step):
        sl = slice(a, min(a + step, n))
        m = sl.stop - sl.start
        Xb = X[sl]
        if X.dtype != np.float64 and not fast32:
            Xb = Xb.astype(np.float64)
        etaT = eta_scratch[: K * m].reshape(K, m)
        probT = prob_scratch[: K * m].reshape(K, m)
        if transposed:
            np.matmul(Wf, Xb.T, out=etaT)
        else:
            etaT[...] = (Xb @ Wf).T
        if b0 is not None:
            etaT += b0
        etaT -= etaT.max(axis=0)
        np.exp(etaT, out=probT)
        total = probT.sum(axis=0)
        probT *= 1.0 / total
        # eta[y_i, i] through flat indices y_i * m + i (take_along_axis costs 5x more)
        hit = etaT.ravel().take(obj.y[sl] * m + arange[:m])
        loss += float(ws[sl] @ np.log(total) - ws[sl] @ hit)
        if obj._prob is not None:
            obj._prob[sl] = probT.T
        block = probT if obj._all_positive else probT[:, ws[sl] > 0]
        if block.size:
            pmin = min(pmin, float(block.min()))
        if visit is not None:
            visit(probT.T, sl)
        if GX is not None:
            G = probT if obj._unweighted else probT * ws[sl]
            colsum += G.sum(axis=1)
            GX += (G.astype(np.float32) if fast32 else G) @ Xb
    if GX is None:
        return SweepResult(loss, pmin, None)
    XtG = GX.T
    if obj._inv_scale is not None:
        XtG = XtG * obj._inv_scale[:, None]
    return SweepResult(loss, pmin, np.vstack([colsum[None, :], XtG]) if obj.fit_intercept else XtG)
