"""The preparation's column read of a large dense X by the compiled one-pass kernels.

``column_maxabs_and_gram(gram="sample")`` reads a C-contiguous float64 ``X`` of at least
``COMPILED_READ_MIN_ELEMENTS`` numbers by :mod:`mnlogit.identification.column_kernels`.
References: NumPy's ``abs(X).max(axis=0)``, sums, per-class sums and the sampled rows'
``SᵀS`` computed directly; non-finite values against the NumPy read."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import mnlogit.identification.scales as scales
import mnlogit.objective.threads as threads
from mnlogit import MultinomialLogit
from mnlogit.identification import column_maxabs_and_gram
from mnlogit.identification.scales import ROW_SAMPLE_STEP

pytest.importorskip("numba")


def _data(n: int, p: int, K: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * np.geomspace(1e-3, 1e3, p) + rng.normal(size=p)
    return X, rng.integers(0, K, n).astype(np.intp)


@pytest.fixture
def compiled_calls(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every read of more than 100 numbers is compiled; records whether each one was."""
    monkeypatch.setattr(scales, "COMPILED_READ_MIN_ELEMENTS", 100)
    calls: list[bool] = []
    inner = scales._compiled_sample_read

    def spy(*args: object) -> object:
        out = inner(*args)  # type: ignore[arg-type]
        calls.append(out is not None)
        return out

    monkeypatch.setattr(scales, "_compiled_sample_read", spy)
    return calls


@pytest.mark.parametrize("threads_allowed", [1, 3])
@pytest.mark.parametrize(("n", "p", "K"), [(4999, 7, 3), (3001, 1, 2), (2048, 33, 5)])
def test_compiled_read_equals_numpy(compiled_calls, monkeypatch, threads_allowed, n, p, K) -> None:
    monkeypatch.setattr(threads, "row_threads", lambda: threads_allowed)
    X, codes = _data(n, p, K, seed=n + p)
    weight = 1.0 / n
    got = column_maxabs_and_gram(X, codes, K, weight, gram="sample")
    assert compiled_calls == [True]
    assert_array_equal(got.maxabs, np.abs(X).max(axis=0))
    scale = np.abs(X).max(axis=0) * n
    assert_allclose(got.colsum, X.sum(axis=0), rtol=0, atol=1e-13 * scale.max())
    ref_rows = np.stack([weight * X[codes == k].sum(axis=0) for k in range(K)])
    assert got.class_rows is not None
    assert_allclose(got.class_rows, ref_rows, rtol=0, atol=1e-13 * weight * scale.max())
    S = X[::ROW_SAMPLE_STEP]
    assert got.gram is None and got.sample is not None
    assert got.sample.step == ROW_SAMPLE_STEP and got.sample.rows == S.shape[0]
    assert_allclose(got.sample.gram, S.T @ S, rtol=1e-12, atol=1e-12 * np.abs(S.T @ S).max())
    assert_allclose(got.sample.colsum, S.sum(axis=0), rtol=0, atol=1e-12 * np.abs(S).sum())


def test_compiled_read_without_codes(compiled_calls) -> None:
    X, _ = _data(3000, 9, 2, seed=4)
    got = column_maxabs_and_gram(X, gram="sample")
    assert compiled_calls == [True]
    assert got.class_rows is None
    assert_array_equal(got.maxabs, np.abs(X).max(axis=0))
    assert_allclose(got.colsum, X.sum(axis=0), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_read_again_by_numpy(compiled_calls, bad) -> None:
    X, codes = _data(2000, 6, 3, seed=8)
    X[17, 2] = bad
    X[1500, 4] = -bad if not np.isnan(bad) else bad
    got = column_maxabs_and_gram(X, codes, 3, 1.0, gram="sample")
    assert compiled_calls == [False]  # the compiled read gave up: a sum is not finite
    assert_array_equal(got.maxabs, np.abs(X).max(axis=0))  # NaN / inf exactly where numpy has it


def test_overflowing_sums_read_again_by_numpy(compiled_calls) -> None:
    X, codes = _data(500, 3, 2, seed=9)
    X[:, 1] = 1e308
    got = column_maxabs_and_gram(X, codes, 2, 1.0, gram="sample")
    assert compiled_calls == [False]
    assert_array_equal(got.maxabs, np.abs(X).max(axis=0))


def test_fortran_ordered_x_is_read_by_numpy(compiled_calls) -> None:
    X, codes = _data(2000, 5, 3, seed=10)
    got = column_maxabs_and_gram(np.asfortranarray(X), codes, 3, 1.0, gram="sample")
    assert compiled_calls == []
    assert_array_equal(got.maxabs, np.abs(X).max(axis=0))


def test_default_fit_with_the_compiled_read_equals_the_numpy_read(monkeypatch) -> None:
    # 30,000 x 20 = 600,000 numbers: the default threshold reads it by NumPy
    X, _ = _data(30000, 20, 4, seed=11)
    rng = np.random.default_rng(12)
    B = rng.normal(scale=0.3, size=(20, 4)) / np.geomspace(1e-3, 1e3, 20)[:, None]
    eta = (X - X.mean(axis=0)) @ B
    y = (eta + rng.gumbel(size=eta.shape)).argmax(axis=1)
    reference = MultinomialLogit(tol=1e-10).fit(X, y)
    monkeypatch.setattr(scales, "COMPILED_READ_MIN_ELEMENTS", 1000)
    compiled = MultinomialLogit(tol=1e-10).fit(X, y)
    assert compiled.collinearity_.method == reference.collinearity_.method == "sample"
    assert_allclose(compiled.coef_, reference.coef_, rtol=1e-8, atol=1e-10)
    cov = reference.cov_params().to_numpy()
    # both fits stop within tol of the optimum, by different roundings of the class sums
    assert_allclose(compiled.cov_params().to_numpy(), cov, rtol=1e-6, atol=1e-8 * np.abs(cov).max())
