"""The preparation's one read of dense X (issue 18, speed5): column extremes over folded
rows, the Gram matrix by syrk, each class's column sums for the objective, and the
finiteness check taken from the column extremes -- each against the separate reads it
replaces (plain numpy, ``kernels.class_sums``, ``check_feature_values``)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from mnlogit import MultinomialLogit
from mnlogit.exceptions import InvalidInputError
from mnlogit.identification import column_maxabs, column_maxabs_and_gram
from mnlogit.identification.validation import check_feature_values
from mnlogit.objective import kernels
from mnlogit.objective.multinomial import MultinomialObjective
from mnlogit.objective.penalties import make_penalty
from mnlogit.parameterization import Parameterization


@pytest.mark.parametrize("n", [1, 31, 32, 33, 1000, 5000])
@pytest.mark.parametrize("order", ["C", "F"])
def test_folded_extremes_equal_numpy(n: int, order: str) -> None:
    rng = np.random.default_rng(n)
    X = np.asarray(rng.standard_normal((n, 7)) * np.geomspace(1e-3, 1e3, 7), order=order)
    X[n // 2, 3] = -40.0 * 1e3  # the largest magnitude negative, inside a fold or the rest
    expected = np.abs(X).max(axis=0)
    assert_array_equal(column_maxabs(X), expected)
    assert_array_equal(column_maxabs_and_gram(np.ascontiguousarray(X)).maxabs, expected)


@pytest.mark.parametrize("row", [0, 100, 4095, 4099])  # folded rows, and the remainder
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_folded_extremes_propagate_non_finite(row: int, bad: float) -> None:
    X = np.random.default_rng(0).standard_normal((4100, 6))
    X[row, 4] = bad
    for got in (column_maxabs(X), column_maxabs_and_gram(X).maxabs):
        assert np.isfinite(got[[0, 1, 2, 3, 5]]).all()
        assert np.isnan(got[4]) if np.isnan(bad) else got[4] == np.inf


def test_gram_and_sums_equal_separate_products() -> None:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20_000, 9))
    sums = column_maxabs_and_gram(X)
    assert_allclose(sums.gram, X.T @ X, rtol=1e-12)
    assert_array_equal(sums.gram, sums.gram.T)
    assert sums.class_rows is None


@pytest.mark.parametrize(("n", "p", "K"), [(20_000, 12, 4), (3000, 3, 9), (777, 50, 3)])
@pytest.mark.parametrize("intercept", [True, False])
def test_class_rows_give_the_objectives_class_sums_exactly(n, p, K, intercept) -> None:
    """The same products on the same row blocks: bit for bit kernels.class_sums."""
    rng = np.random.default_rng(n)
    X = rng.standard_normal((n, p))
    y = rng.integers(0, K, n)
    sw = np.full(n, 2.5)
    ws = sw / float(sw.sum())
    sums = column_maxabs_and_gram(X, y, K, float(sw[0] / float(sw.sum())))
    assert sums.class_rows is not None and sums.class_rows.shape == (K, p)
    expected = kernels.class_sums(X, y, ws, K, intercept=intercept)
    got = kernels.class_sums_from_rows(sums.class_rows, y, ws, intercept=intercept)
    assert_array_equal(got, expected)
    # and against plain numpy
    onehot = np.eye(K)[y] * ws[:, None]
    assert_allclose(sums.class_rows, onehot.T @ X, rtol=1e-12, atol=1e-15)


def test_objective_from_class_rows_equals_its_own_read() -> None:
    rng = np.random.default_rng(5)
    n, p, K = 4000, 6, 4
    X = rng.standard_normal((n, p))
    y = rng.integers(0, K, n)
    sw = np.ones(n)
    scale = np.geomspace(0.5, 2.0, p)
    rows = column_maxabs_and_gram(X, y, K, 1.0 / n).class_rows
    args = (X, y, K, sw, Parameterization(K, 0), make_penalty(None, 0.0, True), True)
    own = MultinomialObjective(*args, feature_scale=scale)
    given = MultinomialObjective(*args, feature_scale=scale, class_rows=rows)
    theta = rng.standard_normal(own.n_params) * 0.1
    f0, g0 = own.value_and_gradient(theta)
    f1, g1 = given.value_and_gradient(theta)
    assert f0 == f1
    assert_array_equal(g0, g1)


def test_fit_equals_fit_by_separate_reads() -> None:
    """The default fit (one read: class sums from the preparation) against a fit whose
    weights differ in the 13th digit (separate reads, the objective's own class sums)."""
    rng = np.random.default_rng(11)
    n = 3000
    X = rng.standard_normal((n, 5))
    y = rng.integers(0, 3, n)
    one = MultinomialLogit().fit(X, y)
    w = np.ones(n)
    w[0] = 1.0 + 1e-13
    two = MultinomialLogit().fit(X, y, sample_weight=w)
    assert_allclose(one.coef_, two.coef_, rtol=1e-9, atol=1e-11)
    se1 = np.sqrt(np.diag(one.cov_params().to_numpy()))
    se2 = np.sqrt(np.diag(two.cov_params().to_numpy()))
    assert_allclose(se1, se2, rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("weighted", [False, True])
def test_deferred_finite_check_names_row_and_column(dtype, bad, weighted) -> None:
    """The error names the row and column as the check before scikit-learn's did."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((500, 4)).astype(dtype)
    y = rng.integers(0, 3, 500)
    X[123, 2] = bad
    with pytest.raises(InvalidInputError) as direct:
        check_feature_values(X)
    w = rng.uniform(0.5, 2.0, 500) if weighted else None  # separate reads
    with pytest.raises(InvalidInputError) as fitted:
        MultinomialLogit().fit(X, y, sample_weight=w)
    assert str(fitted.value) == str(direct.value)
    assert "'x2'" in str(fitted.value) and "row 123" in str(fitted.value)


def test_labels_still_checked() -> None:
    """Integer labels skip scikit-learn's target check; continuous ones still meet it."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((200, 3))
    with pytest.raises(ValueError, match="continuous"):
        MultinomialLogit().fit(X, rng.standard_normal(200))
    y = rng.integers(0, 3, 200)
    ints = MultinomialLogit().fit(X, y)
    floats = MultinomialLogit().fit(X, y.astype(np.float64))
    assert_array_equal(ints.coef_, floats.coef_)


@pytest.mark.parametrize("K", [3, 40])
@pytest.mark.parametrize("with_b", [True, False])
def test_softmax_probabilities_are_the_losss(K: int, with_b: bool) -> None:
    """The Hessian's probability rows: bit for bit those of softmax_loss."""
    from mnlogit.objective.loss import softmax_loss

    rng = np.random.default_rng(K)
    X = rng.standard_normal((700, 6))
    W = rng.standard_normal((6, K))
    b = rng.standard_normal(K) if with_b else None
    y = rng.integers(0, K, 700)
    _, expected = softmax_loss(X, y, None, W, b)
    got = kernels.softmax_probabilities(X, W, b)
    assert_array_equal(got, expected)
    assert_allclose(got.sum(axis=1), 1.0, rtol=1e-13)


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 2**20 + 7, 2_000_000])
@pytest.mark.parametrize("row_bytes", [0.3, 8.0, 80.0, 4e5, 2.0**25])
def test_fingerprint_rows_without_unique(n: int, row_bytes: float) -> None:
    """The sampled rows are what np.unique of the spaced indices gave (same digests)."""
    from mnlogit.fingerprint import FULL_HASH_BYTES, sampled_rows

    got = sampled_rows(n, row_bytes)
    if n * row_bytes <= FULL_HASH_BYTES:
        assert got is None
        return
    assert got is not None
    k = max(2, int(FULL_HASH_BYTES // max(row_bytes, 1.0)))
    expected = np.unique((np.arange(k, dtype=np.int64) * (n - 1)) // (k - 1))
    assert_array_equal(got, expected)
    assert got[0] == 0 and got[-1] == n - 1
