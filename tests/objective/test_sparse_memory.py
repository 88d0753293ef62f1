"""The memory cuts of issue-sparse6 change no number.

- the sparse weighted column squares (the block-diagonal preconditioner's diagonal) summed
  in ranges of rows: the same numbers as the whole-matrix product ``squares.T @ h``;
- the objective's point cache copies ``theta`` into one reused buffer: it still notices a
  caller that changes its array in place, and a failed evaluation leaves no stale point;
- Newton-CG keeps references to its iterates instead of copies: the caller's ``x0`` is
  never changed or returned, and the monitor's parameter change is the one a copy gives.

Oracles: the whole-matrix scipy product, a fresh objective at the same point, central
differences of the gradient, and the monitor with copies.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

import mnlogit.objective.float32_curvature as float32_curvature
import mnlogit.objective.kernels as kernels
import mnlogit.objective.loss as loss_kernels
from mnlogit.objective import MultinomialObjective
from mnlogit.objective.penalties import make_penalty
from mnlogit.parameterization import Parameterization
from mnlogit.solvers import newton_cg
from mnlogit.solvers.monitor import ConvergenceMonitor, SolverOptions


def sparse_x(n=300, p=25, seed=0, dtype=np.float64, fmt="csr"):
    """About 15% nonzero, some empty rows, values of mixed scale."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=0.15, random_state=rng, format="csr", dtype=np.float64)
    X.data = rng.standard_normal(X.nnz) * rng.choice([0.01, 1.0, 30.0], X.nnz)
    X.data[X.indptr[5] : X.indptr[6]] = 0.0  # an empty row, once the zeros are dropped
    X.eliminate_zeros()
    return X.asformat(fmt).astype(dtype)


def whole_matrix_squares(X, h, column_factor):
    """The former route: one ``nnz``-sized array of squares, one ``squares.T @ h``."""
    values = np.asarray(X.data, dtype=np.float64).copy()
    if column_factor is not None:
        values *= column_factor[X.indices]
    np.square(values, out=values)
    squares = sp.csr_matrix((values, X.indices, X.indptr), shape=X.shape)
    return np.asarray(squares.T @ h).ravel()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("chunk", [1, 7, 64, 2**18])
def test_csr_column_squares_in_row_ranges_are_the_whole_matrix_numbers(
    monkeypatch, dtype, scaled, chunk
):
    monkeypatch.setattr(kernels, "_SQUARES_CHUNK", chunk)
    X = sparse_x(dtype=dtype)
    rng = np.random.default_rng(1)
    h = rng.uniform(0.0, 2.0, X.shape[0])
    factor = rng.uniform(0.1, 10.0, X.shape[1]) if scaled else None
    got = kernels.weighted_column_squares(X, h, intercept=True, column_factor=factor)
    # the same products summed in the same order: equal, not merely close
    assert_array_equal(got[1:], whole_matrix_squares(X, h, factor))
    assert got[0] == h.sum()
    # and the definition, on the dense matrix
    dense = X.toarray().astype(np.float64) * (1.0 if factor is None else factor)
    assert_allclose(got[1:], (dense**2).T @ h, rtol=1e-12)


def test_csc_column_squares_agree_with_csr():
    X = sparse_x()
    h = np.random.default_rng(2).uniform(0.0, 2.0, X.shape[0])
    factor = np.linspace(0.5, 3.0, X.shape[1])
    csr = kernels.weighted_column_squares(X, h, intercept=False, column_factor=factor)
    csc = kernels.weighted_column_squares(X.tocsc(), h, intercept=False, column_factor=factor)
    assert_allclose(csc, csr, rtol=1e-13)


def objective(X, weighted=False, alpha=1e-3, K=4, seed=3):
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    y = rng.integers(0, K, n)
    y[:K] = np.arange(K)
    sw = rng.uniform(0.2, 3.0, n) if weighted else np.ones(n)
    return MultinomialObjective(
        X, y, K, sw, Parameterization(K, 0), make_penalty("l2", alpha, True), True
    )


@pytest.mark.parametrize("kind", ["csr", "csr-float32", "dense"])
@pytest.mark.parametrize("weighted", [False, True])
def test_point_cache_follows_a_theta_changed_in_place(monkeypatch, kind, weighted):
    """A caller that changes its array in place gets the new point's numbers, not the
    cached ones (the cache compares against its own copy)."""
    monkeypatch.setattr(float32_curvature, "MIN_WORK", 0)  # float32 products here too
    X = sparse_x(dtype=np.float32 if kind == "csr-float32" else np.float64)
    if kind == "dense":
        X = X.toarray()
    obj = objective(X, weighted)
    rng = np.random.default_rng(4)
    theta = 0.2 * rng.standard_normal(obj.n_params)
    v = rng.standard_normal(obj.n_params)
    first = obj.value_and_gradient(theta)
    Hv, Cv = obj.hessp(theta, v), obj.curvature_product(theta, v)
    theta += 0.3 * rng.standard_normal(obj.n_params)  # in place: the same array object
    fresh = objective(X, weighted)
    f, g = obj.value_and_gradient(theta)
    f_ref, g_ref = fresh.value_and_gradient(theta)
    assert f == f_ref and f != first[0]
    assert_array_equal(g, g_ref)
    assert_array_equal(obj.hessp(theta, v), fresh.hessp(theta, v))
    assert not np.allclose(obj.hessp(theta, v), Hv)
    assert_array_equal(obj.curvature_product(theta, v), fresh.curvature_product(theta, v))
    assert not np.allclose(obj.curvature_product(theta, v), Cv)
    # and the product is the derivative of the gradient at the new point
    obj.set_exact(True)  # float32 X: the float64 products (set_exact empties the cache)
    h = 1e-6
    fd = (obj.gradient(theta + h * v) - obj.gradient(theta - h * v)) / (2 * h)
    assert_allclose(obj.hessp(theta, v), fd, rtol=1e-5, atol=1e-8)


def test_point_cache_keeps_no_stale_point_after_a_failed_evaluation(monkeypatch):
    """The cache's theta buffer is overwritten by the next point: if that evaluation
    fails, the old point's loss must not be reported for the new theta."""
    X = sparse_x()
    obj = objective(X)
    rng = np.random.default_rng(5)
    theta1 = 0.2 * rng.standard_normal(obj.n_params)
    theta2 = theta1 + 0.5
    obj.value(theta1)
    real = loss_kernels.softmax_loss

    def failing(*args, **kwargs):
        raise FloatingPointError("injected")

    monkeypatch.setattr(loss_kernels, "softmax_loss", failing)
    with pytest.raises(FloatingPointError):
        obj.value(theta2)
    monkeypatch.setattr(loss_kernels, "softmax_loss", real)
    fresh = objective(X)
    assert obj.value(theta2) == fresh.value(theta2)
    assert obj.value(theta1) == fresh.value(theta1)


def test_point_cache_does_not_share_the_callers_array():
    X = sparse_x()
    obj = objective(X)
    theta = np.zeros(obj.n_params)
    f0 = obj.value(theta)
    keep = theta.copy()
    obj.value(theta + 1.0)  # a new point is copied into the cache's buffer ...
    assert_array_equal(theta, keep)  # ... never into the caller's array
    assert obj.value(theta) == f0


def test_monitor_with_references_records_what_copies_record():
    rng = np.random.default_rng(6)
    xs = [rng.standard_normal(50) for _ in range(4)]
    opts = SolverOptions(tol=1e-30, criterion="parameter")
    copies = ConvergenceMonitor("t", opts)
    references = ConvergenceMonitor("t", opts, copy_iterates=False)
    for i, x in enumerate(xs):
        g = x - 1.0
        copies.record(x, float(i), g)
        references.record(x, float(i), g)
    assert copies.history[1:] == references.history[1:]  # record 0 holds nan (nan != nan)
    assert copies.history[0].gradient == references.history[0].gradient
    assert references.last_x is xs[-1] and copies.last_x is not xs[-1]
    assert_array_equal(copies.last_x, xs[-1])
    # the parameter change of the last record, from the definition
    dpar = np.max(np.abs(xs[3] - xs[2])) / (1 + np.max(np.abs(xs[3])))
    assert references.history[-1].parameter == dpar


def test_newton_cg_neither_changes_nor_returns_the_callers_x0():
    X = sparse_x()
    obj = objective(X, weighted=True)
    x0 = np.zeros(obj.n_params)
    res = newton_cg.solve(obj, x0, SolverOptions(tol=1e-10, max_iter=50))
    assert res.converged
    assert_array_equal(x0, 0.0)
    assert res.x is not x0
    assert np.max(np.abs(obj.gradient(res.x))) <= 1e-10
    # started at its own optimum: converged at once, and still a copy of x0
    start = res.x.copy()
    again = newton_cg.solve(obj, start, SolverOptions(tol=1e-10, max_iter=50))
    assert again.n_iter == 0 and again.x is not start
    assert_array_equal(again.x, start)
    again.x[:] = 0.0
    assert_array_equal(start, res.x)


@pytest.mark.parametrize("weighted", [False, True])
def test_large_sparse_gradient_sums_are_not_kept_and_give_the_same_gradient(monkeypatch, weighted):
    """Above KEEP_SUMS_MAX the gradient sums are made per gradient and dropped: the
    gradient, the residual sums and a repeated gradient are the numbers of the kept route."""
    import mnlogit.objective.multinomial as multinomial

    X = sparse_x()
    kept = objective(X, weighted)
    monkeypatch.setattr(multinomial, "KEEP_SUMS_MAX", 0)
    dropped = objective(X, weighted)
    theta = 0.2 * np.random.default_rng(8).standard_normal(kept.n_params)
    f1, g1 = kept.value_and_gradient(theta)
    f2, g2 = dropped.value_and_gradient(theta)
    assert f1 == f2
    assert_array_equal(g1, g2)
    assert_array_equal(dropped.value_and_gradient(theta)[1], g1)  # made again, same numbers
    assert_array_equal(dropped.residual_sums(theta), kept.residual_sums(theta))
    # the gradient is the derivative of the value
    v = np.random.default_rng(9).standard_normal(kept.n_params)
    h = 1e-6
    fd = (dropped.value(theta + h * v) - dropped.value(theta - h * v)) / (2 * h)
    assert_allclose(g2 @ v, fd, rtol=1e-6)
