"""The dense sweep's compiled products (``softmax_kernel.dense_sweep``) for narrow X.

The kernel against a plain float64 numpy softmax, loss, smallest probability and gradient
(``K = 2 .. 9``, ``p`` not a multiple of 4, tiles with a remainder, weights with zeros,
float32 ``X``, with and without intercepts, its probabilities written whole, per tile and
row-major); the sweep and the fused last pass through it against the BLAS path they
replace; the gradient by finite differences; and where the sweep takes it.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import mnlogit.objective.loss as loss_module
import mnlogit.objective.softmax_kernel as kernel_module
from mnlogit.objective.compiled import HAVE_NUMBA
from mnlogit.objective.last_pass import loss_and_hessian
from mnlogit.objective.loss import SweepSums, sweep_loss
from mnlogit.objective.softmax_kernel import SWEEP_TILE_ROWS, dense_sweep

pytestmark = pytest.mark.skipif(not HAVE_NUMBA, reason="the compiled sweep needs numba")


def _data(n, p, K, seed, dtype=np.float64, weights=None):
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


def _reference(X, y, w, W, b):
    """nll, smallest probability (rows of positive weight), probabilities ``(n, K)`` and
    ``[colsum(G); Xᵀ G]`` in plain float64 numpy."""
    X64 = X.astype(np.float64)
    Z = X64 @ W + b
    shift = Z.max(axis=1, keepdims=True)
    E = np.exp(Z - shift)
    total = E.sum(axis=1)
    P = E / total[:, None]
    rows = np.arange(X.shape[0])
    terms = np.log(total) + shift[:, 0] - Z[rows, y]
    ww = np.ones(X.shape[0]) if w is None else w
    G = P * ww[:, None]
    positive = P[ww > 0]
    pmin = positive.min() if positive.size else np.inf
    return float(ww @ terms), pmin, P, np.vstack([G.sum(axis=0), X64.T @ G])


def _assert_probabilities(got, P, X, W):
    """``got`` is ``P`` to the rounding of the linear predictor: a product summed in
    another order moves ``eta`` by up to about ``p eps sum_j |x_j w_j|``, and each
    probability by that relatively (``|eta|`` reaches 1e4 on the scaled rows)."""
    scale = np.abs(X.astype(np.float64)) @ np.abs(W)
    bound = 1e-13 + 4 * X.shape[1] * np.finfo(np.float64).eps * scale.max(axis=1)
    assert np.all(np.abs(got - P) <= bound[:, None] * P + 1e-15)


@pytest.mark.parametrize(
    ("p", "K"), [(1, 2), (4, 3), (7, 5), (20, 5), (21, 4), (6, 6), (13, 7), (5, 9)]
)
@pytest.mark.parametrize("n", [1, SWEEP_TILE_ROWS - 1, 2 * SWEEP_TILE_ROWS + 44])
@pytest.mark.parametrize("weights", [None, "zeros"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("whole", [True, False])
def test_dense_sweep_is_a_plain_softmax_and_gradient(p, K, n, weights, dtype, whole):
    """``whole``: ``prob`` holds every row (``(K, n)``), else tile-sized scratch with the
    probabilities written row-major to ``prob_out``."""
    X, y, w, W, b = _data(n, p, K, seed=p * K + n, dtype=dtype, weights=weights)
    X[::7] *= 300.0  # rows whose linear predictor overflows exp() without the shift
    tile = SWEEP_TILE_ROWS
    width = n if whole else tile
    eta, prob = np.empty((K, width)), np.empty((K, width))
    G = prob if w is None else np.empty((K, width))
    colsum, GX = np.zeros(K), np.zeros((K, p))
    out = np.empty((0, K)) if whole else np.full((n, K), np.nan)
    nll, pmin = dense_sweep(
        X, np.ascontiguousarray(W.T), b, y, np.empty(0) if w is None else w, eta, prob, G,
        colsum, GX, np.empty((K + 4, tile)), np.empty((p, tile)), out,
    )  # fmt: skip
    e_nll, e_pmin, P, sums = _reference(X, y, w, W, b)
    assert nll == pytest.approx(e_nll, rel=1e-13)
    assert pmin == pytest.approx(e_pmin, rel=1e-13)
    got = prob.T if whole else out
    _assert_probabilities(got, P, X, W)
    if w is not None and whole:
        assert np.array_equal(G, prob * w)  # G = w * prob, the kernel's own probabilities
    assert_allclose(np.vstack([colsum, GX.T]), sums, rtol=1e-12, atol=1e-11)


def test_dense_sweep_without_gradient_sums_leaves_them():
    X, y, _, W, b = _data(300, 7, 3, seed=3)
    prob, colsum = np.empty((3, 300)), np.zeros(3)
    nll, _ = dense_sweep(
        X, np.ascontiguousarray(W.T), b, y, np.empty(0), np.empty((3, 300)), prob, prob,
        colsum, np.empty((0, 7)), np.empty((7, 64)), np.empty((7, 64)), np.empty((0, 3)),
    )  # fmt: skip
    e_nll, _, P, sums = _reference(X, y, None, W, b)
    assert nll == pytest.approx(e_nll, rel=1e-13)
    assert_allclose(prob.T, P, rtol=1e-13, atol=1e-15)
    assert_allclose(colsum, sums[0], rtol=1e-12)


def _spy(monkeypatch) -> list[int]:
    """Rows of each :func:`dense_sweep` call the sweep makes."""
    calls: list[int] = []

    def spy(X, *args):
        calls.append(X.shape[0])
        return dense_sweep(X, *args)

    monkeypatch.setattr(loss_module, "dense_sweep", spy)
    return calls


@pytest.mark.parametrize(("p", "K"), [(7, 2), (21, 5), (9, 3), (3, 9)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weights", [None, "zeros"])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("visit", [False, True])
def test_the_narrow_sweep_equals_the_blas_sweep(
    p, K, dtype, weights, intercept, visit, monkeypatch
):
    """Through :func:`sweep_loss`: one call over all rows (probabilities to ``prob_out``),
    or one per sub-block where a visitor sees them; the same numbers as the BLAS products
    to rounding, and as an independent float64 reference."""
    n = 3001
    X, y, w, W, b = _data(n, p, K, seed=p + K, dtype=dtype, weights=weights)
    X[::11] *= 300.0
    bb = b if intercept else None
    monkeypatch.setattr(loss_module, "COMPILED_MIN_ENTRIES", 1)
    monkeypatch.setattr(loss_module, "sweep_rows", lambda p, K: 700)
    monkeypatch.setattr(loss_module, "NARROW_MAX_FEATURES", 0)
    blas_out = np.empty((n, K))
    blas = sweep_loss(X, y, w, W, bb, gradient=True, prob_out=blas_out)
    monkeypatch.setattr(loss_module, "NARROW_MAX_FEATURES", 24)  # p = 21 too
    calls = _spy(monkeypatch)
    out = np.empty((n, K))
    seen = np.full((n, K), np.nan)

    def look(prob, rows):
        seen[rows] = prob

    found = sweep_loss(X, y, w, W, bb, gradient=True, prob_out=out, visit=look if visit else None)
    assert calls == ([700] * 4 + [201] if visit else [n])
    if visit:
        assert np.array_equal(seen, out)
    assert found.nll == pytest.approx(blas.nll, rel=1e-13)
    assert found.min_prob == pytest.approx(blas.min_prob, rel=1e-12)
    assert_allclose(found.gradient_sums, blas.gradient_sums, rtol=1e-12, atol=1e-11)
    _assert_probabilities(out, blas_out, X, W)
    e_nll, _, P, sums = _reference(X, y, w, W, 0.0 if bb is None else bb)
    assert found.nll == pytest.approx(e_nll, rel=1e-13)
    _assert_probabilities(out, P, X, W)
    assert_allclose(found.gradient_sums, sums if intercept else sums[1:], rtol=1e-12, atol=1e-11)


def test_the_narrow_gradient_by_finite_differences(monkeypatch):
    """``nll``'s derivative in ``W`` (and ``b``) is ``[colsum(G); Xᵀ G]`` minus the
    weighted one-hot sums: central differences of the compiled sweep's loss."""
    monkeypatch.setattr(loss_module, "COMPILED_MIN_ENTRIES", 1)
    X, y, w, W, b = _data(900, 6, 3, seed=21, weights="zeros")
    assert w is not None
    calls = _spy(monkeypatch)
    res = sweep_loss(X, y, w, W, b, gradient=True)
    assert calls
    onehot = np.zeros((900, 3))
    onehot[np.arange(900), y] = w
    assert res.gradient_sums is not None
    grad = res.gradient_sums - np.vstack([onehot.sum(axis=0), X.T @ onehot])
    h = 1e-6
    for j, k in [(0, 0), (2, 1), (5, 2), (3, 0)]:
        up, down = W.copy(), W.copy()
        up[j, k] += h
        down[j, k] -= h
        diff = sweep_loss(X, y, w, up, b, gradient=False).nll
        diff -= sweep_loss(X, y, w, down, b, gradient=False).nll
        assert diff / (2 * h) == pytest.approx(grad[1 + j, k], rel=1e-6, abs=1e-6)
    for k in range(3):
        up, down = b.copy(), b.copy()
        up[k] += h
        down[k] -= h
        diff = sweep_loss(X, y, w, W, up, gradient=False).nll
        diff -= sweep_loss(X, y, w, W, down, gradient=False).nll
        assert diff / (2 * h) == pytest.approx(grad[0, k], rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_narrow_last_pass_equals_the_blas_last_pass(dtype, monkeypatch):
    """The fused last pass asks :class:`SweepSums` for each Hessian sub-block: the
    compiled products give the BLAS path's loss, gradient and Hessian to rounding."""
    X, y, w, W, b = _data(2500, 9, 5, seed=9, dtype=dtype, weights="zeros")
    monkeypatch.setattr(loss_module, "COMPILED_MIN_ENTRIES", 1)
    monkeypatch.setattr(loss_module, "NARROW_MAX_FEATURES", 0)
    plain, H_plain = loss_and_hessian(X, y, w, w, W, b)
    monkeypatch.setattr(loss_module, "NARROW_MAX_FEATURES", 20)
    calls = _spy(monkeypatch)
    found, H = loss_and_hessian(X, y, w, w, W, b)
    assert sum(calls) == 2500
    assert found.nll == pytest.approx(plain.nll, rel=1e-13)
    assert found.min_prob == pytest.approx(plain.min_prob, rel=1e-13)
    assert_allclose(found.gradient_sums, plain.gradient_sums, rtol=1e-12, atol=1e-11)
    assert_allclose(H, H_plain, rtol=1e-12, atol=1e-12)


def test_where_the_sweep_takes_the_compiled_products(monkeypatch):
    """At most :data:`NARROW_MAX_FEATURES` features and :data:`NARROW_MAX_CLASSES`
    classes, a compiled float64 sweep, C-ordered rows; else BLAS products. An
    F-ordered ``prob_out`` keeps the compiled products, a sub-block at a time."""
    monkeypatch.setattr(loss_module, "COMPILED_MIN_ENTRIES", 1)
    calls = _spy(monkeypatch)
    p_max, k_max = loss_module.NARROW_MAX_FEATURES, loss_module.NARROW_MAX_CLASSES
    for p, K, taken in [
        (p_max, 3, True),
        (p_max + 1, 3, False),
        (4, k_max, True),
        (4, k_max + 1, False),
    ]:
        X, y, _, W, b = _data(200, p, K, seed=p + K)
        calls.clear()
        sweep_loss(X, y, None, W, b, gradient=True)
        assert calls == ([200] if taken else [])
    X, y, _, W, b = _data(200, 5, 3, seed=2)
    calls.clear()
    sweep_loss(np.asfortranarray(X), y, None, W, b, gradient=True)
    sweep_loss(X.astype(np.float32), y, None, W, b, gradient=True, fast=True)
    assert calls == []
    monkeypatch.setattr(loss_module, "sweep_rows", lambda p, K: 64)
    out = np.asfortranarray(np.empty((200, 3)))
    sweep_loss(X, y, None, W, b, gradient=True, prob_out=out)
    assert calls == [64, 64, 64, 8]
    _, _, P, _ = _reference(X, y, None, W, b)
    assert_allclose(out, P, rtol=1e-13, atol=1e-15)
    sums = SweepSums(
        W, b, 5, np.float32, gradient=True, fast=True, compiled=True, all_positive=True, rows=8
    )
    assert not sums.narrow


def test_load_compiled_kernel_loads_the_narrow_sweep(monkeypatch):
    """The benchmarks' warm-up calls :func:`dense_sweep` on float64 and float32 ``X``."""
    seen: list[str] = []

    def spy(X, *args):
        seen.append(str(X.dtype))
        return dense_sweep(X, *args)

    monkeypatch.setattr(kernel_module, "dense_sweep", spy)
    assert kernel_module.load_compiled_kernel()
    assert {"float64", "float32"} <= set(seen)


def test_the_narrow_sweep_refuses_a_prob_out_of_another_shape():
    """The kernel checks no bounds: a ``prob_out`` of too few rows is refused before it
    runs (as the sub-block path's assignment refuses it), and nothing outside it is written."""
    X, y, _, W, b = _data(30_000, 5, 3, seed=4)  # n K above COMPILED_MIN_ENTRIES
    big = np.zeros((60_000, 3))
    with pytest.raises(ValueError, match="prob_out"):
        sweep_loss(X, y, None, W, b, gradient=True, prob_out=big[:15_000])
    assert not big.any()


def test_dense_sweep_refuses_inconsistent_operands():
    """Called directly with operands whose shapes disagree, the kernel raises instead of
    reading or writing outside them."""
    X, y, _, W, b = _data(300, 5, 3, seed=5)
    K, p, c = 3, 5, SWEEP_TILE_ROWS
    eta, prob = np.empty((K, c)), np.empty((K, c))
    args = [X, np.ascontiguousarray(W.T), b, y, np.empty(0), eta, prob, prob, np.zeros(K),
            np.zeros((K, p)), np.empty((K + 4, c)), np.empty((p, c)), np.empty((0, K))]  # fmt: skip
    dense_sweep(*args)  # consistent: runs
    for index, bad in [
        (3, y[:100]),  # fewer codes than rows
        (4, np.ones(100)),  # weights of another length
        (5, np.empty((K, c - 1))),  # eta neither n nor the tile wide
        (9, np.zeros((K, p + 1))),  # gradient sums of another width
        (11, np.empty((p - 1, c))),  # Y too small
        (12, np.empty((299, K))),  # prob_out of too few rows
    ]:
        wrong = list(args)
        wrong[index] = bad
        with pytest.raises(ValueError, match="dense_sweep"):
            dense_sweep(*wrong)


@pytest.mark.parametrize("dtype", [">f8", ">f4"])
def test_the_sweep_of_another_byte_order_takes_the_blas_path(dtype):
    """X in non-native byte order is converted as before (the kernel would not type it)."""
    X, y, _, W, b = _data(70_000, 5, 3, seed=6)  # n K above COMPILED_MIN_ENTRIES
    native = X.astype(np.dtype(dtype).newbyteorder("="))
    expected = sweep_loss(native, y, None, W, b, gradient=True)
    got = sweep_loss(X.astype(dtype), y, None, W, b, gradient=True)
    assert_allclose(got.nll, expected.nll, rtol=1e-12)
    assert_allclose(got.gradient_sums, expected.gradient_sums, rtol=1e-12, atol=1e-9)
