"""The Dask engine on a ``dask.distributed.LocalCluster`` of 2 worker processes.

The fixture starts the cluster itself (nothing external). Few tests, as each start costs
seconds on a shared 2-core machine: a persisted fit of Dask arrays and a streamed (out of
core) formula fit reading Parquet files, both equal to the in-memory fit within 1e-8.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

from test_dask_fit import TOL, _data, _frame, assert_same_fit  # noqa: E402

from mnlogit import MultinomialLogit  # noqa: E402
from mnlogit.distributed.partitions import PassReport, report_passes  # noqa: E402


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="1GiB",
        dashboard_address=None,
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


def test_persisted_arrays_on_two_worker_processes(client: Any) -> None:
    X, y = _data(n=40000, seed=11)
    memory = MultinomialLogit(tol=TOL, cov_type="robust").fit(X, y)
    held: list[list[int]] = []  # keys each worker holds, seen after every pass

    def look(report: PassReport) -> None:
        held.append([len(keys) for keys in client.has_what().values()])

    with report_passes(look):
        fitted = MultinomialLogit(tol=TOL, cov_type="robust").fit(
            da.from_array(X, chunks=5000), da.from_array(y, chunks=5000)
        )
    assert fitted.solver_ == "subsample-newton"
    assert_same_fit(memory, fitted)
    # during the solver's passes the 8 persisted blocks live on the workers, on both
    assert len(held[-1]) == 2
    assert min(held[-1]) >= 1 and sum(held[-1]) >= 8


def test_streamed_formula_fit_from_parquet(client: Any, tmp_path: Path) -> None:
    frame = _frame(n=8000, seed=12)
    for i, part in enumerate(np.array_split(np.arange(len(frame)), 4)):
        frame.iloc[part].to_parquet(tmp_path / f"part{i}.parquet")
    formula = "choice ~ age + income + score + C(region)"
    memory = MultinomialLogit(formula=formula, tol=TOL, cov_type="cluster").fit(
        frame, groups=frame["region"]
    )
    passes: list[PassReport] = []
    with dask.config.set({"mnlogit.persist": False}), report_passes(passes.append):
        data = dd.read_parquet(str(tmp_path / "*.parquet"))
        fitted = MultinomialLogit(formula=formula, tol=TOL, cov_type="cluster").fit(
            data, groups="region"
        )
    assert_same_fit(memory, fitted)
    assert all(p.partitions == 4 for p in passes)
    assert passes[-1].kind == "cluster meat"


def test_cli_fit_on_a_running_scheduler_prints_a_line_per_pass(
    client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mnlogit import load
    from mnlogit.cli import main

    frame = _frame(n=3000, seed=13)
    for i, part in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[part].to_parquet(tmp_path / f"part{i}.parquet")
    formula = "choice ~ age + income + C(region)"
    out = tmp_path / "model.zip"
    data = str(tmp_path / "*.parquet")
    address = client.scheduler.address
    args = ["fit", data, "--formula", formula, "--reference", "car", "--scheduler", address]
    status = main([*args, "--output", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    lines = [line for line in captured.err.splitlines() if line.startswith("pass ")]
    assert lines[0].startswith("pass 1: statistics over 3 partitions")
    assert any(": loss+hessian over 3 partitions" in line for line in lines)  # newton
    assert not any(": hessian over" in line for line in lines)  # one pass an iteration
    memory = MultinomialLogit(formula=formula, reference="car", tol=1e-8).fit(frame)
    saved = load(out)
    np.testing.assert_allclose(saved.coef_, memory.coef_, rtol=1e-6, atol=1e-8)
    assert "class = bus  (against reference car)" in captured.out


def test_the_workers_allocator_is_tuned_once_asked(client: Any) -> None:
    """``tune_workers`` sets glibc's thresholds on every worker (Linux), and not at all
    when ``mnlogit.tune_malloc`` is False."""
    import sys

    from mnlogit.distributed.partitions import tune_workers

    answers = tune_workers()
    assert len(answers) == 2
    if sys.platform.startswith("linux"):
        assert all(answers.values())
    with dask.config.set({"mnlogit.tune_malloc": False}):
        assert tune_workers() == {}


def test_a_pass_is_one_task_per_worker_over_evenly_held_blocks(client: Any) -> None:
    """On a ``distributed`` client a pass over persisted blocks is one task per worker
    (``worker_pass``) over evenly spread blocks (``persist_spread``); its value, gradient,
    Hessian and Hessian-vector product equal the in-memory objective's on the same rows,
    and the graph path (one task per block and a reduction tree) gives the same."""
    from collections import Counter

    from mnlogit.distributed.objective import DaskObjective
    from mnlogit.distributed.preparation import prepare_dask
    from mnlogit.objective import MultinomialObjective, make_penalty
    from mnlogit.parameterization import Parameterization
    from mnlogit.preparation import FitSettings

    X, y = _data(n=16000, p=5, K=4, seed=13)
    settings = FitSettings.from_params(MultinomialLogit().get_params())
    data = prepare_dask(
        settings, da.from_array(X, chunks=2000), da.from_array(y, chunks=2000), None, None
    )
    assert data.persisted and len(data.blocks) == 8
    futures = distributed.futures_of(data.blocks)
    assert len(futures) == 8
    distributed.wait(futures)
    owners = client.who_has(futures)
    assert sorted(Counter(w for holders in owners.values() for w in holders).values()) == [4, 4]
    param = Parameterization(data.n_classes, data.reference_index)
    penalty = make_penalty(None, 0.0, True)
    obj = DaskObjective(data, param, penalty)
    memory = MultinomialObjective(
        X, y, 4, np.ones(y.size), param, penalty, True, feature_scale=1.0 / obj.column_factor
    )
    rng = np.random.default_rng(5)
    theta = rng.normal(size=obj.n_params) * 0.3
    with distributed.get_task_stream(client) as stream:
        value, grad = obj.value_and_gradient(theta)
    assert len(stream.data) == 2  # one task per worker, nothing else
    assert {t["worker"] for t in stream.data} == set(client.scheduler_info()["workers"])
    ref_value, ref_grad = memory.value_and_gradient(theta)
    assert value == pytest.approx(ref_value, rel=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-13)
    H, ref_H = obj.hessian(theta), memory.hessian(theta)
    np.testing.assert_allclose(H, ref_H, rtol=1e-10, atol=1e-13 * np.abs(ref_H).max())
    v = rng.normal(size=obj.n_params)
    ref_Hv = memory.hessp(theta, v)
    np.testing.assert_allclose(obj.hessp(theta, v), ref_Hv, rtol=1e-10, atol=1e-13)
    theta2 = theta * 0.5
    with dask.config.set({"mnlogit.pass_per_worker": False}):
        with distributed.get_task_stream(client) as stream:
            value2, grad2 = obj.value_and_gradient(theta2)
        assert len(stream.data) > 8  # the graph path: a task per block and the tree
    ref_value2, ref_grad2 = memory.value_and_gradient(theta2)
    assert value2 == pytest.approx(ref_value2, rel=1e-13)
    np.testing.assert_allclose(grad2, ref_grad2, rtol=1e-10, atol=1e-13)


def test_the_first_invalid_value_is_reported_whatever_worker_finds_it(client: Any) -> None:
    """Partitions 1, 2 and 3 hold NaNs; with one task per worker (every other partition
    each: partition 0 and one of 2 and 3 on the first worker, 1 on the other) the first
    worker's comes back first, and partition 1's is still the one named."""
    from mnlogit.exceptions import InvalidInputError

    X, y = _data(n=4000, seed=14)
    X[500 + 3, 1] = np.nan  # partition 1, row 3
    X[1000 + 5, 2] = np.nan  # partition 2, row 5
    X[1500 + 7, 0] = np.inf  # partition 3, row 7
    with pytest.raises(InvalidInputError, match=r"partition 1, row 3, column 'x1'"):
        MultinomialLogit().fit(da.from_array(X, chunks=500), da.from_array(y, chunks=500))


def test_the_blocks_placement_is_read_once_and_again_when_a_worker_is_lost() -> None:
    """``worker_pass`` reads where the blocks are (``who_has``) on the first pass only;
    a pass of a task per block (the subsample's rows) makes the next one read it again; a
    worker added leaves the plan as it is (its blocks did not move); a worker lost (its
    blocks recomputed elsewhere) makes the next pass forget the plan and the one after
    read it again. Every pass's value and gradient equal the in-memory objective's. The
    blocks on the workers are C-contiguous float64 (what the kernel reads, no copy)."""
    from mnlogit.distributed.objective import DaskObjective
    from mnlogit.distributed.partitions import placement_plan
    from mnlogit.distributed.preparation import prepare_dask
    from mnlogit.objective import MultinomialObjective, make_penalty
    from mnlogit.parameterization import Parameterization
    from mnlogit.preparation import FitSettings

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as client:
        X, y = _data(n=12000, p=4, K=3, seed=17)
        settings = FitSettings.from_params(MultinomialLogit().get_params())
        data = prepare_dask(
            settings, da.from_array(X, chunks=1500), da.from_array(y, chunks=1500), None, None
        )
        param = Parameterization(data.n_classes, data.reference_index)
        penalty = make_penalty(None, 0.0, True)
        obj = DaskObjective(data, param, penalty)
        memory = MultinomialObjective(
            X, y, 3, np.ones(y.size), param, penalty, True, feature_scale=1.0 / obj.column_factor
        )
        asked: list[int] = []
        who_has = client.who_has

        def counted(*args: Any, **kwargs: Any) -> Any:
            asked.append(1)
            return who_has(*args, **kwargs)

        client.who_has = counted  # type: ignore[method-assign]
        rng = np.random.default_rng(3)

        def check_pass() -> None:
            theta = rng.normal(size=obj.n_params) * 0.3
            value, grad = obj.value_and_gradient(theta)
            ref_value, ref_grad = memory.value_and_gradient(theta)
            assert value == pytest.approx(ref_value, rel=1e-13)
            np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-13)

        assert placement_plan(obj.blocks) is None
        check_pass()
        first = placement_plan(obj.blocks)
        assert first is not None and len(asked) == 1
        assert set(first) == set(client.scheduler_info()["workers"])
        assert sorted(i for held in first.values() for i in held) == list(range(8))
        for _ in range(2):
            check_pass()
        assert len(asked) == 1  # the cached plan: no who_has
        futures = distributed.futures_of(obj.blocks)
        layout = client.submit(
            lambda block: (block.X.flags.c_contiguous, block.X.dtype.name), futures[0]
        ).result()
        assert layout == (True, "float64")
        rows = obj.gather_rows(4)  # a task per block
        assert rows.codes.size == 3000 and placement_plan(obj.blocks) is None
        check_pass()
        assert placement_plan(obj.blocks) == first and len(asked) == 2
        check_pass()
        assert len(asked) == 2
        cluster.scale(3)
        client.wait_for_workers(3)
        check_pass()
        assert placement_plan(obj.blocks) == first and len(asked) == 2
        lost = sorted(first)[0]
        client.restart_workers([lost])  # its blocks are gone, it comes back elsewhere
        check_pass()  # its task ran on another worker: the plan is forgotten
        assert placement_plan(obj.blocks) is None
        # read again each pass until settled: blocks recomputed or copied for the lost
        # worker's task may be held twice until the scheduler drops a copy
        for _ in range(20):
            check_pass()
            again = placement_plan(obj.blocks)
            if again is not None:
                break
            time.sleep(0.5)
        assert again is not None and len(asked) >= 3
        assert lost not in again
        assert set(again) <= set(client.scheduler_info()["workers"])
        assert sorted(i for held in again.values() for i in held) == list(range(8))
        read = len(asked)
        check_pass()
        assert len(asked) == read
