"""The memory-lean paths of the default fit (issue 18) against the plain formulas.

The covariance's Hessian from row-block probabilities, the in-place inverse, the map to
``vec(B)`` without Kronecker matrices, and the separation certificate from probabilities
read by rows and the objective's kept residual: each equals what the ``n x K`` arrays and
Kronecker products give.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.identification.existence import FitProbabilities, not_separated
from mnlogit.inference.covariance import covariance_from_parts, inverse_information
from mnlogit.objective import MultinomialObjective
from mnlogit.objective.hessian import loss_hessian
from mnlogit.objective.penalties import NoPenalty
from mnlogit.parameterization import Parameterization


def _objective(X, y, K, reference=0, weights=None, scale=None):
    n = X.shape[0]
    sw = np.ones(n) if weights is None else weights
    param = Parameterization(K, reference)
    return MultinomialObjective(X, y, K, sw, param, NoPenalty(), True, feature_scale=scale)


def _spd(m: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(m, 2 * m))
    return A @ A.T / (2 * m) + 0.1 * np.eye(m)


@pytest.mark.parametrize("overwrite", [False, True])
def test_inverse_information_equals_the_inverse(overwrite) -> None:
    info = _spd(300, 1)
    kept = info.copy()
    inv = inverse_information(info, overwrite=overwrite)
    assert inv is not None
    assert_allclose(inv, np.linalg.inv(kept), rtol=1e-10, atol=1e-12)
    assert np.array_equal(inv, inv.T)
    if not overwrite:
        assert np.array_equal(info, kept)


def test_inverse_information_refuses_singular_and_nonfinite() -> None:
    info = _spd(50, 2)
    info[:, 3] = info[:, 4]
    info[3, :] = info[4, :]
    assert inverse_information(info) is None
    bad = _spd(20, 3)
    bad[0, 0] = np.nan
    assert inverse_information(bad) is None


@pytest.mark.parametrize("reference", [0, 2, None])
def test_covariance_map_equals_the_kronecker_formula(reference) -> None:
    K, p1 = 4, 7
    m = (K - 1) * p1
    C = np.linalg.inv(_spd(m, 4))
    A = Parameterization(K, reference).A
    d = np.random.default_rng(5).uniform(0.01, 100.0, p1)
    cov, status = covariance_from_parts(C, C, "nonrobust", A, d)
    L = np.kron(A, np.diag(d))
    expected = L @ C @ L.T
    assert_allclose(cov, 0.5 * (expected + expected.T), rtol=1e-12, atol=1e-14)
    assert np.array_equal(cov, cov.T)
    assert "nonrobust" in status


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reference", [0, 2])
def test_hessian_from_row_block_probabilities_equals_the_buffered_one(dtype, reference) -> None:
    X, y, _ = make_data(n=3000, p=6, K=4, seed=61)
    w = np.random.default_rng(62).uniform(0.2, 3.0, 3000)
    scale = np.random.default_rng(63).uniform(0.5, 4.0, 6)
    obj = _objective(X.astype(dtype), y, 4, reference, w, scale)
    theta = np.random.default_rng(64).normal(scale=0.3, size=obj.n_params)
    lean = obj.hessian(theta)  # no buffer: each sub-block's probabilities on the fly
    assert not obj.keeps_probabilities
    P = obj.probabilities(theta)  # makes the buffer; the Hessian then reads it
    assert obj.keeps_probabilities
    buffered = obj.hessian(theta)
    assert_allclose(lean, buffered, rtol=1e-12, atol=1e-15)
    # and the kernel given the array equals the kernel given a function of row ranges
    kernel = loss_hessian(
        obj.X, P[:, 1:], obj.normalized_weights, intercept=True, column_factor=1.0 / scale
    )
    rows = loss_hessian(
        obj.X, lambda a, b: P[a:b, 1:], obj.normalized_weights, intercept=True,
        column_factor=1.0 / scale, free_classes=3,
    )  # fmt: skip
    assert_allclose(rows, kernel, rtol=1e-14, atol=1e-16)


def test_probabilities_by_rows_and_residual_equal_the_full_arrays() -> None:
    X, y, _ = make_data(n=2500, p=5, K=3, seed=65)
    w = np.random.default_rng(66).uniform(0.2, 3.0, 2500)
    scale = np.random.default_rng(67).uniform(0.5, 4.0, 5)
    obj = _objective(X, y, 3, 1, w, scale)
    theta = np.random.default_rng(68).normal(scale=0.3, size=obj.n_params)
    rows = np.sort(np.random.default_rng(69).choice(2500, 400, replace=False))
    by_rows = obj.probabilities_of_rows(theta, rows)
    every = obj.probabilities_of_rows(theta, None)
    minimum = obj.row_minimum_probability(theta)
    residual = obj.residual_sums(theta)
    assert not obj.keeps_probabilities
    P = np.array(obj.probabilities(theta))
    assert_allclose(by_rows, P[rows], rtol=1e-13)
    assert_allclose(every, P, rtol=1e-13)
    assert_allclose(minimum, P.min(axis=1), rtol=1e-13)
    # minus the gradient of the mean loss in B, on the scaled features
    ws = w / w.sum()
    onehot = np.eye(3)[y]
    Y = np.column_stack([np.ones(2500), X / scale])
    assert_allclose(residual, Y.T @ ((onehot - P) * ws[:, None]), rtol=1e-10, atol=1e-15)


def test_certificate_from_rows_decides_as_from_the_array() -> None:
    X, y, _ = make_data(n=20_000, p=4, K=3, seed=70)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MultinomialLogit(cov_type=None, tol=1e-10).fit(X, y)
    obj = _objective(X, y, 3)
    B = np.vstack([model.intercept_, model.coef_.T])
    theta = obj.free_from_original(B)
    P = np.array(obj.probabilities(theta))
    fresh = _objective(X, y, 3)
    fit = FitProbabilities(
        rows=lambda r: fresh.probabilities_of_rows(theta, r),
        residual=fresh.residual_sums(theta),
        row_minimum=lambda: fresh.row_minimum_probability(theta),
    )
    sample = np.arange(0, 20_000, 4)
    w = np.ones(20_000)
    for samples in ((None,), (sample,), (sample, None)):
        assert not_separated(X, y, w, P, True, samples=samples)
        assert not_separated(X, y, w, fit, True, samples=samples)
    assert not fresh.keeps_probabilities
    # a direction of separation: an indicator whose rows are all of class 2
    X2 = np.column_stack([X, (np.arange(20_000) % 5000 == 0).astype(float)])
    y2 = y.copy()
    y2[X2[:, -1] == 1.0] = 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MultinomialLogit(cov_type=None, max_iter=100).fit(X2, y2)
    obj2 = _objective(X2, y2, 3)
    theta2 = obj2.free_from_original(np.vstack([model.intercept_, model.coef_.T]))
    fit2 = FitProbabilities(
        rows=lambda r: obj2.probabilities_of_rows(theta2, r),
        residual=obj2.residual_sums(theta2),
        row_minimum=lambda: obj2.row_minimum_probability(theta2),
    )
    assert not not_separated(X2, y2, w, fit2, True)
    assert not not_separated(X2, y2, w, np.array(obj2.probabilities(theta2)), True)
