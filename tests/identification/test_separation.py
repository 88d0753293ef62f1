"""Tests of mnlogit.identification.separation: does the multinomial logit MLE exist (by LP)?

The independent oracle is the ridge path: for every alpha > 0 the ridge-penalized
log-likelihood has a unique maximizer B(alpha). If the MLE exists, B(alpha) converges to
it as alpha -> 0 and hardly moves between alpha = 1e-3 and 1e-9; under separation the
coefficients along the directions of recession grow like log(1 / alpha), and each one
the LP calls +inf (-inf) must grow (shrink) while the ones it calls finite settle.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from helpers import make_data
from mnlogit.exceptions import InvalidInputError
from mnlogit.identification import SeparationResult, detect_separation

# The customer-risk example: age, income, risk.
AGE = [25, 30, 35, 40, 45, 50, 25, 30, 35, 40, 45, 50]
INCOME = [30, 40, 50, 60, 70, 80, 35, 45, 55, 65, 75, 85]
RISK = ["low"] * 3 + ["medium"] * 5 + ["high"] * 4  # low low low medium ... high


def ridge_fit(X: np.ndarray, y: np.ndarray, K: int, alpha: float) -> np.ndarray:
    """Maximizer of loglik - alpha/2 |B|^2 in reference form (class 0), shape (p+1, K).

    Damped Newton on a strictly convex objective; small problems only.
    """
    n, p = X.shape
    Xt = np.column_stack([np.ones(n), X])
    q = p + 1
    Y = np.eye(K)[y][:, 1:]
    th = np.zeros(q * (K - 1))

    def objective(th: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        B = th.reshape(K - 1, q).T
        eta = np.column_stack([np.zeros(n), Xt @ B])
        mx = eta.max(axis=1, keepdims=True)
        lse = (mx + np.log(np.exp(eta - mx).sum(axis=1, keepdims=True))).ravel()
        val = -(eta[np.arange(n), y] - lse).sum() + 0.5 * alpha * th @ th
        return float(val), eta, lse

    for _ in range(300):
        val, eta, lse = objective(th)
        P = np.exp(eta - lse[:, None])[:, 1:]
        g = -(Xt.T @ (Y - P)).T.ravel() + alpha * th
        H = alpha * np.eye(th.size)
        for a in range(K - 1):
            for b in range(K - 1):
                wab = P[:, a] * ((a == b) - P[:, b])
                H[a * q : (a + 1) * q, b * q : (b + 1) * q] += Xt.T @ (wab[:, None] * Xt)
        step = np.linalg.solve(H, g)
        t = 1.0
        while objective(th - t * step)[0] > val - 1e-4 * t * (g @ step) and t > 1e-12:
            t /= 2
        th = th - t * step
        if np.abs(g).max() < 1e-10 and t == 1.0:
            break
    B = np.zeros((q, K))
    B[:, 1:] = th.reshape(K - 1, q).T
    return B


def check_against_ridge_path(X: np.ndarray, y: np.ndarray, K: int) -> SeparationResult:
    res = detect_separation(X, y, K)
    change = ridge_fit(X, y, K, 1e-9) - ridge_fit(X, y, K, 1e-3)
    if not res.separated:
        # The MLE exists: the path has converged (these data give changes below 0.1).
        assert np.abs(change).max() < 0.5, (X, y)
        return res
    assert np.abs(change).max() > 2.0, (X, y)
    inf = np.isinf(res.limits)
    finite = res.limits == 0.0
    assert np.all(np.sign(change[inf]) == np.sign(res.limits[inf])), (X, y, res.limits)
    assert np.all(np.abs(change[inf]) > 1.0)
    assert np.all(np.abs(change[finite]) < 0.5)
    return res


def random_small_problem(rng: np.random.Generator, K: int) -> tuple[np.ndarray, np.ndarray]:
    while True:
        p = int(rng.integers(1, 3))
        n = int(rng.integers(6, 16))
        X = rng.integers(-2, 3, size=(n, p)).astype(float)
        y = rng.integers(0, K, n)
        if np.unique(y).size == K:
            return X, y


def check_direction(res: SeparationResult, X: np.ndarray, y: np.ndarray) -> None:
    """The direction never lowers a row's own class against another, and raises it
    exactly on the cells reported with zero probability."""
    Xt = np.column_stack([np.ones(len(X)), X])
    eta = Xt @ res.direction
    margin = eta[np.arange(len(y)), y][:, None] - eta  # (n, K)
    scale = np.abs(Xt).max() * np.abs(res.direction).max()
    assert margin.min() >= -1e-7 * scale
    assert np.all(margin[res.zero_probability] > 1e-9 * scale)


# ---------------------------------------------------------------------------------------
# Named examples


def test_customer_risk_completely_separated() -> None:
    classes = sorted(set(RISK))  # ['high', 'low', 'medium']
    y = np.array([classes.index(r) for r in RISK])
    X = np.column_stack([AGE, INCOME]).astype(float)
    res = detect_separation(X, y, 3, feature_names=["age", "income"], class_names=classes)
    assert res.checked and res.separated
    assert res.kind == "complete"
    assert res.separated_pairs == ((0, 1), (0, 2), (1, 2))
    assert set(res.involved) == {"Intercept", "age", "income"}
    assert res.zero_probability.sum() == 12 * 2  # every row, both other classes
    check_direction(res, X, y)
    msg = res.message
    assert "Complete separation" in msg
    for word in ("'high'", "'low'", "'medium'", "age", "income", "penalty='l2'", "firth"):
        assert word in msg
    # Under complete separation nothing stays finite.
    assert not np.any(res.limits[:, 1:] == 0.0)
    # With the classes in another order, the result is the same up to relabeling.
    perm = np.array([2, 0, 1])
    res_p = detect_separation(X, perm[y], 3, reference=int(perm[0]))
    assert res_p.kind == "complete"
    np.testing.assert_array_equal(res_p.limits[:, perm], res.limits)


def quasi_data() -> tuple[np.ndarray, np.ndarray]:
    """x1 = 1 only for class 2 ('c'); x1 = 0 rows overlap in all classes, with x2."""
    rng = np.random.default_rng(0)
    n = 60
    x1 = (rng.uniform(size=n) < 0.3).astype(float)
    x2 = rng.standard_normal(n)
    y = rng.integers(0, 3, n)
    y[x1 == 1] = 2
    return np.column_stack([x1, x2]), y


def test_quasi_complete_binary_predictor() -> None:
    X, y = quasi_data()
    res = detect_separation(X, y, 3, feature_names=["x1", "x2"], class_names=["a", "b", "c"])
    assert res.kind == "quasi-complete"
    assert res.separated_pairs == ((0, 2), (1, 2))
    assert res.involved == ("x1",)
    # Rows with x1 = 1 lose the probability of a and b; nothing else does.
    expected = np.zeros((len(y), 3), dtype=bool)
    expected[X[:, 0] == 1, :2] = True
    np.testing.assert_array_equal(res.zero_probability, expected)
    # Reference a: x1[c] -> +inf; x1[b] is not determined (b and c both vanish on x1 = 1
    # rows... b's coefficient only has to stay below c's); the rest is finite.
    lim = res.limits
    assert lim[1, 2] == np.inf
    assert np.isnan(lim[1, 1])
    assert np.all(lim[[0, 2]] == 0.0) and np.all(lim[:, 0] == 0.0)
    assert res.infinite == (("c", "x1", np.inf),)
    assert res.undetermined == (("b", "x1"),)
    check_direction(res, X, y)
    msg = res.message
    assert "Quasi-complete separation" in msg
    assert "'a' vs 'c'" in msg and "'b' vs 'c'" in msg
    assert "x1[c] -> +inf" in msg and "x2" not in msg
    # With c as the reference both other classes' x1 coefficients go to -inf.
    res_c = detect_separation(X, y, 3, reference=2)
    assert res_c.limits[1, 0] == -np.inf and res_c.limits[1, 1] == -np.inf
    assert np.all(res_c.limits[:, 2] == 0.0)


def test_no_separation_on_overlapping_data() -> None:
    X, y, _ = make_data(n=400, p=3, K=3, seed=0)
    res = detect_separation(X, y, 3)
    assert res.checked and not res.separated and res.kind == "none"
    assert res.separated_pairs == () and res.involved == ()
    assert np.all(res.direction == 0.0) and np.all(res.limits == 0.0)
    assert not res.zero_probability.any()
    assert "No separation" in res.message


# ---------------------------------------------------------------------------------------
# Independent checks


@pytest.mark.parametrize("K", [2, 3])
def test_agrees_with_ridge_path(K: int) -> None:
    rng = np.random.default_rng(100 + K)
    kinds = set()
    for _ in range(25 if K == 2 else 15):
        X, y = random_small_problem(rng, K)
        kinds.add(check_against_ridge_path(X, y, K).kind)
    assert "none" in kinds and kinds & {"quasi-complete", "complete"}


def test_binary_agrees_with_statsmodels_perfect_separation() -> None:
    sm = pytest.importorskip("statsmodels.api")
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    x = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    separated = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    overlapping = np.array([0, 0, 1, 0, 1, 0, 1, 1])
    for y, expect in ((separated, "complete"), (overlapping, "none")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = sm.Logit(y, sm.add_constant(x)).fit(disp=0, maxiter=200)
        flagged = any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
        res = detect_separation(x[:, None], y, 2)
        assert res.kind == expect
        assert flagged == (expect == "complete")
        if expect == "none":
            assert np.all(np.abs(fit.params) < 10)
        else:
            assert res.limits[1, 1] == np.inf and res.limits[0, 1] == -np.inf


def test_binary_quasi_separation_known_answer() -> None:
    """y = 1 whenever x1 = 1, both classes at x1 = 0: the x1 coefficient is +inf while
    the intercept and x2 stay finite (Albert & Anderson's quasi-complete case)."""
    rng = np.random.default_rng(3)
    x1 = np.repeat([0.0, 1.0], [30, 10])
    x2 = rng.standard_normal(40)
    y = np.where(x1 == 1, 1, rng.integers(0, 2, 40))
    y[:2] = [0, 1]
    X = np.column_stack([x1, x2])
    res = check_against_ridge_path(X, y, 2)
    assert res.kind == "quasi-complete"
    np.testing.assert_array_equal(res.limits[:, 1], [0.0, np.inf, 0.0])
    named = detect_separation(X, y, 2, feature_names=["x1", "x2"], class_names=["no", "yes"])
    assert named.involved == ("x1",)
    assert "x1[yes] -> +inf" in named.message


# ---------------------------------------------------------------------------------------
# Data handling


def test_zero_weight_rows_are_ignored() -> None:
    x = np.arange(10.0)
    y = (x > 4.5).astype(int)
    X = np.concatenate([x, [0.0, 9.0]])[:, None]  # two rows that would create overlap
    yy = np.concatenate([y, [1, 0]])
    w = np.concatenate([np.ones(10), [0.0, 0.0]])
    assert detect_separation(X, yy, 2).kind == "none"
    res = detect_separation(X, yy, 2, sample_weight=w)
    assert res.kind == "complete"
    assert not res.zero_probability[10:].any()
    assert res.zero_probability[:10].sum() == 10


def test_sparse_matches_dense() -> None:
    X, y = quasi_data()
    dense = detect_separation(X, y, 3)
    sparse = detect_separation(sp.csr_array(X), y, 3)
    for a, b in ((dense, sparse),):
        assert a.kind == b.kind and a.separated_pairs == b.separated_pairs
        np.testing.assert_array_equal(a.limits, b.limits)
        np.testing.assert_array_equal(a.zero_probability, b.zero_probability)
    Xc = np.column_stack([AGE, INCOME]).astype(float)
    yc = np.array([sorted(set(RISK)).index(r) for r in RISK])
    assert detect_separation(sp.csc_array(Xc), yc, 3).kind == "complete"


def test_invariant_to_feature_scale() -> None:
    X, y = quasi_data()
    base = detect_separation(X, y, 3)
    scaled = detect_separation(X * np.array([1e-8, 1e9]), y, 3)
    np.testing.assert_array_equal(base.limits, scaled.limits)
    np.testing.assert_array_equal(base.zero_probability, scaled.zero_probability)


def test_aliased_columns_left_out() -> None:
    X, y = quasi_data()
    X3 = np.column_stack([X, 2.0 * X[:, 0]])
    res = detect_separation(X3, y, 3, feature_names=["x1", "x2", "twice_x1"])
    assert res.aliased == ("twice_x1",)
    assert res.kind == "quasi-complete" and res.involved == ("x1",)
    assert np.all(np.isnan(res.limits[3, 1:]))
    assert "Left out as collinear: twice_x1" in res.message


def test_class_without_observations() -> None:
    x = np.arange(8.0)
    y = np.array([0, 1, 0, 1, 1, 0, 1, 0])
    res = detect_separation(x[:, None], y, 3, class_names=["no", "yes", "maybe"])
    assert res.separated and res.empty_classes == (2,)
    assert res.limits[0, 2] == -np.inf  # the intercept of the absent class
    assert res.separated_pairs == ((0, 2), (1, 2))
    assert "No observations (with positive weight) of class 'maybe'" in res.message


def test_without_intercept_zero_rows_make_it_quasi() -> None:
    X = np.array([[0.0], [1], [2], [-1], [-2], [0]])
    y = np.array([0, 1, 1, 0, 0, 1])
    res = detect_separation(X, y, 2, fit_intercept=False)
    assert res.kind == "quasi-complete"
    assert res.terms == ("x0",)
    np.testing.assert_array_equal(res.limits, [[0.0, np.inf]])
    assert not res.zero_probability[[0, 5]].any()


def test_size_cap_returns_unchecked() -> None:
    X, y, _ = make_data(n=400, p=3, K=3, seed=0)
    res = detect_separation(X, y, 3, max_cells=100)
    assert not res.checked and not res.separated and res.kind == "none"
    assert "max_cells=100" in res.reason
    assert res.message.startswith("Separation was not checked")


def test_invalid_inputs() -> None:
    X = np.zeros((4, 1))
    with pytest.raises(InvalidInputError, match="class codes"):
        detect_separation(X, np.array([0, 1, 2, 1]), 2)
    with pytest.raises(InvalidInputError, match="n_classes"):
        detect_separation(X, np.zeros(4, dtype=int), 1)
    with pytest.raises(InvalidInputError, match="reference"):
        detect_separation(X, np.array([0, 1, 0, 1]), 2, reference=2)
    with pytest.raises(InvalidInputError, match="class_names"):
        detect_separation(X, np.array([0, 1, 0, 1]), 2, class_names=["a"])
