"""Parquet files read straight into blocks: the fast path for ``dd.read_parquet`` input.

A Dask data frame from ``dd.read_parquet(path)`` goes, partition by partition, through
pyarrow's decode, a pandas frame (``to_pandas``), column selections, an ``assign`` of the
labels, and a copy into a row-major float64 array -- about five times the cost of the bare
decode (docs/dask.md, "Measured"). When ``X`` is a column selection of such a frame and
``y`` (and Dask ``sample_weight`` / ``groups``) single columns of the *same* read, a fit
does not need the frame at all: :func:`parquet_parts` lists the files, groups each file's
row groups into partitions of at most :data:`PARTITION_BYTES` of features, and every
partition's task reads the needed columns one by one with ``pyarrow.parquet`` (a local
file memory-mapped) and writes them into one C-contiguous float64 block (a
:class:`~mnlogit.distributed.partitions.RawBlock`).

Anything this module is not sure of returns ``None`` and the fit takes the general path
(any Dask data frame, by partition): filters, an index, categories, hive-partitioned
directories, a pyarrow file system object, reader options, features that are not numeric
or boolean, labels that are not numbers, booleans or text, a selection of partitions, or
``X`` and ``y`` from different reads. The rows are the same either way (every row of every
file); only their grouping into partitions may differ, which changes no result beyond the
order of floating-point sums.

The frame is recognised by its Dask expression (``dask.dataframe``'s ``ReadParquet`` under
at most one column ``Projection``), read through public ``operand`` names only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from dask.delayed import Delayed, delayed

from mnlogit.distributed.partitions import RawBlock
from mnlogit.exceptions import InvalidInputError

__all__ = ["PARTITION_BYTES", "ParquetPiece", "parquet_parts", "read_piece"]

#: Row groups of a file are grouped into partitions of at most this many feature bytes
#: (a row group is never split; a file is one partition when it is smaller).
PARTITION_BYTES = 128 * 2**20
#: Reader options that leave the values as they are (anything else: the general path).
_NEUTRAL_KWARGS = {"dtype_backend": None}


@dataclass(frozen=True)
class ParquetPiece:
    """One partition: some row groups of one file.

    Attributes
    ----------
    path : str
    row_groups : tuple of int
    rows : int
    filesystem : object or None
        An fsspec file system to open ``path`` with (None: a local path).
    """

    path: str
    row_groups: tuple[int, ...]
    rows: int
    filesystem: Any = None


def _read_parquet_of(obj: Any) -> tuple[Any, list[str]] | None:
    """The ``ReadParquet`` expression under a frame or series and the columns taken."""
    try:
        from dask.dataframe.dask_expr.io.parquet import ReadParquet
    except ImportError:  # another dask layout: the general path
        return None
    expr = getattr(obj, "expr", None)
    if expr is None:
        return None
    columns: Any = None
    if type(expr).__name__ == "Projection":
        columns = expr.operand("columns")
        expr = expr.frame
    if not isinstance(expr, ReadParquet):
        return None
    if columns is None:
        columns = expr.operand("columns")
    if columns is None:
        columns = list(obj.columns) if hasattr(obj, "columns") else [obj.name]
    if isinstance(columns, str | int):
        columns = [columns]
    return expr, [str(c) for c in columns]


def _plain_read(expr: Any) -> bool:
    """Whether the read keeps every row of every file with values as stored."""
    try:
        return (
            expr.operand("filters") is None
            and expr.operand("index") in (None, False)
            and expr.operand("categories") is None
            and expr.operand("_partitions") is None
            and expr.operand("filesystem") in (None, "fsspec")
            and expr.operand("kwargs") in ({}, _NEUTRAL_KWARGS)
        )
    except (KeyError, ValueError, AttributeError, TypeError):
        return False


def _same_read(a: Any, b: Any) -> bool:
    try:
        return a is b or (
            a.operand("path") == b.operand("path")
            and a.operand("storage_options") == b.operand("storage_options")
        )
    except (KeyError, ValueError, AttributeError, TypeError):
        return False


def _files(expr: Any) -> tuple[Any, list[str]] | None:
    """The file system and the files a read covers (None: hive directories, nothing)."""
    import fsspec  # type: ignore[import-untyped]

    path = expr.operand("path")
    paths = path if isinstance(path, list | tuple) else [path]
    fs, _, expanded = fsspec.core.get_fs_token_paths(
        paths, storage_options=expr.operand("storage_options") or {}
    )
    extensions = tuple(expr.operand("parquet_file_extension") or ())
    files: list[str] = []
    for p in expanded:
        if fs.isdir(p):
            found = sorted(f for f in fs.find(p) if not extensions or f.endswith(extensions))
            if any("=" in f[len(p) :] for f in found):
                return None  # hive partitions add columns from the directory names
            files.extend(found)
        else:
            files.append(p)
    local = getattr(fs, "protocol", None) in ("file", ("file", "local"))
    return (None if local else fs), files


def _numeric(arrow_type: Any) -> bool:
    import pyarrow as pa  # type: ignore[import-untyped]

    return bool(
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_boolean(arrow_type)
    )


def _label_type(arrow_type: Any) -> bool:
    import pyarrow as pa

    return _numeric(arrow_type) or bool(
        pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
    )


def _open(piece_path: str, filesystem: Any) -> Any:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    if filesystem is None:
        return pq.ParquetFile(piece_path, memory_map=True)
    return pq.ParquetFile(filesystem.open(piece_path, "rb"))


def _pieces(files: list[str], filesystem: Any, row_bytes: int) -> list[ParquetPiece]:
    """Each file's row groups grouped into partitions of at most :data:`PARTITION_BYTES`."""
    pieces = []
    for path in files:
        meta = _open(path, filesystem).metadata
        group: list[int] = []
        rows = 0
        for g in range(meta.num_row_groups):
            n = meta.row_group(g).num_rows
            if group and (rows + n) * row_bytes > PARTITION_BYTES:
                pieces.append(ParquetPiece(path, tuple(group), rows, filesystem))
                group, rows = [], 0
            group.append(g)
            rows += n
        pieces.append(ParquetPiece(path, tuple(group), rows, filesystem))
    return pieces


def _values(column: Any) -> Any:
    """A numeric column as a numpy array, missing values as NaN."""
    if column.null_count:
        import pyarrow as pa

        column = column.cast(pa.float64())
    return column.to_numpy()


def parquet_parts(
    X: Any, y: Any, sample_weight: Any, groups: Any
) -> tuple[list[Delayed], int] | None:
    """Raw partitions read straight from the Parquet files, or None (module docstring).

    Parameters
    ----------
    X : dask DataFrame of shape (n, p)
    y : dask Series of shape (n,)
    sample_weight, groups : dask Series of shape (n,) or None

    Returns
    -------
    parts : list of Delayed
        Each evaluates to a :class:`~mnlogit.distributed.partitions.RawBlock`.
    n_features : int
    """
    found = _read_parquet_of(X)
    if found is None or not _plain_read(found[0]):
        return None
    expr, features = found
    extra: list[str | None] = []
    for series in (y, sample_weight, groups):
        if series is None and extra:
            extra.append(None)
            continue
        other = _read_parquet_of(series)
        if other is None or len(other[1]) != 1 or not _same_read(expr, other[0]):
            return None
        extra.append(other[1][0])
    listed = _files(expr)
    if listed is None or not listed[1] or not features:
        return None
    filesystem, files = listed
    schema = _open(files[0], filesystem).schema_arrow
    names = set(schema.names)
    if any(c not in names for c in [*features, *(e for e in extra if e is not None)]):
        return None
    if not all(_numeric(schema.field(c).type) for c in features):
        return None
    if not _label_type(schema.field(str(extra[0])).type):
        return None
    if extra[1] is not None and not _numeric(schema.field(extra[1]).type):
        return None
    single = all(str(schema.field(c).type) == "float" for c in features)
    row_bytes = len(features) * (4 if single else 8)
    pieces = _pieces(files, filesystem, row_bytes)
    dtype = np.float32 if single else np.float64
    columns = (tuple(features), extra[0], extra[1], extra[2])
    parts = [
        delayed(read_piece, pure=True)(piece, columns, dtype, i) for i, piece in enumerate(pieces)
    ]
    return parts, len(features)


def read_piece(
    piece: ParquetPiece,
    columns: tuple[tuple[str, ...], str | None, str | None, str | None],
    dtype: Any,
    index: int,
) -> RawBlock:
    """One partition: the needed columns of some row groups, decoded into one block.

    Parameters
    ----------
    piece : ParquetPiece
    columns : tuple
        ``(features, label, weight or None, group or None)`` column names.
    dtype : numpy dtype
        float64, or float32 when every feature column is float32.
    index : int
        The partition's position (messages).

    Returns
    -------
    RawBlock
        ``X`` of shape (rows, p), C-contiguous.
    """
    features, label, weight, group = columns
    if label is None:
        raise InvalidInputError("a Parquet fit needs the label column")
    source = _open(piece.path, piece.filesystem)
    groups = list(piece.row_groups)

    def column(name: str) -> Any:
        # one column at a time: Arrow's decode buffers stay small and are reused, where
        # a whole table's (as large as the block) would be fresh memory every partition
        return source.read_row_groups(groups, columns=[name], use_threads=False).column(0)

    y = column(label)
    X = np.empty((len(y), len(features)), dtype=dtype)
    for j, name in enumerate(features):
        X[:, j] = _values(column(name))
    weights = None if weight is None else _values(column(weight)).astype(np.float64)
    clusters = None if group is None else column(group).to_numpy()
    return RawBlock(X, y.to_numpy(), weights, clusters, index)
