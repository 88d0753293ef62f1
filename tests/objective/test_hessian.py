"""The dense loss Hessian's kernels (issue-speed6): the transposed wide update
``[Zᵀ; Yᵀ]`` (one ``syrk`` for ``ZᵀZ`` and the block diagonal, or for a large ``m`` a
``syrk`` and a ``gemm``) and the pairwise one (one ``syrk`` per block), each forced on
narrow and wide ``X``, against the Hessian's definition block by block and finite
differences."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from helpers import hessian_by_definition
from mnlogit.objective import MultinomialObjective
from mnlogit.objective import hessian as hessian_module
from mnlogit.objective.penalties import make_penalty
from mnlogit.parameterization import Parameterization


def _force(monkeypatch, kernel):
    if kernel == "pairwise":
        monkeypatch.setattr(hessian_module, "PAIRWISE_MIN_COLUMNS", {1: 0, 2: 0, 3: 0})
    else:
        monkeypatch.setattr(hessian_module, "PAIRWISE_MAX_FREE_CLASSES", 0)
    if kernel == "wide, separate":  # ZᵀZ by its own syrk, the block diagonal by a gemm
        monkeypatch.setattr(hessian_module, "COMBINED_MAX_ENTRIES", 0)


CASES = [
    (kernel, K, p)
    for kernel, classes in (
        ("pairwise", (2, 3, 4)),
        ("wide", (2, 3, 4, 6)),
        ("wide, separate", (2, 4)),
    )
    for K in classes
    for p in (3, 37)  # p1 narrow and wide
]


@pytest.mark.parametrize(("kernel", "K", "p"), CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("intercept", [True, False])
def test_forced_kernel_equals_thehessian_by_definition(monkeypatch, kernel, K, p, dtype, intercept):
    """Weights, column scaling, probabilities given as an array and as a function of row
    ranges (several sub-blocks, a short last one); float32 X in float64 and in float32."""
    rng = np.random.default_rng(10 * K + p)
    n = 1003
    X = rng.normal(size=(n, p)).astype(dtype)
    P = rng.dirichlet(np.ones(K), n)
    P1 = P[:, 1:]
    w = rng.uniform(0.2, 3.0, n) / n
    cf = rng.uniform(0.5, 2.0, p)
    Xs = X.astype(np.float64) * cf
    Y = np.column_stack([np.ones(n), Xs]) if intercept else Xs
    expected = hessian_by_definition(Y, P1, w)
    scale = np.abs(expected).max()
    _force(monkeypatch, kernel)
    monkeypatch.setattr(hessian_module, "block_rows", lambda width, min_rows=1: 128)
    args = dict(intercept=intercept, column_factor=cf)
    got = hessian_module.loss_hessian(X, P1, w, **args)
    assert got.dtype == np.float64
    assert_allclose(got, expected, rtol=1e-12, atol=1e-13 * scale)
    assert np.array_equal(got, got.T)
    by_rows = hessian_module.loss_hessian(X, lambda a, b: P1[a:b], w, free_classes=K - 1, **args)
    assert np.array_equal(by_rows, got)
    fast = hessian_module.loss_hessian(X, P1, w, float32=True, **args)
    assert fast.dtype == np.float32
    assert_allclose(fast, expected, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("K", [2, 4, 6])
@pytest.mark.parametrize("p", [3, 37])
def test_wide_kernel_in_free_coordinates(K, p):
    """With ``T`` (the transformed ``Z``, the block diagonal spread by ``T``)."""
    rng = np.random.default_rng(50 + K + p)
    n = 701
    X = rng.normal(size=(n, p))
    P1 = rng.dirichlet(np.ones(K), n)[:, 1:]
    w = rng.uniform(0.2, 3.0, n) / n
    T = rng.normal(size=(K - 1, K - 1))
    expected = hessian_by_definition(np.column_stack([np.ones(n), X]), P1, w, T)
    got = hessian_module.loss_hessian(X, P1, w, intercept=True, T=T)
    assert_allclose(got, expected, rtol=1e-11, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize(("K", "p"), [(2, 3), (3, 25), (4, 6), (4, 45)])
def test_objective_hessian_against_finite_differences(K, p):
    """The kernel each shape takes by default (K = 2 narrow: pairwise now; K = 4 narrow:
    the transposed wide update), through the objective, against finite differences of
    its gradient; weights, feature scales and a non-first reference class (float32 X
    is covered above: its objective's default Hessian is the float32 preconditioner)."""
    rng = np.random.default_rng(90 + K + p)
    n = 400
    X = rng.normal(size=(n, p))
    y = rng.integers(0, K, n)
    obj = MultinomialObjective(
        X,
        y,
        K,
        rng.uniform(0.5, 2.0, n),
        Parameterization(K, K - 1),
        make_penalty(None, 0.0, True),
        feature_scale=rng.uniform(0.5, 2.0, p),
    )
    theta = rng.normal(scale=0.3, size=obj.n_params)
    H = obj.hessian(theta)
    assert H.dtype == np.float64
    eps = 1e-6
    fd = np.empty_like(H)
    for j in range(obj.n_params):
        e = np.zeros(obj.n_params)
        e[j] = eps
        fd[:, j] = (obj.value_and_gradient(theta + e)[1] - obj.value_and_gradient(theta - e)[1]) / (
            2 * eps
        )
    assert_allclose(H, fd, rtol=1e-6, atol=1e-8 * max(1.0, np.abs(fd).max()))
