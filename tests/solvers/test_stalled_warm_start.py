"""A subsample fit whose float32 products stall short of its tolerance still gives the
warm start (issue-speed12): on ill-conditioned X the warm start's float32 objective stops
changing at a gradient of about 1e-4, above the subsample tolerance 1e-5; the fit used to
run on to max_iter (100 iterations, most of the time of ``illcond-200k-50-6``'s fit) and
then abandon the subsample for the full data.
References: exact Newton on the same data (objective, coefficients, standard errors)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from tests.solvers.test_hand_over import _illconditioned

import mnlogit.objective.multinomial as multinomial
from mnlogit import MultinomialLogit
from mnlogit.exceptions import ConvergenceWarning
from mnlogit.solvers import subsample_newton
from mnlogit.solvers.monitor import SolverResult


def test_stalled_subsample_fit_is_the_warm_start(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _illconditioned(n=40_000)
    n, m = X.shape[0], 7 * 31
    rows = subsample_newton.subsample_rows(n, m)
    assert rows < n and not subsample_newton.uses_kronecker(n, m)
    nested: list[tuple[int, SolverResult]] = []
    after: list[int] = []  # Hessians formed when the subsample fit returned
    inner_solve = subsample_newton.solve

    def recorded_solve(objective, x0, options, state=None):  # type: ignore[no-untyped-def]
        result = inner_solve(objective, x0, options, state)
        nested.append((int(objective.n_samples), result))
        after.append(len(hessian_rows))
        return result

    hessian_rows: list[int] = []
    inner_hessian = multinomial.MultinomialObjective.hessian

    def recorded_hessian(self, x):  # type: ignore[no-untyped-def]
        hessian_rows.append(int(self.n_samples))
        return inner_hessian(self, x)

    # the warm start calls the module's solve by name: only the subsample fit is recorded
    monkeypatch.setattr(subsample_newton, "solve", recorded_solve)
    monkeypatch.setattr(multinomial.MultinomialObjective, "hessian", recorded_hessian)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        auto = MultinomialLogit(tol=1e-8).fit(X, y)
    monkeypatch.undo()
    assert auto.converged_ and auto.solver_ == "subsample-newton"
    assert len(nested) == 1
    sub_rows, sub = nested[0]
    assert sub_rows == -(-n // (n // rows))
    # stalled above the subsample tolerance, stopped there, and used
    assert not sub.converged and sub.stop_reason == "the objective stopped changing"
    assert sub.history[-1].gradient > subsample_newton._SUB_TOL
    assert sub.history[-1].gradient <= subsample_newton._SUB_STALLED_TOL
    assert sub.n_iter < 50
    # the full-data iterations start from it, preconditioned by the subsample's Hessian
    # (an abandoned warm start starts from zero with the full data's)
    assert auto.convergence_.history[0].gradient < 0.1 * sub.history[0].gradient
    assert hessian_rows[after[0] :].count(n) <= 1  # the covariance's, at most
    newton = MultinomialLogit(solver="newton", tol=1e-10).fit(X, y)
    assert auto.convergence_.objective == pytest.approx(newton.convergence_.objective, rel=1e-12)
    assert_allclose(auto.coef_, newton.coef_, rtol=1e-5, atol=1e-7)
    se = np.sqrt(np.diag(auto.cov_params().to_numpy()))
    se_newton = np.sqrt(np.diag(newton.cov_params().to_numpy()))
    assert_allclose(se, se_newton, rtol=1e-5)
