"""Newton-CG's preconditioner and the transposed dense sweep.

Expected values come from independent routes: the block-diagonal model built as an
explicit matrix where it is exact (orthogonal columns, equal probabilities on every row),
a dense linear solve, Newton's method on the same data, and the whole-matrix sparse
objective (a separate code path) or plain numpy for the dense sweep's values.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

import mnlogit.objective.curvature as curvature_module
from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.objective import MultinomialObjective
from mnlogit.objective.curvature import block_diagonal_inverse
from mnlogit.objective.loss import sweep_rows
from mnlogit.objective.penalties import make_penalty
from mnlogit.parameterization import Parameterization
from mnlogit.solvers import SOLVERS, SolverOptions
from mnlogit.solvers.newton_cg import conjugate_gradient


def objective(X, y, K, *, reference=0, alpha=0.0, sample_weight=None, fit_intercept=True):
    n = X.shape[0]
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    penalty = make_penalty("l2" if alpha > 0 else None, alpha, fit_intercept)
    return MultinomialObjective(X, y, K, sw, Parameterization(K, reference), penalty, fit_intercept)


def weights(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.2, 3.0, size=n)
    w[rng.choice(n, size=n // 20, replace=False)] = 0.0
    return w


def _softmax(eta: np.ndarray) -> np.ndarray:
    e = np.exp(eta - eta.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ------------------------------------------------------------ block-diagonal preconditioner
def _disjoint_columns(n: int, p: int, seed: int, sparse: bool):
    """Every row has one nonzero: the columns are orthogonal, so C is diagonal."""
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, p, size=n)
    vals = rng.uniform(0.5, 2.0, size=n)
    X = sp.csr_matrix((vals, (np.arange(n), cols)), shape=(n, p))
    return X if sparse else X.toarray()


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize(
    ("reference", "alpha", "weighted"),
    [(0, 0.0, False), (None, 0.0, True), (2, 1e-2, True), (0, 1e-3, False)],
)
def test_block_model_inverts_the_hessian_where_it_is_exact(sparse, reference, alpha, weighted):
    """Orthogonal columns, no intercept, zero slopes: H = M ⊗ diag(C) + penalty exactly."""
    n, p, K = 600, 7, 4
    X = _disjoint_columns(n, p, 1, sparse)
    y = np.random.default_rng(2).integers(0, K, size=n)
    sw = weights(n, 3) if weighted else None
    obj = objective(
        X, y, K, reference=reference, alpha=alpha, sample_weight=sw, fit_intercept=False
    )
    # zero slopes with no intercept: every row has the same (uniform) probabilities
    theta = np.zeros(obj.n_params)
    H = obj.hessian(theta)
    inverse = block_diagonal_inverse(obj, theta)
    rng = np.random.default_rng(4)
    for _ in range(3):
        v = rng.standard_normal(obj.n_params)
        assert_allclose(inverse(H @ v), v, rtol=1e-9, atol=1e-9)
        assert_allclose(H @ inverse(v), v, rtol=1e-9, atol=1e-9)


def test_block_model_is_symmetric_positive_definite_and_returns_fresh_arrays():
    X, y, _ = make_data(n=2000, p=6, K=5, seed=5)
    obj = objective(X, y, 5, reference=None, alpha=1e-3, sample_weight=weights(2000, 6))
    theta = 0.3 * np.random.default_rng(7).standard_normal(obj.n_params)
    inverse = block_diagonal_inverse(obj, theta)
    P = np.column_stack([inverse(e) for e in np.eye(obj.n_params)])
    assert_allclose(P, P.T, rtol=1e-10, atol=1e-12)
    assert np.linalg.eigvalsh((P + P.T) / 2).min() > 0
    # the application reuses scratch space: earlier results must not change
    a = np.random.default_rng(8).standard_normal(obj.n_params)
    first = inverse(a)
    kept = first.copy()
    inverse(-3.0 * a + 1.0)
    assert np.array_equal(first, kept)
    assert_allclose(first, P @ a, rtol=1e-10, atol=1e-12)


def test_block_model_on_sparse_x_shares_nothing_it_writes():
    """The squared values come from a matrix sharing X's index arrays; X is untouched."""
    X = sp.random(800, 30, density=0.1, format="csr", random_state=9) * 3.0
    X.data += 0.5
    y = np.random.default_rng(10).integers(0, 3, size=800)
    before = (X.data.copy(), X.indices.copy(), X.indptr.copy())
    obj = objective(X, y, 3, alpha=1e-3)
    theta = 0.1 * np.random.default_rng(11).standard_normal(obj.n_params)
    dense = objective(X.toarray(), y, 3, alpha=1e-3)
    v = np.random.default_rng(12).standard_normal(obj.n_params)
    assert_allclose(
        block_diagonal_inverse(obj, theta)(v),
        block_diagonal_inverse(dense, theta)(v),
        rtol=1e-10,
    )
    for a, b in zip(before, (X.data, X.indices, X.indptr), strict=True):
        assert np.array_equal(a, b)


# ------------------------------------------------------------------ preconditioned CG
def _spd(m: int, cond: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((m, m)))
    return (Q * np.geomspace(1.0, cond, m)) @ Q.T


def test_cg_with_the_exact_preconditioner_solves_in_one_product():
    H = _spd(40, 1e6, 13)
    g = np.random.default_rng(14).standard_normal(40)
    d, used = conjugate_gradient(
        lambda v: H @ v, g, 1e-10, 100, precondition=lambda r: np.linalg.solve(H, r)
    )
    assert used == 1
    assert_allclose(d, np.linalg.solve(H, -g), rtol=1e-8)


@pytest.mark.parametrize("rtol", [1e-2, 1e-6])
def test_preconditioned_cg_stops_on_the_true_residual(rtol):
    H = _spd(60, 1e4, 15)
    g = np.random.default_rng(16).standard_normal(60)
    D = np.diag(np.diag(H))  # Jacobi, a poor but valid preconditioner
    d, used = conjugate_gradient(
        lambda v: H @ v, g, rtol, 500, precondition=lambda r: r / np.diag(D)
    )
    assert np.linalg.norm(H @ d + g) <= rtol * np.linalg.norm(g) * (1 + 1e-9)
    plain, used_plain = conjugate_gradient(lambda v: H @ v, g, rtol, 500)
    assert np.linalg.norm(H @ plain + g) <= rtol * np.linalg.norm(g) * (1 + 1e-9)
    assert used >= 1 and used_plain >= 1


def test_cg_max_abs_residual_stop_with_a_preconditioner():
    H = _spd(30, 1e3, 17)
    g = 1e-3 * np.random.default_rng(18).standard_normal(30)
    d, _ = conjugate_gradient(
        lambda v: H @ v, g, 0.0, 500, atol=1e-9, precondition=lambda r: 2.0 * r
    )
    assert np.abs(H @ d + g).max() <= 1e-9


# ------------------------------------------------------------ newton-cg, preconditioned
@pytest.fixture
def always_precondition(monkeypatch):
    monkeypatch.setattr(curvature_module, "PRECONDITION_MIN_WORK", 0)


def _count_products(monkeypatch) -> list[int]:
    count = [0]
    for name in ("hessp", "curvature_product"):
        original = getattr(MultinomialObjective, name)

        def counted(self, theta, v, _original=original):
            count[0] += 1
            return _original(self, theta, v)

        monkeypatch.setattr(MultinomialObjective, name, counted)
    return count


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize(
    "kw",
    [dict(), dict(reference=None, penalty="l2", alpha=1e-3), dict(reference="last")],
    ids=["plain", "symmetric-l2", "last"],
)
def test_preconditioned_newton_cg_reaches_newtons_optimum(always_precondition, sparse, kw):
    X, y, _ = make_data(n=3000, p=12, K=5, seed=19)
    X[:, 3] *= 40.0  # badly scaled columns: the preconditioner's job
    sw = weights(3000, 20)
    Xf = sp.csr_matrix(X) if sparse else X
    ref = MultinomialLogit(solver="newton", tol=1e-12, **kw).fit(X, y, sample_weight=sw)
    got = MultinomialLogit(solver="newton-cg", tol=1e-10, **kw).fit(Xf, y, sample_weight=sw)
    assert got.converged_
    s = np.abs(X).max(axis=0)
    assert_allclose(got.coef_ * s, ref.coef_ * s, rtol=0, atol=1e-7)
    assert_allclose(got.intercept_, ref.intercept_, rtol=0, atol=1e-7)


def test_preconditioning_cuts_the_cg_products(monkeypatch):
    """Correlated, unequally scaled columns and many classes: far fewer products."""
    rng = np.random.default_rng(21)
    n, p, K = 20_000, 30, 8
    Z = rng.standard_normal((n, p))
    X = (Z + 0.8 * Z[:, :1]) * np.geomspace(0.1, 10.0, p)
    B = 0.3 * rng.standard_normal((p, K)) / np.geomspace(0.1, 10.0, p)[:, None]
    y = np.array([rng.choice(K, p=q) for q in _softmax(X @ B)])
    counts = {}
    for threshold in (0, 10**18):
        monkeypatch.setattr(curvature_module, "PRECONDITION_MIN_WORK", threshold)
        count = _count_products(monkeypatch)
        m = MultinomialLogit(solver="newton-cg", tol=1e-8, cov_type=None).fit(X, y)
        assert m.converged_
        counts[threshold] = count[0]
        monkeypatch.undo()
    assert counts[0] < 0.7 * counts[10**18], counts


def test_preconditioned_newton_cg_is_deterministic(always_precondition):
    """A k-iteration run is the start of a longer one: bit for bit (the preconditioner
    reads the probabilities from the kept buffer or from a sweep alike)."""
    X, y, _ = make_data(n=4000, p=9, K=4, seed=22)
    obj = objective(X, y, 4, reference=None, alpha=1e-3, sample_weight=weights(4000, 23))
    x0 = np.zeros(obj.n_params)
    full = SOLVERS["newton-cg"](obj, x0, SolverOptions(tol=1e-14, max_iter=4))
    again = SOLVERS["newton-cg"](obj, x0, SolverOptions(tol=1e-14, max_iter=4))
    fresh_obj = objective(X, y, 4, reference=None, alpha=1e-3, sample_weight=weights(4000, 23))
    fresh = SOLVERS["newton-cg"](fresh_obj, x0, SolverOptions(tol=1e-14, max_iter=4))
    assert np.array_equal(full.x, again.x)
    assert np.array_equal(full.x, fresh.x)


def test_small_problems_are_not_preconditioned():
    X, y, _ = make_data(n=300, p=3, K=4, seed=24)
    obj = objective(X, y, 4)
    assert not curvature_module.worth_preconditioning(obj.X, obj.n_classes)
    assert obj.curvature_preconditioner(np.zeros(obj.n_params)) is None
    X, y, _ = make_data(n=100_000, p=20, K=4, seed=24)
    assert curvature_module.worth_preconditioning(X, 4)
    assert objective(X, y, 4).curvature_preconditioner(np.zeros(3 * 21)) is not None


# ------------------------------------------------------------------ the dense sweep
@pytest.mark.parametrize(
    ("p", "K"), [(70, 6), (70, 3), (10, 6)], ids=["transposed", "few-classes", "few-features"]
)
@pytest.mark.parametrize("dtype", ["float64", "float32-exact", "float32-fast"])
@pytest.mark.parametrize("weighted", [False, True], ids=["equal", "weighted"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "none"])
def test_dense_sweep_equals_the_whole_matrix_route(p, K, dtype, weighted, fit_intercept):
    """Several row blocks (the last one partial) against the sparse objective's
    whole-matrix route and plain numpy."""
    rows = sweep_rows(p, K)
    n = 2 * rows + 123
    rng = np.random.default_rng(25)
    X = rng.standard_normal((n, p)) + rng.uniform(-1, 1, size=p)
    y = rng.integers(0, K, size=n)
    y[:K] = np.arange(K)
    sw = weights(n, 26) if weighted else None
    Xd = X.astype(np.float32) if dtype != "float64" else X
    obj = objective(
        Xd, y, K, reference=None, alpha=1e-3, sample_weight=sw, fit_intercept=fit_intercept
    )
    if dtype != "float64":
        obj.set_exact(dtype == "float32-exact")  # float32 X starts in fast mode
    other = objective(
        sp.csr_matrix(Xd.astype(np.float64)),
        y,
        K,
        reference=None,
        alpha=1e-3,
        sample_weight=sw,
        fit_intercept=fit_intercept,
    )
    theta = 0.2 * rng.standard_normal(obj.n_params)
    f, g = obj.value_and_gradient(theta)
    f2, g2 = other.value_and_gradient(theta)
    tol = 1e-5 if dtype == "float32-fast" else 1e-12
    assert_allclose(f, f2, rtol=tol)
    assert_allclose(g, g2, rtol=tol, atol=tol * np.abs(g2).max())
    # the loss by plain numpy
    B = obj.full_coefficients(theta)
    eta = Xd.astype(np.float64) @ B[int(fit_intercept) :] + (B[0] if fit_intercept else 0.0)
    w = np.ones(n) if sw is None else sw
    P = _softmax(eta)
    loss = -(w * np.log(P[np.arange(n), y])).sum() / w.sum()
    assert_allclose(obj.loss(theta), loss, rtol=tol)
    # kept probabilities, and the smallest one, from the same sweep
    assert_allclose(obj.probabilities(theta), P, rtol=max(tol, 1e-12), atol=1e-300)
    assert obj.min_probability(theta) == pytest.approx(P[w > 0].min(), rel=max(tol, 1e-11))


# ------------------------------------------------------------------ found in review
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("factor", [1e200, 1e-170])
def test_preconditioned_newton_cg_with_extreme_column_scales(always_precondition, sparse, factor):
    """Values are scaled before they are squared: 1e200 squared overflows, 1e-170
    underflows, and the preconditioner was inf or nan before that."""
    X, y, _ = make_data(n=3000, p=4, K=3, seed=27)
    Xe = X.copy()
    Xe[:, 2] *= factor
    Xf = sp.csr_matrix(Xe) if sparse else Xe
    ref = MultinomialLogit(solver="newton", tol=1e-10, cov_type=None).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow on the way either
        got = MultinomialLogit(solver="newton-cg", tol=1e-10, cov_type=None).fit(Xf, y)
    assert got.converged_
    assert_allclose(got.coef_[:, 2] * factor, ref.coef_[:, 2], rtol=1e-6, atol=1e-8)
    assert_allclose(got.intercept_, ref.intercept_, rtol=0, atol=1e-7)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_block_model_of_a_scaled_objective_equals_that_of_prescaled_x(sparse):
    X, y, _ = make_data(n=1500, p=4, K=4, seed=28)
    s = np.array([1e180, 1.0, 1e-160, 3.0])
    raw = X * s
    penalty = make_penalty(None, 0.0, True)
    scaled = MultinomialObjective(
        sp.csr_matrix(raw) if sparse else raw,
        y,
        4,
        np.ones(1500),
        Parameterization(4, 0),
        penalty,
        True,
        feature_scale=s,
    )
    plain = objective(sp.csr_matrix(X) if sparse else X, y, 4)
    theta = 0.3 * np.random.default_rng(29).standard_normal(plain.n_params)
    v = np.random.default_rng(30).standard_normal(plain.n_params)
    got = block_diagonal_inverse(scaled, theta)(v)
    assert np.all(np.isfinite(got))
    assert_allclose(got, block_diagonal_inverse(plain, theta)(v), rtol=1e-10)


def test_block_model_with_duplicate_sparse_entries():
    """A duplicate entry's square is the square of the sum, not the sum of squares."""
    rows = np.array([0, 0, 1, 2, 2, 3, 4, 5])
    cols = np.array([1, 1, 0, 2, 2, 1, 0, 2])
    vals = np.array([1.0, 2.0, 0.5, -1.0, 3.0, 1.5, 2.0, 1.0])
    indptr = np.concatenate([[0], np.bincount(rows, minlength=6).cumsum()])
    X = sp.csr_matrix((vals, cols, indptr), shape=(6, 3))
    assert not X.has_canonical_format
    y = np.array([0, 1, 2, 0, 1, 2])
    dense = objective(X.toarray(), y, 3)
    obj = objective(X, y, 3)
    theta = 0.2 * np.random.default_rng(31).standard_normal(obj.n_params)
    v = np.random.default_rng(32).standard_normal(obj.n_params)
    assert_allclose(
        block_diagonal_inverse(obj, theta)(v), block_diagonal_inverse(dense, theta)(v), rtol=1e-12
    )


def test_block_model_without_any_curvature_is_the_identity():
    X = np.zeros((50, 3))
    y = np.arange(50) % 3
    obj = objective(X, y, 3, fit_intercept=False)
    v = np.random.default_rng(33).standard_normal(obj.n_params)
    assert_allclose(block_diagonal_inverse(obj, np.zeros(obj.n_params))(v), v)


def test_cg_falls_back_to_plain_cg_for_an_indefinite_preconditioner():
    H = _spd(20, 1e2, 34)
    g = np.random.default_rng(35).standard_normal(20)
    d, _ = conjugate_gradient(lambda v: H @ v, g, 1e-10, 200, precondition=lambda r: -r)
    assert_allclose(H @ d, -g, rtol=1e-7, atol=1e-9)
    d, _ = conjugate_gradient(
        lambda v: H @ v, g, 1e-10, 200, precondition=lambda r: np.full_like(r, np.nan)
    )
    assert_allclose(H @ d, -g, rtol=1e-7, atol=1e-9)


def test_firth_newton_cg_above_the_threshold_runs_unpreconditioned(always_precondition):
    """The Firth objective offers no preconditioner: plain CG, the same estimate as Newton."""
    X, y, _ = make_data(n=2000, p=3, K=3, seed=36)
    ref = MultinomialLogit(penalty="firth", solver="newton", tol=1e-10).fit(X, y)
    got = MultinomialLogit(penalty="firth", solver="newton-cg", tol=1e-10).fit(X, y)
    assert got.converged_
    assert_allclose(got.coef_, ref.coef_, rtol=0, atol=1e-7)
    assert_allclose(got.intercept_, ref.intercept_, rtol=0, atol=1e-7)
