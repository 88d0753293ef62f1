"""The one read of dense X for the column scales and the collinearity Gram matrix
(column_maxabs_and_gram) decides as the separate reads do."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import mnlogit.preparation as preparation
from mnlogit import MultinomialLogit
from mnlogit.identification import column_maxabs, column_maxabs_and_gram
from mnlogit.identification.collinearity import detect_collinearity


def _design(scales: np.ndarray, collinear: bool, n: int = 3000) -> np.ndarray:
    rng = np.random.default_rng(len(scales))
    X = rng.normal(size=(n, scales.size)) * scales
    if collinear:
        X[:, 3] = 2.0 * X[:, 0] - 0.5 * X[:, 1]  # aliased
        X[:, 5] = 0.0  # an all-zero column
    return X


@pytest.mark.parametrize("scale_range", [(0.5, 2.0), (1e-6, 1e6)])
def test_sums_equal_separate_reads(scale_range) -> None:
    scales = np.geomspace(*scale_range, 9)
    X = _design(scales, collinear=True)
    sums = column_maxabs_and_gram(X)
    assert np.array_equal(sums.maxabs, column_maxabs(X))
    assert_allclose(sums.gram, X.T @ X, rtol=1e-12, atol=1e-12 * np.abs(X.T @ X).max())
    assert_allclose(sums.colsum, X.sum(axis=0), rtol=1e-10, atol=1e-10 * np.abs(X).max())


@pytest.mark.parametrize("scale_range", [(0.5, 2.0), (1e-6, 1e6)])
@pytest.mark.parametrize("collinear", [False, True])
@pytest.mark.parametrize("intercept", [False, True])
def test_collinearity_from_one_read_equals_separate(scale_range, collinear, intercept) -> None:
    scales = np.geomspace(*scale_range, 9)
    X = _design(scales, collinear)
    sums = column_maxabs_and_gram(X)
    args = dict(fit_intercept=intercept, col_maxabs=sums.maxabs, method="gram")
    ref = detect_collinearity(X, **args)
    got = detect_collinearity(X, column_sums=sums, **args)
    assert got.kept.tolist() == ref.kept.tolist()
    assert got.aliased_index.tolist() == ref.aliased_index.tolist()
    assert got.collinear == collinear
    assert_allclose(got.coefficients, ref.coefficients, rtol=1e-8, atol=1e-10)
    if collinear:  # the alias found is the one built in
        j = list(got.terms).index("x3")
        row = list(got.aliased_index).index(j)
        coef = dict(zip(got.terms, got.coefficients[row], strict=True))
        assert coef["x0"] == pytest.approx(2.0, rel=1e-8)
        assert coef["x1"] == pytest.approx(-0.5, rel=1e-8)


def test_fit_drops_the_same_columns(monkeypatch) -> None:
    """The default fit (one read) drops what the check on a copy with unequal weights
    (separate reads) drops, and reaches the same coefficients."""
    X = _design(np.geomspace(0.1, 10.0, 9), collinear=True, n=2000)
    y = np.random.default_rng(1).integers(0, 3, 2000)
    reads: list[int] = []

    def counted(Xv, *args, **kwargs):
        reads.append(Xv.shape[0])
        return column_maxabs_and_gram(Xv, *args, **kwargs)

    monkeypatch.setattr(preparation, "column_maxabs_and_gram", counted)
    with pytest.warns(Warning, match="aliased"):
        one = MultinomialLogit(cov_type=None).fit(X, y)
    assert reads == [2000]
    w = np.ones(2000)
    w[0] = 1.0 + 1e-12  # unequal weights: the separate reads
    with pytest.warns(Warning, match="aliased"):
        two = MultinomialLogit(cov_type=None).fit(X, y, sample_weight=w)
    assert reads == [2000]  # the weighted fit took the separate reads
    assert one.fitted_.kept_columns.tolist() == two.fitted_.kept_columns.tolist()
    assert_allclose(one.coef_, two.coef_, rtol=1e-6, atol=1e-8)
