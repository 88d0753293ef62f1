"""The row-block kernels' threads: one BLAS thread per call, the Hessian's rows split over
Python threads (mnlogit.objective.threads)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from threadpoolctl import threadpool_info, threadpool_limits

import mnlogit.objective.hessian as hessian_module
from mnlogit import MultinomialLogit
from mnlogit.objective import MultinomialObjective, make_penalty
from mnlogit.objective.threads import map_row_ranges, row_threads, single_blas_thread
from mnlogit.parameterization import Parameterization


def _blas_counts() -> list[int]:
    return [int(lib["num_threads"]) for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_single_blas_thread_limits_blas_and_remembers_the_count() -> None:
    before = _blas_counts()
    assert row_threads() == 1  # outside: BLAS threads itself
    with single_blas_thread():
        assert set(_blas_counts()) == {1}
        assert row_threads() == max(before)
        with single_blas_thread():  # nested: keeps the outer count
            assert row_threads() == max(before)
            assert set(_blas_counts()) == {1}
        assert set(_blas_counts()) == {1}
    assert _blas_counts() == before
    with threadpool_limits(limits=1, user_api="blas"), single_blas_thread():
        assert row_threads() == 1  # the user's limit is respected


@pytest.mark.parametrize(("n", "threads", "min_rows", "ranges"), [
    (10, 3, 1, [(0, 3), (3, 6), (6, 10)]),
    (10, 3, 4, [(0, 5), (5, 10)]),
    (10, 1, 1, [(0, 10)]),
    (3, 4, 5, [(0, 3)]),
    (0, 2, 1, [(0, 0)]),
])  # fmt: skip
def test_map_row_ranges_covers_the_rows_in_order(n, threads, min_rows, ranges) -> None:
    assert map_row_ranges(lambda a, b: (a, b), n, threads, min_rows) == ranges


def _split(monkeypatch, threads: int) -> list[int]:
    """Split the Hessian's rows over ``threads`` ranges of 300-row sub-blocks; the list
    collects the number of ranges of each call."""
    ranges: list[int] = []

    def counted(work, n_rows, threads, min_rows):
        parts = map_row_ranges(work, n_rows, threads, min_rows)
        ranges.append(len(parts))
        return parts

    monkeypatch.setattr(hessian_module, "row_threads", lambda: threads)
    monkeypatch.setattr(hessian_module, "SPLIT_MIN_BLOCKS", 1)
    monkeypatch.setattr(hessian_module, "block_rows", lambda width, min_rows=1: 300)
    monkeypatch.setattr(hessian_module, "map_row_ranges", counted)
    return ranges


def _kernel(monkeypatch, narrow: bool) -> None:
    """The compiled narrow kernel whatever the work (float64), or the BLAS kernels only."""
    if narrow:
        monkeypatch.setattr(hessian_module, "NARROW_MIN_WORK", 0)
    else:
        monkeypatch.setattr(hessian_module, "NARROW_MAX_COLUMNS", 0)


@pytest.mark.parametrize("K", [3, 6])  # the pairwise and the wide update
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("T", [False, True])
@pytest.mark.parametrize("narrow", [False, True])
def test_split_hessian_equals_one_range(monkeypatch, K, dtype, T, narrow) -> None:
    _kernel(monkeypatch, narrow)
    rng = np.random.default_rng(7 + K)
    n, p = 2100, 40
    X = rng.normal(size=(n, p)).astype(dtype)
    P = rng.dirichlet(np.ones(K), n)
    w = rng.uniform(0.2, 3.0, n) / n
    cf = rng.uniform(0.5, 2.0, p)
    Tm = rng.normal(size=(K - 1, K - 1)) if T else None
    args = dict(intercept=True, column_factor=cf, float32=dtype == np.float32, T=Tm)
    one = hessian_module.loss_hessian(X, P[:, 1:], w, **args)
    ranges = _split(monkeypatch, 3)
    split = hessian_module.loss_hessian(X, P[:, 1:], w, **args)
    assert ranges == [3]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(split, one, rtol=tol, atol=tol * np.abs(one).max())
    assert np.array_equal(split, split.T)


@pytest.mark.parametrize("K", [3, 7])
@pytest.mark.parametrize("narrow", [False, True])
def test_objective_hessian_by_rows_on_threads(monkeypatch, K, narrow) -> None:
    """The objective's probabilities by rows (one buffer per thread) on three threads
    give the Hessian of one range, and that of the full probability array."""
    _kernel(monkeypatch, narrow)
    rng = np.random.default_rng(30 + K)
    n, p = 3000, 35
    X = rng.normal(size=(n, p))
    y = rng.integers(0, K, n)
    obj = MultinomialObjective(
        X, y, K, rng.uniform(0.5, 2.0, n), Parameterization(K, 0), make_penalty(None, 0.0, True)
    )
    theta = rng.normal(scale=0.3, size=obj.n_params)
    one = obj.hessian(theta)
    ranges = _split(monkeypatch, 3)
    split = obj.hessian(theta)
    assert ranges == [3]
    assert_allclose(split, one, rtol=1e-12, atol=1e-12 * np.abs(one).max())
    # independent of the kernel: finite differences of the gradient
    eps = 1e-6
    g = lambda t: obj.value_and_gradient(t)[1]  # noqa: E731
    j = 5
    e = np.zeros(obj.n_params)
    e[j] = eps
    assert_allclose(split[:, j], (g(theta + e) - g(theta - e)) / (2 * eps), atol=1e-6)


def test_fit_at_default_threads_equals_one_thread(monkeypatch) -> None:
    """The default fit (covariance included) with its Hessian split over threads equals the
    fit under the user's one-thread limit."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4000, 12))
    y = rng.integers(0, 5, 4000)
    with threadpool_limits(limits=1, user_api="blas"):
        ref = MultinomialLogit().fit(X, y)
    ranges = _split(monkeypatch, 2)
    got = MultinomialLogit().fit(X, y)
    assert 2 in ranges
    assert_allclose(got.coef_, ref.coef_, rtol=1e-9, atol=1e-10)
    assert_allclose(got.cov_params().to_numpy(), ref.cov_params().to_numpy(), rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_split_sweep_equals_one_range(monkeypatch, weighted, dtype) -> None:
    """sweep_loss over three row ranges on threads: the same loss, smallest probability,
    gradient sums and probabilities as one range."""
    import mnlogit.objective.loss as loss_module

    rng = np.random.default_rng(11)
    n, p, K = 3000, 20, 4
    X = rng.normal(size=(n, p)).astype(dtype)
    y = rng.integers(0, K, n)
    w = rng.uniform(0.0, 2.0, n) if weighted else None
    W = rng.normal(scale=0.3, size=(p, K))
    b = rng.normal(size=K)
    P_one, P_split = np.empty((n, K)), np.empty((n, K))
    one = loss_module.sweep_loss(X, y, w, W, b, gradient=True, prob_out=P_one)
    ranges: list[int] = []

    def counted(work, n_rows, threads, min_rows):
        parts = map_row_ranges(work, n_rows, threads, min_rows)
        ranges.append(len(parts))
        return parts

    monkeypatch.setattr(loss_module, "row_threads", lambda: 3)
    monkeypatch.setattr(loss_module, "sweep_rows", lambda p, K: 200)
    monkeypatch.setattr(loss_module, "SWEEP_SPLIT_MIN_BLOCKS", 1)
    monkeypatch.setattr(loss_module, "map_row_ranges", counted)
    split = loss_module.sweep_loss(X, y, w, W, b, gradient=True, prob_out=P_split)
    assert ranges == [3]
    assert split.nll == pytest.approx(one.nll, rel=1e-12)
    assert split.min_prob == one.min_prob
    assert_allclose(split.gradient_sums, one.gradient_sums, rtol=1e-12, atol=1e-12 * n)
    assert np.array_equal(P_split, P_one)
    # the loss against an independent formula
    eta = X.astype(np.float64) @ W + b
    lse = np.log(np.exp(eta - eta.max(1, keepdims=True)).sum(1)) + eta.max(1)
    nll = lse - eta[np.arange(n), y]
    assert split.nll == pytest.approx(float(nll @ (np.ones(n) if w is None else w)), rel=1e-10)
