"""Out of core: a Parquet dataset several times larger than the workers' memory limits.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python -m benchmarks.dask_out_of_core [--n 16000000] [--p 50]
        [--K 5] [--workers 2] [--memory-limit 1GiB] [--files 160]
        [--data-dir /tmp/mnlogit-dask-bench] [--output PATH]

A ``LocalCluster`` of ``--workers`` processes (one thread each) with ``memory_limit``
each fits ``MultinomialLogit(cov_type="nonrobust")`` to ``n x p`` float64 features read
from Parquet: ``8 n (p + 1)`` bytes in memory, several times the workers' total limit,
so the blocks are not persisted and every pass reads the files again (the default
``mnlogit.persist = "auto"`` decides so). Reported: the fit's time and passes, whether
the blocks were persisted, every worker's peak resident memory against its limit, and
whether any worker was restarted (its process id changed) -- the run passes when none
was and every peak stays below the limit.

The workers use the system allocator for Arrow (``ARROW_DEFAULT_MEMORY_POOL=system``):
Arrow's own pools keep freed Parquet buffers, which a worker's memory monitor counts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

from benchmarks.dask_data import make_parquet

__all__ = ["main"]


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _parse_bytes(text: str) -> int:
    from dask.utils import parse_bytes

    return int(parse_bytes(text))


def run(args: argparse.Namespace) -> dict[str, Any]:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from mnlogit import MultinomialLogit
    from mnlogit.distributed.partitions import PassReport, report_passes

    directory = Path(args.data_dir) / f"n{args.n}-p{args.p}-K{args.K}-f{args.files}"
    names = make_parquet(directory, args.n, args.p, args.K, args.files)
    limit = _parse_bytes(args.memory_limit)
    data_bytes = 8 * args.n * (args.p + 1)
    out: dict[str, Any] = {
        "n": args.n,
        "p": args.p,
        "K": args.K,
        "workers": args.workers,
        "memory_limit_bytes": limit,
        "data_bytes_in_memory": data_bytes,
        "data_over_total_limit": data_bytes / (limit * args.workers),
    }
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")  # inherited by the workers
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=limit,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(args.workers)
        before = client.run(os.getpid)
        passes: list[PassReport] = []
        start = time.perf_counter()
        with report_passes(passes.append):
            frame = dd.read_parquet(str(directory / "*.parquet"))
            model = MultinomialLogit().fit(frame[names], frame["y"])
        out["fit_seconds"] = time.perf_counter() - start
        after = client.run(os.getpid)
        peaks = client.run(_peak_rss_bytes)
        out["solver"] = model.solver_
        out["converged"] = bool(model.converged_)
        out["n_passes"] = len(passes)
        out["passes"] = [(p.kind, round(p.seconds, 2)) for p in passes]
        out["worker_peak_bytes"] = list(peaks.values())
        out["workers_restarted"] = before != after
        out["peak_below_limit"] = all(v < limit for v in peaks.values())
        out["cov_status"] = model.cov_status_
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16_000_000)
    parser.add_argument("--p", type=int, default=50)
    parser.add_argument("--K", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="1GiB")
    parser.add_argument("--files", type=int, default=160)
    parser.add_argument("--data-dir", default="/tmp/mnlogit-dask-bench")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    out = run(args)
    mib = 2**20
    print(
        f"data {out['data_bytes_in_memory'] / mib:.0f} MiB in memory = "
        f"{out['data_over_total_limit']:.1f} x the workers' total limit "
        f"({args.workers} x {out['memory_limit_bytes'] / mib:.0f} MiB)"
    )
    print(
        f"fit {out['fit_seconds']:.1f} s, {out['solver']}, converged {out['converged']}, "
        f"{out['n_passes']} passes; worker peaks "
        f"{[round(v / mib) for v in out['worker_peak_bytes']]} MiB; restarted "
        f"{out['workers_restarted']}; below limit {out['peak_below_limit']}"
    )
    print("passes:", out["passes"])
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(out, indent=1))
    return 0 if out["peak_below_limit"] and not out["workers_restarted"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
