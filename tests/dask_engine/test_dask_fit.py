"""The Dask engine (issue 13) against the in-memory fit, on the synchronous scheduler.

Every fit here is compared with ``MultinomialLogit`` on the same numbers in memory: the
coefficients and standard errors agree within 1e-8 relative (both solved to a gradient
of 1e-11, where either is exact to rounding), so any mistake in a partition kernel,
the reduction, the weights, the scaling or the bookkeeping of columns shows.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")

from mnlogit import MultinomialLogit  # noqa: E402
from mnlogit.distributed.partitions import (  # noqa: E402
    PassReport,
    report_passes,
    shared,
    tree_reduce,
)
from mnlogit.exceptions import (  # noqa: E402
    CollinearityWarning,
    InvalidInputError,
    SeparationWarning,
)

TOL = 1e-11


@pytest.fixture(autouse=True)
def _synchronous() -> object:
    with dask.config.set(scheduler="synchronous"):
        yield


def _data(n: int = 6000, p: int = 4, K: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * np.linspace(0.5, 2.0, p)
    B = rng.normal(size=(p, K)) * 0.6
    y = np.argmax(X @ B + rng.gumbel(size=(n, K)), axis=1)
    return X, y


def _se(model: MultinomialLogit) -> np.ndarray:
    return np.sqrt(np.diag(model.fitted_.cov))


def assert_same_fit(
    memory: MultinomialLogit, distributed: MultinomialLogit, loglik_rtol: float = 1e-12
) -> None:
    """Coefficients, intercepts and standard errors within 1e-8 relative (of the largest).

    The log-likelihood is second order in the coefficients' error at a maximum-likelihood
    optimum (``loglik_rtol`` 1e-12), first order at a penalized one (Firth: 1e-8)."""
    assert np.array_equal(memory.classes_, distributed.classes_)
    for a, b in ((memory.coef_, distributed.coef_), (memory.intercept_, distributed.intercept_)):
        np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-8 * np.abs(a).max())
    se_a, se_b = _se(memory), _se(distributed)
    np.testing.assert_allclose(se_b, se_a, rtol=1e-8, atol=1e-8 * se_a.max())
    assert distributed.loglik_ == pytest.approx(memory.loglik_, rel=loglik_rtol)
    assert distributed.cov_status_.split(";")[0] == memory.cov_status_.split(";")[0]


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "newton-cg", "irls"])
def test_solvers_equal_the_in_memory_fit(solver: str) -> None:
    X, y = _data()
    memory = MultinomialLogit(solver=solver, tol=TOL).fit(X, y)
    fitted = MultinomialLogit(solver=solver, tol=TOL).fit(
        da.from_array(X, chunks=1000), da.from_array(y, chunks=1000)
    )
    assert fitted.solver_ == ("newton" if solver == "irls" else solver)
    assert_same_fit(memory, fitted)


def test_auto_takes_subsample_newton_on_enough_rows_and_equals_memory() -> None:
    X, y = _data(n=40000)
    memory = MultinomialLogit(tol=TOL).fit(X, y)
    passes: list[PassReport] = []
    with report_passes(passes.append):
        fitted = MultinomialLogit(tol=TOL).fit(
            da.from_array(X, chunks=8000), da.from_array(y, chunks=8000)
        )
    assert fitted.solver_ == "subsample-newton"
    assert_same_fit(memory, fitted)
    kinds = [p.kind for p in passes]
    # one read before the solver: the statistics pass also forms the Gram matrices
    assert kinds[:2] == ["statistics", "subsample"]
    assert "gram" not in kinds
    # a handful of full passes: the subsample Hessian preconditions them
    assert kinds.count("loss") <= 12
    assert [p.number for p in passes] == list(range(1, len(passes) + 1))
    assert all(p.partitions == 5 for p in passes)


def test_weights_class_weights_and_robust_errors() -> None:
    X, y = _data(seed=1)
    rng = np.random.default_rng(5)
    w = rng.uniform(0.2, 3.0, size=y.size)
    w[:50] = 0.0
    settings = dict(tol=TOL, cov_type="robust", class_weight={0: 2.0, 2: 0.5})
    memory = MultinomialLogit(**settings).fit(X, y, sample_weight=w)
    fitted = MultinomialLogit(**settings).fit(
        da.from_array(X, chunks=700),
        da.from_array(y, chunks=700),
        sample_weight=da.from_array(w, chunks=700),
    )
    assert_same_fit(memory, fitted)
    assert fitted.nobs_ == pytest.approx(memory.nobs_, rel=1e-13)


def test_cluster_errors_with_clusters_spanning_partitions() -> None:
    X, y = _data(seed=2)
    groups = np.random.default_rng(3).integers(0, 40, size=y.size)  # every cluster everywhere
    settings = dict(tol=TOL, cov_type="cluster", class_weight="balanced")
    memory = MultinomialLogit(**settings).fit(X, y, groups=groups)
    fitted = MultinomialLogit(**settings).fit(
        da.from_array(X, chunks=1000), da.from_array(y, chunks=1000), groups=groups
    )
    assert_same_fit(memory, fitted)


def test_l2_penalty_in_symmetric_form() -> None:
    X, y = _data(seed=4)
    memory = MultinomialLogit(penalty="l2", alpha=1e-2, tol=TOL).fit(X, y)
    fitted = MultinomialLogit(penalty="l2", alpha=1e-2, tol=TOL).fit(
        da.from_array(X, chunks=1500), da.from_array(y, chunks=1500)
    )
    assert fitted.reference_ is None
    assert np.allclose(fitted.coef_.sum(axis=0), 0.0, atol=1e-12)
    assert_same_fit(memory, fitted)


def _frame(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    X, y = _data(n=n, p=3, K=4, seed=seed)
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(X, columns=["age", "income", "score"])
    region = np.array(["east", "north", "south"])[rng.integers(0, 3, n)]
    region[-300:] = "west"  # a level only the last partition holds
    frame["region"] = region
    frame["choice"] = np.array(["bus", "car", "train", "walk"])[y]
    return frame


def test_formula_on_a_dask_dataframe_finds_levels_in_every_partition() -> None:
    frame = _frame()
    formula = "choice ~ age + income + C(region)"
    memory = MultinomialLogit(formula=formula, tol=TOL).fit(frame)
    ddf = dd.from_pandas(frame, npartitions=6)
    fitted = MultinomialLogit(formula=formula, tol=TOL).fit(ddf)
    assert fitted.design_.columns == memory.design_.columns
    assert "C(region)[T.west]" in fitted.design_.columns
    assert_same_fit(memory, fitted)
    proba = fitted.predict_proba(ddf)
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(proba.compute(), memory.predict_proba(frame), rtol=1e-9, atol=1e-12)
    assert list(fitted.predict(ddf).compute()) == list(memory.predict(frame))


def test_unknown_chunk_sizes_from_a_data_frame_are_paired_by_partition() -> None:
    frame = _frame(seed=2)
    ddf = dd.from_pandas(frame, npartitions=5)
    X = ddf[["age", "income", "score"]].to_dask_array()  # unknown chunk sizes
    y = ddf["choice"].to_dask_array()
    assert np.isnan(X.chunks[0][0])
    memory = MultinomialLogit(tol=TOL).fit(
        frame[["age", "income", "score"]].to_numpy(), frame["choice"]
    )
    fitted = MultinomialLogit(tol=TOL).fit(X, y)
    assert_same_fit(memory, fitted)
    # a numeric data frame and a series work too, and keep the column names
    fitted = MultinomialLogit(tol=TOL).fit(ddf[["age", "income", "score"]], ddf["choice"])
    assert list(fitted.feature_names_in_) == ["age", "income", "score"]
    assert_same_fit(memory, fitted)


def test_streamed_passes_equal_persisted_ones() -> None:
    X, y = _data(seed=6)
    persisted = MultinomialLogit(tol=TOL).fit(
        da.from_array(X, chunks=900), da.from_array(y, chunks=900)
    )
    with dask.config.set({"mnlogit.persist": False}):
        streamed = MultinomialLogit(tol=TOL).fit(
            da.from_array(X, chunks=900), da.from_array(y, chunks=900)
        )
    np.testing.assert_array_equal(streamed.coef_, persisted.coef_)


def test_nonfinite_values_are_reported_with_partition_and_row() -> None:
    X, y = _data()
    X[2345, 1] = np.inf
    with pytest.raises(InvalidInputError, match=r"partition 2, row 345, column 'x1'.*inf"):
        MultinomialLogit().fit(da.from_array(X, chunks=1000), da.from_array(y, chunks=1000))
    labels = y.astype(float)
    labels[4100] = np.nan
    X, _ = _data()
    with pytest.raises(InvalidInputError, match=r"partition 4, row 100: the label is missing"):
        MultinomialLogit().fit(da.from_array(X, chunks=1000), da.from_array(labels, chunks=1000))


def test_collinearity_from_the_reduced_gram_matrix() -> None:
    X, y = _data(p=3)
    Xc = np.column_stack([X, 2.0 * X[:, 0] - X[:, 2], X[:, 1]])
    with pytest.warns(CollinearityWarning) as memory_warnings:
        memory = MultinomialLogit(tol=TOL).fit(Xc, y)
    with pytest.warns(CollinearityWarning, match=r"'x3' = 2\*x0 - 1\*x2") as dask_warnings:
        fitted = MultinomialLogit(tol=TOL).fit(
            da.from_array(Xc, chunks=1000), da.from_array(y, chunks=1000)
        )
    assert fitted.aliased_ == memory.aliased_ == ["x3", "x4"]
    assert [str(w.message) for w in dask_warnings] == [str(w.message) for w in memory_warnings]
    assert_same_fit(memory, fitted)


@pytest.mark.parametrize("separate_pass", [False, True])
def test_collinearity_with_extreme_and_partly_zero_columns(
    separate_pass: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per-partition Gram matrices on their own column scales, combined on the common one:
    a column of magnitude 1e-150 that is zero in the first partitions, and its double."""
    from mnlogit.distributed import statistics

    if separate_pass:  # per-label Gram matrices too large: one Gram pass instead
        monkeypatch.setattr(statistics, "GRAM_MAX_NUMBERS", 0)
    X, y = _data(p=3, seed=8)
    tiny = X[:, 1] * 1e-150
    tiny[:2500] = 0.0
    Xc = np.column_stack([X, tiny, 2.0 * tiny + 1e-150 * X[:, 2]])
    with pytest.warns(CollinearityWarning):
        memory = MultinomialLogit(tol=TOL).fit(Xc, y)
    passes: list[PassReport] = []
    with pytest.warns(CollinearityWarning), report_passes(passes.append):
        fitted = MultinomialLogit(tol=TOL).fit(
            da.from_array(Xc, chunks=1000), da.from_array(y, chunks=1000)
        )
    assert ("gram" in [p.kind for p in passes]) is separate_pass
    assert fitted.aliased_ == memory.aliased_ == ["x4"]
    assert_same_fit(memory, fitted)


def test_separation_is_reported_not_silent() -> None:
    X, y = _data(n=400, p=2, K=3)
    y = np.where(X[:, 0] > 0.5, 2, np.where(X[:, 0] < -0.5, 0, 1))  # complete separation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.warns(SeparationWarning):
            fitted = MultinomialLogit().fit(
                da.from_array(X, chunks=100), da.from_array(y, chunks=100)
            )
    assert fitted.separation_ is not None
    assert fitted.fitted_.cov is None
    assert "separated" in fitted.cov_status_


def test_evaluate_and_log_probabilities_equal_memory() -> None:
    X, y = _data(seed=7)
    model = MultinomialLogit(tol=TOL).fit(X, y)
    Xd, yd = da.from_array(X, chunks=1100), da.from_array(y, chunks=1100)
    lazy = model.predict_log_proba(Xd)
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), model.predict_log_proba(X), rtol=1e-12)
    report, expected = model.evaluate(Xd, yd), model.evaluate(X, y)
    assert report.n == expected.n
    assert report.accuracy == pytest.approx(expected.accuracy, abs=1e-15)
    assert report.log_loss == pytest.approx(expected.log_loss, rel=1e-12)
    assert report.brier == pytest.approx(expected.brier, rel=1e-12)
    pd.testing.assert_frame_equal(report.confusion, expected.confusion)
    pd.testing.assert_frame_equal(report.per_class, expected.per_class, rtol=1e-12)


def _holders(coef: np.ndarray, wrap: object) -> tuple[int, int]:
    """Graph nodes holding ``coef`` as data, and tasks embedding it in their arguments."""
    parts = [
        dask.delayed(np.dot)(dask.delayed(np.ones(12) * i), wrap(coef))  # type: ignore[operator]
        for i in range(20)
    ]
    root = tree_reduce(parts, lambda *v: sum(v))
    graph = dict(root.__dask_graph__())
    data = sum(1 for v in graph.values() if getattr(v, "value", None) is coef)
    embedded = sum(1 for v in graph.values() if any(a is coef for a in getattr(v, "args", ())))
    assert dask.compute(root)[0] == pytest.approx(sum(i * coef.sum() for i in range(20)))
    return data, embedded


def test_the_coefficients_are_one_key_of_a_pass() -> None:
    coef = np.arange(12.0)
    assert _holders(coef, shared) == (1, 0)  # one key, referred to by all 20 tasks
    assert _holders(coef, lambda c: c)[1] == 20  # what shared() avoids: a copy per task


def test_firth_equals_memory_also_under_separation() -> None:
    X, y = _data(n=600, p=2, K=3, seed=10)
    memory = MultinomialLogit(penalty="firth", tol=TOL).fit(X, y)
    fitted = MultinomialLogit(penalty="firth", tol=TOL).fit(
        da.from_array(X, chunks=150), da.from_array(y, chunks=150)
    )
    assert fitted.solver_ == "lbfgs"
    assert_same_fit(memory, fitted, loglik_rtol=1e-8)
    # separated classes: Firth's estimates stay finite, as in memory
    y_sep = np.where(X[:, 0] > 0.8, 2, np.where(X[:, 0] < -0.8, 0, 1))
    memory = MultinomialLogit(penalty="firth", tol=TOL).fit(X, y_sep)
    fitted = MultinomialLogit(penalty="firth", tol=TOL).fit(
        da.from_array(X, chunks=150), da.from_array(y_sep, chunks=150)
    )
    assert fitted.separation_ is None and np.isfinite(fitted.coef_).all()
    assert_same_fit(memory, fitted, loglik_rtol=1e-8)


@pytest.mark.parametrize("method", ["dydx", "eyex"])
def test_average_marginal_effects_equal_memory(method: str) -> None:
    X, y = _data(seed=9)
    X[:, 0] = np.abs(X[:, 0]) + 0.1  # positive, for the elasticity
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=y.size)
    model = MultinomialLogit(tol=TOL).fit(X, y)
    expected = model.marginal_effects(X, method=method, sample_weight=w)
    got = model.marginal_effects(
        da.from_array(X, chunks=700), method=method, sample_weight=da.from_array(w, chunks=700)
    )
    pd.testing.assert_index_equal(got.index, expected.index)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-10, atol=1e-14)
    with pytest.raises(InvalidInputError, match="at='overall'"):
        model.marginal_effects(da.from_array(X, chunks=700), at="mean")


def test_separation_of_a_large_fit_is_found_on_its_smallest_probability_rows() -> None:
    """Above 20,000 cells: the fit's signature (tiny probabilities) sends the rows with the
    smallest fitted probabilities to the exact LP, which finds the separation."""
    X, y = _data(n=15000, p=3, K=3, seed=14)
    y = np.where(X[:, 0] > 1.0, 2, y % 2)  # class 2 exactly where x0 > 1: separated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = MultinomialLogit().fit(X, y)
        passes: list[PassReport] = []
        with pytest.warns(SeparationWarning), report_passes(passes.append):
            fitted = MultinomialLogit().fit(
                da.from_array(X, chunks=3000), da.from_array(y, chunks=3000)
            )
    assert memory.separation_ is not None
    assert fitted.separation_ is not None
    assert fitted.separation_.kind == memory.separation_.kind
    assert "separation rows" in [p.kind for p in passes]
    assert fitted.fitted_.cov is None
