"""Tests of mnlogit.identification.collinearity: R's limited-pivoting alias rule on [1, X]."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from helpers import make_data
from mnlogit.exceptions import InvalidInputError
from mnlogit.identification import CollinearityResult, detect_collinearity

METHODS = ["qr", "gram"]


def _design(X: np.ndarray, fit_intercept: bool = True) -> np.ndarray:
    return np.column_stack([np.ones(len(X)), X]) if fit_intercept else X


def _check_combinations(res: CollinearityResult, X: np.ndarray, rtol: float = 1e-6) -> None:
    """Every aliased column is reproduced by its coefficients on earlier kept columns."""
    D = _design(X, res.fit_intercept)
    for a, j in enumerate(res.aliased_index):
        coef = res.coefficients[a]
        assert np.all(coef[j:] == 0.0)
        assert np.all(coef[res.aliased_index] == 0.0)
        scale = max(np.linalg.norm(D[:, j]), 1e-300)
        assert np.linalg.norm(D @ coef - D[:, j]) <= rtol * scale


@pytest.fixture
def X5() -> np.ndarray:
    X, _, _ = make_data(n=200, p=5, K=3, seed=3)
    return X


@pytest.mark.parametrize("method", METHODS)
def test_full_rank_random_data(X5: np.ndarray, method: str) -> None:
    res = detect_collinearity(X5, method=method)
    assert not res.collinear
    assert res.rank == 6
    assert res.aliased == ()
    np.testing.assert_array_equal(res.kept, np.arange(6))
    assert res.terms == ("Intercept", "x0", "x1", "x2", "x3", "x4")
    assert res.relative_residuals.min() > 0.1
    assert "full column rank" in res.message


@pytest.mark.parametrize("method", METHODS)
def test_duplicate_column_later_one_aliased(X5: np.ndarray, method: str) -> None:
    X = np.column_stack([X5, X5[:, 1]])
    res = detect_collinearity(X, method=method)
    assert res.aliased == ("x5",)
    np.testing.assert_array_equal(res.aliased_features, [5])
    np.testing.assert_array_equal(res.kept_features, [0, 1, 2, 3, 4])
    assert res.combination("x5") == pytest.approx({"x1": 1.0})
    _check_combinations(res, X)
    # R keeps the earlier column: swapping the duplicate to the front aliases the other.
    res2 = detect_collinearity(np.column_stack([X5[:, 1], X5]), method=method)
    assert res2.aliased == ("x2",)


@pytest.mark.parametrize("method", METHODS)
def test_linear_combination_with_intercept(X5: np.ndarray, method: str) -> None:
    combo = 5.0 + 2.0 * X5[:, 0] - 3.0 * X5[:, 2]
    X = np.column_stack([X5[:, :3], combo, X5[:, 3:]])
    names = ["a", "b", "c", "combo", "d", "e"]
    res = detect_collinearity(X, feature_names=names, method=method)
    assert res.aliased == ("combo",)
    assert res.rank == 6
    got = res.combination("combo", min_share=1e-9)
    assert got.keys() == {"Intercept", "a", "c"}
    assert got["Intercept"] == pytest.approx(5.0, rel=1e-9)
    assert got["a"] == pytest.approx(2.0, rel=1e-9)
    assert got["c"] == pytest.approx(-3.0, rel=1e-9)
    assert "'combo' = 5*Intercept + 2*a - 3*c" in res.message
    _check_combinations(res, X)


@pytest.mark.parametrize("method", METHODS)
def test_constant_and_zero_columns(X5: np.ndarray, method: str) -> None:
    X = np.column_stack([X5[:, :2], np.full(200, 7.5), np.zeros(200)])
    res = detect_collinearity(X, feature_names=["u", "v", "const", "nothing"], method=method)
    assert res.aliased == ("const", "nothing")
    assert res.combination("const") == pytest.approx({"Intercept": 7.5})
    assert "'const' is constant (7.5 on every row)" in res.message
    assert "'nothing' is zero on every row" in res.message
    # Without an intercept a constant column is a legitimate column; zero still aliased.
    res0 = detect_collinearity(X, fit_intercept=False, method=method)
    assert res0.aliased == ("x3",)
    assert res0.terms[0] == "x0"


@pytest.mark.parametrize("method", METHODS)
def test_near_collinear_detected_but_moderate_not(method: str) -> None:
    rng = np.random.default_rng(11)
    x1, x2, e = rng.standard_normal((3, 300))
    tiny = np.column_stack([x1, x2, x1 + 1e-10 * e])
    res = detect_collinearity(tiny, method=method)
    assert res.aliased == ("x2",)
    assert 1e-12 < res.relative_residuals[3] < 1e-9
    assert res.combination("x2", min_share=1e-6) == pytest.approx({"x0": 1.0}, rel=1e-6)
    # A relative residual of 1e-4 is well above R's tolerance: kept.
    moderate = np.column_stack([x1, x2, x1 + 1e-4 * e])
    assert not detect_collinearity(moderate, method=method).collinear
    # ... unless the tolerance is raised above it.
    assert detect_collinearity(moderate, tol=1e-3, method=method).aliased == ("x2",)


@pytest.mark.parametrize("method", METHODS)
def test_wild_scales_not_flagged(X5: np.ndarray, method: str) -> None:
    scales = np.array([1e-150, 1e150, 1.0, 1e-100, 1e100])
    res = detect_collinearity(X5 * scales, method=method)
    assert not res.collinear, res.message
    # A duplicate at a different scale is still a duplicate, with the scale as coefficient.
    X = np.column_stack([X5[:, 0] * 1e-150, X5[:, 1], X5[:, 0] * 1e150])
    res = detect_collinearity(X, method=method)
    assert res.aliased == ("x2",)
    assert res.combination("x2")["x0"] == pytest.approx(1e300, rel=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_aliased_column_never_explains_later_ones(method: str) -> None:
    """R's rule: once aliased, a column is set aside. Here x1 = x0 + 1e-10 e is aliased,
    so e itself (x2) is *not* a combination of the kept x0 and stays; x3 = x0 + e is."""
    rng = np.random.default_rng(1)
    x0, e = rng.standard_normal((2, 100))
    X = np.column_stack([x0, x0 + 1e-10 * e, e, x0 + e])
    res = detect_collinearity(X, method=method)
    assert res.aliased == ("x1", "x3")
    assert res.combination("x3") == pytest.approx({"x0": 1.0, "x2": 1.0})


@pytest.mark.parametrize("seed", range(4))
def test_rank_matches_svd_and_combinations_reproduce(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, r, p = 60, 6, 10
    X = rng.standard_normal((n, r)) @ rng.standard_normal((r, p))
    X[:, rng.permutation(p)[:3]] *= 10.0 ** rng.integers(-5, 6, size=3)
    for method in METHODS:
        res = detect_collinearity(X, fit_intercept=False, method=method)
        assert res.rank == np.linalg.matrix_rank(X) == r
        # Greedy in column order: the kept set is the first columns that add rank.
        expected, basis = [], np.zeros((n, 0))
        for j in range(p):
            cand = np.column_stack([basis, X[:, j]])
            if np.linalg.matrix_rank(cand) > basis.shape[1]:
                expected.append(j)
                basis = cand
        np.testing.assert_array_equal(res.kept, expected)
        _check_combinations(res, X)


def test_wide_design_rank_limited_by_rows() -> None:
    rng = np.random.default_rng(2)
    X = rng.standard_normal((5, 9))
    for method in METHODS:
        res = detect_collinearity(X, method=method)
        assert res.rank == 5
        np.testing.assert_array_equal(res.kept, np.arange(5))
        _check_combinations(res, X)


def test_sparse_one_hot_dummy_trap() -> None:
    """All levels of two factors plus an intercept: the last level of each is aliased."""
    rng = np.random.default_rng(4)
    n = 3000
    blocks = []
    for L in (5, 4):
        codes = rng.integers(0, L, n)
        codes[:L] = np.arange(L)
        blocks.append(sp.csr_array((np.ones(n), (np.arange(n), codes)), shape=(n, L)))
    other = sp.random_array((n, 3), density=0.3, rng=rng)
    X = sp.hstack([*blocks, other], format="csr")
    names = [f"A{k}" for k in range(5)] + [f"B{k}" for k in range(4)] + ["z0", "z1", "z2"]
    results = [detect_collinearity(X, feature_names=names, method=m) for m in METHODS]
    results.append(detect_collinearity(X, feature_names=names))  # auto
    for res in results:
        assert res.aliased == ("A4", "B3")
        assert res.combination("A4") == pytest.approx(
            {"Intercept": 1.0, "A0": -1.0, "A1": -1.0, "A2": -1.0, "A3": -1.0}
        )
        assert res.combination("B3", min_share=1e-9) == pytest.approx(
            {"Intercept": 1.0, "B0": -1.0, "B1": -1.0, "B2": -1.0}
        )
        _check_combinations(res, X.toarray())


def test_sparse_gram_path_never_densifies_and_agrees() -> None:
    rng = np.random.default_rng(8)
    n, p = 20000, 200
    X = sp.random_array((n, p), density=0.02, rng=rng, format="csc")
    X = sp.hstack([X, X[:, [3]] * 2.5 - X[:, [7]]], format="csr")
    res = detect_collinearity(X)  # 20000 x 202 > 1e6 entries but < 1e7: qr
    res_g = detect_collinearity(X, method="gram")
    for r in (res, res_g):
        assert r.aliased == ("x200",)
        assert r.combination("x200", min_share=1e-9) == pytest.approx({"x3": 2.5, "x7": -1.0})


def test_zero_weight_rows_are_ignored() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal(50)
    z = 3.0 * x
    z[:5] += 1.0  # breaks the proportionality only on the first five rows
    X = np.column_stack([x, z])
    assert not detect_collinearity(X).collinear
    w = np.ones(50)
    w[:5] = 0.0
    for method in METHODS:
        res = detect_collinearity(X, sample_weight=w, method=method)
        assert res.aliased == ("x1",)
        assert res.combination("x1", min_share=1e-9) == pytest.approx({"x0": 3.0})


def test_weights_act_as_frequencies() -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal(30)
    X = np.column_stack([x, x + 1e-9 * rng.standard_normal(30)])
    w = rng.integers(1, 4, 30).astype(float)
    res_w = detect_collinearity(X, sample_weight=w)
    res_rep = detect_collinearity(np.repeat(X, w.astype(int), axis=0))
    assert res_w.aliased == res_rep.aliased == ("x1",)
    np.testing.assert_allclose(res_w.relative_residuals, res_rep.relative_residuals, rtol=1e-4)


def test_data_frame_names_and_message() -> None:
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"height": rng.standard_normal(40), "weight": rng.standard_normal(40)})
    df["bmi_like"] = df["weight"] - 0.5 * df["height"]
    res = detect_collinearity(df)
    assert res.terms == ("Intercept", "height", "weight", "bmi_like")
    assert res.aliased == ("bmi_like",)
    msg = res.message
    assert "rank 3" in msg
    assert "'bmi_like' = -0.5*height + 1*weight" in msg
    assert "penalty='l2'" in msg


def test_invalid_inputs() -> None:
    X = np.ones((4, 2))
    with pytest.raises(InvalidInputError, match="tol"):
        detect_collinearity(X, tol=0.0)
    with pytest.raises(InvalidInputError, match="NaN"):
        detect_collinearity(np.array([[np.nan], [1.0]]))
    with pytest.raises(InvalidInputError, match="zero"):
        detect_collinearity(X, sample_weight=np.zeros(4))
    with pytest.raises(InvalidInputError, match="feature_names"):
        detect_collinearity(X, feature_names=["a"])
    with pytest.raises(InvalidInputError, match="method"):
        detect_collinearity(X, method="svd")  # type: ignore[arg-type]


@pytest.mark.parametrize("with_zero_weights", [False, True])
def test_float32_sparse_gram_matches_qr(X5: np.ndarray, with_zero_weights: bool) -> None:
    """The Gram path scales float32 columns in float64 (column_maxabs is float64), so it
    agrees with the Householder QR of the same numbers to rounding of float64."""
    X = np.column_stack([X5 * np.array([1.0, 3.7, 0.01, 250.0, 1.0]), 2.5 * X5[:, 1]])
    Xs = sp.csr_array(X.astype(np.float32))
    w = np.tile([1.0, 0.0, 2.0], 70)[:200] if with_zero_weights else None
    qr = detect_collinearity(Xs, sample_weight=w, method="qr")
    gram = detect_collinearity(Xs, sample_weight=w, method="gram")
    assert gram.aliased == qr.aliased == ("x5",)
    np.testing.assert_allclose(gram.scaled_coefficients, qr.scaled_coefficients, atol=1e-12)
    np.testing.assert_allclose(gram.coefficients, qr.coefficients, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("scale", [1.0, 1e6])
def test_equal_weights_take_the_unit_path_and_agree_with_the_general_one(
    X5: np.ndarray, method: str, sparse: bool, scale: float
) -> None:
    """No weights, unit weights and any equal weights skip the per-row weight vectors; the
    answer equals the general (weighted) path's, reached by one extra row of weight zero."""
    X = np.column_stack([X5 * scale, X5[:, 0] * scale - 2.0 * X5[:, 3] * scale, X5[:, 1] ** 2])
    X_extra = np.vstack([X, np.full((1, X.shape[1]), 7.0)])  # a zero-weight row, ignored
    if sparse:
        X, X_extra = sp.csr_array(X), sp.csr_array(X_extra)
    n = X.shape[0]
    general = detect_collinearity(X_extra, sample_weight=np.r_[np.ones(n), 0.0], method=method)
    for weights in (None, np.ones(n), np.full(n, 2.5)):
        res = detect_collinearity(X, sample_weight=weights, method=method)
        assert res.aliased == general.aliased == ("x5",)
        np.testing.assert_array_equal(res.kept, general.kept)
        np.testing.assert_allclose(res.coefficients, general.coefficients, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(
            res.relative_residuals, general.relative_residuals, rtol=1e-6, atol=1e-12
        )
    # and equal weights give the same numbers, bit for bit, as no weights
    a = detect_collinearity(X, method=method)
    b = detect_collinearity(X, sample_weight=np.full(n, 2.5), method=method)
    np.testing.assert_array_equal(a.coefficients, b.coefficients)
    np.testing.assert_array_equal(a.relative_residuals, b.relative_residuals)


def test_weight_validation_by_extremes() -> None:
    """NaN, infinities, negative and all-zero weights are refused with the same messages."""
    X = np.random.default_rng(0).standard_normal((20, 3))
    for bad in (np.nan, np.inf, -np.inf, -1.0):
        w = np.ones(20)
        w[7] = bad
        with pytest.raises(InvalidInputError, match="finite and non-negative"):
            detect_collinearity(X, sample_weight=w)
    with pytest.raises(InvalidInputError, match="every sample weight is zero"):
        detect_collinearity(X, sample_weight=np.zeros(20))
    with pytest.raises(InvalidInputError, match="expected"):
        detect_collinearity(X, sample_weight=np.ones(19))
