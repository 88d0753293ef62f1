"""The last pass (issue-speed7): loss, gradient and the loss Hessian from one probability
evaluation (mnlogit.objective.last_pass), kept in the objective's point cache for the
covariance, against the separate sweep and Hessian kernels, the Hessian's definition and
finite differences; the request spent by one pass; threads."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import mnlogit.objective.hessian as hessian_module
import mnlogit.objective.last_pass as last_pass_module
import mnlogit.objective.multinomial as multinomial_module
from helpers import hessian_by_definition
from mnlogit.objective import MultinomialObjective, make_penalty
from mnlogit.objective.kernels import softmax_probabilities
from mnlogit.objective.last_pass import loss_and_hessian
from mnlogit.objective.loss import sweep_loss
from mnlogit.objective.protocol import LAST_PASS, as_last_pass
from mnlogit.objective.threads import map_row_ranges
from mnlogit.parameterization import Parameterization


def _data(n, p, K, seed, dtype=np.float64, weights=None):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, p) + rng.normal(0, 1, p)).astype(dtype)
    y = rng.integers(0, K, n)
    W = rng.normal(0, 0.4, (p, K))
    b = rng.normal(0, 0.5, K)
    w = None
    if weights == "positive":
        w = rng.uniform(0.2, 3.0, n)
    elif weights == "zeros":
        w = rng.uniform(0.2, 3.0, n)
        w[::7] = 0.0
    return X, y, W, b, w


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# K = 2, K = 3 with p1 >= 20 and K = 4 with p1 >= 40 take the pairwise kernel; the others the
# wide one; p = 70, K = 5 the transposed first product of the sweep
@pytest.mark.parametrize(("p", "K"), [(4, 2), (30, 2), (6, 3), (25, 3), (45, 4), (8, 5), (70, 5)])
@pytest.mark.parametrize("weights", [None, "positive", "zeros"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_pass_equals_the_sweep_and_the_hessian_kernel(p, K, weights, dtype, monkeypatch):
    monkeypatch.setattr(hessian_module, "block_rows", lambda width, min_rows=1: 97)
    X, y, W, b, w = _data(1000, p, K, seed=p * K, dtype=dtype, weights=weights)
    hw = np.ones(X.shape[0]) if w is None else w
    factor = np.linspace(0.5, 2.0, p)
    found, H = loss_and_hessian(X, y, w, hw, W, b, column_factor=factor)
    swept = sweep_loss(X, y, w, W, b, gradient=True)
    assert found.nll == pytest.approx(swept.nll, rel=1e-13)
    assert found.min_prob == pytest.approx(swept.min_prob, rel=1e-13)
    assert_allclose(found.gradient_sums, swept.gradient_sums, rtol=1e-12, atol=1e-12)
    P = softmax_probabilities(X.astype(np.float64), W, b)
    fresh = hessian_module.loss_hessian(X, P[:, 1:], hw, intercept=True, column_factor=factor)
    assert H.dtype == np.float64
    assert _rel(H, fresh) <= 1e-12
    Y = np.hstack([np.ones((X.shape[0], 1)), X.astype(np.float64) * factor])
    assert _rel(H, hessian_by_definition(Y, P[:, 1:], hw)) <= 1e-11


@pytest.mark.parametrize("K", [3, 5])
def test_free_coordinates_and_no_intercept(K):
    X, y, W, _, w = _data(600, 5, K, seed=K, weights="positive")
    T = Parameterization(K, 2).transform_to(Parameterization(K, 0))
    found, H = loss_and_hessian(X, y, w, w, W, None, T=T)
    swept = sweep_loss(X, y, w, W, None, gradient=True)
    assert_allclose(found.gradient_sums, swept.gradient_sums, rtol=1e-12, atol=1e-13)
    P = softmax_probabilities(X, W, None)
    assert _rel(H, hessian_by_definition(X, P[:, 1:], w, T)) <= 1e-11


def test_rows_split_over_threads_add_up_in_row_order(monkeypatch):
    """Three ranges on pool threads: the same sums as one range (within rounding)."""
    calls: list[int] = []

    def counted(work, n_rows, threads, min_rows):
        parts = map_row_ranges(work, n_rows, threads, min_rows)
        calls.append(len(parts))
        return parts

    X, y, W, b, w = _data(3000, 25, 3, seed=4, weights="zeros")
    one, H1 = loss_and_hessian(X, y, w, w, W, b)
    monkeypatch.setattr(hessian_module, "row_threads", lambda: 3)
    monkeypatch.setattr(hessian_module, "SPLIT_MIN_BLOCKS", 1)
    monkeypatch.setattr(hessian_module, "block_rows", lambda width, min_rows=1: 200)
    monkeypatch.setattr(hessian_module, "map_row_ranges", counted)
    split, H3 = loss_and_hessian(X, y, w, w, W, b)
    assert calls == [3]
    assert split.nll == pytest.approx(one.nll, rel=1e-13)
    assert split.min_prob == one.min_prob
    assert_allclose(split.gradient_sums, one.gradient_sums, rtol=1e-12, atol=1e-13)
    assert _rel(H3, H1) <= 1e-12


def _objective(X, y, K, reference=0, weights=None, scale=None):
    n = X.shape[0]
    return MultinomialObjective(
        X, y, K, np.ones(n) if weights is None else weights, Parameterization(K, reference),
        make_penalty(None, 0.0, True), True, feature_scale=scale,
    )  # fmt: skip


def _counting(monkeypatch):
    calls: list[int] = []
    real = last_pass_module.loss_and_hessian

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(last_pass_module, "loss_and_hessian", counted)
    return calls


@pytest.mark.parametrize(("K", "reference", "dtype"), [(3, 0, np.float64), (4, 2, np.float32)])
def test_the_kept_hessian_equals_a_fresh_one_at_that_point(K, reference, dtype, monkeypatch):
    calls = _counting(monkeypatch)
    rng = np.random.default_rng(K)
    X = (rng.standard_normal((800, 6)) * [1, 10, 0.1, 1, 3, 1]).astype(dtype)
    y = rng.integers(0, K, 800)
    weights = rng.uniform(0.5, 2.0, 800)
    scale = np.abs(X).max(axis=0).astype(np.float64)
    obj = _objective(X, y, K, reference, weights, scale)
    obj.set_exact(True)
    theta = rng.normal(0, 0.3, obj.n_params)
    assert LAST_PASS in obj.capabilities and as_last_pass(obj) is obj
    obj.hessian_with_next_gradient(True)
    f, g = obj.value_and_gradient(theta)
    assert calls == [1]
    formed: list[int] = []
    real = multinomial_module.loss_hessian
    monkeypatch.setattr(
        multinomial_module, "loss_hessian", lambda *a, **k: formed.append(1) or real(*a, **k)
    )
    H = obj.hessian(theta.copy())  # equal values, another array: the same point
    assert formed == []  # the kept one
    fresh = _objective(X, y, K, reference, weights, scale)
    fresh.set_exact(True)
    f0, g0 = fresh.value_and_gradient(theta)
    assert f == pytest.approx(f0, rel=1e-13)
    assert_allclose(g, g0, rtol=1e-10, atol=1e-15)
    assert _rel(H, fresh.hessian(theta)) <= 1e-12
    assert _rel(obj.information(theta), H) <= 1e-12  # handed over once: formed again
    assert formed == [1, 1]  # fresh's and this one
    # finite differences of the gradient
    v = rng.standard_normal(obj.n_params)
    eps = 1e-6
    fd = (fresh.gradient(theta + eps * v) - fresh.gradient(theta - eps * v)) / (2 * eps)
    assert_allclose(H @ v, fd, rtol=1e-5, atol=1e-8)
    # the request was spent: the next point's pass forms no Hessian
    obj.value_and_gradient(theta + 0.01)
    assert calls == [1]


def test_a_kept_hessian_serves_only_its_own_point(monkeypatch):
    calls = _counting(monkeypatch)
    X, y, _, _, _ = _data(500, 4, 3, seed=9)
    obj = _objective(X, y, 3)
    theta = np.full(obj.n_params, 0.1)
    other = theta + 1e-9
    obj.hessian_with_next_gradient(True)
    obj.value_and_gradient(theta)
    obj.value_and_gradient(other)  # a new point drops the kept Hessian
    fresh = _objective(X, y, 3)
    assert_allclose(obj.hessian(theta), fresh.hessian(theta), rtol=1e-12, atol=1e-15)
    assert calls == [1]
    # withdrawn before any pass: no Hessian is formed
    obj.hessian_with_next_gradient(True)
    obj.hessian_with_next_gradient(False)
    obj.value_and_gradient(theta + 0.5)
    assert calls == [1]


def test_not_honoured_in_fast_mode_nor_for_sparse_x(monkeypatch):
    import scipy.sparse as sp

    calls = _counting(monkeypatch)
    X, y, _, _, _ = _data(400, 4, 3, seed=5, dtype=np.float32)
    fast = _objective(X, y, 3)  # float32 X starts in fast mode
    fast.hessian_with_next_gradient(True)
    fast.value_and_gradient(np.zeros(fast.n_params))
    sparse = _objective(sp.csr_matrix(X.astype(np.float64)), y, 3)
    sparse.hessian_with_next_gradient(True)
    sparse.value_and_gradient(np.zeros(sparse.n_params))
    assert calls == []


@pytest.mark.parametrize("reference", [0, 2])
def test_kept_loss_hessian_is_read_without_handing_it_over(reference, monkeypatch):
    """``kept_loss_hessian``: the kept matrix at its own point only, read-only, equal to a
    fresh loss Hessian, and still handed to the first ``hessian`` afterwards."""
    calls = _counting(monkeypatch)
    X, y, _, _, _ = _data(600, 3, 4, seed=12)
    obj = _objective(X, y, 4, reference)
    theta = np.linspace(-0.2, 0.3, obj.n_params)
    assert obj.kept_loss_hessian(theta) is None  # nothing evaluated yet
    obj.hessian_with_next_gradient(True)
    obj.value_and_gradient(theta)
    kept = obj.kept_loss_hessian(theta.copy())
    assert kept is not None and not kept.flags.writeable
    assert obj.kept_loss_hessian(theta + 1e-9) is None
    fresh = _objective(X, y, 4, reference)
    assert _rel(kept, fresh.hessian(theta)) <= 1e-12  # no penalty: loss Hessian
    assert calls == [1]
    H = obj.hessian(theta)
    assert calls == [1] and np.shares_memory(H, kept)  # handed over, not formed again
    assert obj.kept_loss_hessian(theta) is None
