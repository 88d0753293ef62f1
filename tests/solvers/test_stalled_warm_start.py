"""A subsample fit whose float32 products stall short of its tolerance still gives the
warm start (issue-speed12): on ill-conditioned X the warm start's float32 objective stops
changing at a gradient of a few 1e-5, above the subsample tolerance 1e-5; the fit used to
run on to max_iter (100 iterations, most of the time of ``illcond-200k-50-6``'s fit) and
then abandon the subsample for the full data.
References: exact Newton on the same data (objective, coefficients, standard errors)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from tests.solvers.test_hand_over import _illconditioned

import mnlogit.objective.multinomial as multinomial
from helpers import assert_exact_newtons_fit
from mnlogit import MultinomialLogit
from mnlogit.exceptions import ConvergenceWarning
from mnlogit.solvers import subsample_newton
from mnlogit.solvers.monitor import SolverOptions, SolverResult
from mnlogit.solvers.subsample_newton import _warm_start


def test_stalled_subsample_fit_is_the_warm_start(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _illconditioned(n=40_000)
    n, m = X.shape[0], 7 * 31
    rows = subsample_newton.subsample_rows(n, m)
    assert rows < n and not subsample_newton.uses_kronecker(n, m)
    nested: list[tuple[int, SolverResult]] = []
    after: list[int] = []  # Hessians formed when the subsample fit returned
    inner_solve = subsample_newton.solve

    def recorded_solve(objective, x0, options, state=None, **kw):  # type: ignore[no-untyped-def]
        result = inner_solve(objective, x0, options, state, **kw)
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
    assert_exact_newtons_fit(auto, X, y)


def _subsample_fit(gradient: float, converged: bool) -> SolverResult:
    """A stand-in subsample fit that stopped at max|g| ``gradient``."""
    from mnlogit.solvers.monitor import IterationRecord

    record = IterationRecord(0, 1.0, gradient, np.nan, np.nan, np.nan, gradient)
    return SolverResult(
        x=np.full(3, 0.5), converged=converged, n_iter=1, history=[record],
        stop_reason="" if converged else "the objective stopped changing",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("gradient", "converged", "kept"),
    [
        (2e-5, False, True),  # stalled close: the warm start
        (5e-3, False, False),  # stalled far (or max_iter): abandoned for the full data
        (np.nan, False, False),  # a non-finite point: abandoned
        (5e-3, True, True),  # converged at a loose tol (tol=1e-2): kept
    ],
)
def test_which_subsample_fits_give_the_warm_start(monkeypatch, gradient, converged, kept) -> None:
    X, y = _illconditioned(n=4_000)
    from mnlogit.objective import MultinomialObjective
    from mnlogit.objective.penalties import make_penalty
    from mnlogit.parameterization import Parameterization

    K = int(np.unique(y).size)
    objective = MultinomialObjective(
        X, y, K, np.ones(len(y)), Parameterization(K, 0), make_penalty(None, 0.0, True)
    )
    monkeypatch.setattr(
        subsample_newton, "solve", lambda *a, **k: _subsample_fit(gradient, converged)
    )
    x0 = np.zeros(3)
    x, sub, _ = _warm_start(objective, x0, SolverOptions(tol=1e-2), rows=1000)
    assert (sub is not None) == kept
    assert np.array_equal(x, np.full(3, 0.5) if kept else x0)


def test_loose_tol_keeps_the_converged_warm_start() -> None:
    """With ``tol`` above ``_SUB_STALLED_TOL`` the subsample fit converges at that tol and
    its point is the warm start (max|g| about 0.012 on the full data here): the full-data
    fit then takes one iteration. Refusing it (the merged branch did) started from zero,
    max|g| 0.11, and took 3-4 iterations."""
    rng = np.random.default_rng(3)
    n, p, K = 100_000, 20, 5
    X = rng.normal(size=(n, p))
    y = (X @ rng.normal(scale=0.4, size=(p, K)) + rng.gumbel(size=(n, K))).argmax(axis=1)
    for tol in (3e-3, 1e-2):
        fit = MultinomialLogit(tol=tol, cov_type=None).fit(X, y)
        assert fit.converged_ and fit.solver_ == "subsample-newton"
        assert fit.n_iter_ <= 1
        assert fit.convergence_.history[0].gradient < 0.05
