"""The compiled small symmetric eigendecomposition of the group penalty's block Hessians
(issue 14, issue-group10) against LAPACK (``np.linalg.eigh``) and its own defining
equations, on matrices of the shapes and structures the solver meets and on harder ones."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from mnlogit.solvers.coordinate_descent import _block_curvatures, _block_eigen
from mnlogit.solvers.symmetric_eigen import symmetric_eigen


def _decompose(A):
    n = A.shape[0]
    mu, V = np.empty(n), np.empty((n, n))
    symmetric_eigen(A, mu, V, np.empty(n), np.empty((n, n)))
    return mu, V


def _softmax_block(rng, n_rows, K):
    """A block Hessian ``sum_i c_i (diag(p_i) - p_i p_i^T)`` (singular: ``H 1 = 0``)."""
    P = softmax(rng.standard_normal((n_rows, K)) * 2.0, axis=1)
    c = rng.uniform(0.0, 1.0, n_rows) ** 3
    return np.diag(c @ P) - np.einsum("i,ik,im->km", c, P, P)


def _matrices():
    rng = np.random.default_rng(3)
    out = []
    for n in (1, 2, 3, 4, 7, 10, 16):
        B = rng.standard_normal((n, n))
        out.append(("random", B + B.T))
        out.append(("softmax", _softmax_block(rng, 3 * n + 1, n)))
        out.append(("diagonal", np.diag(rng.standard_normal(n))))
        out.append(("zero", np.zeros((n, n))))
        Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
        mu = np.repeat(rng.standard_normal((n + 1) // 2), 2)[:n]  # repeated eigenvalues
        out.append(("repeated", (Q * mu) @ Q.T))
        out.append(("tiny", (B + B.T) * 1e-200))
        out.append(("huge", (B + B.T) * 1e200))
        graded = np.outer(10.0 ** -np.arange(n), 10.0 ** -np.arange(n)) * (B + B.T)
        out.append(("graded", graded))
    return out


@pytest.mark.parametrize(("kind", "A"), _matrices(), ids=lambda v: v if isinstance(v, str) else "")
def test_eigenpairs_equal_lapack_and_satisfy_their_equations(kind, A):
    A = 0.5 * (A + A.T)
    given = A.copy()
    mu, V = _decompose(A)
    n = A.shape[0]
    scale = max(float(np.abs(A).max()), np.finfo(float).tiny)
    assert np.array_equal(A, given)  # the input is left unchanged
    assert np.all(np.diff(mu) >= 0.0)  # increasing, as LAPACK's
    assert np.allclose(mu, np.linalg.eigvalsh(A), rtol=0.0, atol=1e-13 * scale * n)
    assert np.allclose(V.T @ V, np.eye(n), rtol=0.0, atol=1e-13 * n)
    assert np.allclose(A @ V, V * mu, rtol=0.0, atol=1e-13 * scale * n)


def test_block_curvatures_equal_lapack_on_the_solver_blocks():
    """``_block_curvatures`` (sparse X, gathered rows) and ``_block_eigen`` (given
    Hessians) store each block's clipped eigenvalues and its eigenvectors: the same
    eigenvalues as ``eigh`` of the block Hessian computed here, and the block rebuilt."""
    import scipy.sparse as sp

    rng = np.random.default_rng(5)
    n, p, K = 200, 9, 6
    keep = np.ones(p)
    keep[4] = 0.0  # an empty column: H = 0
    X = sp.csc_matrix(sp.random(n, p, density=0.2, random_state=5) @ sp.diags(3.0 * keep))
    X.eliminate_zeros()
    w = rng.uniform(0.2, 2.0, n)
    w /= w.sum()
    P = np.empty((n, K)).T  # the sparse solver's row-major layout
    P[:] = softmax(rng.standard_normal((n, K)), axis=1).T
    features = np.array([0, 2, 3, 4, 8], dtype=np.intp)
    Xdense = X.toarray()
    H = np.stack(
        [np.einsum("i,ki,mi->km", w * Xdense[:, j] ** 2, -P, P)
         + np.diag((w * Xdense[:, j] ** 2) @ P.T) for j in features]
    )  # fmt: skip
    evals, evecs = np.zeros((p, K)), np.zeros((p, K, K))
    Xd = np.zeros((1, 1), order="F")
    _block_curvatures(Xd, X.indptr, X.indices, X.data, True, features, w, P, evals, evecs)
    evals2, evecs2 = np.zeros((p, K)), np.zeros((p, K, K))
    _block_eigen(features, H, evals2, evecs2)
    for t, j in enumerate(features):
        reference = np.maximum(np.linalg.eigvalsh(H[t]), 0.0)
        scale = max(float(np.abs(H[t]).max()), 1e-300)
        for ev, V in ((evals[j], evecs[j]), (evals2[j], evecs2[j])):
            assert np.allclose(ev, reference, rtol=0.0, atol=1e-13 * scale)
            assert np.allclose((V * ev) @ V.T, H[t], rtol=0.0, atol=1e-12 * scale)
    untouched = np.setdiff1d(np.arange(p), features)
    assert not evals[untouched].any() and not evecs[untouched].any()


def _saturated_block(rng, n_rows, K, low, shift):
    """A softmax block Hessian whose classes ``low`` have log-odds near ``-shift`` on every
    row: their probabilities (and entries) near exp(-shift), subnormal for shift > 708."""
    eta = rng.standard_normal((n_rows, K)) * 2.0
    eta[:, low] -= shift
    P = softmax(eta, axis=1)
    c = rng.uniform(0.0, 1.0, n_rows)
    return np.diag(c @ P) - np.einsum("i,ik,im->km", c, P, P)


def _graded(rng, n):
    """Symmetric, entries graded over up to 330 decades (many underflow or are subnormal)."""
    d = 10.0 ** (-rng.uniform(0, 330) * rng.random(n))
    B = rng.standard_normal((n, n))
    return np.outer(d, d) * (B + B.T)


@pytest.mark.parametrize("kind", ["saturated", "graded"])
def test_extreme_blocks_give_finite_orthonormal_eigenpairs(kind):
    """Saturated softmax blocks (log-odds -600 .. -760 on whole classes) and matrices graded
    down to the subnormals: finite eigenpairs, orthonormal eigenvectors, eigenvalues within
    LAPACK's backward error (the review of issue-group10 found inf/NaN and lost
    orthogonality on such blocks before entries far under eps were flushed)."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(2, 12))
        if kind == "saturated":
            low = rng.choice(n, size=int(rng.integers(1, n)), replace=False)
            A = _saturated_block(rng, 3 * n, n, low, rng.uniform(600, 760))
        else:
            A = _graded(rng, n)
        A = 0.5 * (A + A.T)
        mu, V = _decompose(A)
        scale = max(float(np.abs(A).max()), np.finfo(float).tiny)
        assert np.isfinite(mu).all() and np.isfinite(V).all()
        assert np.allclose(V.T @ V, np.eye(n), rtol=0.0, atol=1e-13 * n)
        assert np.allclose(mu, np.linalg.eigvalsh(A), rtol=0.0, atol=1e-13 * scale * n)


def test_largest_finite_entries_do_not_overflow():
    A = np.array([[1.5e308, 1e307], [1e307, -1.2e308]])
    mu, V = _decompose(A)
    assert np.isfinite(mu).all() and np.isfinite(V).all()
    np.testing.assert_allclose(mu, np.linalg.eigvalsh(A / 1e300) * 1e300, rtol=1e-14)
    np.testing.assert_allclose(V.T @ V, np.eye(2), atol=1e-15)


def test_nan_input_is_not_silent():
    """NaN in a block reaches LAPACK's eigh (numba's raises), not a quiet NaN result."""
    from mnlogit.objective.compiled import HAVE_NUMBA

    A = np.array([[1.0, np.nan], [np.nan, 2.0]])
    if not HAVE_NUMBA:
        pytest.skip("without numba the fallback is numpy's eigh, whose NaN handling is LAPACK's")
    with pytest.raises(np.linalg.LinAlgError):
        _decompose(A)
