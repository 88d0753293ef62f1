"""Tests for :class:`mnlogit.objective.MultinomialObjective` and :mod:`mnlogit.objective.penalties`.

Every expected value is computed here independently of the code under test: finite
differences, a direct ``logsumexp`` formula on a full coefficient matrix built in the test,
duplicated rows, or high-precision :mod:`decimal` arithmetic.
"""

from __future__ import annotations

import itertools
from decimal import Decimal, localcontext

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp

import mnlogit.objective.blocks as blocks
import mnlogit.objective.hessian as hessian_kernel
from helpers import fd_jacobian, make_data
from mnlogit.objective import MultinomialObjective, log_softmax
from mnlogit.objective.penalties import L2Penalty, NoPenalty, make_penalty
from mnlogit.parameterization import Parameterization

STEP = 1e-6
ALPHA = 0.05


# --------------------------------------------------------------------------- helpers
def make_weights(n: int, seed: int) -> np.ndarray:
    """Random positive weights with a few exact zeros."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.2, 3.0, size=n)
    w[rng.choice(n, size=max(1, n // 10), replace=False)] = 0.0
    return w


def build(
    K: int,
    reference: int | None,
    *,
    weighted: bool = False,
    alpha: float = 0.0,
    fit_intercept: bool = True,
    sparse: bool = False,
    n: int = 200,
    p: int = 3,
    seed: int = 0,
) -> tuple[MultinomialObjective, np.ndarray, np.ndarray, np.ndarray]:
    """Objective on synthetic data; returns ``(obj, X_dense, y, sample_weight)``."""
    X, y, _ = make_data(n=n, p=p, K=K, seed=seed)
    sw = make_weights(n, seed + 1) if weighted else np.ones(n)
    pen = (
        make_penalty("l2", alpha, intercept_row=fit_intercept)
        if alpha
        else make_penalty(None, 0.0, fit_intercept)
    )
    Xin = sp.csr_matrix(X) if sparse else X
    obj = MultinomialObjective(
        Xin, y, K, sw, Parameterization(K, reference), pen, fit_intercept=fit_intercept
    )
    return obj, X, y, sw


def random_theta(obj: MultinomialObjective, seed: int, scale: float = 0.4) -> np.ndarray:
    return scale * np.random.default_rng(seed).standard_normal(obj.n_params)


def fd_gradient(f, theta: np.ndarray, h: float = STEP) -> np.ndarray:
    """Central-difference gradient of a scalar function."""
    g = np.empty_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        g[j] = (f(theta + e) - f(theta - e)) / (2 * h)
    return g


def full_matrix(
    theta_B: np.ndarray, reference: int | None, fit_intercept: bool
) -> tuple[np.ndarray, float]:
    """Canonical representative of ``theta_B`` and its ridge norm ``||W||_F^2``.

    Written here without the package: reference form subtracts the reference column,
    symmetric form subtracts the row means.
    """
    if reference is None:
        Bc = theta_B - theta_B.mean(axis=1, keepdims=True)
    else:
        Bc = theta_B - theta_B[:, [reference]]
    W = Bc[1:] if fit_intercept else Bc
    return Bc, float(np.sum(W**2))


def direct_loglik_terms(
    X: np.ndarray, y: np.ndarray, B: np.ndarray, fit_intercept: bool
) -> np.ndarray:
    """``log P(y_i | x_i)`` for every row, loop-free, from a full ``(p1, K)`` matrix."""
    eta = X @ B[1:] + B[0] if fit_intercept else X @ B
    logp = eta - logsumexp(eta, axis=1, keepdims=True)
    onehot = np.eye(B.shape[1])[y]
    return np.sum(onehot * logp, axis=1)


def decimal_log_softmax(row: np.ndarray) -> list[float]:
    """Log-softmax of one row in 60-digit decimal arithmetic (no shifting)."""
    with localcontext() as ctx:
        ctx.prec = 60
        d = [Decimal(float(v)) for v in row]
        lse = sum((v.exp() for v in d), Decimal(0)).ln()
        return [float(v - lse) for v in d]


def _cases() -> list[tuple]:
    out = []
    for K, ref, weighted, alpha, fi, sparse in itertools.product(
        (2, 3, 5), (0, 2, None), (False, True), (0.0, ALPHA), (True, False), (False, True)
    ):
        if ref is not None and ref >= K:
            continue
        out.append((K, ref, weighted, alpha, fi, sparse))
    return out


CASES = _cases()
CASE_IDS = [
    f"K{K}-ref{ref}-{'w' if w else 'nw'}-a{a}-{'int' if fi else 'noint'}-{'csr' if s else 'dense'}"
    for K, ref, w, a, fi, s in CASES
]
case_params = pytest.mark.parametrize(
    ("K", "reference", "weighted", "alpha", "fit_intercept", "sparse"), CASES, ids=CASE_IDS
)


# --------------------------------------------------------------------------- derivatives
@case_params
def test_gradient_matches_finite_differences(K, reference, weighted, alpha, fit_intercept, sparse):
    obj, *_ = build(
        K, reference, weighted=weighted, alpha=alpha, fit_intercept=fit_intercept, sparse=sparse
    )
    theta = random_theta(obj, seed=K)
    f, g = obj.value_and_gradient(theta)
    assert g.shape == (obj.n_params,)
    assert f == obj.value(theta)
    fd = fd_gradient(obj.value, theta)
    scale = max(1.0, np.abs(fd).max())
    assert_allclose(g, fd, rtol=1e-6, atol=1e-6 * scale)
    assert_allclose(obj.gradient(theta), g, rtol=1e-14, atol=1e-15)


@case_params
def test_hessian_matches_finite_differences(K, reference, weighted, alpha, fit_intercept, sparse):
    obj, *_ = build(
        K, reference, weighted=weighted, alpha=alpha, fit_intercept=fit_intercept, sparse=sparse
    )
    theta = random_theta(obj, seed=10 + K)
    H = obj.hessian(theta)
    assert H.shape == (obj.n_params, obj.n_params)
    fd = fd_jacobian(obj.gradient, theta)
    scale = max(1.0, np.abs(fd).max())
    assert_allclose(H, fd, rtol=1e-6, atol=1e-6 * scale)


@case_params
def test_hessp_matches_hessian_and_directional_difference(
    K, reference, weighted, alpha, fit_intercept, sparse
):
    obj, *_ = build(
        K, reference, weighted=weighted, alpha=alpha, fit_intercept=fit_intercept, sparse=sparse
    )
    rng = np.random.default_rng(20 + K)
    theta = random_theta(obj, seed=30 + K)
    H = obj.hessian(theta)
    for _ in range(2):
        v = rng.standard_normal(obj.n_params)
        Hv = obj.hessp(theta, v)
        scale = max(1.0, np.abs(H @ v).max())
        assert_allclose(Hv, H @ v, rtol=1e-10, atol=1e-12 * scale)
        # Directional derivative of the gradient, independent of ``hessian``.
        fd = (obj.gradient(theta + STEP * v) - obj.gradient(theta - STEP * v)) / (2 * STEP)
        assert_allclose(Hv, fd, rtol=1e-6, atol=1e-6 * scale)


def test_hessp_on_cold_cache_equals_warm():
    obj, *_ = build(3, None, weighted=True, alpha=ALPHA)
    theta = random_theta(obj, seed=1)
    v = np.random.default_rng(2).standard_normal(obj.n_params)
    cold = obj.hessp(theta, v)
    obj.value(theta + 1.0)  # move the cache elsewhere
    obj.value(theta)
    assert_allclose(obj.hessp(theta, v), cold, rtol=1e-14)


@pytest.mark.parametrize("K", [2, 3, 5])
@pytest.mark.parametrize("reference", [0, None])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_equals_dense(K, reference, fit_intercept, weighted):
    kw = dict(weighted=weighted, alpha=ALPHA, fit_intercept=fit_intercept, seed=3)
    dense, *_ = build(K, reference, sparse=False, **kw)
    csr, *_ = build(K, reference, sparse=True, **kw)
    theta = random_theta(dense, seed=4)
    v = np.random.default_rng(5).standard_normal(dense.n_params)
    fd_, gd = dense.value_and_gradient(theta)
    fs, gs = csr.value_and_gradient(theta)
    assert_allclose(fs, fd_, rtol=1e-13)
    assert_allclose(gs, gd, rtol=1e-12, atol=1e-14)
    assert_allclose(csr.hessian(theta), dense.hessian(theta), rtol=1e-12, atol=1e-14)
    assert_allclose(csr.hessp(theta, v), dense.hessp(theta, v), rtol=1e-12, atol=1e-14)
    assert_allclose(csr.probabilities(theta), dense.probabilities(theta), rtol=1e-13)
    assert_allclose(csr.linear_predictor(theta), dense.linear_predictor(theta), rtol=1e-13)


def test_sparse_csc_and_sparse_array_equal_dense():
    dense, X, y, sw = build(3, None, weighted=True, alpha=ALPHA, seed=6)
    theta = random_theta(dense, seed=7)
    for Xs in (sp.csc_matrix(X), sp.csr_array(X)):
        obj = MultinomialObjective(
            Xs, y, 3, sw, Parameterization(3, None), make_penalty("l2", ALPHA, True)
        )
        assert_allclose(obj.value(theta), dense.value(theta), rtol=1e-13)
        assert_allclose(obj.gradient(theta), dense.gradient(theta), rtol=1e-12, atol=1e-14)
        assert_allclose(obj.hessian(theta), dense.hessian(theta), rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- values
@pytest.mark.parametrize("K", [2, 3, 5])
@pytest.mark.parametrize("reference", [0, 1, None])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_equals_direct_logsumexp_formula(K, reference, fit_intercept, weighted):
    obj, X, y, sw = build(
        K, reference, weighted=weighted, alpha=ALPHA, fit_intercept=fit_intercept, seed=8
    )
    p1 = obj.p1
    # An arbitrary full matrix (not in any canonical form): the objective must see the
    # same probabilities after from_full.
    B = 0.5 * np.random.default_rng(9).standard_normal((p1, K))
    theta = obj.param.from_full(B)
    terms = direct_loglik_terms(X, y, B, fit_intercept)
    S = sw.sum()
    expected_loss = -np.sum(sw * terms) / S
    assert_allclose(obj.loss(theta), expected_loss, rtol=1e-12)
    assert_allclose(obj.loglik(theta), np.sum(sw * terms), rtol=1e-12)
    assert_allclose(obj.loglik(theta), -S * obj.loss(theta), rtol=1e-14)
    _, ridge = full_matrix(B, reference, fit_intercept)
    assert_allclose(obj.value(theta), expected_loss + 0.5 * ALPHA * ridge, rtol=1e-12)
    # Probabilities and linear predictor against the direct formula.
    eta = X @ B[1:] + B[0] if fit_intercept else X @ B
    P = np.exp(eta - logsumexp(eta, axis=1, keepdims=True))
    assert_allclose(obj.probabilities(theta), P, rtol=1e-12, atol=1e-15)
    assert_allclose(
        obj.linear_predictor(theta) - obj.linear_predictor(theta)[:, [0]],
        eta - eta[:, [0]],
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("K", [2, 4])
@pytest.mark.parametrize("reference", [0, None])
@pytest.mark.parametrize("sparse", [False, True])
def test_integer_weights_equal_duplicated_rows(K, reference, sparse):
    X, y, _ = make_data(n=150, p=3, K=K, seed=11)
    w = np.random.default_rng(12).integers(0, 4, size=X.shape[0])
    w[:3] = 0
    Xd, yd = np.repeat(X, w, axis=0), np.repeat(y, w)
    param = Parameterization(K, reference)
    pen = make_penalty("l2", ALPHA, True)

    def wrap(A):
        return sp.csr_matrix(A) if sparse else A

    weighted = MultinomialObjective(wrap(X), y, K, w.astype(float), param, pen)
    dup = MultinomialObjective(wrap(Xd), yd, K, np.ones(yd.size), param, pen)
    theta = random_theta(weighted, seed=13)
    v = np.random.default_rng(14).standard_normal(weighted.n_params)
    assert_allclose(weighted.value(theta), dup.value(theta), rtol=1e-12)
    assert_allclose(weighted.loglik(theta), dup.loglik(theta), rtol=1e-12)
    assert_allclose(weighted.gradient(theta), dup.gradient(theta), rtol=1e-10, atol=1e-13)
    assert_allclose(weighted.hessian(theta), dup.hessian(theta), rtol=1e-10, atol=1e-13)
    assert_allclose(weighted.hessp(theta, v), dup.hessp(theta, v), rtol=1e-10, atol=1e-13)


def test_weights_scale_invariance_of_mean_objective():
    obj, X, y, sw = build(3, 0, weighted=True, alpha=ALPHA, seed=15)
    scaled = MultinomialObjective(X, y, 3, 7.5 * sw, obj.param, obj.penalty)
    theta = random_theta(obj, seed=16)
    assert_allclose(scaled.value(theta), obj.value(theta), rtol=1e-13)
    assert_allclose(scaled.gradient(theta), obj.gradient(theta), rtol=1e-12, atol=1e-15)
    assert_allclose(scaled.loglik(theta), 7.5 * obj.loglik(theta), rtol=1e-13)


@pytest.mark.parametrize("reference", [0, 2, None])
@pytest.mark.parametrize("sparse", [False, True])
def test_fit_intercept_equals_explicit_ones_column(reference, sparse):
    X, y, _ = make_data(n=200, p=3, K=4, seed=17)
    sw = make_weights(200, 18)
    X1 = np.hstack([np.ones((200, 1)), X])
    param = Parameterization(4, reference)
    with_int = MultinomialObjective(
        sp.csr_matrix(X) if sparse else X, y, 4, sw, param, NoPenalty(), fit_intercept=True
    )
    ones_col = MultinomialObjective(
        sp.csr_matrix(X1) if sparse else X1, y, 4, sw, param, NoPenalty(), fit_intercept=False
    )
    assert with_int.n_params == ones_col.n_params == 3 * 4
    theta = random_theta(with_int, seed=19)
    v = np.random.default_rng(20).standard_normal(with_int.n_params)
    assert_allclose(with_int.value(theta), ones_col.value(theta), rtol=1e-13)
    assert_allclose(with_int.gradient(theta), ones_col.gradient(theta), rtol=1e-11, atol=1e-14)
    assert_allclose(with_int.hessian(theta), ones_col.hessian(theta), rtol=1e-11, atol=1e-14)
    assert_allclose(with_int.hessp(theta, v), ones_col.hessp(theta, v), rtol=1e-11, atol=1e-14)


def test_cache_follows_in_place_changes_of_theta():
    obj, X, y, sw = build(3, None, weighted=True, alpha=ALPHA, seed=21)
    fresh = MultinomialObjective(X, y, 3, sw, obj.param, obj.penalty)
    theta = random_theta(obj, seed=22)
    obj.value_and_gradient(theta)
    theta += 0.3  # mutate the very array the cache saw
    f, g = obj.value_and_gradient(theta)
    f0, g0 = fresh.value_and_gradient(theta.copy())
    assert f == f0
    assert_array_equal(g, g0)
    assert_allclose(obj.hessian(theta), fresh.hessian(theta.copy()), rtol=1e-14, atol=1e-16)


def test_probabilities_shape_range_and_sum():
    obj, *_ = build(5, None, seed=23)
    P = obj.probabilities(random_theta(obj, seed=24, scale=2.0))
    assert P.shape == (200, 5)
    assert np.all(P >= 0) and np.all(P <= 1)
    assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-14)


# --------------------------------------------------------------------------- stability
ETA_ROWS = np.array(
    [
        [5000.0, -5000.0, 0.0],
        [1000.0, 1000.5, 999.0],
        [-3000.0, -3001.0, -2999.5],
        [-800.0, 800.0, 745.0],
        [1e-3, -2e-3, 0.0],
    ]
)


def test_log_softmax_matches_high_precision_reference():
    got = log_softmax(ETA_ROWS.copy())
    assert np.all(np.isfinite(got))
    for row, out in zip(ETA_ROWS, got, strict=True):
        assert_allclose(out, decimal_log_softmax(row), rtol=1e-14, atol=1e-14)
    assert_allclose(np.exp(got).sum(axis=1), 1.0, rtol=0, atol=1e-14)


def test_log_softmax_in_place_and_shift_invariance():
    eta = ETA_ROWS.copy()
    expected = log_softmax(ETA_ROWS)
    out = log_softmax(eta, out=eta)
    assert out is eta
    assert_array_equal(eta, expected)
    shifted = log_softmax(ETA_ROWS + np.array([[1e4], [-7.0], [3e3], [0.5], [-1e4]]))
    assert_allclose(shifted, expected, rtol=1e-12, atol=1e-9)
    # Input untouched when out is not given.
    copy = ETA_ROWS.copy()
    log_softmax(copy)
    assert_array_equal(copy, ETA_ROWS)


@pytest.mark.parametrize("reference", [0, None])
@pytest.mark.parametrize("sparse", [False, True])
def test_huge_linear_predictor_is_finite_and_accurate(reference, sparse):
    K, n = 4, 30
    X, y, _ = make_data(n=n, p=2, K=K, seed=25)
    B = 2000.0 * np.random.default_rng(26).standard_normal((3, K))
    eta = X @ B[1:] + B[0]
    assert np.abs(eta).max() > 3000  # really in the thousands
    param = Parameterization(K, reference)
    obj = MultinomialObjective(
        sp.csr_matrix(X) if sparse else X, y, K, np.ones(n), param, make_penalty("l2", ALPHA, True)
    )
    theta = param.from_full(B)
    f, g = obj.value_and_gradient(theta)
    P = obj.probabilities(theta)
    H = obj.hessian(theta)
    assert np.isfinite(f)
    assert np.all(np.isfinite(g))
    assert np.all(np.isfinite(P))
    assert np.all(np.isfinite(H))
    assert np.all(np.isfinite(obj.hessp(theta, np.ones(obj.n_params))))
    assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    # Loss against a 60-digit reference computed row by row.
    ref_terms = [decimal_log_softmax(row)[k] for row, k in zip(eta, y, strict=True)]
    assert_allclose(obj.loss(theta), -np.mean(ref_terms), rtol=1e-12)


# --------------------------------------------------------------------------- curvature
@pytest.mark.parametrize(
    ("K", "reference"), [(2, 0), (2, None), (3, 0), (3, 2), (3, None), (5, 0), (5, 2), (5, None)]
)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_hessian_symmetric_and_positive_definite(K, reference, fit_intercept):
    obj, *_ = build(K, reference, weighted=True, fit_intercept=fit_intercept, n=400, seed=27)
    theta = random_theta(obj, seed=28)
    H = obj.hessian(theta)
    assert_allclose(H, H.T, rtol=0, atol=1e-15 * np.abs(H).max())
    eig = np.linalg.eigvalsh(H)
    # Positive definite (hence PSD), not just up to rounding: well-conditioned data.
    assert eig.min() > 1e-4 * eig.max() > 0


@pytest.mark.parametrize("chunk", [1, 7, 10, 600])
def test_dense_gram_chunking_does_not_change_hessian(monkeypatch, chunk):
    """Rows are processed in blocks of BLOCK_ELEMENTS // width; tiny blocks exercise the loop."""
    obj, X, y, sw = build(3, None, weighted=True, alpha=ALPHA, seed=39)
    theta = random_theta(obj, seed=40)
    expected = obj.hessian(theta)
    monkeypatch.setattr(blocks, "BLOCK_ELEMENTS", chunk)
    monkeypatch.setattr(blocks, "READ_ELEMENTS", chunk)
    monkeypatch.setattr(blocks, "READ_MIN_ROWS", 1)
    monkeypatch.setattr(hessian_kernel, "HESSIAN_MIN_ROWS", 1)
    chunked = MultinomialObjective(X, y, 3, sw, obj.param, obj.penalty)
    assert_allclose(chunked.hessian(theta), expected, rtol=1e-12, atol=1e-15)
    fd = fd_jacobian(chunked.gradient, theta)
    assert_allclose(chunked.hessian(theta), fd, rtol=1e-6, atol=1e-6)


def test_hessian_psd_but_singular_for_duplicate_column():
    X, y, _ = make_data(n=200, p=2, K=3, seed=29)
    Xc = np.hstack([X, X[:, :1]])  # exact collinearity: a null direction
    obj = MultinomialObjective(Xc, y, 3, np.ones(200), Parameterization(3, 0), NoPenalty())
    H = obj.hessian(random_theta(obj, seed=30))
    eig = np.linalg.eigvalsh(H)
    assert eig.min() > -1e-12 * eig.max()
    assert abs(eig.min()) < 1e-12 * eig.max()


@pytest.mark.parametrize("K", [2, 3, 5])
@pytest.mark.parametrize("target", [None, 1, "last"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_hessian_transforms_with_jacobian(K, target, fit_intercept):
    """H_target = J^T H_ref0 J with J = d theta_ref0 / d theta_target (no penalty)."""
    reference = K - 1 if target == "last" else target
    base, X, y, sw = build(K, 0, weighted=True, fit_intercept=fit_intercept, seed=31)
    p1 = base.p1
    other_param = Parameterization(K, reference)
    other = MultinomialObjective(X, y, K, sw, other_param, NoPenalty(), fit_intercept)
    J = other_param.vector_jacobian(Parameterization(K, 0), p1)
    theta_other = random_theta(other, seed=32)
    theta_ref0 = J @ theta_other
    assert_allclose(
        other.probabilities(theta_other), base.probabilities(theta_ref0), rtol=1e-12, atol=1e-15
    )
    assert_allclose(other.loss(theta_other), base.loss(theta_ref0), rtol=1e-13)
    assert_allclose(other.gradient(theta_other), J.T @ base.gradient(theta_ref0), atol=1e-14)
    H0 = base.hessian(theta_ref0)
    assert_allclose(other.hessian(theta_other), J.T @ H0 @ J, rtol=1e-11, atol=1e-14)
    v = np.random.default_rng(33).standard_normal(other.n_params)
    assert_allclose(other.hessp(theta_other, v), J.T @ H0 @ J @ v, rtol=1e-10, atol=1e-13)


def test_loss_hessian_ref0_independent_of_parameterization():
    sym, X, y, sw = build(4, None, weighted=True, seed=34)
    ref0 = MultinomialObjective(X, y, 4, sw, Parameterization(4, 0), NoPenalty())
    theta = random_theta(sym, seed=35)
    theta0 = sym.param.vector_jacobian(ref0.param, sym.p1) @ theta
    assert_allclose(sym.loss_hessian_ref0(theta), ref0.hessian(theta0), rtol=1e-12, atol=1e-15)


def test_backproject_is_chain_rule_of_linear_predictor():
    obj, *_ = build(3, None, weighted=True, seed=36, sparse=True)
    theta = random_theta(obj, seed=37)
    U = np.random.default_rng(38).standard_normal((obj.n_samples, 3))
    # g(theta) = <U, eta(theta)> is linear in theta, so its gradient is exact by FD.
    fd = fd_gradient(lambda t: float(np.sum(U * obj.linear_predictor(t))), theta, h=1e-3)
    assert_allclose(obj.backproject(U), fd, rtol=1e-8, atol=1e-8)


# --------------------------------------------------------------------------- penalties
def test_l2_penalty_value_gradient_hessian_with_intercept_row():
    rng = np.random.default_rng(40)
    Theta = rng.standard_normal((4, 2))
    pen = L2Penalty(0.3, intercept_row=True)
    expected = 0.5 * 0.3 * sum(Theta[i, j] ** 2 for i in range(1, 4) for j in range(2))
    assert_allclose(pen.value(Theta), expected, rtol=1e-14)
    before = Theta.copy()
    g = pen.gradient(Theta)
    assert_array_equal(Theta, before)  # input not modified
    assert_array_equal(g[0], 0.0)
    assert_allclose(g[1:], 0.3 * Theta[1:], rtol=1e-15)
    assert_allclose(
        g,
        fd_jacobian(lambda t: np.array([pen.value(t.reshape(4, 2))]), Theta.ravel()).reshape(4, 2),
        rtol=1e-7,
        atol=1e-9,
    )
    d = pen.hessian_diagonal((4, 2))
    assert_array_equal(d[0], 0.0)
    assert_array_equal(d[1:], 0.3)


def test_l2_penalty_without_intercept_row_penalizes_everything():
    Theta = np.random.default_rng(41).standard_normal((3, 4))
    pen = L2Penalty(2.0, intercept_row=False)
    assert_allclose(pen.value(Theta), np.sum(Theta**2), rtol=1e-14)
    assert_allclose(pen.gradient(Theta), 2.0 * Theta, rtol=1e-15)
    assert_array_equal(pen.hessian_diagonal((3, 4)), np.full((3, 4), 2.0))


def test_make_penalty_and_no_penalty():
    assert isinstance(make_penalty(None, 1.0, True), NoPenalty)
    assert isinstance(make_penalty("none", 1.0, True), NoPenalty)
    pen = make_penalty("l2", 0.7, False)
    assert isinstance(pen, L2Penalty)
    assert pen.alpha == 0.7
    Theta = np.ones((3, 2))
    none = NoPenalty()
    assert none.value(Theta) == 0.0
    assert_array_equal(none.gradient(Theta), 0.0)
    assert_array_equal(none.hessian_diagonal((3, 2)), 0.0)
    with pytest.raises(ValueError, match="penalty"):
        make_penalty("not-a-penalty", 1.0, True)


@pytest.mark.parametrize("reference", [0, 2, None])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_objective_penalty_excludes_intercept(reference, fit_intercept):
    obj, X, y, sw = build(4, reference, weighted=True, alpha=ALPHA, fit_intercept=fit_intercept)
    plain = MultinomialObjective(X, y, 4, sw, obj.param, NoPenalty(), fit_intercept)
    B = np.random.default_rng(42).standard_normal((obj.p1, 4))
    theta = obj.param.from_full(B)
    Bc, ridge = full_matrix(B, reference, fit_intercept)
    # Penalty is alpha/2 ||W||_F^2 of the full matrix in this form, intercepts excluded.
    assert_allclose(obj.value(theta) - plain.value(theta), 0.5 * ALPHA * ridge, rtol=1e-12)
    assert_allclose(obj.full_coefficients(theta), Bc, rtol=1e-12, atol=1e-14)
    dg = (obj.gradient(theta) - plain.gradient(theta)).reshape(3, obj.p1)
    theta_blocks = theta.reshape(3, obj.p1)
    if fit_intercept:
        assert_array_equal(dg[:, 0], 0.0)
        assert_allclose(dg[:, 1:], ALPHA * theta_blocks[:, 1:], rtol=1e-9, atol=1e-14)
    else:
        assert_allclose(dg, ALPHA * theta_blocks, rtol=1e-9, atol=1e-14)
    dH = obj.hessian(theta) - plain.hessian(theta)
    expected = ALPHA * np.ones((3, obj.p1))
    if fit_intercept:
        expected[:, 0] = 0.0
    assert_allclose(dH, np.diag(expected.ravel()), rtol=1e-9, atol=1e-14)
