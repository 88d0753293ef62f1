"""The Kronecker model's hand-over to exact curvature starts on a row subsample
(issue-speed11): its first Hessian is a preconditioner only, on 50 rows per column
(at most a quarter of the rows), and grows twofold (the full data at most) when progress
stalls again.
References: exact Newton on the same data (objective, coefficients, standard errors)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

import mnlogit.objective.multinomial as multinomial
from helpers import assert_exact_newtons_fit
from mnlogit import MultinomialLogit
from mnlogit.exceptions import ConvergenceWarning
from mnlogit.solvers import subsample_newton


def _illconditioned(n: int = 8000, p: int = 30, K: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Features correlated 0.95, scales 1e-3 .. 1e3 (benchmarks' ``illcond`` kind)."""
    rng = np.random.default_rng(7)
    common = rng.standard_normal((n, 1))
    Z = np.sqrt(0.95) * common + np.sqrt(0.05) * rng.standard_normal((n, p))
    eta = Z @ rng.normal(0, 4.5 / np.sqrt(p), (p, K)) + rng.normal(0, 0.5, K)
    y = (eta + rng.gumbel(size=eta.shape)).argmax(axis=1)
    return Z * np.logspace(-3, 3, p), y


def test_hand_over_rows() -> None:
    rows = subsample_newton.hand_over_rows
    assert rows(20_000, 255, 6) == 2550  # 50 rows per column (p1 = 51)
    assert rows(20_000, 100, 6) == 2000  # the 2,000-row floor
    assert rows(8000, 217, 8) == 2000  # a quarter of the rows: still a subsample
    assert rows(20_000, 242, 3) == 20_000  # 6,050 rows, over a quarter: all rows
    assert rows(10_199, 255, 6) == 10_199


def _hessian_rows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    rows: list[int] = []
    inner = multinomial.MultinomialObjective.hessian

    def recorded(self, x):  # type: ignore[no-untyped-def]
        rows.append(int(self.n_samples))
        return inner(self, x)

    monkeypatch.setattr(multinomial.MultinomialObjective, "hessian", recorded)
    return rows


def test_hand_over_starts_on_a_subsample_and_reaches_newtons_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = _illconditioned()
    n, m = X.shape[0], 7 * 31
    assert subsample_newton.uses_kronecker(n, m) and m <= subsample_newton._KRON_EXACT_MAX
    rows = _hessian_rows(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        auto = MultinomialLogit(tol=1e-8).fit(X, y)
    assert auto.converged_ and auto.solver_ == "subsample-newton"
    step = n // subsample_newton.hand_over_rows(n, m, 8)
    first = -(-n // step)
    assert first < n / 2
    # the hand-over's Hessian on the subsample, then more rows, the full data at most
    assert rows[0] == first
    assert rows == sorted(rows) and rows[-1] == n
    monkeypatch.undo()
    assert_exact_newtons_fit(auto, X, y)


def test_hand_over_in_the_float32_phase_reaches_newtons_fit() -> None:
    """float32 X: the two-phase solve resumes the switched state in float64 (its
    subsample then grows to the full data, not to n / 16)."""
    X, y = _illconditioned()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        auto = MultinomialLogit(tol=1e-8, cov_type=None).fit(X.astype(np.float32), y)
    newton = MultinomialLogit(solver="newton", tol=1e-10, cov_type=None).fit(
        X.astype(np.float32), y
    )
    assert auto.converged_
    assert auto.convergence_.objective == pytest.approx(newton.convergence_.objective, rel=1e-12)
    assert_allclose(auto.coef_, newton.coef_, rtol=1e-5, atol=1e-7)
