"""Property-based tests (hypothesis) of invariances the model must have.

Data come from ``make_data`` (a multinomial logit with moderate coefficients) with
hypothesis-drawn seeds and shapes, n >= 60 so that every class appears and the
maximum-likelihood estimate exists; draws whose fit does not converge cleanly are
discarded with ``assume``.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import ConvergenceWarning

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

PROB_TOL = dict(rtol=1e-7, atol=1e-9)


@st.composite
def datasets(draw, min_n=60, max_n=150):
    n = draw(st.integers(min_n, max_n))
    p = draw(st.integers(1, 4))
    K = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    X, y, _ = make_data(n=n, p=p, K=K, seed=seed, scale=0.5)
    counts = np.bincount(y, minlength=K)
    assume(counts.min() >= 5)
    return X, y


def fit_or_reject(X, y, **kwargs):
    """Fit, discarding the example when the fit is not a clean interior optimum.

    A tight tolerance (Newton converges quadratically, so it costs about one iteration)
    keeps the difference between two fits of equivalent problems far below the
    tolerances the assertions use.
    """
    sample_weight = kwargs.pop("sample_weight", None)
    kwargs.setdefault("tol", 1e-11)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            model = MultinomialLogit(**kwargs).fit(X, y, sample_weight=sample_weight)
        except ConvergenceWarning:
            assume(False)
    assume(model.converged_)
    assume(np.abs(model.coef_).max() < 20 and np.abs(model.intercept_).max() < 20)
    return model


# ----------------------------------------------------------------------------- probabilities

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def models_and_inputs(draw):
    K = draw(st.integers(2, 5))
    p = draw(st.integers(1, 4))
    intercept = draw(arrays(np.float64, K, elements=finite))
    coef = draw(arrays(np.float64, (K, p), elements=finite))
    X = draw(arrays(np.float64, (draw(st.integers(1, 20)), p), elements=finite))
    reference = draw(st.sampled_from([None, 0, K - 1]))
    model = MultinomialLogit.from_coefficients(np.arange(K), intercept, coef, reference=reference)
    return model, X


@SETTINGS
@given(models_and_inputs())
def test_probabilities_are_a_distribution(case):
    model, X = case
    P = model.predict_proba(X)
    logP = model.predict_log_proba(X)
    assert np.all(np.isfinite(logP))
    assert np.all(logP <= 0.0)
    assert np.all((P >= 0.0) & (P <= 1.0))
    assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # the predicted class is the most probable one
    chosen = np.searchsorted(model.classes_, model.predict(X))
    assert np.all(P[np.arange(len(X)), chosen] == P.max(axis=1))


@SETTINGS
@given(datasets())
def test_fitted_probabilities_are_a_distribution(data):
    X, y = data
    model = fit_or_reject(X, y)
    P = model.predict_proba(X)
    assert np.all((P >= 0.0) & (P <= 1.0))
    assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # at the MLE with an intercept, mean fitted probabilities equal class frequencies
    assert_allclose(P.mean(axis=0), np.bincount(y) / y.size, atol=1e-7)


# ----------------------------------------------------------------------------- invariances


@SETTINGS
@given(datasets(), st.data())
def test_reference_choice_does_not_change_probabilities(data, draw):
    X, y = data
    K = int(y.max()) + 1
    reference = draw.draw(st.sampled_from([None, "first", "last", *range(K)]))
    base = fit_or_reject(X, y)
    other = fit_or_reject(X, y, reference=reference)
    assert_allclose(other.predict_proba(X), base.predict_proba(X), **PROB_TOL)
    assert abs(other.loglik_ - base.loglik_) <= 1e-9 * abs(base.loglik_)
    if other.reference_ is not None:
        row = int(np.flatnonzero(other.classes_ == other.reference_)[0])
        assert np.all(other.coef_[row] == 0.0) and other.intercept_[row] == 0.0


@SETTINGS
@given(datasets(), st.data())
def test_relabeling_classes_permutes_probabilities(data, draw):
    X, y = data
    K = int(y.max()) + 1
    perm = np.array(draw.draw(st.permutations(range(K))))
    names = np.array([f"class_{v}" for v in perm])  # code k -> label "class_{perm[k]}"
    base = fit_or_reject(X, y)
    relabeled = fit_or_reject(X, names[y])
    # relabeled.classes_ are sorted names; column j of it is the code with perm == j
    order = np.argsort(perm)
    assert_allclose(relabeled.predict_proba(X), base.predict_proba(X)[:, order], **PROB_TOL)
    assert abs(relabeled.loglik_ - base.loglik_) <= 1e-9 * abs(base.loglik_)
    assert list(relabeled.predict(X)) == list(names[base.predict(X)])


@SETTINGS
@given(datasets(), st.integers(0, 2**31 - 1), st.booleans())
def test_frequency_weights_equal_duplicated_rows(data, seed, penalized):
    X, y = data
    w = np.random.default_rng(seed).integers(0, 4, size=y.size)
    K = int(y.max()) + 1
    assume(np.all(np.bincount(y, weights=w, minlength=K) >= 5))
    kwargs = dict(penalty="l2", alpha=0.01) if penalized else {}
    weighted = fit_or_reject(X, y, sample_weight=w, **kwargs)
    repeated = fit_or_reject(np.repeat(X, w, axis=0), np.repeat(y, w), **kwargs)
    assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-7, atol=1e-8)
    assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-7, atol=1e-8)
    assert abs(weighted.loglik_ - repeated.loglik_) <= 1e-9 * abs(repeated.loglik_)
    assert abs(weighted.bic_ - repeated.bic_) <= 1e-9 * abs(repeated.bic_)
    assert weighted.nobs_ == repeated.nobs_ == w.sum()


@SETTINGS
@given(
    datasets(),
    st.data(),
    st.floats(0.01, 100.0).filter(lambda c: abs(c - 1.0) > 1e-3),
)
def test_rescaling_a_feature_rescales_its_coefficient(data, draw, c):
    X, y = data
    j = draw.draw(st.integers(0, X.shape[1] - 1))
    Xc = X.copy()
    Xc[:, j] *= c
    base = fit_or_reject(X, y)
    scaled = fit_or_reject(Xc, y)
    expected = base.coef_.copy()
    expected[:, j] /= c
    assert_allclose(scaled.coef_, expected, rtol=1e-6, atol=1e-8)
    assert_allclose(scaled.intercept_, base.intercept_, rtol=1e-6, atol=1e-8)
    assert_allclose(scaled.predict_proba(Xc), base.predict_proba(X), **PROB_TOL)


@SETTINGS
@given(datasets(), st.integers(0, 2**31 - 1), st.booleans())
def test_row_order_does_not_change_the_fit(data, seed, penalized):
    X, y = data
    perm = np.random.default_rng(seed).permutation(y.size)
    kwargs = dict(penalty="l2") if penalized else {}
    base = fit_or_reject(X, y, **kwargs)
    shuffled = fit_or_reject(X[perm], y[perm], **kwargs)
    assert_allclose(shuffled.coef_, base.coef_, rtol=1e-8, atol=1e-10)
    assert_allclose(shuffled.intercept_, base.intercept_, rtol=1e-8, atol=1e-10)
    assert abs(shuffled.loglik_ - base.loglik_) <= 1e-10 * abs(base.loglik_)
    assert abs(shuffled.loglik_null_ - base.loglik_null_) <= 1e-12 * abs(base.loglik_null_)
