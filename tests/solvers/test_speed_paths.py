"""The speed paths: subsample-newton, float32 X without a float64 copy, the syrk Hessian.

Every expected value comes from an independent route: ``solver="newton"`` on the same
data, a fresh objective built on the subsampled rows, a float64 objective (or fit) on the
very same numbers, finite differences of the gradient, or the memory of a fit that
really does copy ``X``.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

import mnlogit.objective.blocks as blocks
import mnlogit.objective.loss as loss_kernels
from helpers import fd_jacobian, make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import InvalidInputError
from mnlogit.objective import MultinomialObjective
from mnlogit.objective.curvature import class_factor, kronecker_inverse
from mnlogit.objective.penalties import make_penalty
from mnlogit.parameterization import Parameterization
from mnlogit.solvers import SOLVERS, SolverOptions
from mnlogit.solvers.precision import FLOAT32_TOL
from mnlogit.solvers.subsample_newton import subsample_rows, uses_kronecker

# Large enough that "auto" picks subsample-newton and the subsample is really a subsample
# (n / 16 rows hold the subsample_rows minimum for m = (K-1)(p+1) = 18 free parameters).
N_BIG, P_BIG, K_BIG = 40_000, 5, 4
assert subsample_rows(N_BIG, (K_BIG - 1) * (P_BIG + 1)) < N_BIG


# ---------------------------------------------------------------------------- helpers
def weights(n: int, seed: int) -> np.ndarray:
    """Positive frequency weights with a few exact zeros."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.2, 3.0, size=n)
    w[rng.choice(n, size=n // 20, replace=False)] = 0.0
    return w


def objective(
    X,
    y,
    K,
    *,
    reference=0,
    alpha=0.0,
    sample_weight=None,
    fit_intercept=True,
    feature_scale=None,
) -> MultinomialObjective:
    """A ``MultinomialObjective`` built directly (no estimator in between)."""
    n = X.shape[0]
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    penalty = make_penalty("l2" if alpha > 0 else None, alpha, fit_intercept)
    return MultinomialObjective(
        X,
        y,
        K,
        sw,
        Parameterization(K, reference),
        penalty,
        fit_intercept,
        feature_scale=feature_scale,
    )


def random_theta(obj: MultinomialObjective, seed: int, scale: float = 0.4) -> np.ndarray:
    return scale * np.random.default_rng(seed).standard_normal(obj.n_params)


def assert_same_derivatives(a, b, theta: np.ndarray) -> None:
    """Value, gradient and Hessian of two objectives agree at ``theta`` to rounding."""
    fa, ga = a.value_and_gradient(theta)
    fb, gb = b.value_and_gradient(theta)
    assert_allclose(fa, fb, rtol=1e-13)
    assert_allclose(ga, gb, rtol=1e-12, atol=1e-14)
    assert_allclose(a.hessian(theta), b.hessian(theta), rtol=1e-12, atol=1e-14)


def spy_subsample(monkeypatch) -> list[tuple[int, int, int]]:
    """Record ``(n_samples of the parent, stride, classes present)`` per ``subsample`` call."""
    calls: list[tuple[int, int, int]] = []
    original = MultinomialObjective.subsample

    def spy(self, stride):
        sub = original(self, stride)
        calls.append((int(self.n_samples), int(stride), int(np.unique(sub.y).size)))
        return sub

    monkeypatch.setattr(MultinomialObjective, "subsample", spy)
    return calls


def assert_same_fit(a: MultinomialLogit, b: MultinomialLogit, atol: float, msg: str = ""):
    assert_allclose(a.coef_, b.coef_, rtol=0, atol=atol, err_msg=msg)
    assert_allclose(a.intercept_, b.intercept_, rtol=0, atol=atol, err_msg=msg)


# ---------------------------------------------------------------------------- subsample-newton
SUBSAMPLE_CASES = {
    "plain": dict(),
    "weighted": dict(weighted=True),
    "no-intercept": dict(fit_intercept=False),
    "symmetric": dict(reference=None),
    "l2": dict(penalty="l2", alpha=1e-3),
    "l2-weighted-last": dict(penalty="l2", alpha=1e-2, reference="last", weighted=True),
}


@pytest.mark.parametrize("case", list(SUBSAMPLE_CASES), ids=list(SUBSAMPLE_CASES))
def test_auto_subsample_newton_matches_newton(case, monkeypatch):
    kwargs = dict(SUBSAMPLE_CASES[case])
    weighted = kwargs.pop("weighted", False)
    X, y, _ = make_data(n=N_BIG, p=P_BIG, K=K_BIG, seed=1)
    sw = weights(N_BIG, seed=2) if weighted else None
    base = MultinomialLogit(solver="newton", tol=1e-12, **kwargs).fit(X, y, sample_weight=sw)
    assert base.converged_

    calls = spy_subsample(monkeypatch)
    m = MultinomialLogit(tol=1e-10, **kwargs).fit(X, y, sample_weight=sw)
    assert m.solver_ == "subsample-newton"
    assert m.converged_ and m.convergence_.converged
    assert m.convergence_.gradient <= 1e-10
    # A subsample of the full data was really fitted (stride > 1, every class present).
    assert any(n == N_BIG and s > 1 and k == K_BIG for n, s, k in calls), calls
    assert_same_fit(m, base, atol=1e-8, msg=case)
    # The penalized objective is flat at the optimum (the log-likelihood alone is not).
    assert_allclose(m.convergence_.objective, base.convergence_.objective, rtol=1e-13)
    if "penalty" not in kwargs:
        assert_allclose(m.loglik_, base.loglik_, rtol=1e-12)


@pytest.mark.parametrize(("reference", "alpha"), [(0, 0.0), (None, 1e-3), (2, 1e-2)])
def test_subsample_newton_solver_reaches_newtons_optimum_on_the_objective(reference, alpha):
    """Directly through the registry, on a weighted objective with feature scales."""
    X, y, _ = make_data(n=N_BIG, p=P_BIG, K=K_BIG, seed=3)
    scale = np.linspace(0.5, 3.0, P_BIG)
    obj = objective(
        X,
        y,
        K_BIG,
        reference=reference,
        alpha=alpha,
        sample_weight=weights(N_BIG, 4),
        feature_scale=scale,
    )
    x0 = np.zeros(obj.n_params)
    opts = SolverOptions(tol=1e-11, max_iter=100, criterion="gradient", verbose=0)
    ref = SOLVERS["newton"](obj, x0, opts)
    res = SOLVERS["subsample-newton"](obj, x0, opts)
    assert ref.converged and res.converged, res.message
    assert np.max(np.abs(obj.gradient(res.x))) <= 1e-11
    assert_allclose(res.x, ref.x, rtol=0, atol=1e-9)
    assert len(res.history) == res.n_iter + 1


def test_subsample_newton_falls_back_when_a_class_misses_the_subsample(monkeypatch):
    n, p, K = N_BIG, 5, 3
    X, y, _ = make_data(n=n, p=p, K=K, seed=5)
    m_params = K * (p + 1)  # the 4-class problem below: (4 - 1)(p + 1)
    stride = n // subsample_rows(n, m_params)
    assert stride > 1
    # A fourth, rare class only on rows i = 1 (mod stride): never on X[::stride].
    rng = np.random.default_rng(6)
    off_stride = np.flatnonzero(np.arange(n) % stride == 1)
    y = y.copy()
    y[rng.choice(off_stride, size=off_stride.size // 4, replace=False)] = 3
    assert np.unique(y[::stride]).size == 3 and np.unique(y).size == 4

    base = MultinomialLogit(solver="newton", tol=1e-12).fit(X, y)
    calls = spy_subsample(monkeypatch)
    m = MultinomialLogit(tol=1e-11).fit(X, y)
    assert m.solver_ == "subsample-newton"
    assert m.converged_, m.convergence_.message
    # The rows a subsample would keep lack the rare class: found before it is copied
    # (their class weights), and the fit went on with the full data.
    assert not any(call[1] == stride for call in calls), calls
    assert_same_fit(m, base, atol=1e-8)
    assert_allclose(m.loglik_, base.loglik_, rtol=1e-12)


def test_subsample_newton_recovers_when_the_subsample_cannot_see_a_feature(monkeypatch):
    """Feature 0 is zero on every subsampled row: the subsample Hessian is singular there."""
    n, p, K = N_BIG, 5, 4
    X, y, _ = make_data(n=n, p=p, K=K, seed=7)
    stride = n // subsample_rows(n, (K - 1) * (p + 1))
    assert stride > 1
    X = X.copy()
    X[np.arange(n) % stride != 1, 0] = 0.0
    assert np.all(X[::stride, 0] == 0.0)

    base = MultinomialLogit(solver="newton", tol=1e-12).fit(X, y)
    calls = spy_subsample(monkeypatch)
    m = MultinomialLogit(tol=1e-10).fit(X, y)
    assert m.solver_ == "subsample-newton"
    assert m.converged_, m.convergence_.message
    assert any(s == stride for _, s, _ in calls), calls
    assert_same_fit(m, base, atol=1e-8)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("reference", "alpha", "fit_intercept"), [(0, 0.0, True), (None, 0.05, True), (1, 0.0, False)]
)
@pytest.mark.parametrize("stride", [3, 7])
def test_subsample_objective_equals_fresh_objective_on_the_rows(
    sparse, dtype, reference, alpha, fit_intercept, stride
):
    n, p, K = 500, 4, 3
    X, y, _ = make_data(n=n, p=p, K=K, seed=8)
    X = X.astype(dtype)
    sw = weights(n, 9)
    scale = np.array([0.5, 1.0, 2.0, 4.0])
    Xin = sp.csr_matrix(X) if sparse else X
    kw = dict(reference=reference, alpha=alpha, fit_intercept=fit_intercept, feature_scale=scale)
    full = objective(Xin, y, K, sample_weight=sw, **kw)
    full.set_exact(True)
    sub = full.subsample(stride)

    # Documented: dense rows are copied as float32 and the subsample computes in fast
    # (float32) mode; sparse rows keep X's dtype.
    sub_dtype = X.dtype if sparse else np.dtype(np.float32)
    assert sub.X.dtype == sub_dtype
    assert sub.exact == (sub_dtype == np.float64)
    assert sub.n_samples == len(range(0, n, stride))
    Xr = X[::stride].astype(sub_dtype)
    fresh = objective(
        sp.csr_matrix(Xr) if sparse else Xr, y[::stride], K, sample_weight=sw[::stride], **kw
    )
    fresh.set_exact(sub.exact)
    theta = random_theta(full, seed=10)
    assert_same_derivatives(sub, fresh, theta)
    f_sub, g_sub = sub.value_and_gradient(theta)

    # Against the float64 objective on the original rows: float32 rounding only.
    rows64 = X[::stride].astype(np.float64)
    o64 = objective(
        sp.csr_matrix(rows64) if sparse else rows64,
        y[::stride],
        K,
        sample_weight=sw[::stride],
        **kw,
    )
    f64, g64 = o64.value_and_gradient(theta)
    assert abs(f_sub - f64) <= 1e-6 * abs(f64)
    assert np.max(np.abs(g_sub - g64)) <= 1e-5 * max(1.0, np.max(np.abs(g64)))
    # An estimate of the full objective on the mean scale, not a sum over fewer rows.
    assert abs(f_sub - full.value(theta)) < 0.2 * full.value(theta)


# ---------------------------------------------------------------------------- float32 fits
# (rows, tol, atol on the coefficients). Second-order solvers reach 1e-10 from any start,
# so the float32 fit (float32 phase then float64 phase) and the float64 fit of the same
# numbers agree to ~1e-10. L-BFGS stops at |g| <= 1e-8 (it stalls below, see
# test_solvers.py) on different paths, so two of its solutions may differ by up to
# ~|g| / mu (7e-7 was seen over 12 seeds); the objective, flat there, still agrees to 1e-12.
FLOAT32_SOLVERS = {
    "auto": (N_BIG, 1e-10, 1e-7),
    "subsample-newton": (N_BIG, 1e-10, 1e-7),
    "newton": (3000, 1e-10, 1e-7),
    "newton-cg": (3000, 1e-10, 1e-7),
    "lbfgs": (3000, 1e-8, 5e-6),
}


@pytest.mark.parametrize("solver", list(FLOAT32_SOLVERS))
def test_float32_fit_equals_float64_fit_of_the_same_numbers(solver):
    n, tol, atol = FLOAT32_SOLVERS[solver]
    X, y, _ = make_data(n=n, p=P_BIG, K=K_BIG, seed=12)
    X32 = X.astype(np.float32)
    X64 = X32.astype(np.float64)  # the same numbers, in float64
    m32 = MultinomialLogit(solver=solver, tol=tol).fit(X32, y)
    m64 = MultinomialLogit(solver=solver, tol=tol).fit(X64, y)
    opt = MultinomialLogit(solver="newton", tol=1e-12).fit(X64, y)
    assert m32.solver_ == m64.solver_
    if solver == "auto":
        assert m32.solver_ == "subsample-newton"
    assert m32.converged_ and m32.convergence_.converged, m32.convergence_.message
    assert m32.convergence_.gradient <= tol
    assert m32.coef_.dtype == np.float64 and m32.intercept_.dtype == np.float64
    assert_same_fit(m32, m64, atol=atol, msg=solver)
    assert_same_fit(m32, opt, atol=atol, msg=solver)
    assert_allclose(m32.loglik_, opt.loglik_, rtol=1e-12)


def test_float32_weighted_subsample_newton_equals_float64():
    X, y, _ = make_data(n=N_BIG, p=P_BIG, K=3, seed=13)
    sw = weights(N_BIG, 14)
    X32 = X.astype(np.float32)
    m32 = MultinomialLogit(tol=1e-10, reference=None).fit(X32, y, sample_weight=sw)
    m64 = MultinomialLogit(solver="newton", tol=1e-12, reference=None).fit(
        X32.astype(np.float64), y, sample_weight=sw
    )
    assert m32.solver_ == "subsample-newton" and m32.converged_
    assert_same_fit(m32, m64, atol=1e-8)


def test_sparse_float32_fit_equals_float64_fit():
    X, y, _ = make_data(n=2000, p=6, K=3, seed=15)
    X[np.abs(X) < 0.8] = 0.0
    X32 = sp.csr_matrix(X.astype(np.float32))
    m32 = MultinomialLogit(tol=1e-10).fit(X32, y)
    m64 = MultinomialLogit(solver="newton", tol=1e-12).fit(X32.astype(np.float64).toarray(), y)
    assert m32.solver_ == "newton-cg" and m32.converged_
    assert_same_fit(m32, m64, atol=1e-8)


def test_dtype_parameter_converts_x():
    X, y, _ = make_data(n=3000, p=P_BIG, K=3, seed=16)
    X32 = X.astype(np.float32)
    from_32 = MultinomialLogit(tol=1e-10).fit(X32, y)
    to_32 = MultinomialLogit(tol=1e-10, dtype="float32").fit(X, y)
    assert to_32.converged_
    assert_same_fit(to_32, from_32, atol=1e-12)
    assert to_32.convergence_.n_iter == from_32.convergence_.n_iter

    # dtype="float64" on float32 input: exactly the fit of the float64 copy.
    to_64 = MultinomialLogit(tol=1e-10, dtype="float64").fit(X32, y)
    from_64 = MultinomialLogit(tol=1e-10).fit(X32.astype(np.float64), y)
    assert_same_fit(to_64, from_64, atol=1e-12)
    assert to_64.convergence_.n_iter == from_64.convergence_.n_iter
    # dtype=None on float64 input leaves it float64: nothing rounded to float32.
    plain = MultinomialLogit(tol=1e-10).fit(X, y)
    as_64 = MultinomialLogit(tol=1e-10, dtype="float64").fit(X, y)
    assert_same_fit(plain, as_64, atol=0.0)
    # Integer input becomes float64 (not float32) under dtype=None.
    Xi = np.rint(3 * X).astype(np.int64)
    assert_same_fit(
        MultinomialLogit(tol=1e-10).fit(Xi, y),
        MultinomialLogit(tol=1e-10).fit(Xi.astype(np.float64), y),
        atol=0.0,
    )


@pytest.mark.parametrize("bad", ["float16", "double", "int", np.float32, 32])
def test_invalid_dtype_raises(bad):
    X, y, _ = make_data(n=100, p=2, K=3, seed=17)
    with pytest.raises(InvalidInputError, match="dtype"):
        MultinomialLogit(dtype=bad).fit(X, y)
    assert issubclass(InvalidInputError, ValueError)


def test_predictions_on_float32_x_equal_those_on_its_float64_copy():
    X, y, _ = make_data(n=2000, p=40, K=3, seed=18, scale=0.1)
    model = MultinomialLogit(tol=1e-10).fit(X, y)
    # More than one of the 2**21-element row chunks of the float32 branch.
    Xn, _, _ = make_data(n=60_000, p=40, K=3, seed=19, scale=0.1)
    X32 = Xn.astype(np.float32)
    X64 = X32.astype(np.float64)
    assert X32.size > 2**21
    assert_allclose(
        model.linear_predictor(X32), model.linear_predictor(X64), rtol=1e-13, atol=1e-12
    )
    P32 = model.predict_proba(X32)
    assert P32.dtype == np.float64
    assert_allclose(P32, model.predict_proba(X64), rtol=0, atol=1e-12)
    assert np.array_equal(model.predict(X32), model.predict(X64))
    # Sparse float32 input too.
    Xs = sp.csr_matrix(X32[:500])
    assert_allclose(model.predict_proba(Xs), model.predict_proba(X64[:500]), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------- bugs to watch
def test_float32_fit_respects_max_iter():
    """``max_iter`` bounds the whole fit, not each of the two precision phases."""
    X, y, _ = make_data(n=N_BIG, p=P_BIG, K=K_BIG, seed=1)
    for solver in ("newton", "lbfgs"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m64 = MultinomialLogit(solver=solver, tol=1e-10, max_iter=3).fit(X, y)
            m32 = MultinomialLogit(solver=solver, tol=1e-10, max_iter=3).fit(
                X.astype(np.float32), y
            )
        assert m64.n_iter_ <= 3
        assert m32.n_iter_ <= 3, (solver, m32.n_iter_, m32.convergence_.message)


@pytest.mark.parametrize("solver", ["newton", "subsample-newton"])
def test_float32_convergence_message_counts_every_iteration(solver):
    X, y, _ = make_data(n=N_BIG, p=P_BIG, K=K_BIG, seed=1)
    m = MultinomialLogit(solver=solver, tol=1e-10).fit(X.astype(np.float32), y)
    assert m.converged_
    assert len(m.convergence_.history) == m.n_iter_ + 1
    assert f"after {m.n_iter_} iterations (" in m.convergence_.message, (
        m.n_iter_,
        m.convergence_.message,
    )


@pytest.mark.parametrize("solver", ["newton", "newton-cg", "subsample-newton"])
def test_float32_exact_phase_continues_from_the_fast_phase(solver):
    """Once the float32 phase has reached |g| <= FLOAT32_TOL, the float64 phase starts
    there: the gradient does not jump back up to where the fit started."""
    X, y, _ = make_data(n=N_BIG, p=P_BIG, K=K_BIG, seed=1)
    m = MultinomialLogit(solver=solver, tol=1e-10).fit(X.astype(np.float32), y)
    grads = np.array([rec.gradient for rec in m.convergence_.history])
    reached = int(np.argmax(grads <= FLOAT32_TOL))
    assert grads[reached] <= FLOAT32_TOL
    assert grads[reached:].max() <= 10 * FLOAT32_TOL, grads


# ---------------------------------------------------------------------------- float32 objective
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize(
    ("reference", "alpha", "weighted", "fit_intercept"),
    [(0, 0.0, False, True), (None, 0.05, True, True), (2, 0.0, True, False)],
)
def test_float32_objective_fast_and_exact_modes(sparse, reference, alpha, weighted, fit_intercept):
    n, p, K = 5000, 6, 4
    X, y, _ = make_data(n=n, p=p, K=K, seed=20)
    X32 = X.astype(np.float32)
    X64 = X32.astype(np.float64)
    wrap = sp.csr_matrix if sparse else np.asarray
    kw = dict(
        reference=reference,
        alpha=alpha,
        fit_intercept=fit_intercept,
        sample_weight=weights(n, 21) if weighted else None,
        feature_scale=np.linspace(0.5, 2.0, p),
    )
    o32 = objective(wrap(X32), y, K, **kw)
    o64 = objective(wrap(X64), y, K, **kw)
    assert o32.low_precision and not o32.exact
    assert not o64.low_precision and o64.exact
    o64.set_exact(False)  # float64 X is always exact
    assert o64.exact
    theta = random_theta(o32, seed=22)
    f64, g64 = o64.value_and_gradient(theta)

    f_fast, g_fast = o32.value_and_gradient(theta)  # float32 products
    # float32 rounding of X @ W and X.T @ G: ~1e-7 relative per product, far below 1e-5
    # but not float64-exact.
    assert abs(f_fast - f64) <= 1e-6 * max(1.0, abs(f64))
    assert np.max(np.abs(g_fast - g64)) <= 1e-5 * max(1.0, np.max(np.abs(g64)))

    o32.set_exact(True)  # drops the cached fast-mode state
    assert o32.exact
    f_ex, g_ex = o32.value_and_gradient(theta)
    assert_allclose(f_ex, f64, rtol=1e-12, atol=1e-14)
    assert_allclose(g_ex, g64, rtol=1e-12, atol=1e-12)
    assert_allclose(o32.loglik(theta), o64.loglik(theta), rtol=1e-12)
    assert_allclose(o32.linear_predictor(theta), o64.linear_predictor(theta), rtol=0, atol=1e-12)
    H64 = o64.hessian(theta)
    assert_allclose(o32.hessian(theta), H64, rtol=1e-12, atol=1e-14)
    v = np.random.default_rng(23).standard_normal(o32.n_params)
    assert_allclose(o32.hessp(theta, v), H64 @ v, rtol=1e-10, atol=1e-12)

    # Back to fast mode: the float32 numbers again (the cache does not leak across modes).
    o32.set_exact(False)
    f_fast2, g_fast2 = o32.value_and_gradient(theta)
    assert_allclose(f_fast2, f_fast, rtol=1e-15)
    assert_allclose(g_fast2, g_fast, rtol=0, atol=1e-15)


@pytest.mark.parametrize("chunk", [1, 37, 500])
def test_float32_exact_mode_with_small_chunks_equals_float64(monkeypatch, chunk):
    """Exact mode converts row chunks of X; tiny chunks exercise the loop and the edges."""
    monkeypatch.setattr(blocks, "BLOCK_ELEMENTS", chunk)
    monkeypatch.setattr(blocks, "READ_ELEMENTS", chunk)
    monkeypatch.setattr(blocks, "READ_MIN_ROWS", 1)
    n, p, K = 301, 4, 3
    X, y, _ = make_data(n=n, p=p, K=K, seed=24)
    X32 = X.astype(np.float32)
    o32 = objective(X32, y, K, reference=None, alpha=0.01, sample_weight=weights(n, 25))
    o64 = objective(
        X32.astype(np.float64), y, K, reference=None, alpha=0.01, sample_weight=weights(n, 25)
    )
    o32.set_exact(True)
    theta = random_theta(o32, seed=26)
    assert_same_derivatives(o32, o64, theta)


# ---------------------------------------------------------------------------- memory
def _fit_peak(X, y, **kwargs) -> int:
    tracemalloc.start()
    try:
        m = MultinomialLogit(**kwargs).fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert m.converged_
    return peak


def test_float32_fit_does_not_copy_x():
    Xw, yw, _ = make_data(n=300, p=4, K=3, seed=27)
    MultinomialLogit().fit(Xw.astype(np.float32), yw)  # warm-up: lazy imports, caches
    X, y, _ = make_data(n=200_000, p=40, K=3, seed=28, scale=0.05)
    X32 = X.astype(np.float32)
    del X
    peak = _fit_peak(X32, y)
    # A float64 copy alone is 2 * X32.nbytes; without it the fit needs at most an n x K
    # buffer and bounded row chunks.
    assert peak < 2 * X32.nbytes, peak / X32.nbytes
    # The control: dtype="float64" does copy, and the measurement sees it.
    peak_copy = _fit_peak(X32, y, dtype="float64")
    assert peak_copy > 2 * X32.nbytes, peak_copy / X32.nbytes
    assert peak + X32.nbytes < peak_copy, (peak / X32.nbytes, peak_copy / X32.nbytes)


# ---------------------------------------------------------------------------- syrk Hessian
@pytest.mark.parametrize("K", [2, 3, 5])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("chunk", [1, 13, 10**9])
def test_syrk_hessian_matches_finite_differences(monkeypatch, K, fit_intercept, chunk):
    """The dense Hessian (one syrk per row chunk) against finite differences of the
    gradient, with chunks of one row, a few rows, and all rows; weights, a penalty,
    feature scales and a non-first reference class."""
    monkeypatch.setattr(blocks, "BLOCK_ELEMENTS", chunk)
    monkeypatch.setattr(blocks, "READ_ELEMENTS", chunk)
    monkeypatch.setattr(blocks, "READ_MIN_ROWS", 1)
    n, p = 157, 3
    X, y, _ = make_data(n=n, p=p, K=K, seed=30 + K)
    obj = objective(
        X,
        y,
        K,
        reference=K - 1,
        alpha=0.03,
        sample_weight=weights(n, 31),
        fit_intercept=fit_intercept,
        feature_scale=np.array([0.5, 2.0, 1.5]),
    )
    theta = random_theta(obj, seed=32)
    H = obj.hessian(theta)
    assert_allclose(H, H.T, rtol=0, atol=1e-15 * np.abs(H).max())
    fd = fd_jacobian(obj.gradient, theta)
    scale = max(1.0, np.abs(fd).max())
    assert_allclose(H, fd, rtol=1e-6, atol=1e-7 * scale)
    # And the Hessian-vector product (a separate kernel) agrees with it.
    v = np.random.default_rng(33).standard_normal(obj.n_params)
    assert_allclose(obj.hessp(theta, v), H @ v, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("K", [2, 3, 5])
def test_syrk_hessian_equals_blockwise_definition(K):
    """Reference-class-0 Hessian from its definition, block by block with einsum."""
    n, p = 211, 3
    X, y, _ = make_data(n=n, p=p, K=K, seed=40 + K)
    sw = weights(n, 41)
    obj = objective(X, y, K, reference=0, sample_weight=sw)
    theta = random_theta(obj, seed=42)
    P = obj.probabilities(theta).copy()
    Y = np.column_stack([np.ones(n), X])
    w = sw / sw.sum()
    k1 = K - 1
    expected = np.empty((k1 * (p + 1), k1 * (p + 1)))
    for a in range(k1):
        for b in range(k1):
            h = w * P[:, a + 1] * (float(a == b) - P[:, b + 1])
            expected[a * (p + 1) : (a + 1) * (p + 1), b * (p + 1) : (b + 1) * (p + 1)] = np.einsum(
                "i,ij,ik->jk", h, Y, Y
            )
    assert_allclose(obj.loss_hessian_ref0(theta), expected, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------- Kronecker model
@pytest.mark.parametrize("reference", [0, None])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_kronecker_model_is_exact_when_every_row_has_the_same_probabilities(
    reference, fit_intercept
):
    """With all slopes zero every row has the same p, so H = M ⊗ C exactly (no penalty)."""

    X, y, _ = make_data(n=400, p=6, K=4, seed=41)
    obj = objective(
        X, y, 4, reference=reference, sample_weight=weights(400, 42), fit_intercept=fit_intercept
    )
    theta = np.zeros(obj.n_params)
    if fit_intercept:  # distinct intercepts, zero slopes
        Theta = obj.param.theta_matrix(theta, obj.p1).copy()
        Theta[0] = [0.3, -0.5, 0.8]
        theta = np.ascontiguousarray(Theta.T).reshape(-1)
    H = obj.hessian(theta)
    inverse = kronecker_inverse(obj, theta)
    v = np.random.default_rng(43).standard_normal(obj.n_params)
    assert_allclose(inverse(H @ v), v, rtol=1e-7, atol=1e-8)


def test_kronecker_model_is_a_good_preconditioner_at_a_general_point():
    """At the optimum, (M ⊗ C)^{-1} H is far better conditioned than H (18.7 against 421)."""

    X, y, _ = make_data(n=3000, p=8, K=5, seed=44)
    obj = objective(X, y, 5)
    theta = SOLVERS["newton"](obj, np.zeros(obj.n_params), SolverOptions(tol=1e-10)).x
    H = obj.hessian(theta)
    inverse = kronecker_inverse(obj, theta)
    PH = np.column_stack([inverse(H[:, j]) for j in range(H.shape[1])])
    eig = np.sort(np.linalg.eigvals(PH).real)
    cond_h = np.linalg.cond(H)
    assert eig[0] > 0.05 and eig[-1] < 5.0
    assert eig[-1] / eig[0] < cond_h / 10


@pytest.mark.parametrize(
    "case", ["plain", "weighted", "symmetric", "l2", "no-intercept", "scaled", "collinear-l2"]
)
def test_subsample_newton_kronecker_path_matches_newton(case):
    """m > 100 and no room for a subsample: the Kronecker model drives the L-BFGS steps."""

    n, p, K = 3000, 40, 4
    X, y, _ = make_data(n=n, p=p, K=K, seed=45, scale=0.3)
    kw: dict = {}
    sw = weights(n, 46) if case == "weighted" else None
    if case == "symmetric":
        kw["reference"] = None
    if case in ("l2", "collinear-l2"):
        kw.update(penalty="l2", alpha=1e-3)
    if case == "no-intercept":
        kw["fit_intercept"] = False
    if case == "scaled":
        X = X.copy()
        X[:, 3] *= 1e6
        X[:, 5] *= 1e-6
    if case == "collinear-l2":
        X = np.hstack([X, X[:, :2] + X[:, 2:4]])
    m_free = (K - 1) * (X.shape[1] + int(kw.get("fit_intercept", True)))
    assert uses_kronecker(n, m_free)
    ref = MultinomialLogit(solver="newton", tol=1e-12, **kw).fit(X, y, sample_weight=sw)
    got = MultinomialLogit(tol=1e-10, **kw).fit(X, y, sample_weight=sw)
    assert got.solver_ == "subsample-newton"
    assert got.converged_, got.convergence_.message
    s = np.abs(X).max(axis=0)  # compare coefficients in units of each column's range
    assert_allclose(got.coef_ * s, ref.coef_ * s, rtol=0, atol=1e-7, err_msg=case)
    assert_allclose(got.intercept_, ref.intercept_, rtol=0, atol=1e-7, err_msg=case)


# ------------------------------------------------------------ probabilities kept on demand
def _softmax(eta: np.ndarray) -> np.ndarray:
    e = np.exp(eta - eta.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_gradients_alone_keep_no_probability_buffer():
    X, y, _ = make_data(n=5000, p=6, K=4, seed=40)
    obj = objective(X, y, 4, reference=None, alpha=1e-3, sample_weight=weights(5000, 41))
    theta = random_theta(obj, 42)
    f, g = obj.value_and_gradient(theta)
    assert not obj.keeps_probabilities
    # made on request: the softmax of the linear predictor, the cache left as it was
    assert_allclose(obj.probabilities(theta), _softmax(obj.linear_predictor(theta)), rtol=1e-13)
    f2, g2 = obj.value_and_gradient(theta)
    assert f2 == f and np.array_equal(g2, g)
    # once made, later sweeps fill it: Hessians equal a fresh objective's
    other = theta + 0.1
    obj.value_and_gradient(other)
    fresh = objective(X, y, 4, reference=None, alpha=1e-3, sample_weight=weights(5000, 41))
    assert_allclose(obj.hessian(other), fresh.hessian(other), rtol=1e-13, atol=1e-16)
    assert_allclose(obj.hessp(other, g), fresh.hessp(other, g), rtol=1e-13, atol=1e-16)


def test_gradient_after_a_value_at_the_same_point_without_buffer():
    X, y, _ = make_data(n=3000, p=5, K=3, seed=43)
    obj = objective(X, y, 3)
    theta = random_theta(obj, 44)
    f = obj.value(theta)
    f2, g = obj.value_and_gradient(theta)
    fresh = objective(X, y, 3)
    f3, g3 = fresh.value_and_gradient(theta)
    assert f == f2 == f3
    assert_allclose(g, g3, rtol=1e-14, atol=1e-17)


@pytest.mark.parametrize("made", [False, True], ids=["no-buffer", "buffer"])
def test_visit_and_min_probability_cover_every_row(made):
    n = 7000
    X, y, _ = make_data(n=n, p=4, K=5, seed=45)
    w = weights(n, 46)
    obj = objective(X, y, 5, sample_weight=w)
    theta = random_theta(obj, 47, scale=1.5)
    expected = _softmax(obj.linear_predictor(theta))
    if made:
        obj.probabilities(theta)
    seen = np.zeros(n, dtype=int)
    blocks = np.empty_like(expected)

    def visit(prob, rows):
        seen[rows] += 1
        blocks[rows] = prob

    obj.visit_probabilities(theta, visit)
    assert np.all(seen == 1)
    assert_allclose(blocks, expected, rtol=1e-13)
    assert obj.min_probability(theta) == pytest.approx(expected[w > 0].min(), rel=1e-12)
    assert obj.keeps_probabilities == made


def test_kronecker_class_factor_by_blocks_equals_the_whole_formula():
    X, y, _ = make_data(n=6000, p=3, K=4, seed=48)
    obj = objective(X, y, 4, reference=None, sample_weight=weights(6000, 49))
    theta = random_theta(obj, 50)
    M, wc = class_factor(obj, theta)
    P = _softmax(obj.linear_predictor(theta))[:, 1:]
    w = obj.normalized_weights
    M0 = (np.diag((P * w[:, None]).sum(0)) - (P * w[:, None]).T @ P) / (
        w * np.einsum("ik,ik->i", P, 1 - P)
    ).sum()
    T = obj.to_ref0
    assert_allclose(M, T @ M0 @ T.T, rtol=1e-12, atol=1e-15)
    assert_allclose(wc, w * np.einsum("ik,ik->i", P, 1 - P), rtol=1e-12, atol=1e-18)
    assert not obj.keeps_probabilities


def test_fits_by_gradients_hold_no_n_by_k_buffer():
    Xw, yw, _ = make_data(n=300, p=4, K=3, seed=27)
    MultinomialLogit().fit(Xw, yw)  # warm-up: lazy imports, caches
    n, K = 200_000, 10
    X, y, _ = make_data(n=n, p=10, K=K, seed=42, scale=0.3)
    buffer = n * K * 8
    kw = dict(penalty="l2", alpha=1e-4, cov_type=None)
    # the control: the robust covariance reads the n x K residuals, so the measurement
    # sees such a buffer when there is one
    assert _fit_peak(X, y, solver="lbfgs", penalty="l2", alpha=1e-4, cov_type="robust") > (
        1.5 * buffer
    )
    # Newton forms each Hessian from row-block probabilities (no buffer either)
    for solver in ("lbfgs", "auto", "newton"):
        peak = _fit_peak(X, y, solver=solver, **kw)
        assert peak < 0.85 * buffer, (solver, peak / buffer)


def test_default_fit_with_covariance_holds_no_n_by_k_buffer():
    """The covariance's Hessian and the separation certificate read the probabilities
    a row block at a time: the default fit (nonrobust covariance, separation check)
    of dense X makes no n x K array."""
    Xw, yw, _ = make_data(n=300, p=4, K=3, seed=27)
    MultinomialLogit().fit(Xw, yw)  # warm-up: lazy imports, caches
    n, K = 200_000, 10
    X, y, _ = make_data(n=n, p=10, K=K, seed=42, scale=0.3)
    X32 = X.astype(np.float32)
    buffer = n * K * 8
    assert _fit_peak(X, y) < 0.85 * buffer
    # float32 X: the two-phase solve's own peak is 0.57 buffer above three n-vectors
    # (codes, weights, normalized weights: 0.3 buffer) kept by the fit; an n x K float64
    # array on top would exceed one buffer
    assert _fit_peak(X32, y) < buffer


def test_finite_check_makes_no_boolean_copy_of_x():
    from mnlogit.identification import check_feature_values

    X = np.random.default_rng(51).standard_normal((100_000, 40))
    tracemalloc.start()
    try:
        check_feature_values(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.size / 8, peak  # an n x p boolean array would be X.size bytes
    X[70_000, 3] = np.nan
    with pytest.raises(InvalidInputError, match="first at row 70000"):
        check_feature_values(X)


def test_column_maxabs_in_chunks_equals_the_whole_reduction():
    from mnlogit.identification import column_maxabs

    rng = np.random.default_rng(52)
    X = rng.standard_normal((70_000, 9)) * np.geomspace(1e-200, 1e200, 9)
    X[12_345, 2] = -1e300
    assert_allclose(column_maxabs(X), np.abs(X).max(axis=0), rtol=0, atol=0)
    X32 = (rng.standard_normal((70_000, 3)) * [1e-30, 1.0, 1e30]).astype(np.float32)
    assert_allclose(column_maxabs(X32), np.abs(X32).max(axis=0), rtol=0, atol=0)
    X[50_000, 4] = np.nan
    assert np.isnan(column_maxabs(X)[4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # np.matrix itself
        M = np.matrix([[1.0, -4.0], [2.0, 3.0]])
    assert_allclose(column_maxabs(M), [2.0, 4.0])
    assert_allclose(column_maxabs(np.array([[-128, 5]], dtype=np.int8)), [128.0, 5.0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_at_a_point_with_kept_probabilities_makes_no_sweep(monkeypatch, dtype):
    """Value, then gradient at the same point, with the buffer kept: one product X.T @ P,
    no second pass through the sweep (which converts float32 blocks in exact mode)."""
    X, y, _ = make_data(n=4000, p=6, K=4, seed=52)
    Xd = X.astype(dtype)
    obj = objective(Xd, y, 4, reference=None, alpha=1e-3, sample_weight=weights(4000, 53))
    obj.set_exact(True)
    theta = random_theta(obj, 54)
    obj.probabilities(theta)  # makes the probability buffer
    sweeps = []
    original = loss_kernels.sweep_loss

    def counted(*args, **kwargs):
        sweeps.append(kwargs.get("gradient"))
        return original(*args, **kwargs)

    monkeypatch.setattr(loss_kernels, "sweep_loss", counted)
    other = theta + 0.05
    f = obj.value(other)
    assert len(sweeps) == 1
    f2, g = obj.value_and_gradient(other)
    assert len(sweeps) == 1
    fresh = objective(Xd, y, 4, reference=None, alpha=1e-3, sample_weight=weights(4000, 53))
    fresh.set_exact(True)
    f3, g3 = fresh.value_and_gradient(other)
    assert f == f2
    assert_allclose(f2, f3, rtol=1e-14)
    assert_allclose(g, g3, rtol=1e-12, atol=1e-16)
