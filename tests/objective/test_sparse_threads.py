"""Sparse Hessian-vector products over row ranges on threads, and the memory-lean paths.

Oracles: ``X[a:b]`` (scipy's own row slice) for the zero-copy views; the float64
``hessp`` and central differences of the float64 gradient for the threaded float32
products; the one-thread result for the threaded one (they differ only by the order in
which float32 partial sums are added); the whole-array formulas for the chunked
conversions; the explicit Hessian where the block-diagonal model is exact; and dense
Newton fits for the threaded Newton-CG fit.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

import mnlogit.objective.curvature as curvature_module
import mnlogit.objective.float32_curvature as float32_curvature
import mnlogit.objective.multinomial as multinomial_module
import mnlogit.objective.sparse_threads as sparse_threads
from mnlogit import MultinomialLogit
from mnlogit.objective import MultinomialObjective
from mnlogit.objective.curvature import block_diagonal_inverse
from mnlogit.objective.float32_curvature import (
    add_diagonal_product,
    float32_curvature_sums,
    float32_sparse,
)
from mnlogit.objective.penalties import make_penalty
from mnlogit.objective.sparse_threads import csr_row_view, map_csr_row_ranges
from mnlogit.parameterization import Parameterization


def sparse_x(n=300, p=25, seed=0, dtype=np.float64, fmt="csr"):
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=0.2, random_state=rng, format="csr", dtype=np.float64)
    X.data = rng.standard_normal(X.nnz)
    return X.astype(dtype).asformat(fmt)


@pytest.fixture
def split_everything(monkeypatch):
    """Small problems split over 3 threads, with float32 products at any size."""
    monkeypatch.setattr(sparse_threads, "MIN_RANGE_WORK", 0)
    monkeypatch.setattr(float32_curvature, "MIN_WORK", 0)
    monkeypatch.setattr(multinomial_module, "row_threads", lambda: 3)


# ----------------------------------------------------------------- row views and ranges
@pytest.mark.parametrize(("start", "stop"), [(0, 300), (0, 1), (10, 11), (40, 260), (299, 300)])
def test_csr_row_view_is_the_row_slice_without_copying(start, stop):
    X = sparse_x()
    view = csr_row_view(X, start, stop)
    expected = X[start:stop]
    assert view.shape == expected.shape
    assert (abs(view - expected)).max() == 0 if view.nnz else expected.nnz == 0
    assert np.shares_memory(view.data, X.data) or view.nnz == 0
    assert np.shares_memory(view.indices, X.indices) or view.nnz == 0
    V = np.random.default_rng(1).standard_normal((25, 3))
    assert np.array_equal(view @ V, expected @ V)
    assert np.array_equal(view.T @ (view @ V), expected.T @ (expected @ V))


def test_map_csr_row_ranges_covers_the_rows_in_order(monkeypatch):
    X = sparse_x(n=100)
    monkeypatch.setattr(sparse_threads, "MIN_RANGE_WORK", 0)
    callers: list[int] = []

    def work(a: int, b: int) -> tuple[int, int]:
        callers.append(threading.get_ident())
        return a, b

    ranges = map_csr_row_ranges(work, X, 3, 4)
    assert ranges == [(0, 33), (33, 66), (66, 100)]
    assert threading.get_ident() in callers  # the first range runs in the caller
    # too little work per range: one range, in this thread
    monkeypatch.setattr(sparse_threads, "MIN_RANGE_WORK", X.nnz * 4)
    assert map_csr_row_ranges(work, X, 3, 4) == [(0, 100)]
    assert map_csr_row_ranges(work, X, 1, 4) == [(0, 100)]


# ------------------------------------------------------------- threaded float32 products
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_threaded_float32_sums_equal_the_one_thread_and_float64_sums(
    monkeypatch, intercept, weighted
):
    monkeypatch.setattr(sparse_threads, "MIN_RANGE_WORK", 0)
    rng = np.random.default_rng(2)
    X = sparse_x(n=301, p=25, seed=3)
    n, K = X.shape[0], 5
    P = rng.dirichlet(np.ones(K), size=n)
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    V = rng.standard_normal((25 + int(intercept), K))
    # the float64 formula, written out
    D = X @ V[int(intercept) :] + (V[0] if intercept else 0.0)
    R = P * (D - np.sum(P * D, axis=1, keepdims=True))
    if w is not None:
        R *= w[:, None]
    expected = np.asarray(X.T @ R)
    if intercept:
        expected = np.vstack([R.sum(axis=0), expected])

    def run(threads: int) -> np.ndarray:
        return float32_curvature_sums(
            float32_sparse(X),
            P.astype(np.float32),
            None if w is None else w.astype(np.float32),
            V.astype(np.float32),
            intercept=intercept,
            threads=threads,
        )

    one, three = run(1), run(3)
    assert one.dtype == three.dtype == np.float32
    # float64 probabilities are rounded to float32 a row block at a time: the same numbers
    monkeypatch.setattr(float32_curvature, "_ELEMENTWISE_BLOCK", 7 * K)
    assert np.array_equal(
        float32_curvature_sums(
            float32_sparse(X),
            P,
            None if w is None else w.astype(np.float32),
            V.astype(np.float32),
            intercept=intercept,
        ),
        one,
    )
    assert np.linalg.norm(one - expected) <= 2e-6 * np.linalg.norm(expected)
    assert_allclose(three, one, rtol=1e-5, atol=1e-6 * float(np.abs(one).max()))


CASES = {
    "reference": dict(reference=0),
    "symmetric-weighted": dict(reference=None, weighted=True),
    "float32-X-l2": dict(reference=1, dtype=np.float32, alpha=1e-3),
    "no-intercept": dict(reference=0, fit_intercept=False),
}


def build(case):
    X = sparse_x(n=400, p=30, seed=5, dtype=case.get("dtype", np.float64))
    rng = np.random.default_rng(6)
    K = 4
    y = rng.integers(0, K, size=X.shape[0])
    sw = rng.uniform(0.2, 3.0, X.shape[0]) if case.get("weighted") else np.ones(X.shape[0])
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
    )
    return obj, 0.3 * rng.standard_normal(obj.n_params)


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_threaded_curvature_product_is_the_hessian_product(split_everything, monkeypatch, name):
    obj, theta = build(CASES[name])
    obj.set_exact(True)  # float32 X: the oracles in float64
    rng = np.random.default_rng(7)
    for _ in range(2):
        v = rng.standard_normal(obj.n_params)
        exact = obj.hessp(theta, v)
        threaded = obj.curvature_product(theta, v)
        assert np.linalg.norm(threaded - exact) <= 1e-5 * np.linalg.norm(exact)
        h = 1e-5
        fd = (obj.gradient(theta + h * v) - obj.gradient(theta - h * v)) / (2 * h)
        assert np.linalg.norm(threaded - fd) <= 1e-5 * np.linalg.norm(fd)
        monkeypatch.setattr(multinomial_module, "row_threads", lambda: 1)
        single = obj.curvature_product(theta, v)
        monkeypatch.setattr(multinomial_module, "row_threads", lambda: 3)
        assert np.linalg.norm(threaded - single) <= 1e-6 * np.linalg.norm(single)


@pytest.mark.parametrize("kw", [dict(), dict(penalty="l2", alpha=1e-3, reference=None)])
def test_threaded_sparse_newton_cg_reaches_the_dense_newton_optimum(split_everything, kw):
    X = sparse_x(n=600, p=12, seed=8)
    rng = np.random.default_rng(9)
    y = np.argmax(X @ rng.standard_normal((12, 3)) + rng.gumbel(size=(600, 3)), axis=1)
    dense = MultinomialLogit(solver="newton", tol=1e-12, **kw).fit(X.toarray(), y)
    fast = MultinomialLogit(solver="newton-cg", tol=1e-10, **kw).fit(X, y)
    assert fast.converged_ and fast.solver_ == "newton-cg"
    assert_allclose(fast.coef_, dense.coef_, rtol=0, atol=1e-7)
    assert_allclose(fast.intercept_, dense.intercept_, rtol=0, atol=1e-7)


# ------------------------------------------------------------------ chunked conversions
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_float32_copy_in_chunks_equals_the_whole_array_conversion(monkeypatch, fmt, dtype):
    monkeypatch.setattr(float32_curvature, "_CHUNK", 7)
    X = sparse_x(fmt=fmt, dtype=dtype)
    factor = np.geomspace(1e-3, 1e3, X.shape[1])
    columns = X.indices if fmt == "csr" else np.repeat(np.arange(X.shape[1]), np.diff(X.indptr))
    got = float32_sparse(X, factor)
    expected = (X.data.astype(np.float64) * factor[columns]).astype(np.float32)
    assert got.dtype == np.float32 and got.format == fmt
    assert np.array_equal(got.data, expected)
    assert np.shares_memory(got.indices, X.indices)


def test_float32_copy_in_chunks_refuses_a_value_out_of_range_in_the_last_chunk(monkeypatch):
    monkeypatch.setattr(float32_curvature, "_CHUNK", 7)
    X = sparse_x()
    X.data[-1] = 1e-35
    assert float32_sparse(X) is None
    X.data[-1] = np.nan
    assert float32_sparse(X) is None
    X.data[-1] = 1.0
    assert float32_sparse(X) is not None


def test_add_diagonal_product_a_class_at_a_time():
    """Per-class diagonal rows, and one row shared by every class: ``out + D * v``."""
    rng = np.random.default_rng(10)
    k1, p1 = 4, 23
    out, v = rng.standard_normal((2, k1 * p1))
    rows = rng.standard_normal((k1, p1))
    expected = out + rows.reshape(-1) * v
    add_diagonal_product(out, rows, v)
    assert np.array_equal(out, expected)
    shared = rng.standard_normal((1, p1))
    expected = out + np.tile(shared[0], k1) * v
    add_diagonal_product(out, shared, v)
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("reference", [0, None])
def test_block_model_applied_in_column_blocks_inverts_the_hessian(monkeypatch, reference):
    """Orthogonal columns, no intercept, zero slopes: the model is the Hessian exactly."""
    monkeypatch.setattr(curvature_module, "_APPLY_BLOCK", 8)  # 2 or 3 columns a block
    n, p, K = 600, 7, 4
    rng = np.random.default_rng(11)
    cols = rng.integers(0, p, size=n)
    X = sp.csr_matrix((rng.uniform(0.5, 2.0, n), (np.arange(n), cols)), shape=(n, p))
    y = rng.integers(0, K, size=n)
    obj = MultinomialObjective(
        X,
        y,
        K,
        rng.uniform(0.2, 3.0, n),
        Parameterization(K, reference),
        make_penalty("l2", 1e-3, False),
        False,
    )
    theta = np.zeros(obj.n_params)
    H = obj.hessian(theta)
    inverse = block_diagonal_inverse(obj, theta)
    for _ in range(3):
        v = rng.standard_normal(obj.n_params)
        first = inverse(H @ v)
        assert_allclose(first, v, rtol=1e-9, atol=1e-9)
        kept = first.copy()
        inverse(v)  # the scratch block is reused: earlier results must not change
        assert np.array_equal(first, kept)
