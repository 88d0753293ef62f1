"""Inference on fitted models: covariance, coefficient tables, tests, effects, intervals.

statsmodels' ``MNLogit`` is the oracle for unpenalized fits (coefficients, standard errors,
likelihoods, information criteria, average marginal effects). What it cannot check (its
``get_margeff`` is broken for elasticities; it has no frequency weights or interval for a
probability), the tests compute independently: finite differences of ``predict_proba``,
sandwich matrices built from explicit per-row scores, and delta methods with numerically
differentiated Jacobians of models rebuilt by ``MultinomialLogit.from_coefficients``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.special
import scipy.stats
import statsmodels.api as sm
from numpy.testing import assert_allclose, assert_array_equal

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.datasets import load_anes96
from mnlogit.exceptions import (
    InferenceUnavailableError,
    InvalidInputError,
    PenalizedInferenceWarning,
)

ANES_FEATURES = ["logpopul", "selfLR", "age", "educ", "income"]
Z975 = 1.959963984540054
METHODS = ("dydx", "eyex", "dyex", "eydx")


# ----------------------------------------------------------------------------- data and fits


def _dataset(name):
    if name == "anes96":
        frame = load_anes96()
        return frame[ANES_FEATURES], frame["PID"].to_numpy()
    K = int(name[1:])
    X, y, _ = make_data(n=600, p=3, K=K, seed=K)
    return X, y


DATASETS = ["K2", "K3", "K7", "anes96"]


@pytest.fixture(scope="module", params=DATASETS)
def oracle(request):
    """``(X, y, mnlogit fit, statsmodels fit, statsmodels HC0 fit)`` for one dataset."""
    X, y = _dataset(request.param)
    counts = np.unique(y, return_counts=True)[1]
    assert counts.min() < counts.max()  # unequal class sizes
    model = MultinomialLogit().fit(X, y)
    exog = sm.add_constant(np.asarray(X, dtype=np.float64))
    opts = dict(method="newton", tol=1e-12, maxiter=100, disp=0)
    res = sm.MNLogit(y, exog).fit(**opts)
    res_hc0 = sm.MNLogit(y, exog).fit(cov_type="HC0", **opts)
    return X, y, model, res, res_hc0


@pytest.fixture(scope="module")
def data3():
    X, y, _ = make_data(n=600, p=3, K=3, seed=0)
    return X, y


@pytest.fixture(scope="module")
def model3(data3):
    return MultinomialLogit().fit(*data3)


# ----------------------------------------------------------------------------- independent tools


def _free_layout(model):
    """``(class position, term position)`` of each row of ``cov_params()``."""
    index = model.cov_params().index
    classes = list(model.classes_)
    default = [f"x{j}" for j in range(model.coef_.shape[1])]
    names = ["Intercept", *map(str, getattr(model, "feature_names_in_", default))]
    return [(classes.index(c), names.index(t)) for c, t in index]


def _perturbed(model, pos, h):
    """A copy of ``model`` (reference form) with one free coefficient moved by ``h``."""
    k, t = pos
    intercept = model.intercept_.copy()
    coef = model.coef_.copy()
    if t == 0:
        intercept[k] += h
    else:
        coef[k, t - 1] += h
    return MultinomialLogit.from_coefficients(
        model.classes_, intercept, coef, reference=model.reference_
    )


def _coef_jacobian(model, func, h=1e-5):
    """Central-difference Jacobian of ``func(model)`` w.r.t. the rows of ``cov_params()``."""
    cols = []
    for pos in _free_layout(model):
        up = np.ravel(func(_perturbed(model, pos, h)))
        down = np.ravel(func(_perturbed(model, pos, -h)))
        cols.append((up - down) / (2 * h))
    return np.column_stack(cols)


def _fd_effects(model, rows, method, h=1e-4):
    """Effects from central differences of predict_proba w.r.t. each feature, averaged.

    ``ey``: of the log probability; ``ex``: w.r.t. ``log x`` (moving ``x`` to ``x e^t``).
    """
    rows = np.asarray(rows, dtype=np.float64)
    func = model.predict_log_proba if method.startswith("ey") else model.predict_proba
    out = np.empty((model.classes_.size, rows.shape[1]))
    for j in range(rows.shape[1]):
        up, down = rows.copy(), rows.copy()
        if method.endswith("ex"):
            up[:, j] *= np.exp(h)
            down[:, j] *= np.exp(-h)
        else:
            up[:, j] += h
            down[:, j] -= h
        out[:, j] = ((func(up) - func(down)) / (2 * h)).mean(axis=0)
    return out


def _onehot(y, classes):
    return (np.asarray(y)[:, None] == np.asarray(classes)[None, :]).astype(np.float64)


def _scores_information(model, X, y, sample_weight=None):
    """Per-row scores ``kron(y_i - p_i, [1, x_i])`` over the non-reference classes, and the
    observed information ``sum_i s_i kron(diag(p_i) - p_i p_i^T, x_i x_i^T)``."""
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    free = [k for k, c in enumerate(model.classes_) if c != model.reference_]
    P = model.predict_proba(X)[:, free]
    resid = _onehot(y, model.classes_)[:, free] - P
    Xt = np.column_stack([np.ones(n), X])
    U = (resid[:, :, None] * Xt[:, None, :]).reshape(n, -1)
    W = P[:, :, None] * (np.eye(len(free))[None] - P[:, None, :])
    m = U.shape[1]
    H = np.einsum("i,ikl,ia,ib->kalb", s, W, Xt, Xt).reshape(m, m)
    return U, H, s


# ----------------------------------------------------------------------------- statsmodels oracle


class TestAgainstStatsmodels:
    def test_coefficients(self, oracle):
        _, _, model, res, _ = oracle
        table = model.coef_table()
        assert_allclose(table["coef"].to_numpy(), np.asarray(res.params).T.ravel(), atol=1e-6)

    def test_standard_errors(self, oracle):
        _, _, model, res, _ = oracle
        se = model.coef_table()["std_err"].to_numpy()
        assert_allclose(se, np.asarray(res.bse).T.ravel(), rtol=1e-6, atol=1e-8)
        assert_allclose(model.cov_params().to_numpy(), res.cov_params(), rtol=1e-5, atol=1e-9)

    def test_robust_standard_errors_are_hc0(self, oracle):
        X, y, model, _, res_hc0 = oracle
        robust = MultinomialLogit(cov_type="robust").fit(X, y)
        se = robust.coef_table()["std_err"].to_numpy()
        assert_allclose(se, np.asarray(res_hc0.bse).T.ravel(), rtol=1e-6, atol=1e-8)
        # and genuinely different from the nonrobust ones
        assert not np.allclose(se, model.coef_table()["std_err"].to_numpy(), rtol=1e-3)

    def test_likelihoods_and_criteria(self, oracle):
        _, y, model, res, _ = oracle
        assert_allclose(model.loglik_, res.llf, rtol=1e-10)
        # statsmodels fits the null model iteratively (to ~1e-7); ours is closed form
        assert_allclose(model.loglik_null_, res.llnull, rtol=1e-8)
        counts = np.unique(y, return_counts=True)[1]
        assert_allclose(model.loglik_null_, np.sum(counts * np.log(counts / y.size)), rtol=1e-13)
        assert_allclose(model.aic_, res.aic, rtol=1e-10)
        assert_allclose(model.bic_, res.bic, rtol=1e-10)
        assert_allclose(model.pseudo_r2_, res.prsquared, rtol=1e-7)

    @pytest.mark.parametrize("at", ["overall", "mean", "median"])
    def test_marginal_effects_dydx(self, oracle, at):
        X, _, model, res, _ = oracle
        K, p = model.classes_.size, X.shape[1]
        me = model.marginal_effects(X, at=at)
        sm_me = res.get_margeff(at=at)
        assert_allclose(me["effect"].to_numpy().reshape(K, p), sm_me.margeff.T, atol=1e-6)
        assert_allclose(
            me["std_err"].to_numpy().reshape(K, p), sm_me.margeff_se.T, rtol=1e-6, atol=1e-8
        )

    def test_lr_test_against_null(self, oracle):
        _, _, model, res, _ = oracle
        lr = model.lr_test()
        assert_allclose(lr.statistic, res.llr, rtol=1e-8)
        assert lr.df == res.df_model
        assert_allclose(lr.p_value, res.llr_pvalue, rtol=1e-5)
        assert_allclose(lr.p_value, scipy.stats.chi2.sf(lr.statistic, lr.df), rtol=1e-12)


# ----------------------------------------------------------------------------- elasticities


class TestElasticities:
    @pytest.mark.parametrize("method", METHODS)
    @pytest.mark.parametrize("at", ["overall", "mean"])
    def test_effects_and_errors_by_finite_differences(self, data3, model3, method, at):
        X = data3[0]
        rows = X if at == "overall" else X.mean(axis=0, keepdims=True)
        me = model3.marginal_effects(X, at=at, method=method)
        K, p = model3.classes_.size, X.shape[1]
        assert me.index.tolist() == [(c, f"x{j}") for c in model3.classes_ for j in range(p)]
        expected = _fd_effects(model3, rows, method)
        assert_allclose(me["effect"].to_numpy().reshape(K, p), expected, rtol=1e-6, atol=1e-8)

        J = _coef_jacobian(model3, lambda m: _fd_effects(m, rows, method))
        V = model3.cov_params().to_numpy()
        se = np.sqrt(np.einsum("ab,bc,ac->a", J, V, J))
        assert_allclose(me["std_err"].to_numpy(), se, rtol=1e-4, atol=1e-8)
        assert_allclose(me["z"].to_numpy(), me["effect"] / me["std_err"], rtol=1e-12)

    def test_dydx_effects_sum_to_zero_over_classes(self, data3, model3):
        me = model3.marginal_effects(data3[0])
        sums = me["effect"].groupby(level="term").sum()
        assert_allclose(sums.to_numpy(), 0.0, atol=1e-12)

    def test_at_dict_fixes_features(self, data3, model3):
        X = data3[0]
        me = model3.marginal_effects(X, at={"x1": 0.5}, method="dydx")
        rows = X.copy()
        rows[:, 1] = 0.5
        K, p = model3.classes_.size, X.shape[1]
        expected = _fd_effects(model3, rows, "dydx")
        assert_allclose(me["effect"].to_numpy().reshape(K, p), expected, rtol=1e-6, atol=1e-8)

    def test_alpha_sets_interval_width(self, data3, model3):
        me = model3.marginal_effects(data3[0], alpha=0.1)
        crit = scipy.stats.norm.ppf(0.95)
        assert_allclose(me["ci_upper"] - me["effect"], crit * me["std_err"], rtol=1e-10)

    def test_bad_arguments(self, data3, model3):
        with pytest.raises(ValueError, match="method"):
            model3.marginal_effects(data3[0], method="dxdy")
        with pytest.raises(InvalidInputError, match="at"):
            model3.marginal_effects(data3[0], at="mode")
        with pytest.raises(InvalidInputError, match="nope"):
            model3.marginal_effects(data3[0], at={"nope": 1.0})


# ----------------------------------------------------------------------------- sandwich matrices


class TestCovarianceDirect:
    def test_nonrobust_is_inverse_information(self, data3, model3):
        X, y = data3
        _, H, _ = _scores_information(model3, X, y)
        assert_allclose(model3.cov_params().to_numpy(), np.linalg.inv(H), rtol=1e-6, atol=1e-10)

    def test_robust_is_sandwich_of_scores(self, data3):
        X, y = data3
        model = MultinomialLogit(cov_type="robust").fit(X, y)
        U, H, _ = _scores_information(model, X, y)
        # the scores sum to zero at the maximum
        assert_allclose(U.sum(axis=0), 0.0, atol=1e-6)
        bread = np.linalg.inv(H)
        expected = bread @ (U.T @ U) @ bread
        assert_allclose(model.cov_params().to_numpy(), expected, rtol=1e-6, atol=1e-10)

    def test_cluster_is_sandwich_of_group_sums(self, data3):
        X, y = data3
        groups = np.random.default_rng(5).integers(0, 25, size=y.size)
        model = MultinomialLogit(cov_type="cluster").fit(X, y, groups=groups)
        U, H, _ = _scores_information(model, X, y)
        labels, codes = np.unique(groups, return_inverse=True)
        G = labels.size
        member = (codes[None, :] == np.arange(G)[:, None]).astype(np.float64)  # (G, n)
        Ug = member @ U
        bread = np.linalg.inv(H)
        expected = bread @ (G / (G - 1) * Ug.T @ Ug) @ bread
        assert_allclose(model.cov_params().to_numpy(), expected, rtol=1e-6, atol=1e-10)
        robust = MultinomialLogit(cov_type="robust").fit(X, y)
        assert not np.allclose(model.cov_params(), robust.cov_params(), rtol=1e-2)

    def test_cluster_needs_groups(self, data3):
        with pytest.raises(InvalidInputError, match="groups"):
            MultinomialLogit(cov_type="cluster").fit(*data3)

    def test_weighted_robust_is_weighted_sandwich(self, data3):
        X, y = data3
        w = np.random.default_rng(1).uniform(0.2, 3.0, size=y.size)
        model = MultinomialLogit(cov_type="robust").fit(X, y, sample_weight=w)
        U, H, s = _scores_information(model, X, y, w)
        bread = np.linalg.inv(H)
        expected = bread @ ((U * s[:, None]).T @ U) @ bread
        assert_allclose(model.cov_params().to_numpy(), expected, rtol=1e-6, atol=1e-10)

    @pytest.mark.parametrize("cov_type", ["nonrobust", "robust", "cluster"])
    def test_frequency_weights_equal_duplicated_rows(self, cov_type):
        X, y, _ = make_data(n=250, p=3, K=3, seed=11)
        rng = np.random.default_rng(2)
        w = rng.integers(1, 4, size=y.size)
        groups = rng.integers(0, 20, size=y.size)
        weighted = MultinomialLogit(cov_type=cov_type).fit(X, y, sample_weight=w, groups=groups)
        rep = np.repeat(np.arange(y.size), w)
        dup = MultinomialLogit(cov_type=cov_type).fit(X[rep], y[rep], groups=groups[rep])
        assert_allclose(weighted.cov_params(), dup.cov_params(), rtol=1e-7, atol=1e-12)
        assert weighted.nobs_ == dup.nobs_ == w.sum()


# ----------------------------------------------------------------------------- coefficient table


class TestCoefTable:
    def test_layout(self, model3):
        table = model3.coef_table()
        assert table.columns.tolist() == ["coef", "std_err", "z", "p_value", "ci_lower", "ci_upper"]
        assert table.index.names == ["class", "term"]
        terms = ["Intercept", "x0", "x1", "x2"]
        assert table.index.tolist() == [(c, t) for c in (1, 2) for t in terms]
        assert table.loc[(2, "x1"), "coef"] == model3.coef_[2, 1]
        assert table.loc[(1, "Intercept"), "coef"] == model3.intercept_[1]
        assert table.index.equals(model3.cov_params().index)
        assert model3.cov_params().columns.equals(model3.cov_params().index)

    def test_columns_follow_from_coef_and_se(self, model3):
        table = model3.coef_table()
        coef, se = table["coef"], table["std_err"]
        assert_allclose(se, np.sqrt(np.diag(model3.cov_params())), rtol=1e-12)
        assert_allclose(table["z"], coef / se, rtol=1e-12)
        assert_allclose(table["p_value"], 2 * scipy.stats.norm.sf(np.abs(coef / se)), rtol=1e-10)
        assert_allclose(table["ci_lower"], coef - Z975 * se, rtol=1e-12, atol=1e-14)
        assert_allclose(table["ci_upper"], coef + Z975 * se, rtol=1e-12, atol=1e-14)

    def test_alpha_changes_width(self, model3):
        wide = model3.coef_table(alpha=0.01)
        narrow = model3.coef_table(alpha=0.2)
        ratio = (wide["ci_upper"] - wide["ci_lower"]) / (narrow["ci_upper"] - narrow["ci_lower"])
        assert_allclose(ratio, scipy.stats.norm.ppf(0.995) / scipy.stats.norm.ppf(0.9))
        assert_allclose(wide["p_value"], narrow["p_value"])
        with pytest.raises(InvalidInputError, match="alpha"):
            model3.coef_table(alpha=1.5)

    def test_exponentiate(self, model3):
        table = model3.coef_table()
        rrr = model3.coef_table(exponentiate=True)
        assert rrr.columns.tolist() == ["rrr", "std_err", "z", "p_value", "ci_lower", "ci_upper"]
        assert_allclose(rrr["rrr"], np.exp(table["coef"]), rtol=1e-14)
        assert_allclose(rrr["std_err"], np.exp(table["coef"]) * table["std_err"], rtol=1e-14)
        assert_allclose(rrr["ci_lower"], np.exp(table["ci_lower"]), rtol=1e-14)
        assert_allclose(rrr["ci_upper"], np.exp(table["ci_upper"]), rtol=1e-14)
        assert_allclose(rrr["z"], table["z"])
        assert_allclose(rrr["p_value"], table["p_value"])
        assert (rrr["ci_lower"] > 0).all()

    def test_dataframe_names(self):
        frame = load_anes96()
        model = MultinomialLogit().fit(frame[ANES_FEATURES], frame["PID"])
        terms = model.coef_table().index.get_level_values("term")
        assert terms[: len(ANES_FEATURES) + 1].tolist() == ["Intercept", *ANES_FEATURES]


# ----------------------------------------------------------------------------- Wald tests


class TestWaldTest:
    def test_single_restriction_is_z_squared(self, model3):
        table = model3.coef_table()
        res = model3.wald_test("[2]x1 = 0")
        assert res.df == 1
        assert_allclose(res.statistic, table.loc[(2, "x1"), "z"] ** 2, rtol=1e-10)
        assert_allclose(res.p_value, table.loc[(2, "x1"), "p_value"], rtol=1e-8)

    def test_joint_term_test_matches_statsmodels(self, oracle):
        _, _, model, res, _ = oracle
        index = model.cov_params().index
        term = index.get_level_values("term")[2]
        R = np.array([[1.0 * (t == term and c == cls) for c, t in index] for cls in model.classes_])
        R = R[R.any(axis=1)]
        expected = res.wald_test(R, scalar=True, use_f=False)
        got = model.wald_test(term)
        assert got.df == model.classes_.size - 1
        assert_allclose(got.statistic, float(expected.statistic), rtol=1e-6)
        assert_allclose(got.p_value, float(expected.pvalue), rtol=1e-5, atol=1e-300)

    def test_direct_quadratic_form(self, model3):
        b = model3.coef_table()["coef"].to_numpy()
        V = model3.cov_params().to_numpy()
        index = model3.cov_params().index.tolist()
        R = np.zeros((3, len(index)))
        R[0, index.index((1, "x0"))] = 1.0
        R[0, index.index((2, "x0"))] = -1.0
        R[1, index.index((1, "x2"))] = 1.0
        R[2, index.index((2, "Intercept"))] = 2.0
        q = np.array([0.0, 0.0, 0.3])
        d = R @ b - q
        expected = d @ np.linalg.solve(R @ V @ R.T, d)
        res = model3.wald_test("[1]x0 - [2]x0 = 0, [1]x2 = 0, 2*[2]Intercept = 0.3")
        assert res.df == 3
        assert_allclose(res.statistic, expected, rtol=1e-9)
        assert_allclose(res.p_value, scipy.stats.chi2.sf(expected, 3), rtol=1e-8)
        by_matrix = model3.wald_test(R, q=q)
        assert_allclose(by_matrix.statistic, expected, rtol=1e-9)
        assert by_matrix.df == 3

    def test_string_forms_equal_matrix_forms(self, model3):
        index = model3.cov_params().index.tolist()
        m = len(index)

        def row(**entries):
            r = np.zeros(m)
            for key, value in entries.items():
                cls, term = key.split("_")
                r[index.index((int(cls), term))] = value
            return r

        cases = [
            ("[2]x1 = 0, [1]x1 = 0", [row(**{"2_x1": 1}), row(**{"1_x1": 1})], [0, 0]),
            ("x1", [row(**{"1_x1": 1}), row(**{"2_x1": 1})], [0, 0]),
            ("[1]x0 - [2]x0 = 0", [row(**{"1_x0": 1, "2_x0": -1})], [0]),
            ("2*[1]x0 = [2]x0 + 0.5", [row(**{"1_x0": 2, "2_x0": -1})], [0.5]),
            ("[1]x2*3 - 1 = -[2]Intercept", [row(**{"1_x2": 3, "2_Intercept": 1})], [1.0]),
        ]
        for text, R, q in cases:
            by_string = model3.wald_test(text)
            by_matrix = model3.wald_test(np.array(R), q=np.array(q, dtype=float))
            assert by_string.df == by_matrix.df == len(R), text
            assert_allclose(by_string.statistic, by_matrix.statistic, rtol=1e-12, err_msg=text)
            assert by_string.description == text

    def test_bare_term_equals_listing_every_class(self, model3):
        a = model3.wald_test("x2")
        b = model3.wald_test("[1]x2 = 0, [2]x2 = 0")
        assert a.df == b.df == 2
        assert_allclose(a.statistic, b.statistic, rtol=1e-12)

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            ("[9]x1 = 0", "'9'"),
            ("[1]zz = 0", "no term"),
            ("[1]x1", "expected '='"),
            ("[1]x1 = 0,, [2]x1 = 0", "expected a number"),
            ("[1x1 = 0", "missing ']'"),
            ("", "non-empty"),
        ],
    )
    def test_bad_strings_raise(self, model3, text, fragment):
        with pytest.raises(ValueError, match=fragment):
            model3.wald_test(text)

    def test_bad_matrix_shapes_raise(self, model3):
        with pytest.raises(ValueError, match="8 columns"):
            model3.wald_test(np.ones((1, 5)))
        with pytest.raises(ValueError, match="q must have"):
            model3.wald_test(np.ones((2, 8)), q=[0.0])

    def test_symmetric_form_term_test(self, data3, model3):
        sym = MultinomialLogit(reference=None).fit(*data3)
        assert sym.cov_params().shape == (12, 12)
        res = sym.wald_test("x1")
        assert res.df == sym.classes_.size - 1
        # the joint test of a term does not depend on the parameterization
        assert_allclose(res.statistic, model3.wald_test("x1").statistic, rtol=1e-7)
        moved = model3.with_reference(None).wald_test("x1")
        assert moved.df == 2
        assert_allclose(moved.statistic, res.statistic, rtol=1e-7)

    def test_invariant_to_rescaling_a_feature(self, data3, model3):
        """A joint Wald test must not depend on the units of a feature."""
        X, y = data3
        scaled = X.copy()
        scaled[:, 0] *= 1e5  # e.g. income in dollars instead of 100 000s
        model = MultinomialLogit().fit(scaled, y)
        # the fit itself is scale-equivariant: coefficient and z of x0 move as they should
        assert_allclose(model.coef_[:, 0] * 1e5, model3.coef_[:, 0], rtol=1e-6)
        assert_allclose(model.coef_table()["z"], model3.coef_table()["z"], rtol=1e-5)
        hypothesis = "[1]Intercept = 0, [1]x0 = 0"
        expected = model3.wald_test(hypothesis)
        got = model.wald_test(hypothesis)
        assert got.df == expected.df == 2
        assert_allclose(got.statistic, expected.statistic, rtol=1e-5)


# ----------------------------------------------------------------------------- LR tests


class TestLikelihoodRatio:
    def test_nested_models(self, data3, model3):
        X, y = data3
        reduced = MultinomialLogit().fit(X[:, :2], y)
        res = model3.lr_test(reduced)
        assert res.df == 2
        assert_allclose(res.statistic, 2 * (model3.loglik_ - reduced.loglik_), rtol=1e-12)
        assert res.statistic > 0
        assert_allclose(res.p_value, scipy.stats.chi2.sf(res.statistic, 2), rtol=1e-12)
        # order of the two models does not matter
        assert_allclose(reduced.lr_test(model3).statistic, res.statistic, rtol=1e-12)

    def test_nested_matches_statsmodels(self, data3):
        X, y = data3
        full = MultinomialLogit().fit(X, y)
        reduced = MultinomialLogit().fit(X[:, [0]], y)
        opts = dict(method="newton", tol=1e-12, maxiter=100, disp=0)
        sm_full = sm.MNLogit(y, sm.add_constant(X)).fit(**opts)
        sm_red = sm.MNLogit(y, sm.add_constant(X[:, [0]])).fit(**opts)
        res = full.lr_test(reduced)
        assert res.df == 4
        assert_allclose(res.statistic, 2 * (sm_full.llf - sm_red.llf), rtol=1e-8)

    def test_penalized_raises(self, data3, model3):
        penalized = MultinomialLogit(penalty="l2").fit(*data3)
        with pytest.raises(InvalidInputError, match="penalized"):
            penalized.lr_test()
        with pytest.raises(InvalidInputError, match="penalized"):
            model3.lr_test(penalized)

    def test_different_rows_raise(self, data3, model3):
        X, y = data3
        other = MultinomialLogit().fit(X[:500, :2], y[:500])
        with pytest.raises(InvalidInputError, match="same observations"):
            model3.lr_test(other)


class TestTermTests:
    def test_wald_and_lr_columns(self, data3, model3):
        X, y = data3
        table = model3.term_tests(X, y)
        assert table.index.tolist() == ["x0", "x1", "x2"]
        assert table.columns.tolist() == [
            "wald_chi2",
            "wald_df",
            "wald_p",
            "lr_chi2",
            "lr_df",
            "lr_p",
        ]
        K = model3.classes_.size
        for j, name in enumerate(table.index):
            wald = model3.wald_test(name)
            assert_allclose(table.loc[name, "wald_chi2"], wald.statistic, rtol=1e-12)
            assert table.loc[name, "wald_df"] == K - 1
            reduced = MultinomialLogit().fit(np.delete(X, j, axis=1), y)
            lr = 2 * (model3.loglik_ - reduced.loglik_)
            assert_allclose(table.loc[name, "lr_chi2"], lr, rtol=1e-7)
            assert table.loc[name, "lr_df"] == K - 1
            assert_allclose(table.loc[name, "lr_p"], scipy.stats.chi2.sf(lr, K - 1), rtol=1e-6)
            # Wald and LR agree roughly on well-conditioned data
            assert table.loc[name, "wald_chi2"] == pytest.approx(lr, rel=0.3)

    def test_without_data_only_wald(self, model3):
        table = model3.term_tests()
        assert table.columns.tolist() == ["wald_chi2", "wald_df", "wald_p"]

    def test_weighted_lr_uses_weights(self, data3):
        X, y = data3
        w = np.random.default_rng(3).integers(1, 4, size=y.size).astype(float)
        model = MultinomialLogit().fit(X, y, sample_weight=w)
        table = model.term_tests(X, y, sample_weight=w)
        reduced = MultinomialLogit().fit(X[:, [0, 2]], y, sample_weight=w)
        assert_allclose(
            table.loc["x1", "lr_chi2"], 2 * (model.loglik_ - reduced.loglik_), rtol=1e-7
        )


# ----------------------------------------------------------------------------- reference changes


class TestWithReference:
    @pytest.mark.parametrize("cov_type", ["nonrobust", "robust"])
    def test_equals_refit(self, data3, cov_type):
        X, y = data3
        model = MultinomialLogit(cov_type=cov_type).fit(X, y)
        moved = model.with_reference(2)
        refit = MultinomialLogit(reference=2, cov_type=cov_type).fit(X, y)
        assert moved.reference_ == 2
        assert_allclose(moved.coef_, refit.coef_, atol=1e-7)
        assert_allclose(moved.intercept_, refit.intercept_, atol=1e-7)
        assert_array_equal(moved.coef_[2], 0.0)
        assert moved.cov_params().index.equals(refit.cov_params().index)
        assert_allclose(moved.cov_params(), refit.cov_params(), rtol=1e-6, atol=1e-8)
        assert_allclose(moved.predict_proba(X), model.predict_proba(X), rtol=1e-12, atol=1e-15)
        # the original is untouched
        assert model.reference_ == 0
        assert model.cov_params().index.get_level_values("class").unique().tolist() == [1, 2]

    def test_symmetric_form(self, data3, model3):
        X, y = data3
        sym = model3.with_reference(None)
        assert sym.reference_ is None
        assert_allclose(sym.coef_.sum(axis=0), 0.0, atol=1e-12)
        assert_allclose(sym.intercept_.sum(), 0.0, atol=1e-12)
        assert_allclose(sym.predict_proba(X), model3.predict_proba(X), rtol=1e-12, atol=1e-15)
        refit = MultinomialLogit(reference=None).fit(X, y)
        assert_allclose(sym.coef_, refit.coef_, atol=1e-7)
        assert_allclose(sym.cov_params(), refit.cov_params(), rtol=1e-6, atol=1e-8)
        # each term's coefficients sum to zero, so its covariance rows do too
        V = sym.cov_params().to_numpy().reshape(3, 4, 12)
        assert_allclose(V.sum(axis=0), 0.0, atol=1e-10)
        back = sym.with_reference(0)
        assert_allclose(back.coef_table(), model3.coef_table(), rtol=1e-9, atol=1e-12)

    def test_unknown_reference(self, model3):
        with pytest.raises(InvalidInputError, match="not one of the classes"):
            model3.with_reference(7)


# ----------------------------------------------------------------------------- intervals


class TestPredictInterval:
    def test_against_delta_method(self, data3, model3):
        X = data3[0][:25]
        lower, upper = model3.predict_interval(X)
        P = model3.predict_proba(X)
        assert lower.shape == upper.shape == P.shape
        assert np.all((lower > 0) & (upper < 1))
        assert np.all(lower <= P) and np.all(upper >= P)

        J = _coef_jacobian(model3, lambda m: scipy.special.logit(m.predict_proba(X)), h=1e-6)
        V = model3.cov_params().to_numpy()
        se = np.sqrt(np.einsum("ab,bc,ac->a", J, V, J)).reshape(P.shape)
        logit = scipy.special.logit(P)
        assert_allclose(lower, scipy.special.expit(logit - Z975 * se), rtol=1e-6)
        assert_allclose(upper, scipy.special.expit(logit + Z975 * se), rtol=1e-6)

    def test_alpha(self, data3, model3):
        X = data3[0][:10]
        lo95, up95 = model3.predict_interval(X)
        lo50, up50 = model3.predict_interval(X, alpha=0.5)
        assert np.all(lo95 < lo50) and np.all(up50 < up95)
        with pytest.raises(InvalidInputError, match="alpha"):
            model3.predict_interval(X, alpha=0.0)

    def test_extreme_rows_stay_inside(self, data3, model3):
        X = data3[0][:3] * 40.0
        lower, upper = model3.predict_interval(X)
        assert np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))
        assert np.all((lower >= 0) & (upper <= 1) & (lower <= upper))


# ----------------------------------------------------------------------------- availability


class TestAvailability:
    def test_cov_type_none_then_compute_covariance(self, data3, model3):
        X, y = data3
        model = MultinomialLogit(cov_type=None).fit(X, y)
        for call in (
            model.coef_table,
            model.cov_params,
            lambda: model.wald_test("x1"),
            lambda: model.marginal_effects(X),
            lambda: model.predict_interval(X),
            model.summary,
        ):
            with pytest.raises(InferenceUnavailableError, match="compute_covariance"):
                call()
        assert model.compute_covariance(X, y) is model
        pd.testing.assert_frame_equal(model.coef_table(), model3.coef_table(), rtol=1e-12)

    def test_compute_covariance_switches_type(self, data3, model3):
        X, y = data3
        robust = MultinomialLogit(cov_type="robust").fit(X, y)
        model = MultinomialLogit().fit(X, y)
        model.compute_covariance(X, y, cov_type="robust")
        assert_allclose(model.cov_params(), robust.cov_params(), rtol=1e-12)
        model.compute_covariance(X, y, cov_type="nonrobust")
        assert_allclose(model.cov_params(), model3.cov_params(), rtol=1e-12)
        with pytest.raises(InvalidInputError, match="cov_type"):
            model.compute_covariance(X, y, cov_type="HC3")

    def test_penalized_fit_warns(self, data3):
        X, y = data3
        model = MultinomialLogit(penalty="l2").fit(X, y)
        assert model.reference_ is None
        for call in (
            model.coef_table,
            model.cov_params,
            lambda: model.wald_test("x1"),
            lambda: model.marginal_effects(X),
            lambda: model.predict_interval(X[:5]),
        ):
            with pytest.warns(PenalizedInferenceWarning, match="penalized"):
                call()

    def test_unpenalized_fit_does_not_warn(self, data3, model3):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model3.coef_table()
            model3.marginal_effects(data3[0])

    def test_from_coefficients_has_no_inference(self):
        model = MultinomialLogit.from_coefficients(
            classes=["low", "medium", "high"],
            intercept=[0.5, 1.2],
            coef=[[0.1, -0.05], [0.15, -0.08]],
            reference="low",
        )
        with pytest.raises(InferenceUnavailableError):
            model.coef_table()
        with pytest.raises(InferenceUnavailableError):
            model.wald_test("x0")
        with pytest.raises(InferenceUnavailableError):
            model.predict_interval(np.array([[25.0, 30.0]]))
