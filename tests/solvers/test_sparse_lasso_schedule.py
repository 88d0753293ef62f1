"""The eleventh pass on the sparse lasso (docs/penalties.md): the looser first outer step of
an alpha (``INNER_FRACTION_SPARSE_FIRST``; with dense X ``INNER_FRACTION_DENSE_FIRST``, the
twentieth pass) and Anderson's extrapolation written over the current iterate — checked
against the model's optimality conditions, an independent gradient and NumPy."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from lasso_checks import (
    inner_solve,
    lasso_centre,
    path_kkt,
    penalized_objective,
    sparse_truth_data,
)
from mnlogit import regularization_path
from mnlogit.solvers import coordinate_descent as cd
from mnlogit.solvers import proximal_newton


def _centre(sparse: bool, dtype: Any, weighted: bool, seed: int = 0):
    return lasso_centre(sparse, dtype, weighted, seed=seed, n=160, p=10, K=5)


@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize(
    ("dtype", "weighted", "penalty"),
    [(np.float64, False, "l1"), (np.float32, True, "l1"), (np.float64, True, "elasticnet")],
)
def test_paths_with_the_schedule_keep_the_kkt_answer(monkeypatch, sparse, dtype, weighted, penalty):
    # the looser first outer step against the previous setting (0.1 of the KKT residual)
    # at the default tol: both paths
    # satisfy the KKT conditions from an independent gradient at every alpha, objectives
    # within 1e-8
    X, y = sparse_truth_data(
        n=500, p=80, K=5, seed=12, density=0.08 if sparse else None, informative=30
    )
    X = X.astype(dtype)
    name = "INNER_FRACTION_SPARSE_FIRST" if sparse else "INNER_FRACTION_DENSE_FIRST"
    floor = proximal_newton.INNER_FLOOR if sparse else proximal_newton.INNER_FLOOR_DENSE_LASSO
    sw = np.random.default_rng(13).uniform(0.5, 2.0, y.size) if weighted else None
    w = np.ones(y.size) if sw is None else sw
    ratio = 0.6 if penalty == "elasticnet" else 1.0
    kw = dict(penalty=penalty, n_alphas=15, alpha_min_ratio=0.01, tol=1e-6, sample_weight=sw)
    if penalty == "elasticnet":
        kw["l1_ratio"] = ratio
    events: list[tuple[str, float]] = []  # ("step" | "kkt" | "cd", value) in call order
    inner, kkt, steps = (
        proximal_newton.cd_quadratic,
        proximal_newton._kkt,
        proximal_newton._newton_steps,
    )

    def spy(*a):  # type: ignore[no-untyped-def]
        events.append(("cd", float(a[21])))
        return inner(*a)

    def kkt_spy(*a):  # type: ignore[no-untyped-def]
        value = kkt(*a)
        events.append(("kkt", float(value)))
        return value

    def steps_spy(*a, **k):  # type: ignore[no-untyped-def]
        events.append(("step", float(a[2])))  # (alpha; 0 for the unpenalized start)
        return steps(*a, **k)

    monkeypatch.setattr(proximal_newton, "cd_quadratic", spy)
    monkeypatch.setattr(proximal_newton, "_kkt", kkt_spy)
    monkeypatch.setattr(proximal_newton, "_newton_steps", steps_spy)
    assert getattr(proximal_newton, name) > proximal_newton.INNER_FRACTION
    got = regularization_path(X, y, **kw)
    # each inner solve's tolerance: the first of a Newton-steps call at 0.3 of the KKT
    # residual before it, the later ones at 0.1 (or the floor, 0.5 tol for sparse X, 2 tol
    # for dense)
    firsts = laters = 0
    first, last_kkt = False, np.nan
    for kind, value in events:
        if kind == "step":
            first = True
        elif kind == "kkt":
            last_kkt = value
        else:
            fraction = getattr(proximal_newton, name) if first else proximal_newton.INNER_FRACTION
            expected = max(floor * 1e-6, fraction * last_kkt)
            assert value == pytest.approx(expected, rel=1e-12)
            firsts, laters = firsts + first, laters + (not first)
            first = False
    assert firsts >= 10 and laters >= 5
    monkeypatch.setattr(proximal_newton, name, proximal_newton.INNER_FRACTION)
    ref = regularization_path(X, y, **kw)
    assert got.converged.all() and ref.converged.all()
    assert got.n_nonzero[-1] > 25
    assert path_kkt(X, y, got, w) <= 1e-6 * (1 + 1e-9)
    f = np.ones(X.shape[1])
    for i, alpha in enumerate(got.alphas):
        args = (alpha, f, ratio, w)
        f_got = penalized_objective(X, y, got.coef[i].T, got.intercept[i], *args)
        f_ref = penalized_objective(X, y, ref.coef[i].T, ref.intercept[i], *args)
        assert abs(f_got - f_ref) <= 1e-8


@pytest.mark.parametrize("sparse", [False, True])
def test_predictor_copies_round_trip_in_either_layout(sparse):
    data, *_ = _centre(sparse, np.float64, False)
    D = data.empty_predictor()
    D[:] = np.random.default_rng(1).standard_normal(D.shape)
    flat = np.empty(D.size)
    cd._copy_predictor(D, flat, False)
    # the flat copy is D's memory, in D's order (row-major for sparse X)
    np.testing.assert_array_equal(flat, (D.T if sparse else D).ravel())
    E = data.empty_predictor()
    cd._copy_predictor(E, flat, True)
    np.testing.assert_array_equal(E, D)


def _model_value(X64, P, w, G, g0, W0, b0, W, b, lam1, lam2):
    """The quadratic model plus the elastic-net penalty, from scratch."""
    Dn = X64 @ (W - W0) + (b - b0)
    Pn = P.T
    quad = w @ ((Pn * Dn * Dn).sum(axis=1) - (Pn * Dn).sum(axis=1) ** 2)
    first = float(np.sum(G * (W - W0)) + g0 @ (b - b0))
    pen = lam1 @ np.abs(W).sum(axis=1) + 0.5 * lam2 @ (W * W).sum(axis=1)
    return first + 0.5 * quad + pen


@pytest.mark.parametrize(("sparse", "records"), [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("towards", [True, False])
def test_anderson_extrapolates_or_keeps_the_current_iterate(sparse, records, towards):
    # three iterates: converging geometrically to the model's minimizer (the extrapolation
    # finds it, lowers the model: taken), or the minimizer itself last after two random
    # points (any other combination is higher: not taken, the current iterate stays)
    data, X64, W0, b0, P, G, g0 = _centre(sparse, np.float64, True, seed=5)
    p, K = W0.shape
    lam1, lam2 = np.full(p, 0.003), np.full(p, 0.002)
    Ws, bs, _, _ = inner_solve(data, P, G, g0, W0, b0, lam1, lam2, 0, 1e-13, 10_000)
    features = np.arange(p, dtype=np.intp)
    start, snaps, _ = cd._start_and_snapshots(features, W0, b0, data.n_rows)
    rng = np.random.default_rng(6)
    E = [rng.standard_normal((p, K)) * 0.05 for _ in range(3)]
    e = [rng.standard_normal(K) * 0.05 for _ in range(3)]
    if towards:
        iterates = [(Ws + r * E[0], bs + r * e[0]) for r in (0.8, 0.4, 0.2)]
    else:
        iterates = [(Ws + E[1], bs + e[1]), (Ws + E[2], bs + e[2]), (Ws, bs)]
    w, wP = data.weights, P * data.weights

    R = cd._row_records(wP, cd._inverse_weights(w)) if records else np.zeros((0, 0))

    def state(Wt, bt):  # type: ignore[no-untyped-def]
        # (records: D and pd as the views of the row records cd_quadratic passes)
        D = R[:, :K].T if records else data.empty_predictor()
        D[:] = (X64 @ (Wt - W0) + (bt - b0)).T
        pd = R[:, 2 * K] if records else np.empty(data.n_rows)
        pd[:] = (P * D).sum(axis=0)
        return Wt.copy(), bt.copy(), D, pd, R

    for slot, (Wt, bt) in enumerate(iterates):
        cd._snapshot(features, *state(Wt, bt), slot, snaps)
    W, b, D, pd, _ = state(*iterates[-1])
    if records:
        wP = R[:, K : 2 * K].T
    took = cd._anderson(
        features, w, wP, G, g0, lam1, lam2, False, W, b, D, pd, R, start, snaps, np.nan
    )
    U = np.array(
        [np.r_[(Wn - Wo).ravel(), bn - bo] for (Wo, bo), (Wn, bn) in itertools.pairwise(iterates)]
    )
    A = U @ U.T
    A += (1e-10 * np.trace(A) + 1e-300) * np.eye(2)
    z = np.linalg.solve(A, np.ones(2))
    c = z / z.sum()
    We = c[0] * iterates[1][0] + c[1] * iterates[2][0]
    be = c[0] * iterates[1][1] + c[1] * iterates[2][1]
    args = (X64, P, w, G, g0, W0, b0)
    lower = _model_value(*args, We, be, lam1, lam2) < _model_value(*args, *iterates[-1], lam1, lam2)
    assert took == lower == towards
    Wx, bx = (We, be) if took else iterates[-1]
    np.testing.assert_allclose(W, Wx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b, bx, rtol=0, atol=1e-12)
    # the predictor change and p . d moved with the coefficients (the extrapolated or the
    # restored ones), in the records too
    Dx = (X64 @ (Wx - W0) + (bx - b0)).T
    np.testing.assert_allclose(D, Dx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(pd, (P * Dx).sum(axis=0), rtol=0, atol=1e-12)
    if not took:
        np.testing.assert_array_equal(W, iterates[-1][0])
    np.testing.assert_allclose(D, (X64 @ (Wx - W0) + (bx - b0)).T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(pd, (P * D).sum(axis=0), rtol=0, atol=1e-12)
