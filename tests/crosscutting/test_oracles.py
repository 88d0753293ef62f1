"""Agreement with other libraries (test-only oracles) and with published values.

- statsmodels ``MNLogit`` / ``Logit`` for unpenalized maximum likelihood;
- scikit-learn ``LogisticRegression`` for L2 fits (symmetric form, ``alpha = 1/(C S)``);
- published results on the ANES 1996 data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LogisticRegression

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.datasets import ANES96_PARTY_LABELS, load_anes96

SM_FIT = dict(method="newton", maxiter=100, tol=1e-12, disp=0)
ANES_FEATURES = ["logpopul", "selfLR", "age", "educ", "income"]


def sm_mnlogit(X, y):
    return sm.MNLogit(np.asarray(y), sm.add_constant(np.asarray(X), has_constant="add")).fit(
        **SM_FIT
    )


def reference_params(model, ref=0):
    """Our coefficients in statsmodels' layout: (p+1, K-1), the non-reference classes."""
    keep = [k for k in range(model.classes_.size) if k != ref]
    return np.vstack([model.intercept_[keep][None, :], model.coef_[keep].T])


# ---------------------------------------------------------------------------- statsmodels MNLogit
# (K, n, p, seed, imbalance): imbalance > 0 thins the later classes further, so that
# class sizes differ a lot (K = 7 ends up with classes of very different sizes).
SYNTHETIC = [
    (2, 500, 3, 1, 0.0),
    (3, 600, 4, 2, 0.0),
    (3, 900, 2, 5, 0.5),
    (7, 2500, 3, 3, 0.3),
]


def synthetic(K, n, p, seed, imbalance):
    X, y, _ = make_data(n=n, p=p, K=K, seed=seed)
    if imbalance > 0:
        rng = np.random.default_rng(seed)
        keep = rng.uniform(size=n) >= imbalance * y / (K - 1)
        X, y = X[keep], y[keep]
    counts = np.bincount(y, minlength=K)
    assert counts.min() >= 10
    assert counts.max() >= 1.5 * counts.min()  # unequal class sizes
    return X, y


@pytest.mark.parametrize(("K", "n", "p", "seed", "imbalance"), SYNTHETIC)
def test_matches_statsmodels_mnlogit(K, n, p, seed, imbalance):
    X, y = synthetic(K, n, p, seed, imbalance)
    ours = MultinomialLogit(tol=1e-10).fit(X, y)
    res = sm_mnlogit(X, y)
    assert res.mle_retvals["converged"]
    assert res.params.shape == (p + 1, K - 1)
    assert_allclose(reference_params(ours), res.params, rtol=1e-6, atol=1e-7)
    assert_allclose(ours.loglik_, res.llf, rtol=1e-10)
    assert_allclose(ours.loglik_null_, res.llnull, rtol=1e-8)
    assert_allclose(ours.aic_, res.aic, rtol=1e-10)
    assert_allclose(ours.bic_, res.bic, rtol=1e-10)
    assert_allclose(ours.pseudo_r2_, res.prsquared, rtol=1e-6)
    assert_allclose(ours.deviance_, -2 * res.llf, rtol=1e-10)
    assert ours.nobs_ == res.nobs
    assert ours.n_params_ == res.df_model + (K - 1)
    assert_allclose(ours.predict_proba(X), res.predict(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("K", "seed"), [(3, 11), (5, 12)])
def test_reference_last_matches_statsmodels_on_relabeled_classes(K, seed):
    X, y = synthetic(K, 700, 3, seed, 0.0)
    ours = MultinomialLogit(reference="last", tol=1e-10).fit(X, y)
    assert ours.reference_ == K - 1
    # Recode so that the last class is statsmodels' base (code 0): old k -> k + 1.
    res = sm_mnlogit(X, (y + 1) % K)
    assert_allclose(reference_params(ours, ref=K - 1), res.params, rtol=1e-6, atol=1e-7)
    assert_allclose(ours.loglik_, res.llf, rtol=1e-10)


def test_frequency_weights_match_statsmodels_on_repeated_rows():
    X, y = synthetic(4, 400, 3, 21, 0.0)
    w = np.random.default_rng(0).integers(1, 4, size=y.size)
    ours = MultinomialLogit(tol=1e-10).fit(X, y, sample_weight=w)
    res = sm_mnlogit(np.repeat(X, w, axis=0), np.repeat(y, w))
    assert ours.nobs_ == w.sum() == res.nobs
    assert_allclose(reference_params(ours), res.params, rtol=1e-6, atol=1e-7)
    assert_allclose(ours.loglik_, res.llf, rtol=1e-10)
    assert_allclose(ours.loglik_null_, res.llnull, rtol=1e-8)
    assert_allclose(ours.aic_, res.aic, rtol=1e-10)
    assert_allclose(ours.bic_, res.bic, rtol=1e-10)
    assert_allclose(ours.pseudo_r2_, res.prsquared, rtol=1e-6)


# ---------------------------------------------------------------------------- K = 2
@pytest.mark.parametrize("labels", [None, ("no", "yes")])
def test_two_classes_equal_binary_logistic_regression(labels):
    X, y = synthetic(2, 500, 3, 1, 0.0)
    yl = y if labels is None else np.asarray(labels)[y]
    ours = MultinomialLogit(tol=1e-10).fit(X, yl)
    sym = MultinomialLogit(reference=None, tol=1e-10).fit(X, yl)

    logit = sm.Logit(y, sm.add_constant(X)).fit(**SM_FIT)
    assert logit.mle_retvals["converged"]
    assert_allclose(ours.intercept_[1], logit.params[0], rtol=1e-6, atol=1e-8)
    assert_allclose(ours.coef_[1], logit.params[1:], rtol=1e-6, atol=1e-8)
    assert_array_equal(ours.coef_[0], 0.0)
    assert_allclose(ours.loglik_, logit.llf, rtol=1e-10)
    assert_allclose(ours.loglik_null_, logit.llnull, rtol=1e-8)
    assert_allclose(ours.aic_, logit.aic, rtol=1e-10)
    assert_allclose(ours.bic_, logit.bic, rtol=1e-10)
    assert_allclose(ours.pseudo_r2_, logit.prsquared, rtol=1e-6)

    sk = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-10, max_iter=1000)
    sk.fit(X, yl)
    assert_array_equal(sk.classes_, ours.classes_)
    for model in (ours, sym):
        assert_allclose(model.coef_[1] - model.coef_[0], sk.coef_[0], rtol=1e-6, atol=1e-8)
        assert_allclose(
            model.intercept_[1] - model.intercept_[0], sk.intercept_[0], rtol=1e-6, atol=1e-8
        )

    # decision_function: (n,) log-odds of classes_[1] against classes_[0].
    d = ours.decision_function(X)
    assert d.shape == (X.shape[0],)
    assert_allclose(d, sk.decision_function(X), rtol=1e-6, atol=1e-8)
    assert_allclose(d, sm.add_constant(X) @ logit.params, rtol=1e-6, atol=1e-8)
    P = ours.predict_proba(X)
    assert_allclose(d, np.log(P[:, 1] / P[:, 0]), rtol=1e-9, atol=1e-10)
    assert_allclose(sym.decision_function(X), d, rtol=1e-7, atol=1e-9)
    assert_allclose(P, sk.predict_proba(X), rtol=1e-6, atol=1e-9)
    assert_array_equal(ours.predict(X), sk.predict(X))


# ---------------------------------------------------------------------------- sklearn L2
def sk_l2(C, solver, **kwargs):
    tol = 1e-12
    return LogisticRegression(C=C, solver=solver, tol=tol, max_iter=10000, **kwargs)


# newton-cholesky solves to machine precision; sklearn's lbfgs stops a little short of
# the optimum (|coef - coef*| ~ 1e-7 here even with tol=1e-12), hence the looser bound.
SK_SOLVER_ATOL = {"newton-cholesky": 1e-8, "lbfgs": 1e-6}


@pytest.mark.parametrize("K", [3, 5])
@pytest.mark.parametrize("alpha", [0.05, 0.002])
@pytest.mark.parametrize("sk_solver", ["newton-cholesky", "lbfgs"])
def test_l2_symmetric_matches_sklearn(K, alpha, sk_solver):
    X, y = synthetic(K, 500, 4, 40 + K, 0.0)
    ours = MultinomialLogit(penalty="l2", alpha=alpha, tol=1e-10).fit(X, y)
    assert ours.reference_ is None
    assert ours.alpha_ == alpha
    sk = sk_l2(1.0 / (alpha * X.shape[0]), sk_solver).fit(X, y)
    atol = SK_SOLVER_ATOL[sk_solver]
    assert_allclose(ours.coef_, sk.coef_, rtol=0, atol=atol)
    assert_allclose(ours.intercept_, sk.intercept_, rtol=0, atol=atol)
    assert_allclose(ours.coef_.sum(axis=0), 0.0, atol=1e-12)
    assert_allclose(ours.predict_proba(X), sk.predict_proba(X), rtol=0, atol=atol)


@pytest.mark.parametrize("K", [3, 4])
def test_l2_with_sample_weights_matches_sklearn(K):
    X, y = synthetic(K, 500, 3, 50 + K, 0.0)
    sw = np.random.default_rng(K).uniform(0.2, 3.0, size=y.size)
    alpha = 0.01
    ours = MultinomialLogit(penalty="l2", alpha=alpha, tol=1e-10).fit(X, y, sample_weight=sw)
    sk = sk_l2(1.0 / (alpha * sw.sum()), "newton-cholesky").fit(X, y, sample_weight=sw)
    assert_allclose(ours.nobs_, sw.sum(), rtol=1e-14)
    assert_allclose(ours.coef_, sk.coef_, rtol=0, atol=1e-8)
    assert_allclose(ours.intercept_, sk.intercept_, rtol=0, atol=1e-8)


@pytest.mark.parametrize("K", [3, 5])
def test_l2_with_balanced_class_weight_matches_sklearn(K):
    X, y = synthetic(K, 600, 3, 60 + K, 0.4)
    counts = np.bincount(y)
    # "balanced": weight n / (K n_k) per row of class k, so the weights sum to n.
    S = float(np.sum(counts * (y.size / (K * counts))))
    assert_allclose(S, y.size)
    alpha = 0.01
    ours = MultinomialLogit(penalty="l2", alpha=alpha, class_weight="balanced", tol=1e-10)
    ours.fit(X, y)
    assert_allclose(ours.nobs_, S, rtol=1e-12)
    sk = sk_l2(1.0 / (alpha * S), "newton-cholesky", class_weight="balanced").fit(X, y)
    assert_allclose(ours.coef_, sk.coef_, rtol=0, atol=1e-8)
    assert_allclose(ours.intercept_, sk.intercept_, rtol=0, atol=1e-8)


@pytest.mark.parametrize("K", [3, 5])
@pytest.mark.parametrize("weighting", ["none", "sample", "balanced"])
def test_default_alpha_equals_sklearn_default_C(K, weighting):
    X, y = synthetic(K, 400, 3, 70 + K, 0.3)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, y.size) if weighting == "sample" else None
    cw = "balanced" if weighting == "balanced" else None
    ours = MultinomialLogit(penalty="l2", class_weight=cw, tol=1e-10).fit(X, y, sample_weight=sw)
    assert_allclose(ours.alpha_, 1.0 / ours.nobs_, rtol=1e-14)
    # LogisticRegression() with its default C=1; only the solver's precision is raised.
    sk = LogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000, class_weight=cw)
    sk.fit(X, y, sample_weight=sw)
    assert sk.C == 1.0
    assert_allclose(ours.coef_, sk.coef_, rtol=0, atol=1e-8)
    assert_allclose(ours.intercept_, sk.intercept_, rtol=0, atol=1e-8)


@pytest.mark.parametrize("alpha", [None, 0.02])
def test_l2_two_classes_matches_sklearn_binary(alpha):
    # The documented mapping (estimator docstring, docs/model.md): alpha = 1/(C S), and
    # alpha=None makes MultinomialLogit(penalty="l2") equal LogisticRegression().
    # sklearn's binary coef_ (1, p) is the log-odds coefficient, coef_[1] - coef_[0].
    X, y = synthetic(2, 400, 3, 80, 0.4)
    ours = MultinomialLogit(penalty="l2", alpha=alpha, tol=1e-10).fit(X, y)
    C = 1.0 if alpha is None else 1.0 / (alpha * y.size)
    sk = sk_l2(C, "newton-cholesky").fit(X, y)
    assert sk.coef_.shape == (1, 3)
    assert_allclose(ours.coef_[1] - ours.coef_[0], sk.coef_[0], rtol=0, atol=1e-8)
    assert_allclose(ours.intercept_[1] - ours.intercept_[0], sk.intercept_[0], rtol=0, atol=1e-8)
    assert_allclose(ours.decision_function(X), sk.decision_function(X), rtol=0, atol=1e-7)


# ---------------------------------------------------------------------------- ANES 1996
def anes():
    df = load_anes96()
    return df[ANES_FEATURES], df["PID"]


def test_anes96_matches_statsmodels():
    X, y = anes()
    assert X.shape == (944, 5)
    ours = MultinomialLogit(tol=1e-10).fit(X, y)
    res = sm.MNLogit(y, sm.add_constant(X)).fit(**SM_FIT)
    assert list(ours.feature_names_in_) == ANES_FEATURES
    assert_allclose(reference_params(ours), res.params.to_numpy(), rtol=1e-6, atol=1e-8)
    assert_allclose(ours.loglik_, res.llf, rtol=1e-6)
    assert_allclose(ours.loglik_null_, res.llnull, rtol=1e-6)
    assert_allclose(ours.aic_, res.aic, rtol=1e-6)
    assert_allclose(ours.bic_, res.bic, rtol=1e-6)
    assert_allclose(ours.pseudo_r2_, res.prsquared, rtol=1e-6)


def test_anes96_published_summary_values():
    # Provenance: statsmodels documentation, "Multinomial Logit" example (MNLogit on the
    # anes96 dataset, as in the MNLogit docstring / Discrete Choice Models overview):
    # sm.MNLogit(PID, sm.add_constant(anes_exog)).fit().summary() prints
    #   Log-Likelihood: -1461.9   LL-Null: -1750.3   Pseudo R-squ.: 0.1648
    # and for the first non-base class, PID=1 ("Weak Democrat", base "Strong Democrat"):
    #   const -0.3734  logpopul -0.0115  selfLR 0.2977  age -0.0249  educ 0.0825
    #   income 0.0052
    # Compared at the printed precision (half a unit in the last printed digit).
    X, y = anes()
    names = pd.Series(y).map(ANES96_PARTY_LABELS)
    ours = MultinomialLogit(reference="Strong Democrat", tol=1e-10).fit(X, names)
    assert ours.reference_ == "Strong Democrat"
    k = list(ours.classes_).index("Weak Democrat")
    assert abs(ours.loglik_ - (-1461.9)) <= 0.05
    assert abs(ours.loglik_null_ - (-1750.3)) <= 0.05
    assert abs(ours.pseudo_r2_ - 0.1648) <= 0.00005
    published = {
        "logpopul": -0.0115,
        "selfLR": 0.2977,
        "age": -0.0249,
        "educ": 0.0825,
        "income": 0.0052,
    }
    assert abs(ours.intercept_[k] - (-0.3734)) <= 0.00005
    for j, name in enumerate(ANES_FEATURES):
        assert abs(ours.coef_[k, j] - published[name]) <= 0.00005, name


# Provenance: statsmodels' test suite, statsmodels/discrete/tests/results/
# results_discrete.py, class Anes.mnlogit_basezero -- "Results are from Stata 11
# (checked vs R nnet package)" for MNLogit of PID on logpopul, selfLR, age, educ,
# income and a constant (base class PID=0), printed to 8 significant digits.
# Columns: PID = 1..6; rows: logpopul, selfLR, age, educ, income, const.
STATA_ANES_PARAMS = np.reshape(
    [
        -0.01153598, 0.29771435, -0.024945, 0.08249144, 0.00519655, -0.37340167,
        -0.08875065, 0.39166864, -0.02289784, 0.18104276, 0.04787398, -2.2509132,
        -0.1059667, 0.57345051, -0.01485121, -0.00715242, 0.05757516, -3.6655835,
        -0.0915567, 1.2787718, -0.00868135, 0.19982796, 0.08449838, -7.6138431,
        -0.0932846, 1.3469616, -0.01790407, 0.21693885, 0.08095841, -7.0604782,
        -0.14088069, 2.0700801, -0.00943265, 0.3219257, 0.10889408, -12.105751,
    ],
    (6, -1),
    order="F",
)  # fmt: skip
STATA_ANES_STATS = {
    "llf": -1461.922747312,
    "llnull": -1750.34670999,
    "prsquared": 0.1647810465387,
    "aic": 2995.84549462,
    "bic": 3170.45003661,
}


def test_anes96_matches_stata_reference_values():
    X, y = anes()
    ours = MultinomialLogit(tol=1e-10).fit(X, y)
    coef = ours.coef_[1:].T  # (5, 6): features x classes 1..6
    assert_allclose(coef, STATA_ANES_PARAMS[:5], rtol=1e-6, atol=1e-8)
    assert_allclose(ours.intercept_[1:], STATA_ANES_PARAMS[5], rtol=1e-6)
    assert_allclose(ours.loglik_, STATA_ANES_STATS["llf"], rtol=1e-9)
    assert_allclose(ours.loglik_null_, STATA_ANES_STATS["llnull"], rtol=1e-9)
    assert_allclose(ours.pseudo_r2_, STATA_ANES_STATS["prsquared"], rtol=1e-8)
    assert_allclose(ours.aic_, STATA_ANES_STATS["aic"], rtol=1e-9)
    assert_allclose(ours.bic_, STATA_ANES_STATS["bic"], rtol=1e-9)
    assert ours.n_params_ == 36
    assert ours.nobs_ == 944
