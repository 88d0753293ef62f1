"""The in-memory value-and-gradient pass at three thread settings, on the Dask benchmark's data.

The Dask per-pass target compares a Dask pass with the one-process in-memory pass; this
times that in-memory pass (the objective ``benchmarks.dask_spark`` builds) with the BLAS
default, with one BLAS thread, and as it runs inside a fit stage
(:func:`mnlogit.objective.threads.single_blas_thread`: BLAS at one thread, the rows split
over Python threads). Medians of ``--repeats`` rounds, the three settings alternated.

Usage::

    PYTHONPATH=src python -m benchmarks.memory_pass_threads \
        [--data-dir /tmp/mnlogit-dask-bench/n5000000-p50-K5-f32] [--repeats 7]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from benchmarks.dask_spark import _memory_objective
from mnlogit.objective.threads import single_blas_thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/tmp/mnlogit-dask-bench/n5000000-p50-K5-f32")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    first = sorted(Path(args.data_dir).glob("*.parquet"))[0]
    names = [c for c in pq.ParquetFile(first).schema.names if c != "y"]
    obj = _memory_objective(str(first), names)
    rng = np.random.default_rng(1)
    theta = rng.normal(size=obj.n_params) * 0.01
    obj.value_and_gradient(theta)
    times: dict[str, list[float]] = {"blas_default": [], "one_blas_thread": [], "fit_stage": []}
    for _ in range(args.repeats):
        for label, runs in times.items():
            theta = theta + 1e-6  # a new point: the objective caches its last one
            start = time.perf_counter()
            if label == "blas_default":
                obj.value_and_gradient(theta)
            elif label == "one_blas_thread":
                with threadpool_limits(limits=1, user_api="blas"):
                    obj.value_and_gradient(theta)
            else:
                with single_blas_thread():
                    obj.value_and_gradient(theta)
            runs.append(time.perf_counter() - start)
    print({k: round(float(np.median(v)), 3) for k, v in times.items()})


if __name__ == "__main__":
    main()
