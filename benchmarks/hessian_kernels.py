"""The dense loss Hessian's kernels, timed alone at one BLAS thread.

For each shape ``n x p, K`` (random X, Dirichlet probabilities given as an array, equal
weights, intercept) the script times :func:`mnlogit.objective.hessian.loss_hessian`
with the compiled narrow kernel forced (issue-speed9; trees that have it), the pairwise
kernel forced, the wide update forced, and as the tree's own rule chooses, in CPU
seconds (``time.process_time``, best of ``--repeat``). Run it with
another tree first on ``PYTHONPATH`` to compare two trees (issue-speed6 used it on
``main`` and its own tree)::

    PYTHONPATH=src python -m benchmarks.hessian_kernels --shapes 1000000x10x4 400000x50x3

With ``--last-pass`` it times instead what a default fit's last evaluation costs (random
X, labels and coefficients, equal weights, intercept, the tree's kernel rule): the
gradient sweep (:func:`mnlogit.objective.loss.sweep_loss`) followed by the Hessian with
its probabilities recomputed by rows (what the covariance did after the solver's last
gradient), against :func:`mnlogit.objective.last_pass.loss_and_hessian` (both in one pass,
issue-speed7).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from mnlogit.objective import hessian as hessian_module
from mnlogit.objective.kernels import softmax_probabilities
from mnlogit.objective.loss import sweep_loss

_HAS_NARROW = hasattr(hessian_module, "NARROW_MAX_COLUMNS")
_NARROW = ("NARROW_MAX_COLUMNS", "NARROW_MAX_FREE_CLASSES", "NARROW_BINARY_MAX_COLUMNS")
_LEAST = ("NARROW_MIN_WORK",) if hasattr(hessian_module, "NARROW_MIN_WORK") else ()
_SETTINGS = ("PAIRWISE_MAX_FREE_CLASSES", "PAIRWISE_MIN_COLUMNS") + (
    (_NARROW + _LEAST) if _HAS_NARROW else ()
)


def _time(X: Any, P1: Any, w: Any, repeat: int) -> float:
    # a call on a few rows first: the compiled kernel's first call in a process loads
    # numba's code (about 0.2 s), which is no part of the kernel's time (forced: the few
    # rows' work is below NARROW_MIN_WORK)
    hessian_module.loss_hessian(X[:64], P1[:64], w[:64], intercept=True)
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        hessian_module.loss_hessian(X, P1, w, intercept=True)
        best = min(best, time.process_time() - start)
    return best


def _last_pass_cells(n: int, p: int, K: int, repeat: int) -> list[str]:
    """CPU seconds (best of ``repeat``) of the sweep then the Hessian, and of the last pass."""
    from mnlogit.objective.last_pass import loss_and_hessian

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, p))
    y = rng.integers(0, K, n)
    W = rng.normal(0, 0.3, (p, K))
    b = rng.normal(0, 0.3, K)
    w = np.full(n, 1.0 / n)

    def rows(start: int, stop: int) -> Any:
        return softmax_probabilities(X[start:stop], W, b)[:, 1:]

    def apart() -> None:
        sweep_loss(X, y, None, W, b, gradient=True)
        hessian_module.loss_hessian(X, rows, w, intercept=True, free_classes=K - 1)

    def fused() -> None:
        loss_and_hessian(X, y, None, w, W, b)

    loss_and_hessian(X[:64], y[:64], None, w[:64], W, b)  # numba's first call, untimed
    cells = []
    for name, work in (("sweep + Hessian", apart), ("last pass", fused)):
        best = float("inf")
        with threadpool_limits(1):
            for _ in range(repeat):
                start = time.process_time()
                work()
                best = min(best, time.process_time() - start)
        cells.append(f"{name} {best:.3f} s")
    return cells


def _forced(kernel: str) -> dict[str, Any]:
    """Module settings that force ``kernel`` (``"narrow"``, ``"pairwise"``, ``"wide"``,
    ``"rule"``)."""
    if kernel == "narrow":
        return {**dict.fromkeys(_NARROW, 10**6), **dict.fromkeys(_LEAST, 0)}
    narrow_off = {"NARROW_MAX_COLUMNS": 0} if _HAS_NARROW else {}
    if kernel == "wide":
        return {**narrow_off, "PAIRWISE_MAX_FREE_CLASSES": 0}
    if kernel == "pairwise":
        columns = hessian_module.PAIRWISE_MIN_COLUMNS
        return {
            **narrow_off,
            "PAIRWISE_MAX_FREE_CLASSES": 3,
            "PAIRWISE_MIN_COLUMNS": dict.fromkeys(columns, 0) if isinstance(columns, dict) else 0,
        }
    return {}


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", nargs="+", default=["1000000x10x4", "400000x50x3"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--last-pass", action="store_true", help="time the sweep + Hessian against the last pass"
    )
    args = parser.parse_args(argv)
    if args.last_pass:
        for shape in args.shapes:
            n, p, K = (int(v) for v in shape.split("x"))
            print(f"{n} x {p}, K = {K}: " + ", ".join(_last_pass_cells(n, p, K, args.repeat)))
        return
    saved = {name: getattr(hessian_module, name) for name in _SETTINGS}
    for shape in args.shapes:
        n, p, K = (int(v) for v in shape.split("x"))
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, p))
        P1 = np.ascontiguousarray(rng.dirichlet(np.ones(K), size=n)[:, 1:])
        w = np.full(n, 1.0 / n)
        cells = []
        for kernel in ("narrow", "pairwise", "wide", "rule"):
            if (kernel == "pairwise" and K - 1 > 3) or (kernel == "narrow" and not _HAS_NARROW):
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
