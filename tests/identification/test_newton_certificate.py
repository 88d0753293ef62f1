"""The separation certificate from the fit's own loss Hessian (issue 18, issue-speed10).

``newton_step_certifies`` proves that no class is separated from one solve with the loss
Hessian ``H`` at the fit's point (module docstring of ``mnlogit.identification.existence``).
The tests form ``H``, the gradient and the Stiemke cells ``a_ik`` by plain numpy from their
definitions (not the package's kernels), check the identity the proof rests on at
arbitrary points, check the verdicts against the separation LP, and check that a default
fit uses the kept covariance Hessian instead of the sampled-curvature certificate.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mnlogit.fitting as fitting
import mnlogit.identification.separation_check as separation_check
from helpers import rare_indicator_problem
from mnlogit import MultinomialLogit
from mnlogit.identification import detect_separation
from mnlogit.identification.existence import CERTIFICATE_MARGIN, newton_step_certifies


def _record_certificates(monkeypatch) -> list[bool]:
    """The verdicts of every Hessian certificate the fits ask for, in order."""
    calls: list[bool] = []
    real = fitting.newton_step_certifies

    def counted(*args, **kw):
        calls.append(real(*args, **kw))
        return calls[-1]

    monkeypatch.setattr(fitting, "newton_step_certifies", counted)
    return calls


def _design(X: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(X.shape[0]), X])


def _probabilities(Xt: np.ndarray, B: np.ndarray) -> np.ndarray:
    eta = Xt @ B
    eta -= eta.max(axis=1, keepdims=True)
    P = np.exp(eta)
    return P / P.sum(axis=1, keepdims=True)


def _reference0(Xt, codes, w, B):
    """Loss Hessian and gradient of the mean loss in reference-0 free coordinates
    (class-major), by their definitions, at ``B`` of shape ``(p1, K)``."""
    p1 = Xt.shape[1]
    K = B.shape[1]
    wn = w / w.sum()
    P = _probabilities(Xt, B)
    Y = np.eye(K)[codes]
    G_full = Xt.T @ (wn[:, None] * (P - Y))  # (p1, K): d mean loss / d B
    g = G_full[:, 1:].T.reshape(-1)
    H = np.zeros(((K - 1) * p1, (K - 1) * p1))
    for a in range(1, K):
        for b in range(1, K):
            h = wn * P[:, a] * ((a == b) - P[:, b])
            H[(a - 1) * p1 : a * p1, (b - 1) * p1 : b * p1] = Xt.T @ (h[:, None] * Xt)
    return H, g, P


def _to_full(p1: int, K: int):
    def to_full(z: np.ndarray) -> np.ndarray:
        return np.column_stack([np.zeros(p1), z.reshape(K - 1, p1).T])

    return to_full


def _lp_separated(X, codes, K, w):
    names = [f"x{j}" for j in range(X.shape[1])]
    result = detect_separation(X, codes, K, w, True, names, [str(k) for k in range(K)], reference=0)
    assert result.checked
    return result.separated


def _mle(X, y, w=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MultinomialLogit(cov_type=None, max_iter=300, tol=1e-10).fit(X, y, sample_weight=w)
    B = np.vstack([model.intercept_, model.coef_.T])
    return B - B[:, :1], np.searchsorted(model.classes_, y)


def _certifies(X, codes, w, B) -> bool:
    Xt = _design(X)
    H, g, _ = _reference0(Xt, codes, w, B)
    bound = np.abs(Xt).max(axis=0)
    return newton_step_certifies(H, g, _to_full(Xt.shape[1], B.shape[1]), bound)


@pytest.mark.parametrize("weighted", [False, True])
def test_stiemke_identity_at_any_point(weighted) -> None:
    """``Σ μ_ik a_ik = r - H z`` with ``μ_ik = w_i P_ik (1 - (s̄_i - s_ik))``: zero when
    ``H z = r``, at a point far from the optimum (``r`` is not small there)."""
    rng = np.random.default_rng(7)
    n, p, K = 400, 3, 4
    X = rng.normal(size=(n, p))
    codes = rng.integers(0, K, n)
    w = rng.integers(1, 4, n).astype(float) if weighted else np.ones(n)
    Xt = _design(X)
    B = np.column_stack([np.zeros(p + 1), rng.normal(scale=0.7, size=(p + 1, K - 1))])
    H, g, P = _reference0(Xt, codes, w, B)
    z = np.linalg.solve(H, -g)  # H z = r, r = -g
    Z = _to_full(p + 1, K)(z)
    s = Xt @ Z
    sbar = (P * s).sum(axis=1, keepdims=True)
    wn = w / w.sum()
    mu = wn[:, None] * P * (1.0 - (sbar - s))
    mu[np.arange(n), codes] = 0.0  # cells are k != y_i
    V = -mu
    V[np.arange(n), codes] += mu.sum(axis=1)  # row i: Σ_k μ_ik (e_{y_i} - e_k)
    total = Xt.T @ V  # Σ μ_ik a_ik over all K classes, (p1, K)
    r_norm = np.abs(g).max()
    assert r_norm > 1e-2
    assert np.abs(total).max() <= 1e-12 * max(r_norm, 1.0)
    # the cells' weights are not the probabilities: the correction is real
    assert np.abs(mu - wn[:, None] * P * (np.arange(K) != codes[:, None])).max() > 1e-4


def test_converged_fits_are_certified_and_agree_with_the_lp() -> None:
    rng = np.random.default_rng(3)
    n, p, K = 3000, 4, 4
    X = rng.normal(size=(n, p)) * np.array([1.0, 10.0, 0.01, 300.0])
    y = X / X.std(axis=0) @ rng.normal(scale=0.5, size=(p, K)) + rng.gumbel(size=(n, K))
    y = y.argmax(axis=1)
    w = rng.integers(1, 4, n).astype(float)
    B, codes = _mle(X, y, w)
    assert _certifies(X, codes, w, B)
    assert not _lp_separated(X, codes, K, w)


def test_rare_indicator_is_not_certified() -> None:
    """Quasi-separation by five rows of an indicator: the fit "converges" (probabilities
    near 1e-5), the Newton step along the indicator stays of order one."""
    X, y = rare_indicator_problem()
    n = y.size
    B, codes = _mle(X, y)
    assert not _certifies(X, codes, np.ones(n), B)
    assert _lp_separated(X, codes, 3, np.ones(n))


def test_sound_on_data_near_separation() -> None:
    """Small data, separated or not: the certificate never contradicts the LP, and it
    certifies most of the non-separated ones."""
    certified = separated = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n, p, K = 25, 2, 3
        X = rng.normal(size=(n, p))
        y = (X @ rng.normal(scale=4.0, size=(p, K)) + rng.gumbel(size=(n, K))).argmax(axis=1)
        if np.unique(y).size < K:
            continue
        B, codes = _mle(X, y)
        lp = _lp_separated(X, codes, K, np.ones(n))
        separated += lp
        if _certifies(X, codes, np.ones(n), B):
            certified += 1
            assert not lp, f"seed {seed}: certified but the LP finds separation"
    assert separated >= 5 and certified >= 5


def test_a_long_step_is_not_a_certificate() -> None:
    """The bound, directly: a step whose class differences reach the margin fails."""
    H = np.eye(2)
    to_full = _to_full(1, 3)
    assert newton_step_certifies(H, np.array([0.2, -0.2]), to_full, np.ones(1))  # 0.4
    assert not newton_step_certifies(H, np.array([0.3, -0.3]), to_full, np.ones(1))  # 0.6
    assert not newton_step_certifies(-H, np.array([0.0, 0.0]), to_full, np.ones(1))
    assert CERTIFICATE_MARGIN == 0.5


def test_default_fit_uses_the_kept_hessian(monkeypatch) -> None:
    """A default (covariance) fit decides without the sampled-curvature certificate or
    the LP, and its standard errors are those of a fit that ran them."""
    rng = np.random.default_rng(11)
    n, p, K = 20_000, 4, 3
    X = rng.normal(size=(n, p))
    y = (X @ rng.normal(size=(p, K)) + rng.gumbel(size=(n, K))).argmax(axis=1)
    reference = MultinomialLogit(cov_type=None).fit(X, y)
    plain = MultinomialLogit().fit(X, y)

    def refuse(*args, **kwargs):
        raise AssertionError("the sampled certificate or the LP ran")

    monkeypatch.setattr(separation_check, "not_separated", refuse)
    monkeypatch.setattr(separation_check, "detect_separation", refuse)
    model = MultinomialLogit().fit(X, y)
    assert model.separation_ is None
    np.testing.assert_array_equal(model.coef_, plain.coef_)
    np.testing.assert_array_equal(model.cov_params(), plain.cov_params())
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-6, atol=1e-8)


def test_default_fit_on_separated_data_still_finds_it() -> None:
    rng = np.random.default_rng(2)
    n = 3000
    X = rng.normal(size=(n, 2))
    y = np.where(X[:, 0] > 0.3, 2, rng.integers(0, 2, n))  # class 2 separated by x0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MultinomialLogit().fit(X, y)
    assert model.separation_ is not None
    assert model.separation_.separated


@pytest.mark.parametrize(
    "kwargs",
    [
        {"reference": 2},
        {"fit_intercept": False},
        {"penalty": "l2", "alpha": 0.0},
    ],
)
def test_hessian_certificate_in_other_coordinates(kwargs, monkeypatch) -> None:
    """Another reference class (free coordinates), no intercept, weights with zeros,
    features on scales 1e-4 .. 1e4 (rescaled columns): the Hessian certificate decides,
    and it agrees with the LP."""
    rng = np.random.default_rng(5)
    n, p, K = 6000, 3, 4
    X = rng.normal(size=(n, p)) * np.array([1e-4, 1.0, 1e4])
    eta = (X / X.std(axis=0)) @ rng.normal(scale=0.6, size=(p, K))
    y = (eta + rng.gumbel(size=(n, K))).argmax(axis=1)
    w = rng.integers(0, 3, n).astype(float)
    calls = _record_certificates(monkeypatch)
    model = MultinomialLogit(**kwargs).fit(X, y, sample_weight=w)
    assert calls == [True]
    assert model.separation_ is None
    codes = np.searchsorted(model.classes_, y)
    assert not _lp_separated(X, codes, K, w)


@pytest.mark.parametrize("scale", [1.0, 50.0])
def test_package_path_does_not_certify_a_quasi_separated_fit(scale, monkeypatch) -> None:
    """Through ``MultinomialLogit().fit``: a rare indicator (five rows, all of class 2, on
    a column of max-abs ``scale`` behind an aliased copy of another column), another
    reference class and weights with zeros. The Hessian certificate is asked (the fit
    converges and keeps its covariance Hessian) and must not certify: the separation LP
    then reports the separated class. An understated column bound would certify here."""
    rng = np.random.default_rng(8)
    n, K = 4000, 3
    X = rng.normal(size=(n, 2))
    y = (X @ rng.normal(size=(2, K)) + rng.gumbel(size=(n, K))).argmax(axis=1)
    rare = np.zeros(n)
    rare[:5] = scale
    y[:5] = 2
    Xa = np.column_stack([X[:, 0], X[:, 0], X[:, 1], rare])  # column 1 aliases column 0
    w = rng.integers(0, 3, n).astype(float)
    w[:5] = 1.0
    calls = _record_certificates(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MultinomialLogit(reference=2).fit(Xa, y, sample_weight=w)
    assert calls and not any(calls)
    assert model.separation_ is not None and model.separation_.separated
