"""Timings of the second pass of issue 19 on torch-CPU against numpy (same process, same data).

Firth's fit, a fit with the cluster covariance and ``marginal_effects`` on n = 100,000,
p = 10, K = 4 (float64), best of two, one thread each, with the largest relative
difference of the coefficients; run::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONPATH=src:. \
        python -m benchmarks.device_second_pass

The device here is the CPU (PyTorch's CPU build): the figures compare the array-API code
with the numpy code on the same cores, not a GPU with a CPU (docs/gpu.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _data(n: int, p: int, K: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * np.geomspace(1.0, 5.0, p)
    B = rng.standard_normal((p, K)) * 0.7 / np.geomspace(1.0, 5.0, p)[:, None]
    eta = X @ B + rng.standard_normal(K) * 0.3
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return X, (P.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)


def _best(f: Callable[[], Any], repeat: int = 2) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    import torch

    from mnlogit import MultinomialLogit

    torch.set_num_threads(1)
    X, y = _data(100_000, 10, 4)
    g = np.arange(y.size) % 500
    Xt, yt, gt = torch.asarray(X), torch.asarray(y), torch.asarray(g)
    cases = [
        ("firth", {"penalty": "firth"}, {}, {}),
        ("cluster", {"cov_type": "cluster"}, {"groups": g}, {"groups": gt}),
    ]
    for name, params, host_kw, dev_kw in cases:
        th, h = _best(lambda p=params, k=host_kw: MultinomialLogit(**p).fit(X, y, **k))
        td, d = _best(lambda p=params, k=dev_kw: MultinomialLogit(**p).fit(Xt, yt, **k))
        diff = np.abs(d.fitted_.coef - h.coef_).max() / np.abs(h.coef_).max()
        print(f"{name}: numpy {th:.2f} s, torch-CPU {td:.2f} s, coef rel diff {diff:.1e}")
    model = MultinomialLogit().fit(X, y)
    th, _ = _best(lambda: model.marginal_effects(X))
    td, _ = _best(lambda: model.marginal_effects(Xt))
    print(f"marginal_effects: numpy {th:.2f} s, torch-CPU {td:.2f} s")


if __name__ == "__main__":
    main()
