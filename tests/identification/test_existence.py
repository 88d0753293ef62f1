"""The certificate that no class is separated (mnlogit.identification.existence).

The oracle is the separation LP (``detect_separation``, itself tested against the ridge
path in test_separation.py): whenever the certificate says "not separated" the LP must
agree (soundness), and on separated data the certificate must never say so.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

import mnlogit.identification.separation_check as separation_check
from helpers import rare_indicator_problem
from mnlogit import MultinomialLogit
from mnlogit.identification import detect_separation
from mnlogit.identification.existence import certificate_work, not_separated


def _fit_probabilities(X, y, w=None, fit_intercept=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MultinomialLogit(cov_type=None, max_iter=200, fit_intercept=fit_intercept)
        model.fit(X, y, sample_weight=w)
    codes = np.searchsorted(model.classes_, y)
    return model.predict_proba(X), codes


def _lp_separated(X, codes, K, w, fit_intercept=True):
    names = [f"x{j}" for j in range(X.shape[1])]
    result = detect_separation(
        X, codes, K, w, fit_intercept, names, [str(k) for k in range(K)], reference=0
    )
    assert result.checked
    return result.separated


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_well_determined_fits_are_certified(sparse, weighted, fit_intercept) -> None:
    rng = np.random.default_rng(3)
    n, p, K = 3000, 4, 4
    X = rng.normal(size=(n, p))
    eta = X @ rng.normal(scale=0.5, size=(p, K))
    y = (eta + rng.gumbel(size=(n, K))).argmax(axis=1)
    w = rng.integers(0, 4, n).astype(float) if weighted else np.ones(n)
    Xf = sp.csr_matrix(np.where(np.abs(X) > 0.3, X, 0.0)) if sparse else X
    P, codes = _fit_probabilities(Xf, y, w, fit_intercept)
    assert not_separated(Xf, codes, w, P, fit_intercept)
    assert not _lp_separated(Xf, codes, K, w, fit_intercept)


def test_rare_indicator_is_not_certified() -> None:
    """Issue 16's case: five rows of an indicator, all of one class. The fit converges
    with probabilities near 1e-5, yet the classes are quasi-separated."""
    X, y = rare_indicator_problem()
    n = y.size
    P, codes = _fit_probabilities(X, y)
    assert not not_separated(X, codes, np.ones(n), P, True)
    assert _lp_separated(X, codes, 3, np.ones(n))


def test_sound_on_data_near_separation() -> None:
    """Small, strongly separated-or-not data: the certificate never contradicts the LP,
    and it certifies some of the non-separated ones (it can fail)."""
    certified = separated = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n, p, K = 25, 2, 3
        X = rng.normal(size=(n, p))
        eta = X @ rng.normal(scale=4.0, size=(p, K))
        y = (eta + rng.gumbel(size=(n, K))).argmax(axis=1)
        if np.unique(y).size < K:
            continue
        P, codes = _fit_probabilities(X, y)
        lp = _lp_separated(X, codes, K, np.ones(n))
        separated += lp
        if not_separated(X, codes, np.ones(n), P, True):
            certified += 1
            assert not lp, f"seed {seed}: certified but the LP finds separation"
    assert separated >= 5 and certified >= 5


def test_large_fits_use_the_certificate_before_the_lp(monkeypatch) -> None:
    rng = np.random.default_rng(1)
    n, p, K = 30_000, 5, 4
    X = rng.normal(size=(n, p))
    y = (X @ rng.normal(size=(p, K)) + rng.gumbel(size=(n, K))).argmax(axis=1)

    def no_lp(*args, **kwargs):
        raise AssertionError("the LP ran although the certificate decides")

    monkeypatch.setattr(separation_check, "detect_separation", no_lp)
    assert certificate_work(X, K, True) <= separation_check.CERTIFICATE_MAX_WORK
    model = MultinomialLogit(cov_type=None).fit(X, y)
    assert model.separation_ is None


def test_work_estimate() -> None:
    X = np.zeros((100, 9))
    assert certificate_work(X, 3, True) == 3 * 100 * 10**2
    S = sp.csr_matrix(np.eye(100, 9))
    assert certificate_work(S, 3, False) == 3 * 9  # nine rows with one stored value


def test_tiny_probabilities_without_separation_skip_the_lp(monkeypatch) -> None:
    """A large converged fit whose probabilities fall below 1e-10 (a sign of separation)
    but whose classes overlap: the certificate decides, no LP runs."""
    rng = np.random.default_rng(5)
    n, p, K = 25_000, 3, 3
    X = rng.normal(size=(n, p))
    eta = X @ np.array([[0.0, 9.0, -9.0], [0.0, 6.0, 4.0], [0.0, -5.0, 7.0]])
    y = (eta + rng.gumbel(size=(n, K))).argmax(axis=1)
    model = MultinomialLogit(cov_type=None).fit(X, y)
    assert model.converged_
    assert model.predict_proba(X).min() < separation_check.SUSPICIOUS_PROBABILITY

    def no_lp(*args, **kwargs):
        raise AssertionError("the LP ran although the certificate decides")

    monkeypatch.setattr(separation_check, "detect_separation", no_lp)
    assert MultinomialLogit(cov_type=None).fit(X, y).separation_ is None


def test_tall_data_try_a_row_sample_first() -> None:
    """Many rows per parameter: the curvature on an evenly spaced sample comes first (its
    cost does not grow with n), all rows next; few rows per parameter: all rows only."""
    K = 4
    tall = np.zeros((200_000, 5))
    first, second = separation_check.certificate_samples(tall, K, True)
    assert first is not None and second is None
    k = max(separation_check.CERTIFICATE_SAMPLE_PER_PARAMETER * 18, 10_000)
    assert first.size == k and np.all(np.diff(first) > 0) and first[-1] == 199_999
    assert separation_check.certificate_samples(np.zeros((30_000, 5)), K, True) == (None,)
    # many parameters: all rows are beyond the budget, the sample within its own
    wide = np.zeros((200_000, 100))
    (only,) = separation_check.certificate_samples(wide, 10, True)
    assert only is not None and only.size == separation_check.CERTIFICATE_SAMPLE_PER_PARAMETER * 909


def _tall_fit(rare: bool):
    rng = np.random.default_rng(8)
    n, p, K = 48_000, 3, 3
    X = rng.normal(size=(n, p))
    y = (X @ rng.normal(size=(p, K)) + rng.gumbel(size=(n, K))).argmax(axis=1)
    if rare:  # issue 16's indicator: five rows, all of class 2, none on the sample's grid
        rows = np.array([1, 7, 11, 13, 17])
        indicator = np.zeros(n)
        indicator[rows] = 1.0
        y[rows] = 2
        X = np.column_stack([X, indicator])
    return X, y


def test_sampled_certificate_decides_tall_fits() -> None:
    X, y = _tall_fit(rare=False)
    P, codes = _fit_probabilities(X, y)
    first = separation_check.certificate_samples(X, 3, True)[0]
    assert first is not None and first.size < X.shape[0] // 4
    assert not_separated(X, codes, np.ones(len(y)), P, True, samples=(first,))
    assert not _lp_separated(X, codes, 3, np.ones(len(y)))


def test_sampled_certificate_is_sound_on_a_rare_separating_indicator() -> None:
    """The sample misses the indicator's rows: it must not certify, and neither must all
    rows; the fit reports the separation the LP finds."""
    X, y = _tall_fit(rare=True)
    P, codes = _fit_probabilities(X, y)
    samples = separation_check.certificate_samples(X, 3, True)
    assert len(samples) == 2 and not np.isin([1, 7, 11, 13, 17], samples[0]).any()
    assert not not_separated(X, codes, np.ones(len(y)), P, True, samples=samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MultinomialLogit(cov_type=None).fit(X, y)
    assert model.separation_ is not None


def test_small_converged_fits_use_the_certificate_before_the_lp(monkeypatch) -> None:
    """Below ALWAYS_CHECK_CELLS too: the certificate decides a well-determined fit (an LP
    over 5,000 cells and 255 variables took 1.8 s of a 1,000-row fit), and separated
    small data still reach the LP."""
    rng = np.random.default_rng(2)
    n, p, K = 1000, 20, 6
    assert n * (K - 1) <= separation_check.ALWAYS_CHECK_CELLS
    X = rng.normal(size=(n, p))
    y = (X @ rng.normal(scale=0.3, size=(p, K)) + rng.gumbel(size=(n, K))).argmax(axis=1)
    calls = []
    real = separation_check.detect_separation

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(separation_check, "detect_separation", counted)
    assert MultinomialLogit(cov_type=None).fit(X, y).separation_ is None
    assert calls == []
    X[:, 0] = np.where(y == 0, 1.0, 0.0) + 0.1 * rng.random(n)  # class 0 separated
    X[y == 0, 0] += 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MultinomialLogit(cov_type=None).fit(X, y)
    assert calls and model.separation_ is not None


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize(("K", "fit_intercept"), [(2, True), (4, False), (6, True)])
def test_certificate_curvature_is_the_sum_over_cells(sparse, K, fit_intercept) -> None:
    """G = Σ_{i, k != y_i} λ_ik a_ik a_ikᵀ with a_ik = (e_{y_i} - e_k) ⊗ x̃_i over the free
    classes 1 .. K-1 (reference 0), from the definition, cell by cell."""
    from mnlogit.identification.existence import _curvature

    rng = np.random.default_rng(K)
    n, p = 60, 3
    X = rng.normal(size=(n, p)) * np.array([1e-3, 1.0, 1e3])
    codes = rng.integers(0, K, n)
    w = rng.uniform(0.5, 1.5, n)
    lam = rng.dirichlet(np.ones(K), n) * w[:, None]  # λ = w P
    factor = 1.0 / np.abs(X).max(axis=0)
    p1 = p + int(fit_intercept)
    expected = np.zeros(((K - 1) * p1, (K - 1) * p1))
    for i in range(n):
        x = np.concatenate([[1.0] * fit_intercept, X[i] * factor])
        for k in range(K):
            if k == codes[i]:
                continue
            e = np.zeros(K)
            e[codes[i]] += 1.0
            e[k] -= 1.0
            a = np.kron(e[1:], x)
            expected += lam[i, k] * np.outer(a, a)
    Xin = sp.csr_matrix(X) if sparse else X
    G = _curvature(Xin, codes, w, lam, fit_intercept, factor)
    assert_allclose(G, expected, rtol=1e-12, atol=1e-14 * np.abs(expected).max())
