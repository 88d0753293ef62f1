"""What ``mnlogit fit DATA --workers N`` / ``--scheduler ADDRESS`` needs from Dask.

:func:`dask_session` starts a local cluster of ``N`` worker processes (one thread each)
or connects to a running scheduler, and prints one progress line per pass over the data
to standard error; :func:`dask_table` opens the data lazily (Parquet files, a directory
or a glob of them, or CSV files), so the command never reads them into one process.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from mnlogit.distributed.partitions import PassReport, report_passes
from mnlogit.exceptions import InvalidInputError

__all__ = ["dask_session", "dask_table", "pass_line"]


def pass_line(report: PassReport) -> str:
    """``pass 3: loss over 8 partitions, 0.412 s``."""
    return (
        f"pass {report.number}: {report.kind} over {report.partitions} partitions, "
        f"{report.seconds:.3f} s"
    )


@contextmanager
def dask_session(
    workers: int | None, scheduler: str | None, progress: bool = True
) -> Iterator[Any]:
    """A ``dask.distributed`` client for the block: a new local cluster or a running one.

    Parameters
    ----------
    workers : int or None
        Start a ``LocalCluster`` of this many worker processes (one thread each).
    scheduler : str or None
        Connect to the scheduler at this address instead (``tcp://host:8786``).
    progress : bool, default=True
        Print a line per pass to standard error.
    """
    from distributed import Client, LocalCluster

    with ExitStack() as stack:
        if scheduler is not None:
            client = stack.enter_context(Client(scheduler))
        else:
            if workers is None or workers < 1:
                raise InvalidInputError("--workers must be a positive number of processes")
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            )
            client = stack.enter_context(Client(cluster))
        if progress:
            stack.enter_context(
                report_passes(lambda report: print(pass_line(report), file=sys.stderr))
            )
        yield client


def dask_table(path: str) -> Any:
    """A lazy Dask data frame of Parquet or CSV files (a file, a directory or a glob)."""
    import dask.dataframe as dd

    lowered = path.lower().rstrip("/")
    if lowered.endswith((".csv", ".csv.gz", ".tsv")):
        return dd.read_csv(path, sep="\t" if lowered.endswith(".tsv") else ",")
    if lowered.endswith((".parquet", ".pq", "*")) or "." not in lowered.rsplit("/", 1)[-1]:
        return dd.read_parquet(path)
    raise InvalidInputError(
        f"{path}: with --workers or --scheduler the data must be Parquet or CSV files "
        "(a file, a directory or a glob such as 'data/*.parquet')"
    )
