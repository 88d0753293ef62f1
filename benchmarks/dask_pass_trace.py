"""Where a Dask pass spends its time: per-task durations and transfers from the workers.

    PYTHONPATH=src python -m benchmarks.dask_pass_trace 'DIR/*.parquet' [--repeats 7]

On a ``LocalCluster`` of 2 processes x 1 thread (workers' allocator tuned as a fit does):
prepares the Parquet data as a fit does (blocks persisted), prints where the blocks are
held, then alternates one value-and-gradient pass of one task per worker
(``worker_pass``) with the same pass as a graph of a task per partition and a reduction
tree (``mnlogit.pass_per_worker`` False), ``--repeats`` times (medians), and prints the
task stream of one pass of each: per task name and action (compute, transfer), count and
seconds. Then ``--repeats`` more passes of one task per worker, traced, each split into
the time before the first task started computing, the longest task's compute span, and the
time after the last task stopped (what the client waits for beyond the kernels: the
submission, the scheduler's and the workers' round trips, the gather), with medians.
The dataset of ``benchmarks.dask_spark`` serves (docs/dask.md, "The per-pass target").
Timings on a shared machine are noisy; the load is printed.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter, defaultdict
from typing import Any

import numpy as np


def _summary(stream: list[dict[str, Any]]) -> dict[tuple[str, str], list[float]]:
    """``(task name, action) -> [count, seconds]`` of a task stream."""
    from dask.utils import key_split

    out: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for task in stream:
        name = key_split(task["key"])
        for span in task["startstops"]:
            out[(name, span["action"])][0] += 1
            out[(name, span["action"])][1] += span["stop"] - span["start"]
    return out


def _critical_path(stream: list[dict[str, Any]], start: float, stop: float) -> list[float]:
    """``[wall, before the first compute, longest compute span, after the last stop]``
    (seconds) of one pass that ran from ``start`` to ``stop`` (wall-clock times)."""
    spans = [
        (span["start"], span["stop"])
        for task in stream
        for span in task["startstops"]
        if span["action"] == "compute" and start <= span["start"] <= stop
    ]
    first = min(a for a, _ in spans)
    last = max(b for _, b in spans)
    longest = max(b - a for a, b in spans)
    return [stop - start, first - start, longest, stop - last]


def main() -> None:
    import dask
    import dask.dataframe as dd
    from distributed import Client, LocalCluster, get_task_stream

    from mnlogit import MultinomialLogit
    from mnlogit.distributed.objective import DaskObjective
    from mnlogit.distributed.partitions import tune_workers
    from mnlogit.distributed.preparation import prepare_dask
    from mnlogit.objective import make_penalty
    from mnlogit.parameterization import Parameterization
    from mnlogit.preparation import FitSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print("load", os.getloadavg())
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        tune_workers()
        frame = dd.read_parquet(args.path)
        names = [c for c in frame.columns if c != "y"]
        settings = FitSettings.from_params(MultinomialLogit(cov_type=None).get_params())
        data = prepare_dask(settings, frame[names], frame["y"], None, None)
        obj = DaskObjective(
            data,
            Parameterization(data.n_classes, data.reference_index),
            make_penalty(None, 0.0, True),
        )
        rng = np.random.default_rng(1)
        obj.value_and_gradient(rng.normal(size=obj.n_params) * 0.01)
        from distributed import futures_of

        owners = client.who_has(futures_of(obj.blocks))
        print("blocks held per worker:", dict(Counter(sorted(w)[0] for w in owners.values())))
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.repeats):
            theta = rng.normal(size=obj.n_params) * 0.01
            for per_worker in (True, False):
                theta = theta + 1e-6
                with dask.config.set({"mnlogit.pass_per_worker": per_worker}):
                    start = time.perf_counter()
                    obj.value_and_gradient(theta)
                    times[per_worker].append(time.perf_counter() - start)
        for per_worker, label in ((True, "one task per worker"), (False, "graph")):
            found = times[per_worker]
            print(f"{label}: {np.round(found, 3)}, median {np.median(found):.3f} s")
            with (
                dask.config.set({"mnlogit.pass_per_worker": per_worker}),
                get_task_stream(client) as stream,
            ):
                obj.value_and_gradient(rng.normal(size=obj.n_params) * 0.01)
            for (name, action), (count, seconds) in sorted(_summary(stream.data).items()):
                print(f"    {name:>14} {action:>9}: {int(count):3d} spans, {seconds:.3f} s")
        rows = []
        with get_task_stream(client) as stream:
            for _ in range(args.repeats):
                theta = rng.normal(size=obj.n_params) * 0.01
                start = time.time()
                obj.value_and_gradient(theta)
                rows.append((start, time.time()))
                time.sleep(0.2)
        split = np.array([_critical_path(stream.data, a, b) for a, b in rows])
        print("one task per worker, traced: wall, before the first compute, longest compute,")
        print("after the last stop (s), per pass:")
        for row in split:
            print("    " + "  ".join(f"{v:.3f}" for v in row))
        print("    medians: " + "  ".join(f"{v:.3f}" for v in np.median(split, axis=0)))
    print("load", os.getloadavg())


if __name__ == "__main__":
    main()
