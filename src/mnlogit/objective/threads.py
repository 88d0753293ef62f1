"""BLAS threads of the row-block kernels: one per call, the rows split across threads.

The kernels walk ``X`` in row blocks of about :data:`mnlogit.objective.blocks.BLOCK_ELEMENTS`
numbers, so their BLAS calls are small (a few hundred to a few thousand rows). A threaded
BLAS (OpenBLAS at its default of one thread per core) wakes its threads for each such call
and spin-waits between them; measured on 2 cores (docs/benchmarks.md, issue-speed4), the
covariance Hessian of ``dense-200k-100-10`` took 3.3 s with one BLAS thread and 8.5 s
(quiet machine) to 25 s (the other core busy) with two, and a ``cov_type=None`` fit
1.3 s against 16 s. So a fit's stages run under :func:`one_blas_thread`: BLAS limited to
one thread, the number it had before remembered (:func:`row_threads`); the kernels whose
work is large per row (the dense Hessian) split their rows into that many contiguous
ranges and run them on Python threads (numpy and BLAS release the GIL), each with its own
partial sum. A user's ``threadpool_limits(1)`` therefore keeps every fit on one thread.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import scipy.linalg.blas  # noqa: F401 -- loaded before the controller lists the BLAS libraries
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

__all__ = ["map_row_ranges", "one_blas_thread", "row_threads", "single_blas_thread"]

F = TypeVar("F", bound=Callable[..., Any])

# the BLAS threads available before the outermost one_blas_thread limited them to one
_AVAILABLE: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "mnlogit_blas_threads", default=None
)


@functools.cache
def _controller() -> Any:
    """One ``ThreadpoolController`` (listing the libraries takes milliseconds; numpy's and
    scipy's BLAS are loaded by then)."""
    return ThreadpoolController().select(user_api="blas")


def _blas_threads() -> int:
    """The largest thread count of the loaded BLAS libraries (1 when none reports)."""
    counts = [int(lib.num_threads or 1) for lib in _controller().lib_controllers]
    return max(counts or [1])


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """Run the block in one BLAS thread, remembering how many there were (nests)."""
    if _AVAILABLE.get() is not None:  # already inside: BLAS is at one thread
        yield
        return
    token = _AVAILABLE.set(_blas_threads())
    try:
        with _controller().limit(limits=1):
            yield
    finally:
        _AVAILABLE.reset(token)


def one_blas_thread(function: F) -> F:
    """Decorate a fit stage so that it runs under :func:`single_blas_thread`."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with single_blas_thread():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def row_threads() -> int:
    """Threads a row-block kernel may split its rows over.

    Returns
    -------
    int
        Inside :func:`single_blas_thread`: the BLAS threads there were before it (the
        cores the user lets BLAS use); elsewhere 1 (BLAS threads itself).
    """
    available = _AVAILABLE.get()
    return 1 if available is None else max(1, available)


def map_row_ranges(
    work: Callable[[int, int], Any], n_rows: int, threads: int, min_rows: int
) -> list[Any]:
    """``work(start, stop)`` over ``threads`` contiguous ranges of ``0 .. n_rows``.

    Parameters
    ----------
    work : callable ``(start, stop) -> partial``
        Must be safe to run concurrently on disjoint ranges (its own buffers).
    n_rows : int
    threads : int
        Upper bound on the ranges (and Python threads).
    min_rows : int
        Fewest rows of a range; fewer ranges are made when ``n_rows`` is small.

    Returns
    -------
    list
        The partials in row order (one call, in this thread, when one range).
    """
    parts = max(1, min(threads, n_rows // max(min_rows, 1)))
    if parts == 1:
        return [work(0, n_rows)]
    bounds = [n_rows * j // parts for j in range(parts + 1)]
    # The first range runs in this thread: a pool thread's arrays come from a malloc
    # arena of its own, and each arena keeps its freed blocks (peak memory, issue-sparse5).
    with ThreadPoolExecutor(max_workers=parts - 1) as pool:
        futures = [pool.submit(work, bounds[j], bounds[j + 1]) for j in range(1, parts)]
        first = work(bounds[0], bounds[1])
        return [first] + [future.result() for future in futures]
