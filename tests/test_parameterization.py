"""Tests for :mod:`mnlogit.parameterization` (reference and symmetric forms)."""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from helpers import make_data
from mnlogit.objective import MultinomialObjective, NoPenalty
from mnlogit.parameterization import Parameterization


def references(K: int) -> list[int | None]:
    """Symmetric form, first, middle and last reference class (deduplicated)."""
    return [None, *sorted({0, K // 2, K - 1})]


FORMS = [(K, ref) for K in (2, 3, 4, 6) for ref in references(K)]
FORM_IDS = [f"K{K}-ref{ref}" for K, ref in FORMS]
forms = pytest.mark.parametrize(("K", "reference"), FORMS, ids=FORM_IDS)

PAIRS = [(K, a, b) for K in (2, 3, 5) for a, b in itertools.product(references(K), repeat=2)]
pairs = pytest.mark.parametrize(
    ("K", "a", "b"), PAIRS, ids=[f"K{K}-{a}-to-{b}" for K, a, b in PAIRS]
)

P1 = 4


def rng_for(*key: object) -> np.random.Generator:
    """Deterministic generator per test case (``hash`` of strings is salted per run)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# --------------------------------------------------------------------------- structure
@forms
def test_basis_is_orthonormal(K, reference):
    par = Parameterization(K, reference)
    assert par.A.shape == (K, K - 1)
    assert par.N.shape == (K, K)
    assert par.n_free_classes == K - 1
    assert_allclose(par.A.T @ par.A, np.eye(K - 1), atol=1e-14)
    if reference is None:
        assert_allclose(par.A.T @ np.ones(K), 0.0, atol=1e-14)
    else:
        assert_array_equal(par.A[reference], 0.0)


@forms
def test_round_trip_theta_to_full_to_theta(K, reference):
    par = Parameterization(K, reference)
    theta = rng_for(K, reference, "rt").standard_normal((K - 1) * P1)
    B = par.to_full(theta, P1)
    assert B.shape == (P1, K)
    assert_allclose(par.from_full(B), theta, rtol=1e-13, atol=1e-14)


@forms
def test_to_full_is_canonical_representative(K, reference):
    par = Parameterization(K, reference)
    theta = rng_for(K, reference, "canon").standard_normal((K - 1) * P1)
    B = par.to_full(theta, P1)
    if reference is None:
        assert_allclose(B.sum(axis=1), 0.0, atol=1e-13)
    else:
        assert_array_equal(B[:, reference], 0.0)
        # Free columns are exactly the non-reference columns, in class order.
        others = [k for k in range(K) if k != reference]
        assert_array_equal(B[:, others], par.theta_matrix(theta, P1))


@forms
def test_from_full_then_to_full_projects(K, reference):
    """to_full(from_full(B)) is B minus the reference column, or B minus its row means."""
    par = Parameterization(K, reference)
    B = rng_for(K, reference, "proj").standard_normal((P1, K))
    expected = B - (B.mean(axis=1, keepdims=True) if reference is None else B[:, [reference]])
    assert_allclose(par.to_full(par.from_full(B), P1), expected, rtol=1e-13, atol=1e-14)


@forms
def test_from_full_invariant_to_adding_common_column(K, reference):
    par = Parameterization(K, reference)
    rng = rng_for(K, reference, "shift")
    B = rng.standard_normal((P1, K))
    c = 10.0 * rng.standard_normal((P1, 1))
    assert_allclose(par.from_full(B + c @ np.ones((1, K))), par.from_full(B), atol=1e-12)
    # ... but not invariant to adding a non-constant matrix (the test can fail).
    D = np.zeros((P1, K))
    D[0, K - 1] = 1.0
    assert not np.allclose(par.from_full(B + D), par.from_full(B))


@forms
def test_frobenius_norm_is_preserved(K, reference):
    par = Parameterization(K, reference)
    theta = rng_for(K, reference, "norm").standard_normal((K - 1) * P1)
    assert_allclose(np.linalg.norm(par.to_full(theta, P1)), np.linalg.norm(theta), rtol=1e-14)


@forms
def test_theta_matrix_layout_is_class_major(K, reference):
    par = Parameterization(K, reference)
    theta = np.arange((K - 1) * P1, dtype=float)
    M = par.theta_matrix(theta, P1)
    assert M.shape == (P1, K - 1)
    for j in range(K - 1):
        assert_array_equal(M[:, j], theta[j * P1 : (j + 1) * P1])


@forms
def test_free_gradient_is_chain_rule_of_to_full(K, reference):
    """For the linear f(theta) = <G, to_full(theta)>, the gradient is free_gradient(G)."""
    par = Parameterization(K, reference)
    rng = rng_for(K, reference, "chain")
    G = rng.standard_normal((P1, K))
    n = (K - 1) * P1
    basis = np.eye(n)
    grad = np.array([np.sum(G * par.to_full(basis[j], P1)) for j in range(n)])
    assert_allclose(par.free_gradient(G), grad, rtol=1e-13, atol=1e-14)


# --------------------------------------------------------------------------- transforms
@pairs
def test_vector_jacobian_maps_theta(K, a, b):
    pa, pb = Parameterization(K, a), Parameterization(K, b)
    theta_a = rng_for(K, a, b, "J").standard_normal((K - 1) * P1)
    J = pa.vector_jacobian(pb, P1)
    assert J.shape == ((K - 1) * P1, (K - 1) * P1)
    assert_allclose(J @ theta_a, pb.from_full(pa.to_full(theta_a, P1)), atol=1e-13)
    # Same probabilities: the full matrices differ by a common column only.
    diff = pb.to_full(J @ theta_a, P1) - pa.to_full(theta_a, P1)
    assert_allclose(diff - diff[:, :1], 0.0, atol=1e-13)
    # Matrix form: Theta_b = Theta_a @ M.
    M = pa.transform_to(pb)
    assert_allclose(pb.theta_matrix(J @ theta_a, P1), pa.theta_matrix(theta_a, P1) @ M, atol=1e-13)


@pairs
def test_vector_jacobians_are_mutually_inverse(K, a, b):
    pa, pb = Parameterization(K, a), Parameterization(K, b)
    n = (K - 1) * P1
    assert_allclose(pa.vector_jacobian(pb, P1) @ pb.vector_jacobian(pa, P1), np.eye(n), atol=1e-13)
    assert_allclose(pb.vector_jacobian(pa, P1) @ pa.vector_jacobian(pb, P1), np.eye(n), atol=1e-13)
    if a == b:
        assert_allclose(pa.transform_to(pb), np.eye(K - 1), atol=1e-14)


@pytest.mark.parametrize("K", [3, 5])
def test_jacobians_compose(K):
    forms_ = [Parameterization(K, r) for r in references(K)]
    for pa, pb, pc in itertools.permutations(forms_, 3):
        assert_allclose(
            pb.vector_jacobian(pc, P1) @ pa.vector_jacobian(pb, P1),
            pa.vector_jacobian(pc, P1),
            atol=1e-13,
        )


def test_reference_change_is_column_difference():
    """Ref 0 -> ref 2: new coefficients are the old ones minus class 2's, independent check."""
    K = 4
    p0, p2 = Parameterization(K, 0), Parameterization(K, 2)
    theta0 = np.random.default_rng(1).standard_normal((K - 1) * P1)
    T0 = theta0.reshape(K - 1, P1).T  # columns: classes 1, 2, 3 against class 0
    B = np.column_stack([np.zeros(P1), T0])
    expected = np.column_stack([B[:, k] - B[:, 2] for k in (0, 1, 3)])
    got = p0.vector_jacobian(p2, P1) @ theta0
    assert_allclose(got.reshape(K - 1, P1).T, expected, atol=1e-14)


def test_covariance_moves_with_jacobian():
    """J cov J^T is the covariance of J theta: check on a sample of theta vectors."""
    K = 3
    pa, pb = Parameterization(K, None), Parameterization(K, 1)
    J = pa.vector_jacobian(pb, P1)
    rng = np.random.default_rng(2)
    L = rng.standard_normal(((K - 1) * P1, (K - 1) * P1))
    cov = L @ L.T
    draws = rng.standard_normal((4000, (K - 1) * P1)) @ L.T
    mapped = draws @ J.T
    assert_allclose(np.cov(mapped.T), J @ cov @ J.T, atol=0.15 * np.abs(cov).max())


@forms
def test_project_and_full_jacobian_agree(K, reference):
    """``full_jacobian @ vec(B)`` is ``vec(project(B))`` (class-major), and projecting twice
    changes nothing."""
    param = Parameterization(K, reference)
    B = rng_for("project", K, reference).standard_normal((P1, K))
    moved = param.project(B)
    vec = np.ascontiguousarray(B.T).reshape(-1)
    assert_allclose(param.full_jacobian(P1) @ vec, moved.T.reshape(-1), atol=1e-14)
    assert_allclose(param.project(moved), moved, atol=1e-14)
    if reference is None:
        assert_allclose(moved.sum(axis=1), 0.0, atol=1e-13)
    else:
        assert_array_equal(moved[:, reference], 0.0)


# --------------------------------------------------------------------------- probabilities
@pytest.mark.parametrize("K", [2, 3, 5])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_probabilities_identical_across_parameterizations(K, fit_intercept):
    X, y, _ = make_data(n=200, p=3, K=K, seed=K)
    sw = np.random.default_rng(3).uniform(0.5, 2.0, size=200)
    p1 = 3 + int(fit_intercept)
    forms_ = [Parameterization(K, r) for r in references(K)]
    objs = [MultinomialObjective(X, y, K, sw, f, NoPenalty(), fit_intercept) for f in forms_]
    base = forms_[0]
    theta_base = 0.5 * np.random.default_rng(4).standard_normal((K - 1) * p1)
    P_base = objs[0].probabilities(theta_base).copy()
    loss_base = objs[0].loss(theta_base)
    for form, obj in zip(forms_[1:], objs[1:], strict=True):
        theta_j = base.vector_jacobian(form, p1) @ theta_base
        M = base.transform_to(form)
        theta_m = np.ascontiguousarray((base.theta_matrix(theta_base, p1) @ M).T).ravel()
        assert_allclose(theta_j, theta_m, atol=1e-14)
        assert_allclose(obj.probabilities(theta_j), P_base, rtol=1e-12, atol=1e-15)
        assert_allclose(obj.loss(theta_j), loss_base, rtol=1e-13)
        # And a mapped-back theta reproduces the original exactly.
        assert_allclose(form.vector_jacobian(base, p1) @ theta_j, theta_base, atol=1e-13)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("K", [1, 0, -3])
def test_too_few_classes_raise(K):
    with pytest.raises(ValueError, match="2 classes"):
        Parameterization(K, None)
    with pytest.raises(ValueError):
        Parameterization(K, 0)


@pytest.mark.parametrize(("K", "reference"), [(3, 3), (3, -1), (2, 5), (4, -4)])
def test_reference_out_of_range_raises(K, reference):
    with pytest.raises(ValueError, match="out of range"):
        Parameterization(K, reference)
