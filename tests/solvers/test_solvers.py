"""Solvers: same optimum, IRLS = Newton = Fisher scoring, the convergence contract.

The solvers are exercised both through ``MultinomialLogit`` and directly through the
``SOLVERS`` registry on an objective built exactly as ``MultinomialLogit.fit`` builds it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.exceptions
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import softmax

import mnlogit.exceptions
from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.objective import MultinomialObjective
from mnlogit.objective.penalties import make_penalty
from mnlogit.parameterization import Parameterization
from mnlogit.solvers import SOLVERS, SolverOptions, choose_solver

ALL_SOLVERS = ("newton", "irls", "lbfgs", "newton-cg", "gd")
CRITERIA = ("gradient", "parameter", "loglik")


# ---------------------------------------------------------------------------- helpers
def build_objective(
    X,
    y,
    K,
    *,
    reference=0,
    alpha=0.0,
    sample_weight=None,
    fit_intercept=True,
):
    """The objective and starting point exactly as ``MultinomialLogit.fit`` makes them.

    ``y`` holds integer codes 0..K-1, ``reference`` an index or None (symmetric form),
    ``alpha`` > 0 selects the ridge penalty.
    """
    n = X.shape[0]
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    param = Parameterization(K, reference)
    penalty = make_penalty("l2" if alpha > 0 else None, alpha, fit_intercept)
    obj = MultinomialObjective(X, y, K, sw, param, penalty, fit_intercept)
    B0 = np.zeros((obj.p1, K))
    if fit_intercept:
        totals = np.bincount(y, weights=sw, minlength=K)
        B0[0] = np.log(totals / totals.sum())
    return obj, param.from_full(B0)


def fitted_theta(model, obj):
    """Free-parameter vector of a fitted model in ``obj``'s parameterization."""
    B = model.coef_.T
    if model.fit_intercept:
        B = np.vstack([model.intercept_[None, :], B])
    return obj.param.from_full(B)


def reference_index(reference, K):
    """Map the test's reference labels ("first", "other", None) to (estimator, index)."""
    if reference == "first":
        return "first", 0
    if reference == "other":
        return K // 2, K // 2  # labels are the codes 0..K-1: a middle (or last) class
    return None, None


def fit(X, y, **kwargs):
    return MultinomialLogit(**kwargs).fit(X, y)


# ---------------------------------------------------------------------------- same optimum
# Tolerances per solver. Newton (the baseline) and IRLS reach machine precision.
# Newton-CG reaches 1e-10. L-BFGS and gradient descent accept steps by comparing
# objective values; with f ~ 1 a step that lowers f by less than ~1e-16 is invisible,
# and that happens once max|g| is below ~1e-9 (decrease ~ step * |g|^2). Both stall
# there (gd was seen to spend 50000 iterations at |g| ~ 5e-9), so they run to 1e-8,
# and their distance to the optimum is checked against the strong-convexity bound
# |theta - theta*| <= |g(theta)| / mu (mu the smallest Hessian eigenvalue, halved for
# safety) as well as against the absolute 1e-6.
SOLVER_TOL = {"irls": 1e-12, "newton-cg": 1e-10, "lbfgs": 1e-8, "gd": 1e-8}


@pytest.mark.parametrize("K", [2, 3, 5])
@pytest.mark.parametrize("penalty", [None, "l2"])
@pytest.mark.parametrize("reference", ["first", "other", None])
def test_all_solvers_reach_newtons_optimum(K, penalty, reference):
    X, y, _ = make_data(n=400, p=3, K=K, seed=10 + K)
    ref_arg, ref_idx = reference_index(reference, K)
    common = dict(penalty=penalty, reference=ref_arg)
    if penalty is not None:
        common["alpha"] = 0.01
    base = fit(X, y, solver="newton", tol=1e-12, **common)
    assert base.converged_
    if reference is not None:
        assert base.reference_ == base.classes_[ref_idx]
        assert_array_equal(base.coef_[ref_idx], 0.0)
        assert base.intercept_[ref_idx] == 0.0
    else:
        assert base.reference_ is None
        assert_allclose(base.coef_.sum(axis=0), 0.0, atol=1e-12)
        assert_allclose(base.intercept_.sum(), 0.0, atol=1e-12)

    obj, _ = build_objective(X, y, K, reference=ref_idx, alpha=0.01 if penalty else 0.0)
    theta_star = fitted_theta(base, obj)
    mu = np.linalg.eigvalsh(obj.hessian(theta_star))[0]
    assert mu > 0
    g_star = np.linalg.norm(obj.gradient(theta_star))

    for solver, tol in SOLVER_TOL.items():
        m = fit(X, y, solver=solver, tol=tol, **common)
        assert m.converged_, (solver, m.convergence_.message)
        assert m.solver_ == solver
        assert_allclose(m.coef_, base.coef_, rtol=0, atol=1e-6, err_msg=solver)
        assert_allclose(m.intercept_, base.intercept_, rtol=0, atol=1e-6, err_msg=solver)
        # At the optimum the objective is flat: values agree to second order.
        f_m = m.convergence_.objective
        assert_allclose(f_m, base.convergence_.objective, rtol=1e-12, err_msg=solver)
        if penalty is None:
            assert_allclose(m.loglik_, base.loglik_, rtol=1e-12, err_msg=solver)
        theta = fitted_theta(m, obj)
        # ||B - B*||_F == ||theta - theta*||_2 (orthonormal parameterization); both
        # points are within |g| / mu of the exact optimum.
        dist = np.linalg.norm(theta - theta_star)
        bound = (g_star + np.linalg.norm(obj.gradient(theta))) / (0.5 * mu)
        assert dist <= bound + 1e-14, (solver, dist, bound)


# ---------------------------------------------------------------------------- IRLS = Newton
IRLS_CASES = [
    # (K, reference index, alpha, weighted)
    (3, 0, 0.0, False),
    (3, None, 0.0, True),
    (5, 2, 0.0, False),
    (5, None, 0.02, True),
    (4, 0, 0.02, False),
]


@pytest.mark.parametrize(("K", "ref", "alpha", "weighted"), IRLS_CASES)
def test_irls_iterates_equal_newton_iterates(K, ref, alpha, weighted):
    X, y, _ = make_data(n=300, p=3, K=K, seed=K + 20)
    sw = np.random.default_rng(K).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    obj, x0 = build_objective(X, y, K, reference=ref, alpha=alpha, sample_weight=sw)

    full = SolverOptions(tol=1e-10, max_iter=100)
    newton = SOLVERS["newton"](obj, x0, full)
    irls = SOLVERS["irls"](obj, x0, full)
    assert newton.converged and irls.converged
    # IRLS equals Newton only while Newton takes unit steps: check the premise.
    assert all(r.step == 1.0 for r in newton.history[1:])
    assert all(r.step == 1.0 for r in irls.history[1:])
    assert newton.n_iter == irls.n_iter >= 3
    hn = np.array([[r.objective, r.gradient, r.parameter, r.loglik] for r in newton.history])
    hi = np.array([[r.objective, r.gradient, r.parameter, r.loglik] for r in irls.history])
    assert_allclose(hi[:, 0], hn[:, 0], rtol=1e-12)
    # Parameter changes of the first iterations are O(0.1): compare them tightly.
    assert_allclose(hi[1:3, 2], hn[1:3, 2], rtol=1e-8)
    assert_allclose(irls.x, newton.x, rtol=0, atol=1e-10)

    for k in (1, 2, 3):
        opts = SolverOptions(tol=1e-14, max_iter=k)
        xn = SOLVERS["newton"](obj, x0, opts)
        xi = SOLVERS["irls"](obj, x0, opts)
        assert xn.n_iter == xi.n_iter == k
        assert not xn.converged and not xi.converged
        assert_allclose(xi.x, xn.x, rtol=0, atol=1e-10, err_msg=f"iteration {k}")
    # The iterates really move: iteration 1 is far from the start.
    assert np.max(np.abs(SOLVERS["irls"](obj, x0, SolverOptions(max_iter=1)).x - x0)) > 1e-2


def test_irls_iterates_match_newton_through_the_estimator():
    X, y, _ = make_data(n=400, p=4, K=4, seed=3)
    for k in (1, 2, 3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mnlogit.exceptions.ConvergenceWarning)
            a = fit(X, y, solver="newton", max_iter=k, tol=1e-14)
            b = fit(X, y, solver="irls", max_iter=k, tol=1e-14)
        assert a.n_iter_ == b.n_iter_ == k
        assert_allclose(b.coef_, a.coef_, rtol=0, atol=1e-10)
        assert_allclose(b.intercept_, a.intercept_, rtol=0, atol=1e-10)
    a = fit(X, y, solver="newton", tol=1e-10)
    b = fit(X, y, solver="irls", tol=1e-10)
    fa, fb = a.convergence_.history_frame(), b.convergence_.history_frame()
    assert fa.shape == fb.shape
    assert_allclose(fb["objective"].to_numpy(), fa["objective"].to_numpy(), rtol=1e-12)


# ---------------------------------------------------------------------------- Fisher scoring
def expected_information(X, theta, K, sw, fit_intercept=True):
    """Fisher information of the mean log-likelihood, reference-class-0 coordinates.

    Written independently of the package, one observation at a time:
    ``sum_i (s_i / S) kron(diag(p_i) - p_i p_i^T, x~_i x~_i^T)`` over the free classes
    ``1..K-1`` with ``x~_i = [1, x_i]``. The free vector is class-major, which is what
    ``kron(class block, feature block)`` indexes.
    """
    n = X.shape[0]
    Xt = np.column_stack([np.ones(n), X]) if fit_intercept else X
    p1 = Xt.shape[1]
    Theta = theta.reshape(K - 1, p1).T
    P = softmax(np.column_stack([np.zeros(n), Xt @ Theta]), axis=1)
    S = sw.sum()
    info = np.zeros(((K - 1) * p1, (K - 1) * p1))
    for i in range(n):
        pi = P[i, 1:]
        info += (sw[i] / S) * np.kron(np.diag(pi) - np.outer(pi, pi), np.outer(Xt[i], Xt[i]))
    return info, P


def score(X, y, P, K, sw, fit_intercept=True):
    """Gradient of the mean log-likelihood (reference-0 coordinates), independently."""
    n = X.shape[0]
    Xt = np.column_stack([np.ones(n), X]) if fit_intercept else X
    S = sw.sum()
    out = np.zeros((K - 1) * Xt.shape[1])
    for i in range(n):
        e = np.zeros(K - 1)
        if y[i] > 0:
            e[y[i] - 1] = 1.0
        out += (sw[i] / S) * np.kron(e - P[i, 1:], Xt[i])
    return out


@pytest.mark.parametrize("K", [2, 3, 5])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_hessian_equals_expected_information(K, fit_intercept):
    X, y, _ = make_data(n=150, p=3, K=K, seed=K)
    rng = np.random.default_rng(100 + K)
    sw = rng.uniform(0.1, 2.0, X.shape[0])
    obj, _ = build_objective(X, y, K, reference=0, sample_weight=sw, fit_intercept=fit_intercept)
    theta = 0.3 * rng.standard_normal(obj.n_params)
    info, P = expected_information(X, theta, K, sw, fit_intercept)
    assert_allclose(obj.probabilities(theta), P, rtol=1e-12, atol=1e-15)
    H = obj.hessian(theta)
    assert_allclose(H, info, rtol=1e-11, atol=1e-14)
    assert_allclose(H, H.T, rtol=0, atol=1e-15)
    assert_allclose(-obj.gradient(theta), score(X, y, P, K, sw, fit_intercept), atol=1e-14)


@pytest.mark.parametrize(("ref", "alpha"), [(0, 0.0), (None, 0.0), (1, 0.05), (None, 0.05)])
def test_hessian_does_not_depend_on_y(ref, alpha):
    X, y, _ = make_data(n=200, p=3, K=4, seed=5)
    y2 = np.random.default_rng(1).permutation(y)
    y3 = (y + 1) % 4  # every row moved to another class
    sw = np.random.default_rng(2).uniform(0.5, 1.5, X.shape[0])
    objs = [
        build_objective(X, yy, 4, reference=ref, alpha=alpha, sample_weight=sw)[0]
        for yy in (y, y2, y3)
    ]
    theta = 0.2 * np.random.default_rng(3).standard_normal(objs[0].n_params)
    H = [o.hessian(theta) for o in objs]
    assert_array_equal(H[1], H[0])
    assert_array_equal(H[2], H[0])
    # ...while the gradients (which do involve y) differ: the check is not vacuous.
    assert np.max(np.abs(objs[0].gradient(theta) - objs[1].gradient(theta))) > 1e-3


def test_fisher_scoring_step_equals_newton_and_irls_step():
    K = 3
    X, y, _ = make_data(n=250, p=2, K=K, seed=8)
    sw = np.random.default_rng(4).uniform(0.5, 2.0, X.shape[0])
    obj, x0 = build_objective(X, y, K, reference=0, sample_weight=sw)
    theta = x0.copy()
    opts = SolverOptions(tol=1e-14, max_iter=1)
    for _ in range(3):
        info, P = expected_information(X, theta, K, sw)
        fisher = theta + np.linalg.solve(info, score(X, y, P, K, sw))
        newton = SOLVERS["newton"](obj, theta, opts)
        irls = SOLVERS["irls"](obj, theta, opts)
        assert newton.history[-1].step == 1.0
        assert_allclose(newton.x, fisher, rtol=0, atol=1e-10)
        assert_allclose(irls.x, fisher, rtol=0, atol=1e-10)
        theta = fisher


# ---------------------------------------------------------------------------- convergence contract
CONTRACT_TOL = {"gradient": 1e-7, "parameter": 1e-7, "loglik": 1e-10}


@pytest.mark.parametrize("solver", ALL_SOLVERS)
@pytest.mark.parametrize("criterion", CRITERIA)
def test_criterion_stops_solver_at_first_record_within_tol(solver, criterion):
    X, y, _ = make_data(n=300, p=3, K=3, seed=6)
    tol = CONTRACT_TOL[criterion]
    m = fit(X, y, solver=solver, criterion=criterion, tol=tol)
    rep = m.convergence_
    hist = rep.history
    assert m.converged_ and rep.converged
    assert rep.solver == solver and rep.criterion == criterion and rep.tol == tol
    assert m.n_iter_ == rep.n_iter >= 1
    assert len(hist) == m.n_iter_ + 1
    assert [r.iteration for r in hist] == list(range(len(hist)))

    first = hist[0]
    assert np.isnan(first.parameter) and np.isnan(first.loglik)
    assert np.isfinite(first.gradient) and first.gradient > 0
    assert np.isfinite(first.objective)

    values = [getattr(r, criterion) for r in hist]
    assert values[-1] <= tol
    # It stopped at the first record that met the criterion (nan never meets it).
    assert not any(v <= tol for v in values[:-1]), values
    for name in CRITERIA:
        assert getattr(rep, name) == getattr(hist[-1], name)
    assert rep.objective == hist[-1].objective
    assert "converged" in rep.message and criterion in rep.message

    frame = rep.history_frame()
    assert frame.shape == (m.n_iter_ + 1, 6)
    columns = ["objective", "gradient", "parameter", "loglik", "step", "gradient_user"]
    assert list(frame.columns) == columns
    assert frame.index.name == "iteration"
    assert_allclose(frame[criterion].to_numpy(), values)

    # The recorded numbers describe the returned coefficients.
    obj, _ = build_objective(X, y, 3, reference=0)
    theta = fitted_theta(m, obj)
    f, g = obj.value_and_gradient(theta)
    assert_allclose(hist[-1].objective, f, rtol=1e-13)
    assert_allclose(hist[-1].gradient, np.max(np.abs(g)), rtol=1e-4, atol=1e-14)
    assert_allclose(m.loglik_, -X.shape[0] * hist[-1].objective, rtol=1e-13)


@pytest.mark.parametrize("solver", ALL_SOLVERS)
def test_recorded_criteria_follow_their_definitions(solver):
    # Recompute the three measures from the iterates themselves. The solvers are
    # deterministic, so the k-th iterate is the result of a run with max_iter=k.
    X, y, _ = make_data(n=300, p=3, K=4, seed=12)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0])
    obj, x0 = build_objective(X, y, 4, reference=None, alpha=0.01, sample_weight=sw)
    full = SOLVERS[solver](obj, x0, SolverOptions(tol=1e-14, max_iter=4))
    assert len(full.history) == 5
    xs = [x0] + [
        SOLVERS[solver](obj, x0, SolverOptions(tol=1e-14, max_iter=k)).x for k in (1, 2, 3, 4)
    ]
    assert_allclose(xs[-1], full.x, rtol=0, atol=0)
    for k, rec in enumerate(full.history):
        f, g = obj.value_and_gradient(xs[k])
        assert rec.iteration == k
        assert_allclose(rec.objective, f, rtol=1e-14)
        assert_allclose(rec.gradient, np.max(np.abs(g)), rtol=1e-12)
        if k == 0:
            continue
        f_prev = obj.value(xs[k - 1])
        dpar = np.max(np.abs(xs[k] - xs[k - 1])) / (1.0 + np.max(np.abs(xs[k])))
        dll = abs(f - f_prev) / (abs(f) + 0.1)
        assert_allclose(rec.parameter, dpar, rtol=1e-12)
        assert_allclose(rec.loglik, dll, rtol=1e-9)


@pytest.mark.parametrize("solver", ALL_SOLVERS)
def test_objective_never_increases_for_descent_solvers(solver):
    X, y, _ = make_data(n=300, p=3, K=4, seed=7)
    m = fit(X, y, solver=solver, tol=1e-7)
    f = m.convergence_.history_frame()["objective"].to_numpy()
    # Every solver accepts only points that do not raise f (beyond rounding);
    # scipy's L-BFGS-B line search (strong Wolfe) also decreases f at every iterate.
    assert np.all(np.diff(f) <= 16 * np.finfo(float).eps * np.abs(f[1:]))
    assert f[-1] < f[0]


@pytest.mark.parametrize("solver", ALL_SOLVERS)
@pytest.mark.parametrize("criterion", CRITERIA)
def test_nonconvergence_warns_with_criterion_value_and_tol(solver, criterion):
    X, y, _ = make_data(n=300, p=3, K=3, seed=6)
    model = MultinomialLogit(solver=solver, criterion=criterion, max_iter=1, tol=1e-14)
    with pytest.warns(mnlogit.exceptions.ConvergenceWarning) as record:
        model.fit(X, y)
    assert len(record) == 1
    assert not model.converged_ and not model.convergence_.converged
    assert model.n_iter_ == 1
    last = model.convergence_.history[-1]
    value = getattr(last, criterion)
    assert value > 1e-14
    msg = str(record[0].message)
    assert criterion in msg
    assert f"{value:.3e}" in msg
    assert "1.0e-14" in msg
    assert solver in msg
    assert "did not converge" in model.convergence_.message


def test_convergence_warning_is_sklearns():
    assert issubclass(mnlogit.exceptions.ConvergenceWarning, sklearn.exceptions.ConvergenceWarning)
    X, y, _ = make_data(n=200, p=3, K=3, seed=1)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning, match="tol"):
        MultinomialLogit(max_iter=1, tol=1e-14).fit(X, y)


def test_no_warning_when_converged():
    X, y, _ = make_data(n=200, p=3, K=3, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = MultinomialLogit().fit(X, y)
    assert m.converged_


@pytest.mark.parametrize("solver", ALL_SOLVERS)
def test_verbose_prints_one_line_per_iteration(solver, capsys):
    X, y, _ = make_data(n=200, p=3, K=3, seed=2)
    m = fit(X, y, solver=solver, tol=1e-6, verbose=1)
    lines = capsys.readouterr().out.strip().splitlines()
    # One line per record: the starting point (iteration 0) and each iteration.
    assert len(lines) == m.n_iter_ + 1 == len(m.convergence_.history)
    for k, (line, rec) in enumerate(zip(lines, m.convergence_.history, strict=True)):
        assert line.startswith(f"[{solver}] iter {k:4d}")
        assert f"{rec.objective:.12g}" in line

    fit(X, y, solver=solver, tol=1e-6, verbose=0)
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------------------- solver="auto"
def test_choose_solver_rule():
    # Small dense problems: Newton up to 100 free parameters.
    assert choose_solver(1000, 10, sparse=False) == "newton"
    assert choose_solver(1000, 100, sparse=False) == "newton"
    assert choose_solver(1000, 101, sparse=False) == "subsample-newton"
    # Subsample-Newton once n / 16 rows hold max(10 m, 2000) rows.
    assert choose_solver(32_000, 10, sparse=False) == "subsample-newton"
    assert choose_solver(31_999, 10, sparse=False) == "newton"
    assert choose_solver(160_000, 1000, sparse=False) == "subsample-newton"
    # The Kronecker model needs its (p+1)-square factor: not beyond 2000 rows of it.
    assert choose_solver(50_000, 5719, sparse=False, n_coef_rows=301) == "subsample-newton"
    assert choose_solver(50_000, 2 * 2001, sparse=False, n_coef_rows=2001) == "lbfgs"
    # Sparse: a subsample Hessian where there is room for one and m <= 2000, else CG.
    assert choose_solver(10**6, 10, sparse=True) == "subsample-newton"
    assert choose_solver(300_000, 847, sparse=True) == "subsample-newton"
    assert choose_solver(31_999, 10, sparse=True) == "newton-cg"
    assert choose_solver(10**6, 2001, sparse=True) == "newton-cg"
    assert choose_solver(1000, 10, sparse=True) == "newton-cg"


@pytest.mark.parametrize(
    ("weighted", "dtype"), [(False, np.float64), (True, np.float64), (False, np.float32)]
)
def test_auto_on_tall_sparse_one_hot_data_is_subsample_newton(weighted, dtype):
    """Sparse X with few parameters and many rows: the subsample Hessian path, at the
    optimum that dense Newton reaches (issue 18: onehot-300k-120-8 newton-cg 11.0 s ->
    subsample-newton 5.3 s)."""
    rng = np.random.default_rng(11)
    n, features, levels, K = 40_000, 3, 5, 3
    codes = rng.integers(0, levels, (n, features))
    cols = (codes - 1) + np.arange(features) * (levels - 1)
    keep = codes > 0
    rows = np.broadcast_to(np.arange(n)[:, None], codes.shape)[keep]
    X = sp.csr_matrix((np.ones(keep.sum()), (rows, cols[keep])), shape=(n, features * (levels - 1)))
    eta = X @ rng.normal(0, 0.7, (X.shape[1], K))
    y = (eta + rng.gumbel(size=eta.shape)).argmax(axis=1)
    w = rng.integers(1, 4, n).astype(float) if weighted else None
    auto = MultinomialLogit(cov_type=None, tol=1e-10)
    auto.fit(X.astype(dtype), y, sample_weight=w)
    assert auto.solver_ == "subsample-newton" and auto.converged_
    dense = MultinomialLogit(cov_type=None, solver="newton", tol=1e-10)
    dense.fit(X.toarray(), y, sample_weight=w)
    assert_allclose(auto.coef_, dense.coef_, rtol=0, atol=1e-8)
    assert_allclose(auto.intercept_, dense.intercept_, rtol=0, atol=1e-8)


def test_auto_picks_newton_for_small_dense_problems():
    X, y, _ = make_data(n=300, p=3, K=4, seed=3)
    m = fit(X, y)
    assert m.solver_ == "newton"
    assert m.convergence_.solver == "newton"
    assert m.n_params_ == 3 * 4


def test_auto_picks_newton_cg_for_sparse_x():
    X, y, _ = make_data(n=300, p=3, K=3, seed=3)
    dense = fit(X, y, tol=1e-10)
    for Xs in (sp.csr_matrix(X), sp.csc_matrix(X)):
        m = fit(Xs, y, tol=1e-10)
        assert m.solver_ == "newton-cg"
        assert m.converged_
        assert_allclose(m.coef_, dense.coef_, rtol=0, atol=1e-7)
        assert_allclose(m.intercept_, dense.intercept_, rtol=0, atol=1e-7)


@pytest.mark.parametrize(
    ("p", "fit_intercept", "expected"),
    [(49, True, "newton"), (50, True, "subsample-newton"), (50, False, "newton")],
)
def test_auto_threshold_on_free_parameters(p, fit_intercept, expected):
    # K = 3: (K-1)(p+1) = 100 for p = 49, 102 for p = 50; (K-1)p = 100 without intercept.
    # n well above p so that the MLE exists (n = 600 separates the classes).
    X, y, _ = make_data(n=1500, p=p, K=3, seed=4, scale=0.05)
    m = fit(X, y, fit_intercept=fit_intercept)
    assert m.n_params_ == 2 * (p + int(fit_intercept))
    assert m.solver_ == expected
    assert m.converged_ and m.n_iter_ <= (20 if expected == "newton" else 500)
    assert np.max(np.abs(m.coef_)) < 2.0


# ---------------------------------------------------------------------------- intercept
@pytest.mark.parametrize("K", [2, 3, 5])
@pytest.mark.parametrize("reference", ["first", "last", None])
def test_fit_intercept_equals_explicit_ones_column(K, reference):
    X, y, _ = make_data(n=300, p=3, K=K, seed=30 + K)
    X1 = np.column_stack([np.ones(X.shape[0]), X])
    a = fit(X, y, reference=reference, tol=1e-10)
    b = fit(X1, y, reference=reference, fit_intercept=False, tol=1e-10)
    assert b.coef_.shape == (K, 4)
    assert_array_equal(b.intercept_, 0.0)
    assert_allclose(b.coef_[:, 0], a.intercept_, rtol=0, atol=1e-8)
    assert_allclose(b.coef_[:, 1:], a.coef_, rtol=0, atol=1e-8)
    assert_allclose(b.predict_proba(X1), a.predict_proba(X), rtol=1e-8, atol=1e-12)
    assert_allclose(b.loglik_, a.loglik_, rtol=1e-12)
    assert b.n_params_ == a.n_params_


# ---------------------------------------------------------------------------- warm start
@pytest.mark.parametrize("solver", ALL_SOLVERS)
@pytest.mark.parametrize(("penalty", "reference"), [(None, "first"), (None, "last"), ("l2", None)])
def test_warm_start_refit_takes_at_most_one_iteration(solver, penalty, reference):
    X, y, _ = make_data(n=300, p=3, K=3, seed=9)
    tol = 1e-7 if solver == "gd" else 1e-8
    m = MultinomialLogit(
        solver=solver, tol=tol, penalty=penalty, reference=reference, warm_start=True
    )
    m.fit(X, y)
    assert m.converged_ and m.n_iter_ > 1
    coef, intercept = m.coef_.copy(), m.intercept_.copy()
    m.fit(X, y)
    assert m.converged_
    assert m.n_iter_ in (0, 1)
    assert_allclose(m.coef_, coef, rtol=0, atol=1e-6)
    assert_allclose(m.intercept_, intercept, rtol=0, atol=1e-6)

    # Without warm_start the refit starts again from the null model.
    m.set_params(warm_start=False)
    m.fit(X, y)
    assert m.n_iter_ > 1
