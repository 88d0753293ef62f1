"""The partitions of a Dask input as blocks of rows, and passes over them.

A fit sees its data as a list of Dask ``Delayed`` objects, one per partition, each
evaluating to a :class:`Block` (features, class codes, normalized weights, cluster labels):
the shape the block kernels take. Before the classes are known a partition yields a
:class:`RawBlock` (features and labels as given). This module

- lines up the partitions of ``X``, ``y``, ``sample_weight`` and ``groups`` (equal chunks
  are paired; unknown chunk sizes, from data frames, are paired by partition and checked
  when the partition is computed; other chunkings are rechunked to ``X``'s);
- persists the encoded blocks on the workers when they fit in half the workers' memory,
  and otherwise leaves them as a graph that reads the source again on every pass (out of
  core) -- :func:`persist_if_it_fits`, with the ``dask.config`` key ``mnlogit.persist``
  (``"auto"``, ``True`` or ``False``) to force either;
- runs one pass: a map over the blocks and a tree reduction of the partial sums
  (:func:`run_pass`), reporting each pass to the callback set by :func:`report_passes`.
  On a ``distributed`` client with persisted blocks a pass is one task per worker, over
  the blocks that worker holds (:func:`worker_pass`): no partial sum crosses between
  workers and the scheduler sees two tasks a pass instead of ``2 x`` the partitions;
  the persisted partitions are spread evenly over the workers (:func:`persist_spread`),
  and where they are is read once and reused while it holds (:func:`placement_plan`).

The coefficients of a pass enter its graph once, as a single key that every task refers
to (:func:`shared`), not embedded in each task.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import dask
import numpy as np
from dask.delayed import Delayed, delayed
from numpy.typing import NDArray

from mnlogit.exceptions import InvalidInputError

__all__ = [
    "FAN_IN",
    "Block",
    "PassCounter",
    "PassReport",
    "RawBlock",
    "array_parts",
    "block_rows_offsets",
    "forget_placements",
    "is_frame_like",
    "paired_parts",
    "persist_if_it_fits",
    "persist_raw_if_it_fits",
    "persist_spread",
    "placement_plan",
    "report_passes",
    "row_partitions",
    "row_parts",
    "run_pass",
    "shared",
    "tree_reduce",
    "tune_workers",
    "worker_pass",
]

FloatArray = NDArray[np.float64]
T = TypeVar("T")

#: Partial sums combined per task of the tree reduction.
FAN_IN = 8
#: Blocks are persisted when their size is at most this share of the workers' memory.
PERSIST_SHARE = 0.5


@dataclass(frozen=True)
class RawBlock:
    """One partition as given: numeric features and labels, before encoding.

    Attributes
    ----------
    X : ndarray of shape (m, p)
    labels : ndarray of shape (m,)
    weights : ndarray of shape (m,) or None
        Sample weights as given.
    groups : ndarray of shape (m,) or None
        Cluster labels.
    index : int
        The partition's position, for messages.
    dropped : int
        Rows a formula fit with ``missing="drop"`` left out of this partition.
    """

    X: NDArray[Any]
    labels: NDArray[Any]
    weights: NDArray[Any] | None
    groups: NDArray[Any] | None
    index: int
    dropped: int = 0


@dataclass(frozen=True)
class Block:
    """One partition as the kernels take it.

    Attributes
    ----------
    X : ndarray of shape (m, p_kept)
        float64 or float32, C-contiguous, aliased columns removed.
    codes : ndarray of shape (m,)
        Class codes ``0 .. K-1``.
    weights : ndarray of shape (m,) or None
        Effective weights over their total ``S`` over all partitions (``None``: every row
        weighs ``1 / n``).
    groups : ndarray of shape (m,) or None
        Cluster labels (``cov_type="cluster"``).
    """

    X: NDArray[Any]
    codes: NDArray[np.intp]
    weights: FloatArray | None
    groups: NDArray[Any] | None

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])


@dataclass(frozen=True)
class PassReport:
    """What one pass over the partitions did.

    Attributes
    ----------
    number : int
        1 for the first pass of a fit.
    kind : str
        ``"statistics"``, ``"gram"``, ``"loss"``, ``"hessian"``, ``"hessp"``, ...
    seconds : float
        Wall time of the pass (graph construction, scheduling and the computation).
    partitions : int
    """

    number: int
    kind: str
    seconds: float
    partitions: int


_REPORTER: ContextVar[Callable[[PassReport], None] | None] = ContextVar(
    "mnlogit_pass_reporter", default=None
)


@contextmanager
def report_passes(callback: Callable[[PassReport], None]) -> Iterator[None]:
    """Call ``callback(report)`` after every pass of the fits run inside the block."""
    token = _REPORTER.set(callback)
    try:
        yield
    finally:
        _REPORTER.reset(token)


class PassCounter:
    """Numbers the passes of one fit and reports them (:func:`report_passes`)."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def run(self, kind: str, root: Delayed, partitions: int) -> Any:
        """Compute ``root`` (one pass), count it and report it."""
        return self.gather(kind, [root], partitions)[0]

    def gather(self, kind: str, parts: Sequence[Delayed], partitions: int) -> list[Any]:
        """Compute ``parts`` straight to the client (one pass: no worker holds them all).

        A task per block may run away from its block (work stealing) and leave a copy
        behind, of which the scheduler later drops one: the cached placements of
        :func:`worker_pass` are forgotten (:func:`forget_placements`)."""
        forget_placements()
        start = time.perf_counter()
        values = list(dask.compute(*parts))
        self.record(kind, time.perf_counter() - start, partitions)
        return values

    def record(self, kind: str, seconds: float, partitions: int) -> None:
        """Count one pass of ``seconds`` and report it."""
        self.count += 1
        self.seconds += seconds
        reporter = _REPORTER.get()
        if reporter is not None:
            reporter(PassReport(self.count, kind, seconds, partitions))


def shared(value: Any) -> Delayed:
    """``value`` as one graph key, so that every task of a pass refers to the same copy."""
    return delayed(value, pure=True, traverse=False)


def tree_reduce(parts: Sequence[Delayed], combine: Callable[..., Any]) -> Delayed:
    """A tree of ``combine(*partials)`` tasks of at most :data:`FAN_IN` inputs each."""
    level = list(parts)
    if not level:
        raise InvalidInputError("the Dask input has no partitions")
    while len(level) > 1:
        level = [
            delayed(combine, pure=True)(*level[i : i + FAN_IN])
            for i in range(0, len(level), FAN_IN)
        ]
    if level[0] is parts[0]:  # one partition: still one task of the reduction's shape
        return delayed(combine, pure=True)(level[0])
    return level[0]


def run_pass(
    counter: PassCounter,
    kind: str,
    blocks: Sequence[Delayed],
    kernel: Callable[..., Any],
    combine: Callable[..., Any],
    *args: Any,
) -> Any:
    """One pass: ``kernel(block, *args)`` on every block, tree-reduced by ``combine``.

    ``args`` should be :func:`shared` keys (or small values): they are referred to by
    every task. On a ``distributed`` client, when every block is persisted, the pass is
    :func:`worker_pass` (one task per worker) unless the ``dask.config`` key
    ``mnlogit.pass_per_worker`` is False; otherwise a graph of one task per block and a
    tree of :data:`FAN_IN`-input reductions.
    """
    start = time.perf_counter()
    found = worker_pass(blocks, kernel, combine, *args)
    if found is not None:
        counter.record(kind, time.perf_counter() - start, len(blocks))
        return found[0]
    parts = [delayed(kernel, pure=True)(block, *args) for block in blocks]
    return counter.run(kind, tree_reduce(parts, combine), len(blocks))  # forgets placements


def _distributed_client() -> Any | None:
    """The ``distributed`` client that ``dask.compute`` would use now, or None."""
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        return None
    from dask.base import get_scheduler

    return client if get_scheduler() == client.get else None


def _combine_all(
    kernel: Callable[..., Any], combine: Callable[..., Any], n_args: int, *items: Any
) -> tuple[Any, str]:
    """On a worker: ``kernel(block, *args)`` on each of its blocks, reduced by ``combine``
    :data:`FAN_IN` partials at a time (``items`` is ``args`` then the blocks); returned
    with the address of the worker that ran it (a placement check, :func:`worker_pass`)."""
    from distributed import get_worker

    args, blocks = items[:n_args], items[n_args:]
    pending: list[Any] = []
    for block in blocks:
        pending.append(kernel(block, *args))
        if len(pending) == FAN_IN:
            pending = [combine(*pending)]
    return combine(*pending), str(get_worker().address)


def _own_future(part: Delayed) -> list[Any]:
    """``[future]`` when ``part`` is persisted (its own key is a future), else ``[]``
    (a part computed from persisted ones refers to their futures, not its own)."""
    from distributed import futures_of

    found = futures_of(part)
    return found if len(found) == 1 and found[0].key == part.key else []


def _persisted_futures(blocks: Sequence[Delayed]) -> list[Any] | None:
    """The future behind each persisted block, or None when any block is not persisted."""
    futures = []
    for block in blocks:
        found = _own_future(block)
        if not found:
            return None
        futures.append(found[0])
    return futures


#: Worker -> positions of the blocks it holds, per ``(client id, block keys)``: the
#: placement :func:`worker_pass` reads (``who_has``) and reuses on later passes while it
#: is settled (every block held by one worker). Keys only, never futures, so that a plan
#: keeps no data alive; the oldest of more than :data:`PLAN_CACHE_SIZE` plans is forgotten.
_PLANS: OrderedDict[tuple[str, tuple[Any, ...]], dict[str, list[int]]] = OrderedDict()
#: Plans kept (one per set of persisted blocks: a fit has one or two).
PLAN_CACHE_SIZE = 8


def placement_plan(blocks: Sequence[Delayed]) -> dict[str, list[int]] | None:
    """The cached placement of persisted ``blocks`` on the current ``distributed``
    client: worker address -> positions in ``blocks``, or None when none is cached
    (not yet read, or forgotten because the cluster changed under a pass)."""
    client = _distributed_client()
    futures = None if client is None else _persisted_futures(blocks)
    if client is None or futures is None:
        return None
    return _PLANS.get((str(client.id), tuple(f.key for f in futures)))


def forget_placements() -> None:
    """Forget every cached placement (:func:`placement_plan`): the next
    :func:`worker_pass` over any blocks reads theirs again. Called before every pass that
    is not one task per worker (tasks per block may copy blocks between workers)."""
    _PLANS.clear()


def _read_placement(
    client: Any, futures: Sequence[Any]
) -> tuple[dict[str, list[int]] | None, bool]:
    """Worker -> positions of the blocks it holds (a block held twice goes to the holder
    with the fewest so far), waiting for the blocks first, and whether it is settled
    (no block held twice: the scheduler drops extra copies a while later, perhaps the
    planned one, so such a plan serves one pass). None when a block is held nowhere
    (lost or not yet in memory: the graph path recomputes it)."""
    from distributed import wait

    wait(futures)  # a persist just started: its blocks' places are known once computed
    owners = client.who_has(futures)
    plan: dict[str, list[int]] = {}
    settled = True
    for i, future in enumerate(futures):
        holders = sorted(owners.get(future.key, ()))
        if not holders:
            return None, False
        settled = settled and len(holders) == 1
        holder = min(holders, key=lambda w: len(plan.get(w, [])))
        plan.setdefault(holder, []).append(i)
    return plan, settled


def _resolved(args: Sequence[Any]) -> list[Any]:
    """``args`` with the ``Delayed`` among them (the :func:`shared` coefficients)
    computed here, in this process."""
    values = list(args)
    delayed_at = [i for i, a in enumerate(values) if isinstance(a, Delayed)]
    if delayed_at:
        computed = dask.compute(*(values[i] for i in delayed_at), scheduler="sync")
        for i, value in zip(delayed_at, computed, strict=True):
            values[i] = value
    return values


def worker_pass(
    blocks: Sequence[Delayed], kernel: Callable[..., Any], combine: Callable[..., Any], *args: Any
) -> tuple[Any] | None:
    """One pass as one task per worker over the persisted blocks it holds, or None.

    Each worker maps ``kernel(block, *args)`` over its own blocks and combines the
    partial sums (:data:`FAN_IN` at a time); the client combines the workers' results.
    Nothing but the small ``args`` (computed here and sent as values in the tasks) and one
    partial sum per worker crosses the network, and the scheduler handles ``n_workers``
    tasks a pass (with one task per block it was 32 tasks and a reduction tree of 5, whose
    inputs moved between the workers: measured in docs/dask.md). Used only on a
    ``distributed`` client with every block persisted and the ``dask.config`` key
    ``mnlogit.pass_per_worker`` not False.

    The placement of the blocks is read from the scheduler on the first pass over them
    and reused while it is settled (:func:`placement_plan`): a pass then costs the
    scheduler one submission of all the workers' tasks and one gather. It is read again
    after a pass of another shape (:func:`forget_placements`: a task per block may leave
    a copy of its block on another worker, and the scheduler's active memory manager then
    drops one of the two, maybe the planned one), and when a task ran elsewhere than
    planned (its worker was lost, its blocks recomputed elsewhere; each task reports the
    worker that ran it). A worker added holds no blocks and leaves the plan as it is.
    Results never depend on the plan: every block is in exactly one task, and a task
    whose worker is gone runs on another (``allow_other_workers``), fetching or
    recomputing its blocks.

    Returns
    -------
    tuple or None
        ``(result,)``; None when the conditions above do not hold.
    """
    if not blocks or not dask.config.get("mnlogit.pass_per_worker", True):
        return None
    client = _distributed_client()
    if client is None:
        return None
    futures = _persisted_futures(blocks)
    if futures is None:
        return None
    ident = (str(client.id), tuple(f.key for f in futures))
    plan = _PLANS.get(ident)
    if plan is None:
        plan, settled = _read_placement(client, futures)
        if plan is None:
            return None
        if settled:
            _PLANS[ident] = plan
            while len(_PLANS) > PLAN_CACHE_SIZE:
                _PLANS.popitem(last=False)
    values = _resolved(args)
    tasks = _submit_all(client, plan, futures, kernel, combine, values)
    found = client.gather(tasks)
    if any(ran != worker for (_, ran), worker in zip(found, plan, strict=True)):
        _PLANS.pop(ident, None)
    return (combine(*(part for part, _ in found)),)


def _submit_all(
    client: Any,
    plan: dict[str, list[int]],
    futures: Sequence[Any],
    kernel: Callable[..., Any],
    combine: Callable[..., Any],
    values: list[Any],
) -> list[Any]:
    """The task of every worker in ``plan`` (in its order), submitted in one message to
    the scheduler (one graph, each task annotated with its worker): with one submission
    a worker, the client's batched stream (10 ms interval) holds back all but the first,
    so the second worker would start up to 10 ms later."""
    parts = []
    for worker, held in plan.items():
        with dask.annotate(workers=[worker], allow_other_workers=True):
            parts.append(
                delayed(_combine_all, pure=False)(
                    kernel, combine, len(values), *values, *(futures[i] for i in held)
                )
            )
    return list(client.compute(parts))


# ---------------------------------------------------------------------- partitions
def _checked_block(X: Any, labels: Any, weights: Any, groups: Any, index: int) -> RawBlock:
    """A :class:`RawBlock` from the pieces of one partition, their lengths checked."""
    Xa = np.asarray(X)
    if Xa.ndim == 1:
        Xa = Xa[:, None]
    if Xa.ndim != 2:
        raise InvalidInputError(f"partition {index} of X is {Xa.ndim}-dimensional, not 2-d")
    if Xa.dtype.kind not in "fiub":
        raise InvalidInputError(
            f"partition {index} of X has dtype {Xa.dtype}; features must be numeric "
            "(give a formula to encode text and categorical columns)"
        )
    # row-major here (a data frame's values are column-major), so that the encoded block
    # shares these features instead of copying them next to a persisted raw partition
    Xa = np.ascontiguousarray(Xa)
    ya = np.asarray(labels).ravel()
    m = Xa.shape[0]
    pieces = {"y": ya}
    wa = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    ga = None if groups is None else np.asarray(groups).ravel()
    if wa is not None:
        pieces["sample_weight"] = wa
    if ga is not None:
        pieces["groups"] = ga
    for name, piece in pieces.items():
        if piece.shape[0] != m:
            raise InvalidInputError(
                f"partition {index}: X has {m} rows but {name} has {piece.shape[0]}; give "
                f"{name} with the same partitions (chunks) as X"
            )
    return RawBlock(Xa, ya, wa, ga, index)


def is_frame_like(obj: Any) -> bool:
    """A Dask DataFrame or Series (anything with ``npartitions`` and ``to_delayed``)."""
    return hasattr(obj, "npartitions") and not hasattr(obj, "chunks")


def row_parts(obj: Any, row_chunks: tuple[float, ...], name: str) -> list[Any]:
    """``obj`` (None, an in-memory array, a Dask array or series) split like ``X``'s rows.

    Parameters
    ----------
    obj : None, array-like, dask array or dask series of shape (n,)
    row_chunks : tuple
        ``X``'s row chunks (known sizes, or NaN for unknown ones).
    name : str
        For messages.

    Returns
    -------
    list
        One entry per partition of ``X``: None, an ndarray slice, or a ``Delayed``.
    """
    nb = len(row_chunks)
    if obj is None:
        return [None] * nb
    known = not any(np.isnan(c) for c in row_chunks)
    if is_frame_like(obj):
        if obj.npartitions == nb:
            return list(obj.to_delayed())
        obj = obj.to_dask_array(lengths=True)
    if hasattr(obj, "chunks"):  # a dask array
        arr = obj if obj.ndim == 1 else obj.ravel()
        if len(arr.chunks[0]) == nb and (not known or tuple(arr.chunks[0]) == row_chunks):
            return list(arr.to_delayed().ravel())
        if not known:
            raise InvalidInputError(
                f"{name} is chunked unlike X and X's chunk sizes are unknown; call "
                "X.compute_chunk_sizes() first, or give both from the same data frame"
            )
        if any(np.isnan(c) for c in arr.chunks[0]):
            arr = arr.compute_chunk_sizes()
        return list(arr.rechunk((tuple(int(c) for c in row_chunks),)).to_delayed().ravel())
    values = np.asarray(obj)
    if not known:
        raise InvalidInputError(
            f"{name} is an in-memory array but X's chunk sizes are unknown; call "
            "X.compute_chunk_sizes() first, or give it as a Dask array"
        )
    total = int(sum(row_chunks))
    if values.shape[0] != total:
        raise InvalidInputError(f"X has {total} rows but {name} has {values.shape[0]}")
    bounds = np.concatenate([[0], np.cumsum([int(c) for c in row_chunks])])
    return [values[bounds[i] : bounds[i + 1]] for i in range(nb)]


_EXTRA = ("__mnlogit_y__", "__mnlogit_weight__", "__mnlogit_group__")


def _split_frame(frame: Any, n_features: int, present: tuple[bool, ...]) -> tuple[Any, ...]:
    """A partition of ``X`` with ``y`` (weights, groups) assigned as extra columns, split."""
    values: list[Any] = [np.asarray(frame.iloc[:, :n_features])]
    column = n_features
    for here in present:
        values.append(frame.iloc[:, column].to_numpy() if here else None)
        column += int(here)
    return tuple(values)


def _frame_parts(
    X: Any, extras: tuple[Any, Any, Any]
) -> tuple[list[Any], list[Any], list[Any], list[Any]] | None:
    """Partitions of a Dask data frame ``X`` with the Dask series among ``extras``
    assigned as columns (one selection: a column read alone may be partitioned apart
    from the others, e.g. Parquet files combined by size); None when they cannot be."""
    present = tuple(is_frame_like(e) for e in extras)
    assigned = {name: e for name, e, here in zip(_EXTRA, extras, present, strict=True) if here}
    try:
        frame = X.assign(**assigned) if assigned else X
    except (ValueError, TypeError, NotImplementedError):
        return None
    n_features = len(X.columns)
    split = [delayed(_split_frame, nout=4)(f, n_features, present) for f in frame.to_delayed()]
    columns = [list(s) for s in zip(*[tuple(part) for part in split], strict=True)]
    return columns[0], columns[1], columns[2], columns[3]


def row_partitions(X: Any) -> tuple[list[Any], tuple[float, ...]]:
    """One ``Delayed`` per row partition of a Dask array or data frame, and the row chunks
    (NaN where unknown)."""
    if is_frame_like(X):
        frames = list(X.to_delayed())
        return frames, (float("nan"),) * len(frames)
    if X.ndim == 1:
        X = X[:, None]
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return list(X.to_delayed()[:, 0]), tuple(float(c) for c in X.chunks[0])


def paired_parts(X: Any, y: Any, as_frames: bool) -> tuple[list[Any], list[Any]]:
    """Partitions of ``X`` and of the labels ``y`` that belong to them.

    Parameters
    ----------
    X : dask array or data frame
    y : dask array or series, array-like or None
    as_frames : bool
        Keep a data frame's partitions as frames (a formula reads them by column name);
        otherwise a data frame ``X`` and a Dask series ``y`` are read as one frame (their
        partitions then match) and ``X``'s partitions become arrays.
    """
    if not as_frames and is_frame_like(X) and is_frame_like(y):
        found = _frame_parts(X, (y, None, None))
        if found is not None:
            return found[0], found[1]
    parts, chunks = row_partitions(X)
    return parts, row_parts(y, chunks, "y")


def array_parts(X: Any, y: Any, sample_weight: Any, groups: Any) -> tuple[list[Delayed], int]:
    """The raw partitions of a Dask array (or numeric Dask data frame) ``X`` and its labels.

    A Dask data frame ``X`` with Dask series ``y`` (weights, groups) is read as one frame
    (the series assigned as columns), so that their partitions match; other labels are
    split like ``X``'s rows (:func:`row_parts`).

    Returns
    -------
    parts : list of Delayed
        Each evaluates to a :class:`RawBlock`.
    n_features : int
    """
    extras = (y, sample_weight, groups)
    ys, ws, gs = None, None, None
    if is_frame_like(X):
        n_features = len(X.columns)
        found = _frame_parts(X, extras)
        if found is None:
            frames = list(X.to_delayed())
            xs: list[Any] = [delayed(np.asarray)(f) for f in frames]
        else:
            xs, ys, ws, gs = found
            extras = tuple(None if is_frame_like(e) else e for e in extras)  # type: ignore[assignment]
        row_chunks: tuple[float, ...] = (float("nan"),) * len(xs)
    else:
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise InvalidInputError(f"X must be 2-d, got a {X.ndim}-d Dask array")
        if len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})
        n_features = int(X.shape[1])
        row_chunks = tuple(float(c) for c in X.chunks[0])
        xs = list(X.to_delayed()[:, 0])
    given = [ys, ws, gs]
    for k, (extra, name) in enumerate(zip(extras, ("y", "sample_weight", "groups"), strict=True)):
        if extra is not None or given[k] is None:
            given[k] = row_parts(extra, row_chunks, name)
    ys, ws, gs = given
    assert ys is not None and ws is not None and gs is not None
    parts = [
        delayed(_checked_block, pure=True)(xs[i], ys[i], ws[i], gs[i], i) for i in range(len(xs))
    ]
    return parts, n_features


# ---------------------------------------------------------------------- workers
#: glibc ``malloc`` thresholds set on the workers of a ``distributed`` client before a
#: fit (:func:`tune_workers`): temporaries up to this size come from the heap and freed
#: memory up to ``2 x`` stays there. Dask's nanny starts workers with
#: ``MALLOC_TRIM_THRESHOLD_=65536``, which also pins glibc's mmap threshold at 128 KiB, so
#: every temporary of a kernel (a sub-block's probabilities, an Arrow column being
#: decoded) is fresh memory from the kernel each time; measured on the project's machine
#: (a VM where a page fault is expensive) the loss kernel on a 156,250-row block took
#: 70-117 ms in a worker against 23-39 ms in the client, and 30 ms in the worker once set.
WORKER_MMAP_THRESHOLD = 32 * 2**20


def _tune_allocator(mmap_threshold: int) -> bool:
    """Set glibc's mmap and trim thresholds in this process (False where not glibc)."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # mallopt's parameter numbers (malloc.h)
    done = libc.mallopt(m_mmap_threshold, mmap_threshold)
    return bool(done and libc.mallopt(m_trim_threshold, 2 * mmap_threshold))


def tune_workers() -> dict[str, bool]:
    """Set the workers' ``malloc`` thresholds (:data:`WORKER_MMAP_THRESHOLD`), when a
    ``distributed`` client is in use and the ``dask.config`` key ``mnlogit.tune_malloc``
    is not False. Returns each worker's answer (empty without a client)."""
    if not dask.config.get("mnlogit.tune_malloc", True):
        return {}
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        return {}
    return dict(client.run(_tune_allocator, WORKER_MMAP_THRESHOLD))


# ---------------------------------------------------------------------- persisting
def _worker_memory() -> float:
    """Total memory the blocks may use: the sum of the workers' ``memory_limit`` when a
    ``dask.distributed`` client is in use, otherwise the memory this machine has available."""
    import psutil

    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        return float(psutil.virtual_memory().available)
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    total = sum(float(w.get("memory_limit") or 0) for w in workers.values())
    return total if total > 0 else float(psutil.virtual_memory().total)


def persist_if_it_fits(blocks: list[Delayed], nbytes: float) -> tuple[list[Delayed], bool]:
    """Persist ``blocks`` (about ``nbytes``) when they fit, per ``mnlogit.persist``.

    ``dask.config`` key ``mnlogit.persist``: ``"auto"`` (default) persists when ``nbytes``
    is at most :data:`PERSIST_SHARE` of the workers' total memory (or of this machine's
    available memory without a distributed client); ``True`` always, ``False`` never
    (every pass then reads the source again: out of core).

    Returns
    -------
    blocks : list of Delayed
    persisted : bool
    """
    mode = dask.config.get("mnlogit.persist", "auto")
    keep = nbytes <= PERSIST_SHARE * _worker_memory() if mode == "auto" else bool(mode)
    if not keep:
        return blocks, False
    return persist_spread(blocks), True


def persist_spread(
    parts: Sequence[Delayed], beside: Sequence[Delayed] | None = None
) -> list[Delayed]:
    """``dask.persist`` of ``parts``, spread evenly over the workers of a ``distributed``
    client.

    Each part not yet persisted is pinned to the worker holding the same-numbered item of
    ``beside`` when that is persisted (a block made from a persisted raw partition stays
    where its data are), otherwise to the worker holding the fewest parts so far, so that
    every worker holds an equal share and a pass (:func:`worker_pass`) takes the same time
    on each. Left to the scheduler, 32 partitions on 2 workers were held 14 / 18 or
    15 / 17 (docs/dask.md). The pin is a preference (``allow_other_workers``): a part
    whose worker is gone is computed on another. Without a client, or with the ``dask.config`` key
    ``mnlogit.pass_per_worker`` False, plain ``dask.persist``.

    Parameters
    ----------
    parts : sequence of Delayed
    beside : sequence of Delayed, optional
        Same length as ``parts``.
    """
    client = _distributed_client()
    if client is None or not parts or not dask.config.get("mnlogit.pass_per_worker", True):
        return list(dask.persist(*parts))
    workers = sorted(client.scheduler_info(n_workers=-1).get("workers", {}))
    if not workers:
        return list(dask.persist(*parts))
    done = [_own_future(part) for part in parts]
    near = [_own_future(b) for b in beside] if beside is not None else [[] for _ in parts]
    owners = client.who_has([f for found in done + near for f in found])
    count = dict.fromkeys(workers, 0)
    plan: dict[str, list[int]] = {w: [] for w in workers}
    for i, (found, close) in enumerate(zip(done, near, strict=True)):
        held = [w for f in found for w in owners.get(f.key, ()) if w in count]
        if held:
            count[held[0]] += 1
            continue
        there = [w for f in close for w in owners.get(f.key, ()) if w in count]
        worker = there[0] if there else min(workers, key=lambda w: count[w])
        count[worker] += 1
        plan[worker].append(i)
    out = list(parts)
    for worker, indices in plan.items():
        if indices:
            kept = client.persist(
                [parts[i] for i in indices], workers=[worker], allow_other_workers=True
            )
            for i, part in zip(indices, kept, strict=True):
                out[i] = part
    return out


def _raw_nbytes(raw: RawBlock) -> float:
    """Bytes a persisted raw partition and its encoded block hold together (the encoded
    features share the raw ones when these are float64 or float32)."""
    rows = raw.X.shape[0]
    encoded = 0 if raw.X.dtype in (np.float64, np.float32) else rows * raw.X.shape[1] * 8
    return float(raw.X.nbytes + encoded + raw.labels.nbytes + 16 * rows)


def persist_raw_if_it_fits(parts: list[Delayed]) -> tuple[list[Delayed], bool]:
    """Persist the raw partitions before the first pass when they will fit (read once).

    Same rule as :func:`persist_if_it_fits`, decided before any full pass: in the
    ``"auto"`` mode the first partition is persisted and measured, and all of them are
    estimated at that size times the number of partitions. Persisting first lets the
    statistics pass and the encoded blocks (persisted from these) read the source once;
    otherwise the statistics pass would read it and the persist read it again.

    Parameters
    ----------
    parts : list of Delayed
        Each evaluates to a :class:`RawBlock`.

    Returns
    -------
    parts : list of Delayed
        Persisted when the second item is True, else ``parts`` unchanged.
    persisted : bool
    """
    mode = dask.config.get("mnlogit.persist", "auto")
    if not parts or (mode != "auto" and not bool(mode)):
        return parts, False
    if mode == "auto":
        (first,) = dask.persist(parts[0])
        size = float(dask.compute(delayed(_raw_nbytes, pure=True)(first))[0])
        if size * len(parts) > PERSIST_SHARE * _worker_memory():
            return parts, False
        parts = [first, *parts[1:]]
    return persist_spread(parts), True


def block_rows_offsets(rows: Sequence[int]) -> NDArray[np.int64]:
    """Global index of each partition's first row, shape ``(n_partitions,)``."""
    return np.concatenate([[0], np.cumsum(np.asarray(rows, dtype=np.int64))[:-1]]).astype(np.int64)
