"""The solvers' side of the last pass (issue-speed7): the prediction rule, subsample-newton
and newton forming the covariance's Hessian in their last gradient pass, and a wrong
prediction costing a Hessian but changing neither the coefficients nor the covariance."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import mnlogit.objective.last_pass as last_pass_module
import mnlogit.objective.multinomial as multinomial_module
import mnlogit.solvers.monitor as monitor_module
from mnlogit import MultinomialLogit
from mnlogit.solvers.monitor import ConvergenceMonitor, SolverOptions


def _monitor(gradients, tol=1e-8, criterion="gradient"):
    monitor = ConvergenceMonitor("test", SolverOptions(tol=tol, criterion=criterion))
    for i, g in enumerate(gradients):
        monitor.record(np.full(2, float(i)), 1.0 / (i + 1), np.array([g, -g / 2]))
    return monitor


@pytest.mark.parametrize(
    ("gradients", "predicted"),
    [
        ([6.2e-6, 2.8e-7, 1.12e-8], True),  # dense-1m-50-3's last three: 1.5 * 4.5e-10
        ([6.2e-6, 2.8e-7], False),  # the iteration before: 1.5 * 1.26e-8 > 1e-8
        ([4.7e-5, 5.2e-7], True),  # tall-2m-10-4: 1.5 * 5.8e-9 = 8.6e-9
        ([5.2e-7, 7.3e-8], False),  # 1.5 * 1.02e-8
        ([1e-9, 2e-9], False),  # growing
        ([3e-9, 3e-9], False),  # not contracting
        ([1e-3], False),  # one record
    ],
)
def test_the_prediction_rule(gradients, predicted):
    assert _monitor(gradients).predicts_convergence() == predicted
    assert not _monitor(gradients, criterion="loglik").predicts_convergence()
    assert not _monitor(gradients, criterion="parameter").predicts_convergence()


def _problem(n=40_000, p=4, K=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * [1.0, 5.0, 0.2, 1.0][:p] + 0.5
    B = rng.normal(0, 0.6, (p, K))
    eta = X @ B + rng.normal(0, 0.3, K)
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) < rng.uniform(size=(n, 1))).sum(axis=1)
    return X, y


def _count(monkeypatch, n_rows):
    """Calls of the last pass, and of the objective's own Hessian on all ``n_rows`` rows."""
    counts = {"last": 0, "full": 0}
    fused, formed = last_pass_module.loss_and_hessian, multinomial_module.loss_hessian

    def last(*args, **kwargs):
        counts["last"] += 1
        return fused(*args, **kwargs)

    def full(X, *args, **kwargs):
        counts["full"] += X.shape[0] == n_rows
        return formed(X, *args, **kwargs)

    monkeypatch.setattr(last_pass_module, "loss_and_hessian", last)
    monkeypatch.setattr(multinomial_module, "loss_hessian", full)
    return counts


def _params(model):
    se = np.sqrt(np.diag(model.cov_params().to_numpy()))
    return np.concatenate([model.coef_.ravel(), model.intercept_]), se


@pytest.mark.parametrize("safety", [None, 0.0, np.inf])
def test_subsample_newton_last_pass_any_prediction(safety, monkeypatch):
    """Default rule, always predicting (wrong at first), never: the same coefficients as a
    fit that never fuses, and the covariance of a fresh Hessian at the returned point."""
    X, y = _problem()
    plain = MultinomialLogit(solver="subsample-newton", cov_type=None).fit(X, y)
    if safety is not None:
        monkeypatch.setattr(monitor_module, "PREDICTION_SAFETY", safety)
    counts = _count(monkeypatch, X.shape[0])
    model = MultinomialLogit(solver="subsample-newton").fit(X, y)
    n_iter = model.convergence_.n_iter
    if safety == 0.0:  # every contracting iteration from the second on: wrong before the last
        assert n_iter >= 3
        assert counts["last"] == n_iter - 1
    elif safety == np.inf:
        assert counts["last"] == 0
    if counts["last"]:
        assert counts["full"] == 0  # the covariance took the last pass's Hessian
    else:
        assert counts["full"] == 1
    coef, se = _params(model)
    assert_allclose(coef, np.concatenate([plain.coef_.ravel(), plain.intercept_]), rtol=1e-10)
    fresh = MultinomialLogit(solver="subsample-newton", cov_type=None).fit(X, y)
    fresh.compute_covariance(X, y)
    assert_allclose(se, _params(fresh)[1], rtol=1e-12)
    assert_allclose(
        model.cov_params().to_numpy(), fresh.cov_params().to_numpy(), rtol=1e-11, atol=1e-18
    )


def test_the_default_rule_fuses_the_last_pass_of_a_steady_fit(monkeypatch):
    X, y = _problem(seed=3)
    counts = _count(monkeypatch, X.shape[0])
    model = MultinomialLogit(solver="subsample-newton").fit(X, y)
    gradients = [rec.gradient for rec in model.convergence_.history]
    # predicted exactly when the rule says so before the last iteration
    g1, g0 = gradients[-2], gradients[-3]
    assert counts["last"] == int(1.5 * g1 * g1 / g0 <= 1e-8)
    assert counts["last"] + counts["full"] == 1


@pytest.mark.parametrize("reference", [None, "last"])
def test_newton_forms_each_hessian_in_the_gradient_pass(reference, monkeypatch):
    X, y = _problem(n=3000, p=3, K=4, seed=1)
    ref = None if reference is None else int(y.max())
    plain = MultinomialLogit(solver="newton", cov_type=None, reference=ref).fit(X, y)
    counts = _count(monkeypatch, X.shape[0])
    model = MultinomialLogit(solver="newton", reference=ref).fit(X, y)
    n_iter = model.convergence_.n_iter
    steps = [rec.step for rec in model.convergence_.history[1:]]
    # the start and every iteration after a full step fused; the others formed their own
    assert counts["last"] == 1 + sum(s == 1.0 for s in steps[:-1])
    assert counts["last"] >= 3
    assert counts["full"] == n_iter + 1 - counts["last"]
    coef, se = _params(model)
    assert_allclose(coef, np.concatenate([plain.coef_.ravel(), plain.intercept_]), rtol=1e-10)
    plain.compute_covariance(X, y)
    assert_allclose(se, _params(plain)[1], rtol=1e-12)


def test_no_last_pass_without_a_covariance(monkeypatch):
    X, y = _problem(n=3000, p=3, K=3, seed=2)
    counts = _count(monkeypatch, X.shape[0])
    MultinomialLogit(solver="newton", cov_type=None).fit(X, y)
    MultinomialLogit(solver="subsample-newton", cov_type=None).fit(X, y)
    assert counts["last"] == 0


def test_the_request_is_scoped_and_ignored_without_the_capability(monkeypatch):
    from mnlogit.objective import FirthObjective, MultinomialObjective, make_penalty
    from mnlogit.objective.protocol import hessian_with_next_gradient
    from mnlogit.parameterization import Parameterization

    X, y = _problem(n=500, p=3, K=3, seed=4)
    counts = _count(monkeypatch, X.shape[0])
    base = MultinomialObjective(
        X, y, 3, np.ones(500), Parameterization(3, 0), make_penalty(None, 0.0, True)
    )
    theta = np.zeros(base.n_params)
    with hessian_with_next_gradient(base, True):
        pass  # not spent in the block: withdrawn on leaving it
    base.value_and_gradient(theta)
    with hessian_with_next_gradient(base, False):
        base.value_and_gradient(theta + 0.1)
    assert counts["last"] == 0
    with hessian_with_next_gradient(base, True):
        base.value_and_gradient(theta + 0.3)
    assert counts == {"last": 1, "full": 0}
    firth = FirthObjective(base)
    with hessian_with_next_gradient(firth, True):  # Firth does not declare "last-pass"
        firth.value_and_gradient(theta + 0.2)
    assert counts["last"] == 1
