"""How fast the Dask engine reads Parquet, against a bare pyarrow read of the same files.

Usage (from the repository root; the files of ``benchmarks.dask_spark``)::

    PYTHONPATH=src .venv/bin/python -m benchmarks.dask_read [--n 5000000] [--p 50] [--K 5]
        [--files 32] [--repeats 3] [--workers 2]

Per file, in this process, one after another and alternated ``--repeats`` times (medians,
so that drifting load hits all alike), each producing the features as numpy float64 and
the labels:

- ``bare``: ``pyarrow.parquet.read_table(file, columns=...)`` and each column's
  ``to_numpy()`` into one column-major block (the least a reader can do);
- ``engine``: what a fit of ``dd.read_parquet(...)[features]`` now runs per partition,
  :func:`mnlogit.distributed.parquet.read_piece` (column by column into a row-major block);
- ``general``: the general path for any Dask data frame (a partition of the frame with the
  labels assigned, split, made row-major), what the engine did before for Parquet too;
- ``statistics``: the statistics pass's kernel on the block (for scale).

Then, on a ``LocalCluster`` of ``--workers`` processes, the wall time to read and hold
every partition (``dask.persist``) by the engine's path and by the general path.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.dask_data import make_parquet

__all__ = ["main"]


def _bare(path: Path, names: list[str]) -> tuple[Any, Any]:
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=[*names, "y"])
    X = np.empty((len(names), table.num_rows))
    for j, name in enumerate(names):
        X[j] = table.column(name).to_numpy()
    return X.T, table.column("y").to_numpy()


def _per_file(files: list[Path], names: list[str], repeats: int) -> dict[str, float]:
    import dask
    import dask.dataframe as dd

    from mnlogit.distributed.parquet import ParquetPiece, read_piece
    from mnlogit.distributed.partitions import array_parts
    from mnlogit.distributed.statistics import statistics_of_part

    frame = dd.read_parquet([str(f) for f in files])
    general, _ = array_parts(frame[names], frame["y"], None, None)
    columns = (tuple(names), "y", None, None)
    times: dict[str, list[float]] = {"bare": [], "engine": [], "general": [], "statistics": []}
    with dask.config.set(scheduler="synchronous"):
        for _ in range(repeats):
            for i, f in enumerate(files):
                steps = {
                    "bare": lambda f=f: _bare(f, names),
                    "engine": lambda f=f: read_piece(
                        ParquetPiece(str(f), (0,), 0), columns, np.float64, 0
                    ),
                    "general": lambda i=i: general[i].compute(),
                }
                for label, step in steps.items():
                    start = time.perf_counter()
                    out = step()
                    times[label].append(time.perf_counter() - start)
                start = time.perf_counter()
                statistics_of_part(out, names, True, True, False)
                times["statistics"].append(time.perf_counter() - start)
    return {k: float(np.median(v)) for k, v in times.items()}


def _on_cluster(path: str, names: list[str], workers: int, repeats: int) -> dict[str, float]:
    import dask
    import dask.dataframe as dd
    from distributed import Client, LocalCluster, wait

    from mnlogit.distributed.parquet import parquet_parts
    from mnlogit.distributed.partitions import array_parts

    times: dict[str, list[float]] = {"engine": [], "general": []}
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(workers)
        for _ in range(repeats):
            for label in ("engine", "general"):
                frame = dd.read_parquet(path)
                found = parquet_parts(frame[names], frame["y"], None, None)
                assert found is not None
                parts = (
                    found[0]
                    if label == "engine"
                    else array_parts(frame[names], frame["y"], None, None)[0]
                )
                start = time.perf_counter()
                held = dask.persist(*parts)
                wait(list(held))
                times[label].append(time.perf_counter() - start)
                del held
    return {k: float(np.median(v)) for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5_000_000)
    parser.add_argument("--p", type=int, default=50)
    parser.add_argument("--K", type=int, default=5)
    parser.add_argument("--files", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data-dir", default="/tmp/mnlogit-dask-bench")
    args = parser.parse_args(argv)
    directory = Path(args.data_dir) / f"n{args.n}-p{args.p}-K{args.K}-f{args.files}"
    names = make_parquet(directory, args.n, args.p, args.K, args.files)
    files = sorted(directory.glob("*.parquet"))
    print(f"load before: {os.getloadavg()}")
    one = _per_file(files[:8], names, args.repeats)
    print(
        "per file (ms, medians): "
        + ", ".join(f"{k} {1000 * v:.0f}" for k, v in one.items())
        + f"; engine / bare {one['engine'] / one['bare']:.2f}, "
        f"general / bare {one['general'] / one['bare']:.2f}"
    )
    both = _on_cluster(str(directory / "*.parquet"), names, args.workers, args.repeats)
    print(
        f"read and hold all {len(files)} files on {args.workers} workers (s, medians): "
        f"engine {both['engine']:.2f}, general {both['general']:.2f}"
    )
    print(f"load after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
