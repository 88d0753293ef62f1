"""The solvers' protocol: declared capabilities, checked before a solver runs; the
float32 -> float64 two-phase solve merging its results by fields."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import make_data
from mnlogit.objective import FirthObjective, MultinomialObjective, make_penalty
from mnlogit.objective.protocol import CAPABILITIES, HESSIAN, SUBSAMPLE, check_requirements
from mnlogit.parameterization import Parameterization
from mnlogit.solvers import REQUIRES, SOLVERS, SolverOptions, solve_in_precision
from mnlogit.solvers.monitor import ConvergenceMonitor
from mnlogit.solvers.precision import FLOAT32_STALL_RTOL


def objective(X, y, K=3, penalty=None):
    return MultinomialObjective(
        X, y, K, np.ones(X.shape[0]), Parameterization(K, 0), make_penalty(penalty, 0.0, True)
    )


def test_objectives_declare_known_capabilities():
    X, y, _ = make_data(n=60, p=2, K=3, seed=1)
    base = objective(X, y)
    assert base.capabilities <= CAPABILITIES
    assert base.capabilities == CAPABILITIES
    firth = FirthObjective(base)
    assert firth.capabilities <= CAPABILITIES
    assert {"irls", "subsample", "kronecker"}.isdisjoint(firth.capabilities)
    assert all(set(req) <= CAPABILITIES for req in REQUIRES.values())


@pytest.mark.parametrize(
    ("solver", "missing"), [("irls", "irls"), ("subsample-newton", "subsample")]
)
def test_a_solver_refuses_an_objective_without_a_capability_it_needs(solver, missing):
    X, y, _ = make_data(n=60, p=2, K=3, seed=2)
    firth = FirthObjective(objective(X, y))
    with pytest.raises(TypeError, match=rf"solver '{solver}' needs the objective to provide "):
        SOLVERS[solver](firth, np.zeros(firth.n_params), SolverOptions())
    with pytest.raises(TypeError, match=rf"{missing}.*; FirthObjective does not"):
        SOLVERS[solver](firth, np.zeros(firth.n_params), SolverOptions())


def test_check_requirements_names_every_missing_capability():
    class ValuesOnly:
        capabilities = frozenset()

    with pytest.raises(TypeError) as info:
        check_requirements("mine", ValuesOnly(), (HESSIAN, SUBSAMPLE))  # type: ignore[arg-type]
    assert str(info.value) == (
        "solver 'mine' needs the objective to provide hessian, subsample; ValuesOnly does not"
    )
    check_requirements("mine", ValuesOnly(), ())  # type: ignore[arg-type]


@pytest.mark.parametrize("solver", ["newton", "newton-cg", "lbfgs", "gd"])
def test_firth_objective_runs_the_solvers_it_declares(solver):
    X, y, _ = make_data(n=200, p=2, K=3, seed=3)
    firth = FirthObjective(objective(X, y))
    res = SOLVERS[solver](firth, np.zeros(firth.n_params), SolverOptions(tol=1e-6, max_iter=5000))
    assert res.converged, res.message


def test_two_phase_solve_composes_its_message_from_both_phases():
    X, y, _ = make_data(n=3000, p=5, K=3, seed=4)
    obj = objective(X.astype(np.float32), y)
    res = solve_in_precision(SOLVERS["lbfgs"], obj, np.zeros(obj.n_params), SolverOptions())
    assert res.converged
    assert 0 < res.float32_iterations < res.n_iter
    assert len(res.history) == res.n_iter + 1
    assert [r.iteration for r in res.history] == list(range(res.n_iter + 1))
    assert res.message.endswith(
        f"after {res.n_iter} iterations ({res.float32_iterations} on float32 products)"
    )
    # the budget spent in the float32 phase: the merged result says so
    obj = objective(X.astype(np.float32), y)
    res = solve_in_precision(
        SOLVERS["gd"], obj, np.zeros(obj.n_params), SolverOptions(tol=1e-12, max_iter=4)
    )
    assert not res.converged and res.n_iter == 4 and res.float32_iterations == 4
    assert res.message.startswith(
        "did not converge: reached max_iter=4 (4 iterations on float32 products); "
    )


@pytest.mark.parametrize("stall_rtol", [None, FLOAT32_STALL_RTOL])
def test_a_stall_is_an_objective_moving_by_at_most_stall_rtol(stall_rtol):
    # the float32 phase of a Firth fit (one row of weight 7.5, float32) kept a gradient of
    # 1.8e-6 above FLOAT32_TOL while its objective moved by 1.4e-14 relatively: with only
    # float64 rounding (8 eps) counting as a stall it ran to max_iter
    extra = {} if stall_rtol is None else {"stall_rtol": stall_rtol}
    monitor = ConvergenceMonitor("newton", SolverOptions(stop_on_stall=True, **extra))
    g = np.array([1.809e-6])
    f = 0.119220231074
    stopped = [monitor.record(np.array([1.6 + 1e-14 * i]), f * (1 + 1.4e-14 * (i % 2)), g)
               for i in range(6)]  # fmt: skip
    if stall_rtol is None:
        assert not any(stopped)
    else:
        assert stopped == [False, False, False, True, True, True]  # 3 records after the first
        assert not monitor.converged and monitor.stalled


def test_the_float32_phase_counts_float32_rounding_as_a_stall():
    seen = []

    def solve(obj, x0, options):
        seen.append(options)
        return SOLVERS["lbfgs"](obj, x0, options)

    X, y, _ = make_data(n=500, p=3, K=3, seed=5)
    obj = objective(X.astype(np.float32), y)
    res = solve_in_precision(solve, obj, np.zeros(obj.n_params), SolverOptions())
    assert res.converged
    first, second = seen
    assert first.stop_on_stall and first.stall_rtol == FLOAT32_STALL_RTOL
    assert not second.stop_on_stall and second.stall_rtol == 8 * np.finfo(np.float64).eps
