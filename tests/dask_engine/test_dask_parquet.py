"""Parquet files read straight into blocks (``mnlogit.distributed.parquet``).

A fit of ``dd.read_parquet(path)[features]`` and ``[label]`` reads the files itself with
pyarrow; these tests check that it does (the direct path is taken), that the fit equals
the in-memory fit on the same rows within 1e-8 relative (coefficients and standard
errors, with weights, cluster groups, several row groups per file), that anything it is
not sure of goes the general way, and that invalid values are still named by partition,
row and column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from test_dask_fit import TOL, _data, assert_same_fit  # noqa: E402

from mnlogit import MultinomialLogit  # noqa: E402
from mnlogit.distributed import parquet  # noqa: E402
from mnlogit.distributed.parquet import parquet_parts  # noqa: E402
from mnlogit.exceptions import InvalidInputError  # noqa: E402

NAMES = ["a", "b", "c", "d"]


@pytest.fixture(autouse=True)
def _synchronous() -> object:
    with dask.config.set(scheduler="synchronous"):
        yield


def _write(directory: Path, frame: pd.DataFrame, files: int, row_group_size: int) -> str:
    bounds = np.linspace(0, len(frame), files + 1).astype(int)
    for i in range(files):
        table = pa.Table.from_pandas(frame.iloc[bounds[i] : bounds[i + 1]], preserve_index=False)
        pq.write_table(table, directory / f"part{i}.parquet", row_group_size=row_group_size)
    return str(directory / "*.parquet")


def _table(n: int = 6000, seed: int = 3) -> pd.DataFrame:
    X, y = _data(n=n, p=4, K=3, seed=seed)
    frame = pd.DataFrame(X, columns=NAMES)
    frame["d"] = np.round(frame["d"] * 3).astype(np.int64)  # an integer feature
    frame["y"] = np.array(["bus", "car", "train"])[y]
    rng = np.random.default_rng(seed)
    frame["w"] = rng.uniform(0.5, 2.0, n)
    frame["g"] = rng.integers(0, 40, n)
    return frame


def test_the_direct_read_equals_memory_with_weights_clusters_and_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = _table()
    path = _write(tmp_path, frame, files=3, row_group_size=700)
    # a partition holds at most 2 row groups of 4 float64 features: files are split
    monkeypatch.setattr(parquet, "PARTITION_BYTES", 2 * 700 * 4 * 8)
    data = dd.read_parquet(path)
    found = parquet_parts(data[NAMES], data["y"], data["w"], data["g"])
    assert found is not None
    parts, p = found
    assert p == 4 and len(parts) == 3 * 2  # 2000 rows a file: row groups (2, 1) per file
    first = parts[0].compute()
    assert first.X.flags.c_contiguous and first.X.dtype == np.float64
    np.testing.assert_array_equal(first.X, frame[NAMES].to_numpy(dtype=float)[:1400])
    memory = MultinomialLogit(tol=TOL, cov_type="cluster").fit(
        frame[NAMES], frame["y"], sample_weight=frame["w"].to_numpy(), groups=frame["g"]
    )
    fitted = MultinomialLogit(tol=TOL, cov_type="cluster").fit(
        data[NAMES], data["y"], sample_weight=data["w"], groups=data["g"]
    )
    assert list(fitted.feature_names_in_) == NAMES
    assert_same_fit(memory, fitted)


def test_a_directory_and_float32_features(tmp_path: Path) -> None:
    frame = _table(seed=4)
    frame[NAMES] = frame[NAMES].astype(np.float32)
    _write(tmp_path, frame, files=2, row_group_size=10_000)
    data = dd.read_parquet(str(tmp_path))
    found = parquet_parts(data[NAMES], data["y"], None, None)
    assert found is not None
    block = found[0][1].compute()
    assert block.X.dtype == np.float32
    memory = MultinomialLogit(tol=TOL).fit(frame[NAMES].to_numpy(), frame["y"])
    assert_same_fit(memory, MultinomialLogit(tol=TOL).fit(data[NAMES], data["y"]))


def test_what_it_is_not_sure_of_goes_the_general_way(tmp_path: Path) -> None:
    frame = _table(seed=5)
    frame["text"] = "t"
    path = _write(tmp_path, frame, files=2, row_group_size=10_000)
    data = dd.read_parquet(path)
    other = dd.read_parquet(path, columns=["y"])
    filtered = dd.read_parquet(path, filters=[("a", ">", 0.0)])
    assert parquet_parts(data[NAMES], data["y"], None, None) is not None
    assert parquet_parts(data[NAMES], data["y"] + "", None, None) is None  # a computed label
    assert parquet_parts(data[[*NAMES, "text"]], data["y"], None, None) is None  # text
    assert parquet_parts(data[NAMES], data["y"], data["text"], None) is None  # text weights
    assert parquet_parts(filtered[NAMES], filtered["y"], None, None) is None
    assert parquet_parts(data[data["a"] > 0][NAMES], data["y"], None, None) is None
    first = data.partitions[:1]  # a selection of partitions
    assert parquet_parts(first[NAMES], first["y"], None, None) is None
    assert parquet_parts(data[NAMES], dd.from_pandas(frame["y"], npartitions=2), None, None) is None
    # another read of the same files: the same rows, so still direct
    assert parquet_parts(data[NAMES], other["y"], None, None) is not None
    # the general way gives the same fit (here: the filtered rows, against memory)
    kept = frame[frame["a"] > 0]
    memory = MultinomialLogit(tol=TOL).fit(kept[NAMES].to_numpy(), kept["y"])
    assert_same_fit(memory, MultinomialLogit(tol=TOL).fit(filtered[NAMES], filtered["y"]))


def test_invalid_values_are_named_by_partition_row_and_column(tmp_path: Path) -> None:
    frame = _table(seed=6)
    frame.loc[3000 + 17, "b"] = np.nan  # the second file's row 17
    path = _write(tmp_path, frame, files=2, row_group_size=10_000)
    data = dd.read_parquet(path)
    with pytest.raises(InvalidInputError, match=r"partition 1, row 17, column 'b'.*nan"):
        MultinomialLogit().fit(data[NAMES], data["y"])
    frame = _table(seed=6)
    frame["y"] = frame["y"].where(frame.index != 40)  # a missing label
    path = _write(tmp_path, frame, files=2, row_group_size=10_000)
    data = dd.read_parquet(path)
    with pytest.raises(InvalidInputError, match=r"partition 0, row 40: the label is missing"):
        MultinomialLogit().fit(data[NAMES], data["y"])
