"""The gradient's stated scale; ``auto``'s fallback to Newton; no standard errors unconverged."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from mnlogit import MultinomialLogit
from mnlogit.exceptions import ConvergenceWarning, InferenceUnavailableError
from mnlogit.solvers import subsample_newton


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(18)
    n = 2000
    Z = rng.standard_normal((n, 3))
    eta = Z @ rng.normal(0, 0.8, (3, 3))
    y = (eta + rng.gumbel(size=eta.shape)).argmax(axis=1)
    return Z * [1e-5, 1.0, 1e5], y  # columns 0 and 2 are rescaled inside the fit


def user_gradient(model: MultinomialLogit, X: np.ndarray, y: np.ndarray) -> float:
    """max |d mean NLL / d (intercept, coef)| over the non-reference classes, plain numpy."""
    eta = X @ model.coef_.T + model.intercept_
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    R = (P - np.eye(3)[y]) / len(y)
    G = np.vstack([R.sum(axis=0), X.T @ R])[:, 1:]  # reference class 0
    return float(np.abs(G).max())


def test_reported_gradient_in_the_users_units():
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged on purpose: a gradient of size
        model = MultinomialLogit(solver="lbfgs", max_iter=3, cov_type=None).fit(X, y)
    assert not model.converged_
    report = model.convergence_
    assert report.gradient_user == pytest.approx(user_gradient(model, X, y), rel=1e-6)
    assert report.gradient_user != pytest.approx(report.gradient, rel=1e-3)  # two scales
    assert report.history[-1].gradient_user == report.gradient_user
    text = str(report)
    assert "the scale tol is checked in" in text and "in your units" in text


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "newton-cg"])
def test_tol_is_checked_on_the_stated_gradient(solver):
    X, y = _data()
    tol = 1e-7
    model = MultinomialLogit(solver=solver, tol=tol, cov_type=None).fit(X, y)
    report = model.convergence_
    assert model.converged_ and report.gradient <= tol
    # in the user's units the gradient of column 2 (values near 1e5) is 1e5 times the
    # solver's; reported beside it, and equal to an independent numpy gradient
    assert report.gradient_user == pytest.approx(user_gradient(model, X, y), rel=1e-3, abs=1e-12)


def test_unscaled_fit_reports_one_gradient():
    X, y = _data()
    X = X * [1e5, 1.0, 1e-5]  # every column now within [1e-3, 1e3]: nothing rescaled
    model = MultinomialLogit(cov_type=None).fit(X, y)
    assert model.convergence_.gradient_user == model.convergence_.gradient


# ------------------------------------------------------------------ auto never stalls


def _illconditioned(n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Features correlated 0.95, scales 1e-3 .. 1e3 (issue 18: auto stalled at max_iter)."""
    rng = np.random.default_rng(7)
    p, K = 50, 6
    common = rng.standard_normal((n, 1))
    Z = np.sqrt(0.95) * common + np.sqrt(0.05) * rng.standard_normal((n, p))
    eta = Z @ rng.normal(0, 4.5 / np.sqrt(p), (p, K)) + rng.normal(0, 0.5, K)
    y = (eta + rng.gumbel(size=eta.shape)).argmax(axis=1)
    return Z * np.logspace(-3, 3, p), y


@pytest.mark.slow
def test_auto_converges_where_its_approximate_solver_stalls(monkeypatch):
    """The fallback to Newton after AUTO_PATIENCE iterations, with the Kronecker model
    kept to the end (``_KRON_EXACT_MAX = 0``, as before issue-speed10)."""
    monkeypatch.setattr(subsample_newton, "_KRON_EXACT_MAX", 0)
    X, y = _illconditioned()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        auto = MultinomialLogit(cov_type=None).fit(X, y)
    assert auto.converged_
    assert auto.solver_ == "subsample-newton, then newton"
    history = auto.convergence_.history
    assert [r.iteration for r in history] == list(range(auto.n_iter_ + 1))
    newton = MultinomialLogit(solver="newton", cov_type=None).fit(X, y)
    assert auto.convergence_.objective == pytest.approx(newton.convergence_.objective, rel=1e-12)
    assert_allclose(auto.coef_, newton.coef_, rtol=1e-5, atol=1e-9)


@pytest.mark.slow
def test_stalled_kronecker_model_switches_to_the_exact_hessian():
    """255 parameters, no room for a subsample: after two slow Kronecker iterations the
    exact Hessian takes over inside subsample-newton, which then converges on its own
    in far fewer than AUTO_PATIENCE iterations, at Newton's optimum."""
    X, y = _illconditioned()
    n, m = X.shape[0], 5 * 51
    assert subsample_newton.uses_kronecker(n, m) and m <= subsample_newton._KRON_EXACT_MAX
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        auto = MultinomialLogit(cov_type=None).fit(X, y)
    assert auto.converged_ and auto.solver_ == "subsample-newton"
    assert auto.n_iter_ < 30
    newton = MultinomialLogit(solver="newton", cov_type=None).fit(X, y)
    assert auto.convergence_.objective == pytest.approx(newton.convergence_.objective, rel=1e-12)
    assert_allclose(auto.coef_, newton.coef_, rtol=1e-5, atol=1e-9)


def test_non_converged_fit_refuses_standard_errors():
    X, y = _data()
    with pytest.warns(ConvergenceWarning):
        model = MultinomialLogit(solver="lbfgs", max_iter=2).fit(X, y)
    assert not model.converged_
    assert "did not converge" in model.cov_status_
    with pytest.raises(InferenceUnavailableError, match="did not converge"):
        model.coef_table()
    model.compute_covariance(X, y)  # asked for explicitly
    assert np.isfinite(model.coef_table()["std_err"].to_numpy()).all()
