"""The block kernels against independent references, and their additivity over row splits.

Each kernel is checked against a plain numpy/scipy formula on the whole matrix (and, for
derivatives, finite differences), in float64 and float32 (fast and exact mode), dense and
CSR, weighted and unweighted, with and without intercept. The property a Dask engine will
rely on: summing a kernel's partial sums over any split of the rows gives the whole-data
value, which is the objective's value, gradient and Hessian.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.special import logsumexp, softmax

import mnlogit.objective.blocks as blocks
import mnlogit.objective.hessian as hessian_module
from mnlogit.objective import MultinomialObjective, make_penalty
from mnlogit.objective.float32_curvature import float32_curvature_sums, float32_sparse
from mnlogit.objective.hessian import loss_hessian
from mnlogit.objective.kernels import (
    backproject,
    class_sums,
    curvature_sums,
    linear_predictor,
    smallest_probability,
    weighted_column_squares,
    weighted_gram,
)
from mnlogit.objective.loss import softmax_loss, sweep_loss
from mnlogit.parameterization import Parameterization

N, P, K = 157, 4, 4
FORMATS = ["dense64", "dense32-exact", "dense32-fast", "csr"]
SPLITS = [0, 1, 13, 64, 100, N]  # an arbitrary split of the rows, one block of one row


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Sub-blocks of a few rows, so every kernel's inner loop runs several times."""
    monkeypatch.setattr(blocks, "BLOCK_ELEMENTS", 32)
    monkeypatch.setattr(blocks, "READ_ELEMENTS", 32)
    monkeypatch.setattr(blocks, "READ_MIN_ROWS", 1)
    monkeypatch.setattr(hessian_module, "HESSIAN_MIN_ROWS", 8)


def data(fmt: str, weighted: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, P)) * [1.0, 2.0, 0.5, 1.5] + rng.uniform(-1, 1, P)
    X[rng.random((N, P)) < 0.3] = 0.0
    y = rng.integers(0, K, N)
    y[:K] = np.arange(K)
    w = rng.uniform(0.2, 3.0, N) if weighted else None
    if w is not None:
        w[5] = 0.0  # a row of zero weight
        w /= w.sum()
    if fmt == "csr":
        Xk = sp.csr_matrix(X)
    elif fmt.startswith("dense32"):
        Xk = X.astype(np.float32)
    else:
        Xk = X
    X64 = np.asarray(Xk.toarray() if sp.issparse(Xk) else Xk, dtype=np.float64)
    W = 0.4 * rng.standard_normal((P, K))
    b = 0.3 * rng.standard_normal(K)
    return Xk, X64, y, w, W, b, fmt == "dense32-fast"


def tol(fast: bool) -> float:
    return 2e-5 if fast else 1e-12


def rows(M, sl):
    return M[sl] if M is not None else None


def split_sum(kernel, n=N):
    """Sum of ``kernel(sl)`` over the row blocks of SPLITS."""
    parts = [kernel(slice(a, c)) for a, c in itertools.pairwise(SPLITS)]
    return sum(parts[1:], parts[0])


def reference(X64, y, w, W, b, intercept):
    eta = X64 @ W + (b if intercept else 0.0)
    Pm = softmax(eta, axis=1)
    ww = np.ones(N) if w is None else w
    nll = float(ww @ (logsumexp(eta, axis=1) - eta[np.arange(N), y]))
    Y = np.hstack([np.ones((N, 1)), X64]) if intercept else X64
    return eta, Pm, ww, nll, Y


CASES = [
    pytest.param(fmt, weighted, intercept, id=f"{fmt}-{'w' if weighted else 'eq'}-{intercept}")
    for fmt in FORMATS
    for weighted in (False, True)
    for intercept in (True, False)
]


@pytest.mark.parametrize(("fmt", "weighted", "intercept"), CASES)
def test_loss_kernels_against_numpy_and_over_any_split(fmt, weighted, intercept):
    Xk, X64, y, w, W, b, fast = data(fmt, weighted)
    bb = b if intercept else None
    eta, Pm, ww, nll, Y = reference(X64, y, w, W, b, intercept)
    G = ww[:, None] * Pm
    t = tol(fast)
    assert_allclose(linear_predictor(Xk, W, bb, fast=fast), eta, rtol=t, atol=t)
    # the whole-block route (any X)
    whole, prob = softmax_loss(Xk, y, w, W, bb, fast=fast)
    assert_allclose(whole, nll, rtol=t)
    assert_allclose(prob, Pm, rtol=t, atol=1e-300)
    assert_allclose(backproject(Xk, G, intercept=intercept, fast=fast), Y.T @ G, rtol=t, atol=t)
    split = split_sum(lambda sl: softmax_loss(Xk[sl], y[sl], rows(w, sl), W, bb, fast=fast)[0])
    assert_allclose(split, nll, rtol=t)
    # the one-read dense sweep
    if fmt == "csr":
        return
    out = np.empty((N, K))
    found = sweep_loss(Xk, y, w, W, bb, gradient=True, fast=fast, prob_out=out)
    assert_allclose(found.nll, nll, rtol=t)
    assert_allclose(out, Pm, rtol=t, atol=1e-300)
    assert_allclose(found.gradient_sums, Y.T @ G, rtol=t, atol=t)
    assert found.min_prob == pytest.approx(Pm[ww > 0].min(), rel=t)
    parts = [
        sweep_loss(Xk[sl], y[sl], rows(w, sl), W, bb, gradient=True, fast=fast)
        for sl in (slice(a, c) for a, c in itertools.pairwise(SPLITS))
    ]
    assert_allclose(sum(p.nll for p in parts), nll, rtol=t)
    assert_allclose(sum(p.gradient_sums for p in parts), Y.T @ G, rtol=t, atol=t)
    assert min(p.min_prob for p in parts) == found.min_prob


@pytest.mark.parametrize(("fmt", "weighted", "intercept"), CASES)
def test_sum_kernels_against_numpy_and_over_any_split(fmt, weighted, intercept):
    Xk, X64, y, w, W, b, _fast = data(fmt, weighted)
    _, Pm, ww, _, Y = reference(X64, y, w, W, b, intercept)
    onehot = np.eye(K)[y]
    factor = np.array([0.5, 2.0, 1.0, 3.0])
    Ys = Y * (np.r_[1.0, factor] if intercept else factor)
    h = np.random.default_rng(1).uniform(-0.5, 1.0, N)
    expected = {
        "class sums": Y.T @ (ww[:, None] * onehot),
        "gram": Ys.T @ (h[:, None] * Ys),
        "gram, h >= 0": Ys.T @ (np.abs(h)[:, None] * Ys),
        "squares": (h[:, None] * Ys**2).sum(0),
    }
    kernels = {
        "class sums": lambda sl: class_sums(Xk[sl], y[sl], rows(w, sl), K, intercept=intercept),
        "gram": lambda sl: weighted_gram(Xk[sl], h[sl], intercept=intercept, column_factor=factor),
        "gram, h >= 0": lambda sl: weighted_gram(
            Xk[sl], np.abs(h[sl]), intercept=intercept, column_factor=factor
        ),
        "squares": lambda sl: weighted_column_squares(
            Xk[sl], h[sl], intercept=intercept, column_factor=factor
        ),
    }
    for name, kernel in kernels.items():
        assert_allclose(kernel(slice(None)), expected[name], rtol=1e-12, atol=1e-13, err_msg=name)
        assert_allclose(split_sum(kernel), expected[name], rtol=1e-12, atol=1e-13, err_msg=name)
    assert smallest_probability(Pm, w) == Pm[ww > 0].min()


def _hessian_reference(Y, Pm, ww):
    """Blocks ``Yᵀ diag(w P_a (I(a=c) - P_c)) Y`` over classes 1 .. K-1."""
    k1, p1 = K - 1, Y.shape[1]
    H = np.zeros((k1 * p1, k1 * p1))
    for a in range(k1):
        for c in range(k1):
            h = ww * Pm[:, a + 1] * ((a == c) - Pm[:, c + 1])
            H[a * p1 : (a + 1) * p1, c * p1 : (c + 1) * p1] = Y.T @ (h[:, None] * Y)
    return H


@pytest.mark.parametrize(("fmt", "weighted", "intercept"), CASES)
def test_curvature_kernels_against_numpy_and_over_any_split(fmt, weighted, intercept):
    Xk, X64, y, w, W, b, fast = data(fmt, weighted)
    _, Pm, ww, _, Y = reference(X64, y, w, W, b, intercept)
    factor = np.array([0.5, 2.0, 1.0, 3.0]) if fmt != "dense32-fast" else None
    Ys = Y if factor is None else Y * (np.r_[1.0, factor] if intercept else factor)
    H = _hessian_reference(Ys, Pm, ww)
    T = Parameterization(K, None).transform_to(Parameterization(K, 0))
    TI = np.kron(T, np.eye(Y.shape[1]))
    P1 = Pm[:, 1:]
    t = 1e-5 if fast else 1e-12
    kw = dict(intercept=intercept, column_factor=factor, float32=fast)
    assert_allclose(loss_hessian(Xk, P1, w, **kw), H, rtol=t, atol=t)
    assert_allclose(loss_hessian(Xk, P1, w, T=T, **kw), TI @ H @ TI.T, rtol=t, atol=t)
    split = split_sum(lambda sl: loss_hessian(Xk[sl], P1[sl], rows(w, sl), **kw))
    assert_allclose(split, H, rtol=t, atol=t)
    # Hessian-vector product: [colsum R; Xᵀ R] equals the Hessian (all K classes) times d
    rng = np.random.default_rng(2)
    D_W, d_b = rng.standard_normal((P, K)), rng.standard_normal(K)
    db = d_b if intercept else None
    D = X64 @ D_W + (d_b if intercept else 0.0)
    R = ww[:, None] * Pm * (D - (Pm * D).sum(1, keepdims=True))
    got = curvature_sums(Xk, Pm, w, D_W, db, fast=fast)
    assert_allclose(got, Y.T @ R, rtol=10 * t, atol=10 * t)
    split = split_sum(lambda sl: curvature_sums(Xk[sl], Pm[sl], rows(w, sl), D_W, db, fast=fast))
    assert_allclose(split, Y.T @ R, rtol=10 * t, atol=10 * t)
    if fmt == "csr":
        V = np.vstack([d_b, D_W]) if intercept else D_W
        X32 = float32_sparse(Xk)
        w32 = None if w is None else w.astype(np.float32)
        got32 = float32_curvature_sums(
            X32, Pm.astype(np.float32), w32, V.astype(np.float32), intercept=intercept
        )
        assert got32.dtype == np.float32
        assert_allclose(got32, Y.T @ R, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fmt", ["dense64", "csr"])
@pytest.mark.parametrize("intercept", [True, False])
def test_gradient_and_hessian_vector_kernels_against_finite_differences(fmt, intercept):
    Xk, _X64, y, w, W, b, _ = data(fmt, weighted=True)
    bb = b if intercept else None

    def nll(Wt, bt):
        return softmax_loss(Xk, y, w, Wt, bt)[0]

    def grad(Wt, bt):  # [colsum G; Xᵀ G] - class sums = d nll / d [b; W]
        _, Pm = softmax_loss(Xk, y, w, Wt, bt)
        g = backproject(Xk, w[:, None] * Pm, intercept=intercept)
        return g - class_sums(Xk, y, w, K, intercept=intercept)

    g = grad(W, bb)
    theta = np.vstack([b, W]) if intercept else W
    fd = np.zeros_like(theta)
    h = 1e-6
    for idx in np.ndindex(*theta.shape):
        tp, tm = theta.copy(), theta.copy()
        tp[idx] += h
        tm[idx] -= h
        split = (lambda t: (t[1:], t[0])) if intercept else (lambda t: (t, None))
        fd[idx] = (nll(*split(tp)) - nll(*split(tm))) / (2 * h)
    assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    # Hessian-vector product against differences of the gradient
    D_W = np.random.default_rng(3).standard_normal((P, K))
    d_b = np.random.default_rng(4).standard_normal(K) if intercept else None
    _, Pm = softmax_loss(Xk, y, w, W, bb)
    hv = curvature_sums(Xk, Pm, w, D_W, d_b)
    step = (lambda s: (W + s * D_W, bb + s * d_b)) if intercept else (lambda s: (W + s * D_W, None))
    fd_hv = (grad(*step(h)) - grad(*step(-h))) / (2 * h)
    assert_allclose(hv, fd_hv, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("fmt", ["dense64", "dense32-exact", "csr"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("intercept", [True, False])
def test_split_kernel_sums_are_the_objectives_value_gradient_and_hessian(fmt, weighted, intercept):
    """Reference class 0, unscaled features, no penalty: the kernels' sums are exactly the
    objective's mean-scale value, gradient and Hessian."""
    Xk, _, y, w, _, _, _ = data(fmt, weighted)
    sw = np.ones(N) if w is None else w * 7.0  # any scale: the objective normalizes
    obj = MultinomialObjective(
        Xk, y, K, sw, Parameterization(K, 0), make_penalty(None, 0.0, intercept), intercept
    )
    if fmt == "dense32-exact":
        obj.set_exact(True)
    theta = 0.3 * np.random.default_rng(5).standard_normal(obj.n_params)
    B = obj.full_coefficients(theta)
    W, bb = B[int(intercept) :], (B[0] if intercept else None)
    ws = obj.normalized_weights
    f, g = obj.value_and_gradient(theta)
    nll = split_sum(lambda sl: softmax_loss(Xk[sl], y[sl], ws[sl], W, bb)[0])
    assert_allclose(nll, f, rtol=1e-12)

    def gradient_part(sl):
        _, Pm = softmax_loss(Xk[sl], y[sl], ws[sl], W, bb)
        sums = backproject(Xk[sl], ws[sl, None] * Pm, intercept=intercept)
        return sums - class_sums(Xk[sl], y[sl], ws[sl], K, intercept=intercept)

    grad_full = split_sum(gradient_part)  # (p1, K); reference 0: drop class 0
    assert_allclose(np.ascontiguousarray(grad_full[:, 1:].T).ravel(), g, rtol=1e-10, atol=1e-13)
    P1 = obj.probabilities(theta)[:, 1:]
    H = split_sum(lambda sl: loss_hessian(Xk[sl], P1[sl], ws[sl], intercept=intercept))
    assert_allclose(H, obj.hessian(theta), rtol=1e-10, atol=1e-13)


def test_kernels_do_not_write_their_inputs():
    Xk, _, y, w, W, b, _ = data("dense64", weighted=True)
    before = [a.copy() for a in (Xk, y, w, W, b)]
    sweep_loss(Xk, y, w, W, b, gradient=True)
    _, Pm = softmax_loss(Xk, y, w, W, b)
    loss_hessian(Xk, Pm[:, 1:], w, intercept=True)
    curvature_sums(Xk, Pm, w, W, b)
    for a, kept in zip((Xk, y, w, W, b), before, strict=True):
        assert np.array_equal(a, kept)


def test_information_is_the_penalized_hessian_for_both_objectives():
    from mnlogit.objective import FirthObjective

    Xk, _, y, _, _, _, _ = data("dense64", weighted=False)
    obj = MultinomialObjective(
        Xk, y, K, np.ones(N), Parameterization(K, None), make_penalty("l2", 0.1, True)
    )
    theta = np.linspace(-0.3, 0.3, obj.n_params)
    assert np.array_equal(obj.information(theta), obj.hessian(theta))
    base = MultinomialObjective(
        Xk, y, K, np.ones(N), Parameterization(K, 0), make_penalty(None, 0.0, True)
    )
    assert np.array_equal(FirthObjective(base).information(theta), base.hessian(theta))


@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K", [2, 3, 4])
def test_pairwise_hessian_equals_the_wide_update(monkeypatch, intercept, dtype, K) -> None:
    """Few classes and wide blocks: one syrk per block (h_ab = w P_a (δ_ab - P_b)) gives
    the Hessian of the single wide rank update plus block diagonal."""
    rng = np.random.default_rng(80 + K)
    n, p = 3000, 40
    X = rng.normal(size=(n, p)).astype(dtype)
    P = rng.dirichlet(np.ones(K), n)
    w = rng.uniform(0.2, 3.0, n) / n
    cf = rng.uniform(0.5, 2.0, p)
    float32 = dtype == np.float32
    args = dict(intercept=intercept, column_factor=cf, float32=float32)
    pairwise = hessian_module.loss_hessian(X, P[:, 1:], w, **args)
    monkeypatch.setattr(hessian_module, "PAIRWISE_MAX_FREE_CLASSES", 0)
    wide = hessian_module.loss_hessian(X, P[:, 1:], w, **args)
    tol = 1e-5 if float32 else 1e-12
    assert_allclose(pairwise, wide, rtol=tol, atol=tol * np.abs(wide).max())
    assert np.array_equal(pairwise, pairwise.T)
    assert pairwise.dtype == wide.dtype
