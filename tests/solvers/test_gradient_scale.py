"""The gradient criterion in the user's units when the fit rescales columns internally."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mnlogit import MultinomialLogit


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
