"""The dense gradient sweep timed alone: compiled products against BLAS products.

For each shape ``n x p, K`` (random standard normal X, labels, coefficients and
intercepts; equal weights) the script times :func:`mnlogit.objective.loss.sweep_loss`
with the gradient, at one BLAS thread, in CPU seconds (``time.process_time``), with the
products by BLAS (``NARROW_MAX_FEATURES = 0``) and by the compiled narrow sweep
(:func:`mnlogit.objective.softmax_kernel.dense_sweep`; its range limits lifted, so a shape
outside the tree's rule is timed too), the two alternated ``--repeat`` times in the same
process; it prints the least time of each and their ratio (issue-sweep16, docs/solvers.md
"Sixteenth pass")::

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python -m benchmarks.sweep_kernels \\
        --shapes 100000x20x5 200000x10x4 20000x24x2

Shapes may give ``n`` as ``N/p`` to keep ``n p`` fixed: ``--shapes 2000000/24x24x2``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from mnlogit.objective import loss as loss_module
from mnlogit.objective.softmax_kernel import load_compiled_kernel


def _shape(text: str) -> tuple[int, int, int]:
    """``n x p x K`` from ``"NxPxK"`` or ``"N/PxPxK"`` (``n = N / p``)."""
    rows, p, K = text.split("x")
    if "/" in rows:
        total, per = rows.split("/")
        return int(total) // int(per), int(p), int(K)
    return int(rows), int(p), int(K)


def _time(sweep: Any) -> float:
    start = time.process_time()
    sweep()
    return time.process_time() - start


def compare(n: int, p: int, K: int, repeat: int, seed: int = 0) -> tuple[float, float]:
    """Least CPU seconds of the BLAS and the compiled products over ``repeat`` alternations."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = rng.integers(0, K, n).astype(np.intp)
    W = rng.standard_normal((p, K)) * 0.1
    b = rng.standard_normal(K) * 0.1

    def sweep() -> None:
        loss_module.sweep_loss(X, y, None, W, b, gradient=True)

    saved = loss_module.NARROW_MAX_FEATURES, loss_module.NARROW_MAX_CLASSES
    blas, narrow = [], []
    try:
        for _ in range(repeat + 1):  # the first round loads caches and is dropped
            loss_module.NARROW_MAX_FEATURES = 0
            blas.append(_time(sweep))
            loss_module.NARROW_MAX_FEATURES = loss_module.NARROW_MAX_CLASSES = 10**9
            narrow.append(_time(sweep))
    finally:
        loss_module.NARROW_MAX_FEATURES, loss_module.NARROW_MAX_CLASSES = saved
    return min(blas[1:]), min(narrow[1:])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=["100000x20x5", "200000x10x4"])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    load_compiled_kernel()
    with threadpool_limits(1):
        for text in args.shapes:
            n, p, K = _shape(text)
            blas, narrow = compare(n, p, K, args.repeat)
            print(
                f"{n} x {p}, K = {K}: BLAS products {blas * 1e3:.2f} ms, compiled "
                f"{narrow * 1e3:.2f} ms, ratio {narrow / blas:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
