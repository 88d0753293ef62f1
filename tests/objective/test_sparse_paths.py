"""The sparse fast paths: float32 Hessian-vector products for Newton-CG directions.

Oracles: the float64 ``hessp`` (itself checked against finite differences in
test_objective.py), central differences of the exact gradient, and dense Newton fits of
the same data.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

import mnlogit.objective.float32_curvature as float32_curvature
from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.objective import MultinomialObjective
from mnlogit.objective.float32_curvature import float32_sparse
from mnlogit.objective.penalties import make_penalty
from mnlogit.parameterization import Parameterization


@pytest.fixture(autouse=True)
def float32_products_at_any_size(monkeypatch):
    """These small problems would otherwise stay below the float32 threshold."""
    monkeypatch.setattr(float32_curvature, "MIN_WORK", 0)


CASES = {
    "reference": dict(reference=0),
    "symmetric": dict(reference=None),
    "weighted": dict(reference=0, weighted=True),
    "no-intercept-l2": dict(reference=None, fit_intercept=False, alpha=1e-2),
    "scaled-csc": dict(reference=1, scaled=True, fmt="csc"),
    "float32-X": dict(reference=None, dtype=np.float32, alpha=1e-3),
}


def sparse_data(n=400, p=30, K=4, seed=0, fmt="csr", dtype=np.float64, scaled=False):
    """A sparse design (about 20% nonzero) with labels from a multinomial model."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=0.2, random_state=rng, format="csr", dtype=np.float64)
    X.data = rng.standard_normal(X.nnz)
    scale = None
    if scaled:
        scale = np.geomspace(1e-5, 1e5, p)
        X = sp.csr_matrix(X @ sp.diags(scale))
    eta = X @ (rng.standard_normal((p, K)) / (1.0 if scale is None else scale[:, None]))
    y = np.argmax(eta + rng.gumbel(size=(n, K)), axis=1)
    return X.asformat(fmt).astype(dtype), y, scale


def build(case: dict, **data_kw) -> tuple[MultinomialObjective, np.ndarray]:
    X, y, scale = sparse_data(
        fmt=case.get("fmt", "csr"), dtype=case.get("dtype", np.float64), scaled="scaled" in case
    )
    n, K = X.shape[0], 4
    rng = np.random.default_rng(7)
    sw = rng.uniform(0.2, 3.0, n) if case.get("weighted") else np.ones(n)
    fit_intercept = case.get("fit_intercept", True)
    alpha = case.get("alpha", 0.0)
    obj = MultinomialObjective(
        X,
        y,
        K,
        sw,
        Parameterization(K, case["reference"]),
        make_penalty("l2" if alpha else None, alpha, fit_intercept),
        fit_intercept,
        feature_scale=scale,
    )
    theta = 0.3 * rng.standard_normal(obj.n_params)
    return obj, theta


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_curvature_product_is_the_hessian_product_to_float32_accuracy(name):
    obj, theta = build(CASES[name])
    obj.set_exact(True)  # float32 X: the oracles in float64 (products of converted rows)
    rng = np.random.default_rng(3)
    for _ in range(3):
        v = rng.standard_normal(obj.n_params)
        exact = obj.hessp(theta, v)
        fast = obj.curvature_product(theta, v)
        assert fast.dtype == np.float64 and fast.shape == v.shape
        assert np.linalg.norm(fast - exact) <= 1e-5 * np.linalg.norm(exact)
        # and against central differences of the (float64) gradient
        h = 1e-5
        fd = (obj.gradient(theta + h * v) - obj.gradient(theta - h * v)) / (2 * h)
        assert np.linalg.norm(fast - fd) <= 1e-5 * np.linalg.norm(fd)


def test_curvature_product_follows_theta():
    """The float32 probabilities are refreshed when the point moves."""
    obj, theta = build(CASES["symmetric"])
    v = np.random.default_rng(4).standard_normal(obj.n_params)
    obj.curvature_product(theta, v)
    other = theta + 0.5
    assert_allclose(obj.curvature_product(other, v), obj.hessp(other, v), rtol=1e-5, atol=1e-7)
    assert_allclose(obj.curvature_product(theta, v), obj.hessp(theta, v), rtol=1e-5, atol=1e-7)


def test_curvature_product_copies_only_the_values_of_sparse_x():
    X, y, _ = sparse_data()
    data_before = X.data.copy()
    obj = MultinomialObjective(
        X, y, 4, np.ones(X.shape[0]), Parameterization(4, 0), make_penalty(None, 0.0, True)
    )
    obj.curvature_product(np.zeros(obj.n_params), np.ones(obj.n_params))
    assert obj.curvature_dtype == np.float32
    x32 = float32_sparse(X)  # the copy the objective multiplies
    assert x32.dtype == np.float32
    assert np.shares_memory(x32.indices, X.indices) and np.shares_memory(x32.indptr, X.indptr)
    assert_allclose(X.data, data_before, rtol=0, atol=0)
    # float32 X is used as it is
    X32 = X.astype(np.float32)
    assert float32_sparse(X32) is X32
    obj32 = MultinomialObjective(
        X32, y, 4, np.ones(X.shape[0]), Parameterization(4, 0), make_penalty(None, 0.0, True)
    )
    obj32.curvature_product(np.zeros(obj32.n_params), np.ones(obj32.n_params))
    assert obj32.curvature_dtype == np.float32


def test_curvature_product_is_hessp_for_dense_x():
    X, y, _ = make_data(n=200, p=4, K=3, seed=2)
    obj = MultinomialObjective(
        X, y, 3, np.ones(200), Parameterization(3, None), make_penalty("l2", 0.1, True)
    )
    theta = np.linspace(-0.5, 0.5, obj.n_params)
    v = np.cos(np.arange(obj.n_params))
    assert_allclose(obj.curvature_product(theta, v), obj.hessp(theta, v), rtol=0, atol=0)


@pytest.mark.parametrize(
    "kw",
    [dict(), dict(penalty="l2", alpha=1e-3, reference=None), dict(fit_intercept=False)],
    ids=["unpenalized", "l2-symmetric", "no-intercept"],
)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_newton_cg_reaches_the_dense_newton_optimum(kw, fmt):
    """Float32 directions do not cost accuracy: the fit equals the dense Newton fit."""
    X, y, _ = sparse_data(n=600, p=12, K=3, seed=5, fmt=fmt)
    dense = MultinomialLogit(solver="newton", tol=1e-12, **kw).fit(X.toarray(), y)
    fast = MultinomialLogit(solver="newton-cg", tol=1e-10, **kw).fit(X, y)
    assert fast.converged_
    assert_allclose(fast.coef_, dense.coef_, rtol=0, atol=1e-7)
    assert_allclose(fast.intercept_, dense.intercept_, rtol=0, atol=1e-7)
    assert fast.solver_ == "newton-cg"


def _objective(X, y, K=4, scale=None):
    return MultinomialObjective(
        X,
        y,
        K,
        np.ones(X.shape[0]),
        Parameterization(K, 0),
        make_penalty(None, 0.0, True),
        feature_scale=scale,
    )


def test_curvature_product_falls_back_to_float64_outside_float32_range():
    X, y, _ = sparse_data()
    X = sp.csr_matrix(X @ sp.diags(np.r_[1e-200, np.ones(X.shape[1] - 1)]))
    obj = _objective(X, y)
    theta = np.full(obj.n_params, 0.1)
    v = np.sin(np.arange(obj.n_params))
    assert float32_sparse(X) is None
    assert obj.curvature_dtype == np.float64
    assert_allclose(obj.curvature_product(theta, v), obj.hessp(theta, v), rtol=0, atol=0)
    # with the objective's column scaling the scaled values fit, and the fast path runs
    scale = np.r_[1e-200, np.ones(X.shape[1] - 1)]
    scaled = _objective(X, y, scale=scale)
    assert float32_sparse(X, 1.0 / scale) is not None
    assert scaled.curvature_dtype == np.float32
    exact = scaled.hessp(theta, v)
    assert np.linalg.norm(scaled.curvature_product(theta, v) - exact) <= 1e-5 * np.linalg.norm(
        exact
    )


@pytest.mark.parametrize("magnitude", [1e-36, 1e36, 1e300])
def test_curvature_product_is_linear_in_v_at_any_scale(magnitude):
    obj, theta = build(CASES["reference"])
    v = np.cos(np.arange(obj.n_params))
    with np.errstate(all="raise"):
        big = obj.curvature_product(theta, magnitude * v)
    assert_allclose(big / magnitude, obj.hessp(theta, v), rtol=1e-5, atol=1e-6)


def test_small_sparse_problems_keep_float64_products(monkeypatch):
    monkeypatch.setattr(float32_curvature, "MIN_WORK", 2**22)
    X, y, _ = sparse_data()
    obj = _objective(X, y)
    theta = np.full(obj.n_params, 0.1)
    v = np.sin(np.arange(obj.n_params))
    assert_allclose(obj.curvature_product(theta, v), obj.hessp(theta, v), rtol=0, atol=0)
    assert obj.curvature_dtype == np.float64  # no float32 copy made


@pytest.mark.parametrize("fmt", ["coo", "lil", "bsr"])
def test_curvature_product_on_other_sparse_formats_is_hessp(fmt):
    X, y, _ = sparse_data()
    obj = _objective(X.asformat(fmt), y)
    theta = np.full(obj.n_params, 0.1)
    v = np.sin(np.arange(obj.n_params))
    assert_allclose(obj.curvature_product(theta, v), obj.hessp(theta, v), rtol=0, atol=0)


def test_objective_refuses_codes_outside_the_classes():
    X, y, _ = sparse_data()
    with pytest.raises(ValueError, match=r"class codes 0 \.\. 3"):
        _objective(X, np.where(y == 0, 4, y))
    with pytest.raises(ValueError, match="class codes"):
        _objective(X, np.where(y == 0, -1, y))
