"""Small synthetic multinomial data for the array-API tests."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def multinomial_data(
    n: int = 600, p: int = 4, K: int = 3, seed: int = 0, scale: float = 0.7, spread: float = 50.0
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """``(X, y)`` with ``y`` drawn from a softmax model; column scales from 1 to ``spread``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * np.geomspace(1.0, spread, p)
    B = rng.standard_normal((p, K)) * scale / np.geomspace(1.0, spread, p)[:, None]
    eta = X @ B + rng.standard_normal(K) * 0.3
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1).astype(np.int64)
    return X, y
