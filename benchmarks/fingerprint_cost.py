"""The data fingerprint's cost per scheme: ``DataFingerprint.of`` on benchmark problems.

Times, in one process on the same arrays, the fingerprint a fit records
(:mod:`mnlogit.fingerprint`) under scheme 1 (mnlogit 0.1: X up to 16 MiB, int64 codes,
float64 weights) and scheme 2 (new fits: X sampled beyond ``SAMPLE_BYTES``, the smallest
unsigned codes, a marker for unit weights), with unit weights (what the benchmark suite's
fits have) and with other weights; and scheme 2 at other X budgets (``--budgets``, MiB)
for the choice of ``SAMPLE_BYTES``; with ``--torch``, also ``device_fingerprint`` on
torch-CPU tensors of the same data (the host side of a device fit's fingerprint). Each
number is the minimum over ``--repeats`` calls (SHA-256 and the row gather run on one
thread; the machine's other jobs only add time).
Usage::

    python -m benchmarks.fingerprint_cost --repeats 7 \\
        --problems dense-100k-20-5 dense-1m-50-3 tall-2m-10-4 illcond-20k-50-6
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

DEFAULT_PROBLEMS = ["dense-100k-20-5", "dense-1m-50-3", "tall-2m-10-4", "illcond-20k-50-6"]


def _best(fn: Callable[[], Any], repeats: int) -> float:
    """Minimum seconds of ``repeats`` calls (after one untimed call)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _device_times(
    X: Any, classes: np.ndarray, codes: np.ndarray, weights: np.ndarray, repeats: int
) -> dict[str, float]:
    """Milliseconds of ``device_fingerprint`` on torch-CPU copies, per scheme (checked to
    equal the numpy digests)."""
    import torch

    import mnlogit.fingerprint as fp
    from mnlogit.arrays import placement_of
    from mnlogit.device_fingerprint import device_fingerprint

    Xd, cd, wd = torch.from_numpy(X), torch.from_numpy(codes), torch.from_numpy(weights)
    placement = placement_of(Xd)
    out = {}
    for scheme in (1, 2):
        got = device_fingerprint(placement, Xd, classes, cd, wd, scheme)
        assert got == fp.DataFingerprint.of(X, classes, codes, weights, scheme=scheme)
        fn = partial(device_fingerprint, placement, Xd, classes, cd, wd, scheme)
        out[f"torch_scheme{scheme}_ms"] = 1e3 * _best(fn, repeats)
    return out


def measure(
    name: str, repeats: int, budgets: list[float], torch_too: bool = False
) -> dict[str, Any]:
    """Milliseconds of ``DataFingerprint.of`` per scheme, budget and weights on ``name``
    (and of ``device_fingerprint`` on torch-CPU tensors with ``torch_too``)."""
    import mnlogit.fingerprint as fp
    from benchmarks.problems import get_problems

    (prob,) = get_problems([name])
    X, y = prob.generate()
    classes, codes = np.unique(y, return_inverse=True)
    n = codes.size
    unit = np.ones(n)
    other = 1.0 + (np.arange(n) % 3).astype(np.float64)
    row = {"problem": name, "x_mb": round(X.data.nbytes / 1e6, 1), "n": n}

    def of(weights: np.ndarray, scheme: int) -> Callable[[], Any]:
        return lambda: fp.DataFingerprint.of(X, classes, codes, weights, scheme=scheme)

    row["scheme1_ms"] = 1e3 * _best(of(unit, 1), repeats)
    row["scheme2_ms"] = 1e3 * _best(of(unit, 2), repeats)
    row["scheme1_weighted_ms"] = 1e3 * _best(of(other, 1), repeats)
    row["scheme2_weighted_ms"] = 1e3 * _best(of(other, 2), repeats)
    if torch_too:
        row.update(_device_times(X, classes, codes, unit, repeats))
    default = fp.SAMPLE_BYTES
    try:
        for mib in budgets:
            fp.SAMPLE_BYTES = int(mib * 2**20)
            row[f"scheme2_{mib:g}MiB_ms"] = 1e3 * _best(of(unit, 2), repeats)
    finally:
        fp.SAMPLE_BYTES = default
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=DEFAULT_PROBLEMS)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--budgets", nargs="*", type=float, default=[0.5, 2.0])
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    parser.add_argument("--torch", action="store_true", help="also device_fingerprint on torch-CPU")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    rows = []
    with threadpool_limits(1):
        for name in args.problems:
            row = measure(name, args.repeats, args.budgets, args.torch)
            rows.append(row)
            cells = "  ".join(
                f"{k.removesuffix('_ms')}={v:.2f}" for k, v in row.items() if k.endswith("_ms")
            )
            ratio = row["scheme2_ms"] / row["scheme1_ms"]
            print(f"{name:20s} X {row['x_mb']:7.1f} MB  {cells}  (2/1: {ratio:.3f})", flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
