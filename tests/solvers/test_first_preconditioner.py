"""Where subsample-newton's first full-data preconditioners are formed (issue-speed12).

After a warm start, the warm start fit's last Hessian (of all the subsample's rows) is
the first preconditioner when it was formed close enough to the warm start; else the
subsample's Hessian is formed at the warm start. A first full-data iteration that
shrinks ``max|g|`` by less than ``_FIRST_CONTRACTION`` forms it again at its end, where
that Hessian is cheap (``r m <= _REFRESH_MAX_WORK n``), on ``_REFRESH_DENSER`` times the
rows, read in place (issue-speed13).
References: exact Newton on the same data (objective, coefficients, standard errors)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
from tests.solvers.test_hand_over import _illconditioned

import mnlogit.objective.multinomial as multinomial
from helpers import assert_exact_newtons_fit
from mnlogit import MultinomialLogit
from mnlogit.exceptions import ConvergenceWarning
from mnlogit.objective.protocol import ROW_VIEW
from mnlogit.solvers import subsample_newton


def _dense(n: int, p: int, K: int, signal: float) -> tuple[np.ndarray, np.ndarray]:
    """Standard normal features, labels drawn from the model (benchmarks' dense kind)."""
    rng = np.random.default_rng(3)
    W = rng.normal(0, signal / np.sqrt(p), (p, K))
    b = rng.normal(0, 0.5, K)
    X = rng.standard_normal((n, p))
    y = (X @ W + b + rng.gumbel(size=(n, K))).argmax(axis=1)
    return X, y


@dataclass
class _Trace:
    """What one default fit did: the warm start's point, the Hessians formed after it
    (rows, point) and the full data's gradient evaluations (points)."""

    warm_start: np.ndarray | None = None
    hessians: list[tuple[int, np.ndarray]] = field(default_factory=list)
    full_points: list[np.ndarray] = field(default_factory=list)
    full_values: list[float] = field(default_factory=list)
    in_place: list[bool] = field(default_factory=list)  # each Hessian's rows a view of X


def _traced_fit(
    monkeypatch: pytest.MonkeyPatch, X: np.ndarray, y: np.ndarray
) -> tuple[MultinomialLogit, _Trace]:
    trace = _Trace()
    n = X.shape[0]
    inner_solve = subsample_newton.solve
    inner_hessian = multinomial.MultinomialObjective.hessian
    inner_gradient = multinomial.MultinomialObjective.value_and_gradient

    def solve(objective, x0, options, state=None, **kw):  # type: ignore[no-untyped-def]
        result = inner_solve(objective, x0, options, state, **kw)
        trace.warm_start = np.array(result.x, copy=True)
        return result

    def hessian(self, x):  # type: ignore[no-untyped-def]
        if trace.warm_start is not None:
            trace.hessians.append((int(self.n_samples), np.array(x, copy=True)))
            trace.in_place.append(bool(np.shares_memory(self.X, X)))
        return inner_hessian(self, x)

    def value_and_gradient(self, x):  # type: ignore[no-untyped-def]
        out = inner_gradient(self, x)
        if trace.warm_start is not None and self.n_samples == n:
            trace.full_points.append(np.array(x, copy=True))
            trace.full_values.append(float(out[0]))
        return out

    # the warm start calls the module's solve by name: only the subsample fit is traced
    monkeypatch.setattr(subsample_newton, "solve", solve)
    monkeypatch.setattr(multinomial.MultinomialObjective, "hessian", hessian)
    monkeypatch.setattr(multinomial.MultinomialObjective, "value_and_gradient", value_and_gradient)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = MultinomialLogit(tol=1e-8).fit(X, y)
    monkeypatch.undo()
    assert model.converged_ and model.solver_ == "subsample-newton"
    return model, trace


def _first_contraction(model: MultinomialLogit) -> float:
    history = model.convergence_.history
    return history[0].gradient / history[1].gradient


def test_slow_first_iteration_forms_the_hessian_again(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _dense(100_000, 20, 5, signal=1.5)
    n, m = X.shape[0], 4 * 21
    rows = subsample_newton.subsample_rows(n, m)
    assert rows < n
    model, trace = _traced_fit(monkeypatch, X, y)
    assert _first_contraction(model) < subsample_newton._FIRST_CONTRACTION
    assert trace.warm_start is not None
    sub = [(r, x) for r, x in trace.hessians if r < n]
    # the warm start fit's last Hessian was reused: none formed at the warm start ...
    assert not any(np.array_equal(x, trace.warm_start) for _, x in sub)
    # ... and the first one formed is at the first full-data iterate
    assert sub and np.array_equal(trace.full_points[0], trace.warm_start)
    assert any(np.array_equal(sub[0][1], x) for x in trace.full_points[1:])
    # on twice the warm start's rows (every 8th, not 16th), read in place (issue-speed13)
    stride = n // rows
    assert stride // subsample_newton._REFRESH_DENSER > 1
    assert sub[0][0] == -(-n // (stride // subsample_newton._REFRESH_DENSER))
    first = next(k for k, (r, _) in enumerate(trace.hessians) if r < n)
    assert trace.in_place[first]
    assert_exact_newtons_fit(model, X, y)


def test_refresh_without_a_row_view_uses_the_subsample_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An objective without ``"row-view"`` (the Dask and device engines) forms the first
    iteration's refresh on the warm start's own subsample copy (its rows, not X's)."""
    X, y = _dense(100_000, 20, 5, signal=1.5)
    n, m = X.shape[0], 4 * 21
    rows = subsample_newton.subsample_rows(n, m)
    without = multinomial.MultinomialObjective.capabilities - {ROW_VIEW}
    monkeypatch.setattr(multinomial.MultinomialObjective, "capabilities", without)
    model, trace = _traced_fit(monkeypatch, X, y)
    assert _first_contraction(model) < subsample_newton._FIRST_CONTRACTION
    first = next(k for k, (r, _) in enumerate(trace.hessians) if r < n)
    assert trace.hessians[first][0] == -(-n // (n // rows))
    assert not trace.in_place[first]
    assert_exact_newtons_fit(model, X, y)


def test_fast_first_iteration_keeps_the_preconditioner(monkeypatch: pytest.MonkeyPatch) -> None:
    """An easy problem: the first iteration is fast, so its preconditioner is not formed
    again. With the warm start fit's Hessian formed again once close (``_NESTED_REFORM``)
    that fit's last Hessian is reused: none formed after the warm start. Without (the
    rule off), its only Hessian is at its own start, far from the warm start, so not
    reused: formed at the warm start."""
    X, y = _dense(200_000, 3, 2, signal=0.5)
    n = X.shape[0]
    model, trace = _traced_fit(monkeypatch, X, y)
    assert _first_contraction(model) >= subsample_newton._FIRST_CONTRACTION
    assert trace.warm_start is not None and not [r for r, _ in trace.hessians if r < n]
    assert_exact_newtons_fit(model, X, y)
    monkeypatch.setattr(subsample_newton, "_NESTED_REFORM", 0.0)
    model, trace = _traced_fit(monkeypatch, X, y)
    assert _first_contraction(model) >= subsample_newton._FIRST_CONTRACTION
    sub = [(r, x) for r, x in trace.hessians if r < n]
    assert len(sub) == 1 and trace.warm_start is not None
    assert np.array_equal(sub[0][1], trace.warm_start)
    assert_exact_newtons_fit(model, X, y)


def test_costly_subsample_hessian_is_not_formed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow first iteration, but the subsample's Hessian costs more than half a sweep
    (``r m > 8 n``): not formed again at the first iterate."""
    X, y = _illconditioned(n=40_000)
    n, m = X.shape[0], 7 * 31
    rows = subsample_newton.subsample_rows(n, m)
    assert rows * m > subsample_newton._REFRESH_MAX_WORK * n
    model, trace = _traced_fit(monkeypatch, X, y)
    assert _first_contraction(model) < subsample_newton._FIRST_CONTRACTION
    first = model.convergence_.history[1].objective
    x1 = [x for x, f in zip(trace.full_points, trace.full_values, strict=True) if f == first]
    assert x1
    assert not any(r < n and np.array_equal(x, x1[0]) for r, x in trace.hessians)
    assert_exact_newtons_fit(model, X, y)


def _nested_fit(monkeypatch: pytest.MonkeyPatch, X: np.ndarray, y: np.ndarray) -> tuple:
    """A default fit and its warm start's own fit (the ``nested=True`` solve)."""
    nested = []
    inner_solve = subsample_newton.solve

    def solve(objective, x0, options, state=None, **kw):  # type: ignore[no-untyped-def]
        result = inner_solve(objective, x0, options, state, **kw)
        if kw.get("nested"):
            nested.append(result)
        return result

    monkeypatch.setattr(subsample_newton, "solve", solve)
    model = MultinomialLogit(tol=1e-8).fit(X, y)
    monkeypatch.undo()
    assert model.converged_ and len(nested) == 1
    return model, nested[0]


def test_nested_fit_forms_its_hessian_again_once_close(monkeypatch: pytest.MonkeyPatch) -> None:
    """The warm start's own fit (exact Hessians, from the null model's) forms its Hessian
    again once ``max|g| <= _NESTED_REFORM``: fewer iterations than with the null model's
    corrected by L-BFGS, and that last Hessian, formed within ``_NESTED_REFORM``, is the
    full data's first preconditioner (issue-speed13)."""
    X, y = _dense(100_000, 20, 5, signal=1.5)
    model, inner = _nested_fit(monkeypatch, X, y)
    assert inner.state is not None
    formed = inner.state.formed_gradient
    gradients = [h.gradient for h in inner.history]
    assert formed <= subsample_newton._NESTED_REFORM < gradients[0] / subsample_newton._NESTED_FAR
    assert formed in gradients
    assert model.convergence_.history[0].gradient >= subsample_newton._REUSE_CLOSER * formed
    monkeypatch.setattr(subsample_newton, "_NESTED_REFORM", 0.0)  # the rule off
    _, without = _nested_fit(monkeypatch, X, y)
    assert len(inner.history) < len(without.history)
    assert_exact_newtons_fit(model, X, y)
