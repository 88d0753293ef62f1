"""The inner solves' tolerance floor (``INNER_FLOOR_DENSE_LASSO`` for the lasso and the
elastic net with dense X, ``INNER_FLOOR`` for the group penalty and sparse X): the floor only
decides where an inner solve stops, never the answer — the outer KKT check does. Paths whose
last inner solves stop above ``tol`` still satisfy the KKT conditions to ``tol`` (from an
independent gradient) and reach the tight path's objectives."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from lasso_checks import path_kkt, penalized_objective, sparse_truth_data
from mnlogit import regularization_path
from mnlogit.solvers import proximal_newton
from mnlogit.solvers.proximal_newton import ColumnData

TOL = 1e-6


def _objectives(X, y, path):
    w = np.ones(len(y))
    return np.array(
        [
            penalized_objective(
                X, y, path.coef[i].T, path.intercept[i], a, path.penalty_factor, path.l1_ratio, w
            )
            for i, a in enumerate(path.alphas)
        ]
    )


@pytest.mark.parametrize("floor", [2.0, 20.0])
@pytest.mark.parametrize(
    ("dtype", "penalty", "l1_ratio"),
    [(np.float64, "l1", None), (np.float32, "l1", None), (np.float64, "elasticnet", 0.5)],
)
def test_floor_above_tol_keeps_the_answer(monkeypatch, floor, dtype, penalty, l1_ratio):
    X, y = sparse_truth_data()
    X = X.astype(dtype)
    kwargs = dict(penalty=penalty, l1_ratio=l1_ratio, n_alphas=12, alpha_min_ratio=0.01)
    tight = regularization_path(X, y, tol=1e-10, **kwargs)
    monkeypatch.setattr(proximal_newton, "INNER_FLOOR_DENSE_LASSO", floor)
    path = regularization_path(X, y, tol=TOL, **kwargs)
    assert path.converged.all()
    # the outer check decides: every alpha within tol from an independent gradient
    assert path_kkt(X, y, path, np.ones(len(y))) <= TOL * (1 + 1e-6)
    gap = _objectives(X, y, path) - _objectives(X, y, tight)
    assert gap.max() < 1e-9


@pytest.mark.parametrize(("penalty", "sparse"), [("l1", False), ("l1", True), ("group", False)])
def test_inner_tolerance_floor_per_penalty(monkeypatch, penalty, sparse):
    """The inner tolerance is ``max(floor * tol, INNER_FRACTION * kkt)`` with the dense
    lasso's floor for the lasso on dense X, ``INNER_FLOOR`` otherwise."""
    seen: list[float] = []
    cd = ColumnData.cd

    def spy(self, features, P, G, g0, lam, group, W, b, D, tol, *rest):  # type: ignore[no-untyped-def]
        seen.append(tol)
        return cd(self, features, P, G, g0, lam, group, W, b, D, tol, *rest)

    monkeypatch.setattr(ColumnData, "cd", spy)
    X, y = sparse_truth_data()
    if sparse:
        X = sp.csr_matrix(X)
    regularization_path(X, y, penalty=penalty, n_alphas=12, alpha_min_ratio=0.01, tol=TOL)
    dense_lasso = penalty == "l1" and not sparse
    floor = proximal_newton.INNER_FLOOR_DENSE_LASSO if dense_lasso else proximal_newton.INNER_FLOOR
    assert proximal_newton.INNER_FLOOR_DENSE_LASSO != proximal_newton.INNER_FLOOR
    assert min(seen) == pytest.approx(floor * TOL, rel=1e-12)  # the floor binds somewhere
