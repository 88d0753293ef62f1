"""The Dask fit's speed paths (issue 13): the source read once, a small first subsample.

Both must leave the answer unchanged: every fit here equals the in-memory fit (the
helpers of ``test_dask_fit``), on the synchronous scheduler.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

from dask.delayed import delayed  # noqa: E402
from test_dask_fit import TOL, _data, assert_same_fit  # noqa: E402

from mnlogit import MultinomialLogit  # noqa: E402
from mnlogit.distributed import objective as dask_objective  # noqa: E402
from mnlogit.distributed.objective import DaskObjective  # noqa: E402
from mnlogit.distributed.partitions import PassReport, report_passes  # noqa: E402
from mnlogit.distributed.preparation import prepare_dask  # noqa: E402
from mnlogit.objective import make_penalty  # noqa: E402
from mnlogit.parameterization import Parameterization  # noqa: E402
from mnlogit.preparation import FitSettings  # noqa: E402


@pytest.fixture(autouse=True)
def _synchronous() -> Any:
    with dask.config.set(scheduler="synchronous"):
        yield


def _counted_source(X: np.ndarray, y: np.ndarray, parts: int, reads: list[int]) -> tuple[Any, Any]:
    """Dask X and y whose X partition ``i`` appends ``i`` to ``reads`` each time it is read."""
    bounds = np.array_split(np.arange(len(y)), parts)

    def load(i: int) -> np.ndarray:
        reads.append(i)
        return X[bounds[i]]

    Xd = da.concatenate(
        [
            da.from_delayed(delayed(load, pure=True)(i), shape=(len(b), X.shape[1]), dtype=X.dtype)
            for i, b in enumerate(bounds)
        ]
    )
    return Xd, da.from_array(y, chunks=(tuple(len(b) for b in bounds),))


def test_a_persisted_fit_reads_each_partition_once() -> None:
    X, y = _data(n=6000, seed=21)
    memory = MultinomialLogit(tol=TOL).fit(X, y)
    reads: list[int] = []
    passes: list[PassReport] = []
    with report_passes(passes.append):
        fitted = MultinomialLogit(tol=TOL).fit(*_counted_source(X, y, 4, reads))
    assert_same_fit(memory, fitted)
    # statistics, solver and covariance passes, but every partition read once
    assert len(passes) >= 3
    assert sorted(reads) == [0, 1, 2, 3]


def test_a_streamed_fit_reads_the_source_on_every_pass() -> None:
    X, y = _data(n=6000, seed=22)
    memory = MultinomialLogit(tol=TOL).fit(X, y)
    reads: list[int] = []
    passes: list[PassReport] = []
    with dask.config.set({"mnlogit.persist": False}), report_passes(passes.append):
        fitted = MultinomialLogit(tol=TOL).fit(*_counted_source(X, y, 4, reads))
    assert_same_fit(memory, fitted)
    assert len(reads) == 4 * len(passes)  # the counter sees every read


def test_the_first_subsample_is_capped_and_later_ones_are_as_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = _data(n=40000, seed=23)
    monkeypatch.setattr(dask_objective, "FIRST_ROWS_PER_PARAM", 1)
    monkeypatch.setattr(dask_objective, "FIRST_MIN_ROWS", 600)
    settings = FitSettings.from_params(MultinomialLogit().get_params())
    data = prepare_dask(
        settings, da.from_array(X, chunks=8000), da.from_array(y, chunks=8000), None, None
    )
    obj = DaskObjective(
        data, Parameterization(data.n_classes, data.reference_index), make_penalty(None, 0.0, True)
    )
    first, second = obj.subsample(4), obj.subsample(4)
    assert first is not None and second is not None
    assert first.n_samples <= 600
    assert second.n_samples == 10000  # every 4th row, as asked


def test_a_tiny_first_subsample_still_reaches_the_in_memory_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = _data(n=40000, seed=24)
    memory = MultinomialLogit(tol=TOL).fit(X, y)
    monkeypatch.setattr(dask_objective, "FIRST_ROWS_PER_PARAM", 1)
    monkeypatch.setattr(dask_objective, "FIRST_MIN_ROWS", 300)
    passes: list[PassReport] = []
    with report_passes(passes.append):
        fitted = MultinomialLogit(tol=TOL).fit(
            da.from_array(X, chunks=8000), da.from_array(y, chunks=8000)
        )
    assert fitted.solver_ == "subsample-newton"
    assert_same_fit(memory, fitted)
    assert [p.kind for p in passes][:2] == ["statistics", "subsample"]


def test_the_client_solves_on_one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The solver's client-side work runs inside ``client_threads`` (one BLAS thread), and
    the fit is still the in-memory one."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from mnlogit.distributed import fit as dask_fit
    from mnlogit.solvers import SOLVERS

    seen: list[int] = []
    solver = SOLVERS["newton"]

    def spy(obj: Any, x0: Any, options: Any, *rest: Any) -> Any:
        blas = [
            i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"
        ]
        seen.extend(blas)
        return solver(obj, x0, options, *rest)

    X, y = _data(seed=21)
    memory = MultinomialLogit(tol=TOL, solver="newton").fit(X, y)
    monkeypatch.setitem(dask_fit.SOLVERS, "newton", spy)
    fitted = MultinomialLogit(tol=TOL, solver="newton").fit(
        da.from_array(X, chunks=1500), da.from_array(y, chunks=1500)
    )
    assert seen and set(seen) == {dask_fit.CLIENT_BLAS_THREADS}
    assert_same_fit(memory, fitted)
