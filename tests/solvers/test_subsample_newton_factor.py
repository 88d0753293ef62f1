"""subsample-newton's fixed costs (issue-fixed16): the Cholesky preconditioner by LAPACK
directly equals scipy's cho_factor / cho_solve (the same factor and solutions, bit for
bit) and refuses the Hessians cho_factor's path refused (not positive definite, pivot ratio
below 1e-7); a subsample missing a class (found by counting) gives no warm start."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from mnlogit.solvers.subsample_newton import _cholesky_inverse


def _spd(m: int, seed: int, dtype: type) -> np.ndarray:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((3 * m, m))
    return (A.T @ A / (3 * m) + 0.1 * np.eye(m)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m", [1, 7, 84])
def test_equals_scipy_cho_solve(dtype, m) -> None:
    H = _spd(m, m, dtype)
    factor = scipy.linalg.cho_factor(H.copy().T, lower=False, check_finite=False, overwrite_a=True)
    inverse = _cholesky_inverse(np.array(H).T)
    assert inverse is not None
    rng = np.random.default_rng(1)
    for _ in range(3):
        g = rng.standard_normal(m)
        expected = scipy.linalg.cho_solve(factor, g.astype(dtype), check_finite=False)
        got = inverse(g)
        assert got.dtype == np.float64
        assert np.array_equal(got, np.asarray(expected, dtype=np.float64))


def test_factors_in_place() -> None:
    H = _spd(10, 3, np.float64)
    work = np.array(H).T  # F-ordered
    assert _cholesky_inverse(work) is not None
    assert np.array_equal(np.triu(work), scipy.linalg.cholesky(H, lower=False))


def test_refuses_what_cho_factor_refused() -> None:
    H = _spd(6, 4, np.float64)
    indefinite = H - 2.0 * np.eye(6) * np.abs(H).max()
    assert _cholesky_inverse(np.array(indefinite).T) is None
    nearly_singular = np.diag([1.0, 1.0, 1e-16, 1.0])  # pivot ratio 1e-8 < 1e-7
    assert _cholesky_inverse(np.array(nearly_singular).T) is None
    with_nan = np.array(H)
    with_nan[0, 0] = np.nan
    assert _cholesky_inverse(with_nan.T) is None


@pytest.mark.parametrize("missing", [False, True])
def test_a_subsample_missing_a_class_gives_no_warm_start(missing) -> None:
    from mnlogit.objective import MultinomialObjective
    from mnlogit.objective.penalties import make_penalty
    from mnlogit.parameterization import Parameterization
    from mnlogit.solvers.monitor import SolverOptions
    from mnlogit.solvers.subsample_newton import _warm_start

    rng = np.random.default_rng(7)
    n, K = 4_000, 3
    X = rng.normal(size=(n, 2))
    y = rng.integers(0, K, n)
    if missing:  # class 2 only on rows the stride-4 subsample skips
        y[y == 2] = 1
        y[1::4] = 2
    objective = MultinomialObjective(
        X, y, K, np.ones(n), Parameterization(K, 0), make_penalty(None, 0.0, True)
    )
    x0 = np.zeros(objective.n_params)
    x, sub, _ = _warm_start(objective, x0, SolverOptions(tol=1e-6), rows=1000)
    assert (sub is None) == missing
    assert np.array_equal(x, x0) == missing
