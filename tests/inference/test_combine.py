"""Tests that two classes can be combined (SPost's ``mlogtest, combine`` and ``lrcomb``).

Oracles: the Wald test equals ``wald_test`` on the same linear hypothesis written out; the
likelihood-ratio test equals ``2 (loglik - loglik_c)`` where the constrained model (equal
slopes for the two classes, free intercepts) is fitted here twice, independently of
mnlogit: by statsmodels on the data with the two classes merged plus the closed-form
split of the merged class (Long & Freese's ``lrcomb`` equivalence), and by maximizing
the constrained likelihood directly with scipy.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
import scipy.optimize
import scipy.special
import scipy.stats
import statsmodels.api as sm
from numpy.testing import assert_allclose

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import InvalidInputError


@pytest.fixture(scope="module")
def data3():
    X, y, _ = make_data(n=500, p=2, K=3, seed=8, scale=0.4)
    return X, y


@pytest.fixture(scope="module")
def model3(data3):
    return MultinomialLogit().fit(*data3)


def _hypothesis(a, b, reference, terms):
    if a == reference:
        return ", ".join(f"[{b}]{t} = 0" for t in terms)
    if b == reference:
        return ", ".join(f"[{a}]{t} = 0" for t in terms)
    return ", ".join(f"[{a}]{t} = [{b}]{t}" for t in terms)


def _merged_loglik_statsmodels(X, y, a, b):
    merged = np.where(y == b, a, y)
    res = sm.MNLogit(merged, sm.add_constant(X)).fit(
        method="newton", tol=1e-12, maxiter=200, disp=0
    )
    n_a, n_b = np.sum(y == a), np.sum(y == b)
    split = n_a * np.log(n_a / (n_a + n_b)) + n_b * np.log(n_b / (n_a + n_b))
    return float(res.llf) + split


def _constrained_loglik_direct(X, y, a, b):
    """Maximize the MNL likelihood with ``w_a = w_b`` (free intercepts) by BFGS."""
    classes = np.unique(y)
    K, p = classes.size, X.shape[1]
    codes = np.searchsorted(classes, y)
    ia, ib = int(np.searchsorted(classes, a)), int(np.searchsorted(classes, b))
    others = [k for k in range(1, K) if k not in (ia, ib)]  # class 0 is the base

    def unpack(theta):
        b0 = np.concatenate([[0.0], theta[: K - 1]])
        W = np.zeros((p, K))
        rest = theta[K - 1 :]
        shared = rest[:p]
        W[:, ia] = shared if ia != 0 else 0.0
        W[:, ib] = shared if ia != 0 else 0.0
        for j, k in enumerate(others):
            W[:, k] = rest[p * (j + 1) : p * (j + 2)]
        return b0, W

    def nll(theta):
        b0, W = unpack(theta)
        logp = scipy.special.log_softmax(b0 + X @ W, axis=1)
        return -logp[np.arange(y.size), codes].sum()

    n_theta = K - 1 + p * (1 + len(others))
    res = scipy.optimize.minimize(nll, np.zeros(n_theta), method="BFGS", options={"gtol": 1e-9})
    return -float(res.fun)


class TestWald:
    def test_equals_the_written_out_hypothesis(self, model3):
        table = model3.combine_test()
        pairs = list(combinations([0, 1, 2], 2))
        assert table.index.tolist() == pairs
        assert table.index.names == ["class_a", "class_b"]
        for a, b in pairs:
            res = model3.wald_test(_hypothesis(a, b, 0, ["x0", "x1"]))
            assert_allclose(table.loc[(a, b), "statistic"], res.statistic, rtol=1e-10)
            assert table.loc[(a, b), "df"] == res.df == 2
            assert_allclose(table.loc[(a, b), "p_value"], res.p_value, rtol=1e-8)

    def test_uses_the_models_covariance(self, data3, model3):
        robust = MultinomialLogit(cov_type="robust").fit(*data3)
        got = robust.combine_test(pairs=[(1, 2)]).loc[(1, 2), "statistic"]
        expected = robust.wald_test(_hypothesis(1, 2, 0, ["x0", "x1"])).statistic
        assert_allclose(got, expected, rtol=1e-10)
        assert not np.isclose(got, model3.combine_test(pairs=[(1, 2)]).loc[(1, 2), "statistic"])

    def test_bad_pairs(self, model3):
        with pytest.raises(InvalidInputError, match="pair"):
            model3.combine_test(pairs=[(1, 1)])
        with pytest.raises(InvalidInputError, match="not classes"):
            model3.combine_test(pairs=[(1, 7)])
        with pytest.raises(InvalidInputError, match="method"):
            model3.combine_test(method="score")
        with pytest.raises(InvalidInputError, match="pass X"):
            model3.combine_test(method="lr")


class TestLikelihoodRatio:
    def test_equals_statsmodels_on_merged_classes_and_the_direct_fit(self, data3, model3):
        X, y = data3
        table = model3.combine_test(method="lr", X=X, y=y)
        for a, b in combinations([0, 1, 2], 2):
            via_merge = _merged_loglik_statsmodels(X, y, a, b)
            direct = _constrained_loglik_direct(X, y, a, b)
            assert_allclose(via_merge, direct, rtol=0, atol=1e-5)  # the equivalence itself
            expected = 2 * (model3.loglik_ - via_merge)
            assert_allclose(table.loc[(a, b), "statistic"], expected, rtol=1e-7)
            assert table.loc[(a, b), "df"] == 2
            assert_allclose(table.loc[(a, b), "p_value"], scipy.stats.chi2.sf(expected, 2))

    def test_lr_close_to_wald_when_classes_are_alike(self):
        X, y, _ = make_data(n=4000, p=2, K=3, seed=1, scale=0.0)  # no slopes at all
        model = MultinomialLogit().fit(X, y)
        lr = model.combine_test("lr", X=X, y=y)
        wald = model.combine_test("wald")
        assert_allclose(lr["statistic"], wald["statistic"], rtol=0.05, atol=0.05)

    def test_weights_equal_duplicated_rows(self, data3):
        X, y = data3
        w = np.random.default_rng(2).integers(0, 3, size=y.size).astype(float)
        weighted = MultinomialLogit().fit(X, y, sample_weight=w)
        dup = np.repeat(np.arange(y.size), w.astype(int))
        plain = MultinomialLogit().fit(X[dup], y[dup])
        got = weighted.combine_test("lr", X=X, y=y, sample_weight=w)
        expected = plain.combine_test("lr", X=X[dup], y=y[dup])
        assert_allclose(got["statistic"], expected["statistic"], rtol=1e-6)

    def test_formula_model(self):
        X, y, _ = make_data(n=400, p=2, K=3, seed=4)
        frame = pd.DataFrame({"y": np.array(["lo", "mid", "hi"])[y], "a": X[:, 0], "b": X[:, 1]})
        model = MultinomialLogit(formula="y ~ a + b").fit(frame)
        table = model.combine_test("lr", pairs=[("lo", "mid")], X=frame)
        codes = np.searchsorted(["hi", "lo", "mid"], frame["y"])
        expected = 2 * (model.loglik_ - _merged_loglik_statsmodels(X, codes, 1, 2))
        assert_allclose(table.loc[("lo", "mid"), "statistic"], expected, rtol=1e-7)

    def test_penalized_refused(self, data3):
        ridge = MultinomialLogit(penalty="l2").fit(*data3)
        with pytest.raises(InvalidInputError, match="penalized"):
            ridge.combine_test("lr", X=data3[0], y=data3[1])
