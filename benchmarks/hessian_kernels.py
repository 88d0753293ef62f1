"""The dense loss Hessian's two kernels, timed alone at one BLAS thread.

For each shape ``n x p, K`` (random X, Dirichlet probabilities given as an array, equal
weights, intercept) the script times :func:`mnlogit.objective.hessian.loss_hessian`
with the pairwise kernel forced, with the wide update forced, and as the tree's own rule
chooses, in CPU seconds (``time.process_time``, best of ``--repeat``). Run it with
another tree first on ``PYTHONPATH`` to compare two trees (issue-speed6 used it on
``main`` and its own tree)::

    PYTHONPATH=src python -m benchmarks.hessian_kernels --shapes 1000000x10x4 400000x50x3
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from mnlogit.objective import hessian as hessian_module


def _time(X: Any, P1: Any, w: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        hessian_module.loss_hessian(X, P1, w, intercept=True)
        best = min(best, time.process_time() - start)
    return best


def _forced(kernel: str) -> dict[str, Any]:
    """Module settings that force ``kernel`` (``"pairwise"``, ``"wide"``, ``"rule"``)."""
    if kernel == "wide":
        return {"PAIRWISE_MAX_FREE_CLASSES": 0}
    if kernel == "pairwise":
        columns = hessian_module.PAIRWISE_MIN_COLUMNS
        return {
            "PAIRWISE_MAX_FREE_CLASSES": 3,
            "PAIRWISE_MIN_COLUMNS": dict.fromkeys(columns, 0) if isinstance(columns, dict) else 0,
        }
    return {}


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", nargs="+", default=["1000000x10x4", "400000x50x3"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    saved = {
        name: getattr(hessian_module, name)
        for name in ("PAIRWISE_MAX_FREE_CLASSES", "PAIRWISE_MIN_COLUMNS")
    }
    for shape in args.shapes:
        n, p, K = (int(v) for v in shape.split("x"))
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, p))
        P1 = np.ascontiguousarray(rng.dirichlet(np.ones(K), size=n)[:, 1:])
        w = np.full(n, 1.0 / n)
        cells = []
        for kernel in ("pairwise", "wide", "rule"):
            if kernel == "pairwise" and K - 1 > 3:
                continue
            for name, value in {**saved, **_forced(kernel)}.items():
                setattr(hessian_module, name, value)
            with threadpool_limits(1):
                cells.append(f"{kernel} {_time(X, P1, w, args.repeat):.3f} s")
        for name, value in saved.items():
            setattr(hessian_module, name, value)
        print(f"{n} x {p}, K = {K}: " + ", ".join(cells))


if __name__ == "__main__":
    main()
