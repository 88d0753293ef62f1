"""The dense sweep's compiled softmax pass (``objective/softmax_kernel.py``) against numpy.

Its exponential and logarithm against numpy's; :func:`softmax_sums` against a plain numpy
log-sum-exp, gradient and smallest probability (both layouts of the linear predictor,
weights with zeros, ``K = 2``, rows that overflow without the shift, tiles with a
remainder); and the sweep and the fused last pass through it against the numpy operations
they replace, for float64 and float32 ``X``.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import mnlogit.objective.loss as loss_module
import mnlogit.objective.softmax_kernel as kernel_module
from mnlogit.objective.compiled import HAVE_NUMBA, compiled
from mnlogit.objective.last_pass import loss_and_hessian
from mnlogit.objective.loss import SweepSums, compiled_sweep, sweep_loss
from mnlogit.objective.softmax_kernel import (
    TILE_ROWS,
    exp_nonpositive,
    log_at_least_one,
    softmax_sums,
)

ULP = np.finfo(np.float64).eps


def _ulps(got, expected):
    """Each value's distance from ``expected`` in units in the last place of ``expected``."""
    return np.abs(got - expected) / np.spacing(np.abs(expected))


@compiled
def _exp_all(z, out):
    for i in range(z.shape[0]):
        out[i] = exp_nonpositive(z[i])


@compiled
def _log_all(s, out):
    for i in range(s.shape[0]):
        out[i] = log_at_least_one(s[i])


def test_exp_is_numpys_to_an_ulp_and_keeps_zero_and_nan():
    rng = np.random.default_rng(0)
    z = np.concatenate(
        [-rng.random(20000) * 40, -rng.random(20000) * 708, -rng.random(200) * 1e-12, [0.0, -708.0]]
    )
    out = np.empty_like(z)
    _exp_all(z, out)
    expected = np.exp(z)
    assert np.max(_ulps(out, expected)) <= 1.0
    assert out[-2] == 1.0
    edges = np.array([-708.5, -745.2, -1e300, -np.inf, np.nan])
    got = np.empty_like(edges)
    _exp_all(edges, got)
    assert_allclose(got[:4], 0.0, atol=2.1e-308)  # numpy: subnormal or 0
    assert np.isnan(got[4])


def test_log_is_numpys_to_an_ulp_and_keeps_nan():
    rng = np.random.default_rng(1)
    s = np.concatenate(
        [
            1.0 + rng.random(20000) * 0.65,  # the softmax denominators' usual range
            1.0 + rng.random(20000) * 20,
            np.exp(rng.random(20000) * 700),
            [1.0, 2.0, np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 0.0), 4.0, 1e300],
        ]
    )
    out = np.empty_like(s)
    _log_all(s, out)
    expected = np.log(s)
    assert np.max(_ulps(out[s > 1.0], expected[s > 1.0])) <= 1.0
    assert out[-6] == 0.0
    nan = np.empty(1)
    _log_all(np.array([np.nan]), nan)
    assert np.isnan(nan[0])


def _reference(eta, b, y, w):
    """nll, probabilities (K, m), class sums of G and smallest probability, by numpy."""
    Z = eta + b[:, None]
    top = Z.max(axis=0)
    E = np.exp(Z - top)
    total = E.sum(axis=0)
    P = E / total
    ww = np.ones(eta.shape[1]) if w is None else w
    nll = float(ww @ (np.log(total) + top - Z[y, np.arange(eta.shape[1])]))
    live = P[:, ww > 0]
    return nll, P, (P * ww).sum(axis=1), float(live.min()) if live.size else np.inf


def _eta(m, K, seed, scale=2.0):
    rng = np.random.default_rng(seed)
    eta = rng.normal(0.0, scale, (K, m))
    y = rng.integers(0, K, m).astype(np.intp)
    b = rng.normal(0.0, 0.5, K)
    return eta, y, b, rng


@pytest.mark.parametrize("K", [2, 3, 5, 12])
@pytest.mark.parametrize("m", [1, 7, TILE_ROWS, 2 * TILE_ROWS + 37])
@pytest.mark.parametrize("weights", [None, "positive", "zeros"])
@pytest.mark.parametrize("layout", ["C", "rows"])
def test_softmax_sums_is_a_plain_log_sum_exp(K, m, weights, layout):
    eta, y, b, rng = _eta(m, K, seed=K * m)
    w = None
    if weights is not None:
        w = rng.uniform(0.2, 3.0, m)
        if weights == "zeros":
            w[::3] = 0.0
    # "rows": the Fortran-ordered view (X_s W)ᵀ the sweep passes for its usual product
    given = eta if layout == "C" else np.ascontiguousarray(eta.T).T
    prob = np.full((K, m), np.nan)
    G = np.full((K, m), np.nan)
    colsum = np.full(K, 0.25)
    scratch = np.empty((K + 4, TILE_ROWS))
    ws = np.empty(0) if w is None else w
    nll, pmin = softmax_sums(given, b, y, ws, prob, G, colsum, scratch)
    ref_nll, P, sums, ref_min = _reference(eta, b, y, w)
    assert nll == pytest.approx(ref_nll, rel=1e-13, abs=1e-13)
    assert_allclose(prob, P, rtol=4 * ULP, atol=0)
    assert_allclose(colsum, 0.25 + sums, rtol=1e-13)
    assert pmin == pytest.approx(ref_min, rel=4 * ULP)
    if w is None:
        assert np.isnan(G).all()  # not touched without weights
    else:
        assert_allclose(G, P * w, rtol=4 * ULP, atol=0)


def test_rows_that_overflow_without_the_shift():
    """eta near 1000 (exp overflows) and -1000 (underflows): finite, numpy's values."""
    K, m = 4, 300
    eta, y, b, _ = _eta(m, K, seed=3)
    eta[:, ::2] += 1000.0
    eta[:, 1::4] -= 1000.0
    eta[0, 5] = 1e5  # one class takes all: the others' probabilities are 0
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.exp(eta + b[:, None])).all()
    prob = np.empty((K, m))
    colsum = np.zeros(K)
    nll, pmin = softmax_sums(eta, b, y, np.empty(0), prob, prob, colsum, np.empty((K + 4, 64)))
    ref_nll, P, sums, ref_min = _reference(eta, b, y, None)
    assert np.isfinite(nll)
    assert nll == pytest.approx(ref_nll, rel=1e-13)
    assert_allclose(prob, P, rtol=4 * ULP, atol=1e-300)
    assert_allclose(colsum, sums, rtol=1e-13)
    assert pmin == 0.0 == ref_min


def test_nan_in_the_linear_predictor_gives_a_nan_loss():
    """As the numpy operations: a NaN (from non-finite coefficients) is not hidden."""
    K, m = 3, 40
    eta, y, b, _ = _eta(m, K, seed=4)
    eta[1, 7] = np.nan
    prob = np.empty((K, m))
    nll, _ = softmax_sums(eta, b, y, np.empty(0), prob, prob, np.zeros(K), np.empty((K + 4, 16)))
    assert np.isnan(nll)


def _sweep_data(n, p, K, seed, dtype, weights):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, p)).astype(dtype)
    y = rng.integers(0, K, n).astype(np.intp)
    W = rng.normal(0, 0.5, (p, K))
    b = rng.normal(0, 0.5, K)
    w = None
    if weights is not None:
        w = rng.uniform(0.2, 3.0, n)
        if weights == "zeros":
            w[::5] = 0.0
    return X, y, w, W, b


# p = 70, K = 5: the transposed first product (a C-ordered linear predictor)
@pytest.mark.parametrize(("p", "K"), [(6, 2), (20, 5), (9, 3), (70, 5)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weights", [None, "zeros"])
@pytest.mark.parametrize("intercept", [True, False])
def test_the_sweep_compiled_equals_the_numpy_sweep(p, K, dtype, weights, intercept, monkeypatch):
    # the softmax kernel between BLAS products (the compiled products: test_dense_sweep.py)
    monkeypatch.setattr(loss_module, "NARROW_MAX_FEATURES", 0)
    X, y, w, W, b = _sweep_data(3000, p, K, seed=p + K, dtype=dtype, weights=weights)
    X[::11] *= 300.0  # rows whose linear predictor overflows exp() without the shift
    bb = b if intercept else None
    monkeypatch.setattr(loss_module, "COMPILED_MIN_ENTRIES", 10**12)
    plain_out = np.empty((3000, K))
    plain = sweep_loss(X, y, w, W, bb, gradient=True, prob_out=plain_out)
    monkeypatch.setattr(loss_module, "COMPILED_MIN_ENTRIES", 1)
    out = np.empty((3000, K))
    found = sweep_loss(X, y, w, W, bb, gradient=True, prob_out=out)
    assert np.isfinite(found.nll)
    assert found.nll == pytest.approx(plain.nll, rel=1e-13)
    assert found.min_prob == pytest.approx(plain.min_prob, rel=1e-13, abs=1e-300)
    assert_allclose(found.gradient_sums, plain.gradient_sums, rtol=1e-12, atol=1e-12)
    # the same products: the same linear predictor, so even tiny probabilities agree
    assert_allclose(out, plain_out, rtol=1e-14, atol=1e-300)
    X64 = X.astype(np.float64)
    Z = X64 @ W + (0.0 if bb is None else bb)
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    # another product: the linear predictor of the large rows (|eta| ~ 1e4) differs by
    # about 1e-12, and so do their tiny probabilities, relatively
    assert_allclose(out, P, rtol=1e-13, atol=1e-15)
    G = P if w is None else P * w[:, None]
    expected = X64.T @ G if bb is None else np.vstack([G.sum(axis=0), X64.T @ G])
    assert_allclose(found.gradient_sums, expected, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_last_pass_compiled_equals_the_numpy_last_pass(dtype, monkeypatch):
    X, y, w, W, b = _sweep_data(2500, 8, 4, seed=9, dtype=dtype, weights="zeros")
    assert w is not None
    monkeypatch.setattr(loss_module, "NARROW_MAX_FEATURES", 0)  # BLAS products
    monkeypatch.setattr(loss_module, "COMPILED_MIN_ENTRIES", 10**12)
    plain, H_plain = loss_and_hessian(X, y, w, w, W, b)
    monkeypatch.setattr(loss_module, "COMPILED_MIN_ENTRIES", 1)
    found, H = loss_and_hessian(X, y, w, w, W, b)
    assert found.nll == pytest.approx(plain.nll, rel=1e-13)
    assert found.min_prob == pytest.approx(plain.min_prob, rel=1e-13)
    assert_allclose(found.gradient_sums, plain.gradient_sums, rtol=1e-12, atol=1e-12)
    assert_allclose(H, H_plain, rtol=1e-12, atol=1e-12)


def test_compiled_where_the_sweep_is_large_enough(monkeypatch):
    """The rule (:data:`COMPILED_MIN_ENTRIES` of ``n K``; numba installed) and that the
    sweep then calls the kernel, and float32 products never do."""
    assert compiled_sweep(loss_module.COMPILED_MIN_ENTRIES, 1) is HAVE_NUMBA
    assert not compiled_sweep(loss_module.COMPILED_MIN_ENTRIES // 3 - 1, 3)
    calls: list[int] = []

    def spy(eta, *args):
        calls.append(eta.shape[1])
        return softmax_sums(eta, *args)

    monkeypatch.setattr(loss_module, "softmax_sums", spy)
    monkeypatch.setattr(loss_module, "COMPILED_MIN_ENTRIES", 600)
    monkeypatch.setattr(loss_module, "NARROW_MAX_FEATURES", 0)  # BLAS products
    X, y, _, W, b = _sweep_data(200, 4, 3, seed=1, dtype=np.float64, weights=None)
    sweep_loss(X[:199], y[:199], None, W, b, gradient=True)  # 597 < 600
    assert calls == []
    sweep_loss(X, y, None, W, b, gradient=True)
    assert calls == ([200] if HAVE_NUMBA else [])
    calls.clear()
    sweep_loss(X.astype(np.float32), y, None, W, b, gradient=True, fast=True)
    assert calls == []
    sums = SweepSums(
        W, b, 4, np.float32, gradient=True, fast=True, compiled=True, all_positive=True, rows=8
    )
    assert not sums.compiled


def test_load_compiled_kernel_loads_it_without_changing_results():
    """``load_compiled_kernel`` (the benchmarks' warm-up) reports whether numba is there,
    and the kernel's results after it are the same."""
    eta, y, b, _ = _eta(50, 3, seed=5)
    prob = np.empty((3, 50))
    args = (eta, b, y, np.empty(0), prob, prob, np.zeros(3), np.empty((7, 16)))
    before = softmax_sums(*args)
    assert kernel_module.load_compiled_kernel() is HAVE_NUMBA
    assert softmax_sums(*args) == before
    if HAVE_NUMBA:
        layouts = {sig[0].layout for sig in softmax_sums.signatures}
        assert {"C", "F"} <= layouts


@pytest.mark.parametrize("narrow", [True, False])
@pytest.mark.parametrize("weights", [None, "zeros"])
def test_the_compiled_sweep_split_over_threads_adds_up(weights, narrow, monkeypatch):
    """Rows split over three Python threads (the kernel releases the GIL): the sums of one
    range, the same probabilities; with the compiled products (``narrow``) and BLAS's."""
    if not narrow:
        monkeypatch.setattr(loss_module, "NARROW_MAX_FEATURES", 0)
    X, y, w, W, b = _sweep_data(2000, 7, 4, seed=11, dtype=np.float64, weights=weights)
    monkeypatch.setattr(loss_module, "COMPILED_MIN_ENTRIES", 1)
    P_one, P_split = np.empty((2000, 4)), np.empty((2000, 4))
    one = sweep_loss(X, y, w, W, b, gradient=True, prob_out=P_one)
    monkeypatch.setattr(loss_module, "row_threads", lambda: 3)
    monkeypatch.setattr(loss_module, "sweep_rows", lambda p, K: 150)
    monkeypatch.setattr(loss_module, "SWEEP_SPLIT_MIN_BLOCKS", 1)
    split = sweep_loss(X, y, w, W, b, gradient=True, prob_out=P_split)
    assert split.nll == pytest.approx(one.nll, rel=1e-12)
    assert split.min_prob == one.min_prob
    assert_allclose(split.gradient_sums, one.gradient_sums, rtol=1e-12, atol=1e-9)
    assert np.array_equal(P_split, P_one)
