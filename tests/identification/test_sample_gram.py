"""The collinearity check's certificate from a row sample (issue-speed11).

The default fit's column read sums the Gram matrix of every 16th row only
(``column_maxabs_and_gram(gram="sample")``) and proves the design full rank from it
(``certify_full_rank``); anything it cannot prove is checked on all rows as before.
References: the sums against numpy on the sampled rows, the certified bounds against
the full data's relative residuals from an independent Householder QR
(``detect_collinearity(method="qr")``), and the fits against the full-Gram path."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import mnlogit.preparation as preparation
from mnlogit import MultinomialLogit
from mnlogit.identification import column_maxabs_and_gram
from mnlogit.identification.collinearity import (
    SAMPLE_CERTIFIED,
    certify_full_rank,
    detect_collinearity,
)
from mnlogit.identification.scales import ROW_SAMPLE_STEP


def _design(n: int, p: int, seed: int, rho: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, p))
    common = rng.normal(size=(n, 1))
    return (np.sqrt(1.0 - rho) * Z + np.sqrt(rho) * common) * np.geomspace(0.01, 100.0, p)


def _names(p: int) -> list[str]:
    return [f"x{j}" for j in range(p)]


@pytest.mark.parametrize("n", [5000, 5001, 4999])
def test_sample_sums_equal_numpy_on_the_sampled_rows(n) -> None:
    X = _design(n, 7, seed=n)
    y = np.random.default_rng(0).integers(0, 3, n)
    full = column_maxabs_and_gram(X, y, 3, 1.0 / n)
    got = column_maxabs_and_gram(X, y, 3, 1.0 / n, gram="sample")
    assert got.gram is None and got.sample is not None
    S = X[::ROW_SAMPLE_STEP]
    assert got.sample.step == ROW_SAMPLE_STEP and got.sample.rows == S.shape[0]
    assert_allclose(got.sample.gram, S.T @ S, rtol=1e-12, atol=1e-12 * np.abs(S.T @ S).max())
    assert_allclose(got.sample.colsum, S.sum(axis=0), rtol=1e-10, atol=1e-10 * np.abs(S).max())
    # the rest of the read is the full one's, bit for bit
    assert_array_equal(got.maxabs, full.maxabs)
    assert_array_equal(got.colsum, full.colsum)
    assert_array_equal(got.class_rows, full.class_rows)


@pytest.mark.parametrize("rho", [0.0, 0.9, 0.99])
@pytest.mark.parametrize("intercept", [False, True])
def test_certified_bounds_are_below_the_full_residuals(rho, intercept) -> None:
    X = _design(20000, 12, seed=3, rho=rho)
    sums = column_maxabs_and_gram(X, gram="sample")
    got = certify_full_rank(sums.sample, X.shape[0], sums.maxabs, intercept, _names(12))
    ref = detect_collinearity(X, fit_intercept=intercept, method="qr")
    assert got is not None and got.method == "sample"
    assert not ref.collinear and not got.collinear
    assert got.kept.tolist() == ref.kept.tolist() and got.aliased_index.size == 0
    assert got.terms == ref.terms
    assert np.all(got.relative_residuals >= SAMPLE_CERTIFIED)
    # lower bounds of the full data's residuals (QR of all rows), not far below them
    assert np.all(got.relative_residuals <= ref.relative_residuals * (1 + 1e-9))
    assert np.all(got.relative_residuals >= 1e-3 * ref.relative_residuals)


def _aliased_design(kind: str) -> np.ndarray:
    X = _design(8000, 6, seed=5)
    if kind == "aliased":
        X[:, 3] = 2.0 * X[:, 0] - 0.5 * X[:, 1]
    elif kind == "near":  # relative residual about 1e-6: kept by R's rule (tol 1e-7)
        X[:, 3] = X[:, 0] + 1e-6 * np.abs(X[:, 0]).max() * np.random.default_rng(1).normal(
            size=8000
        )
    elif kind == "zero":
        X[:, 2] = 0.0
    elif kind == "rare":  # nonzero only on rows the sample skips
        X[:, 4] = 0.0
        X[1::ROW_SAMPLE_STEP, 4] = 1.0
    return X


@pytest.mark.parametrize("kind", ["aliased", "near", "zero", "rare"])
def test_no_certificate_where_it_cannot_prove(kind) -> None:
    X = _aliased_design(kind)
    sums = column_maxabs_and_gram(X, gram="sample")
    assert certify_full_rank(sums.sample, X.shape[0], sums.maxabs, True, _names(6)) is None


@pytest.mark.parametrize("kind", ["full-rank", "aliased", "near", "zero", "rare"])
def test_fit_decides_and_fits_as_with_the_full_gram(kind, monkeypatch) -> None:
    """The fit (sample Gram, certificate or the check on all rows) keeps and drops the
    columns the full Gram matrix's check does, and reaches the same coefficients."""
    X = _design(8000, 6, seed=5) if kind == "full-rank" else _aliased_design(kind)
    y = np.random.default_rng(2).integers(0, 3, X.shape[0])
    reads: list[str] = []
    read = preparation.column_maxabs_and_gram

    def recorded(*args, **kwargs):
        reads.append(kwargs.get("gram", "full"))
        return read(*args, **kwargs)

    monkeypatch.setattr(preparation, "column_maxabs_and_gram", recorded)
    with pytest.warns(Warning) if kind in ("aliased", "zero") else _no_warning():
        got = MultinomialLogit(cov_type=None).fit(X, y)
    monkeypatch.setattr(preparation, "_SAMPLE_GRAM_MIN_ROWS", 10**9)
    with pytest.warns(Warning) if kind in ("aliased", "zero") else _no_warning():
        ref = MultinomialLogit(cov_type=None).fit(X, y)
    assert reads == ["sample", "full"]
    assert got.collinearity_.method == ("sample" if kind == "full-rank" else "gram")
    assert ref.collinearity_.method == "gram"
    assert got.collinearity_.kept.tolist() == ref.collinearity_.kept.tolist()
    assert got.collinearity_.aliased == ref.collinearity_.aliased
    assert_allclose(got.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    if kind == "full-rank":  # the same fit: only the collinearity check's sums differ
        assert_array_equal(got.coef_, ref.coef_)


class _no_warning:
    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("error", UserWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)
