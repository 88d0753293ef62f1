"""The grouped lasso on sparse X carries its block decompositions from one inner solve to the
next of the same alpha when the probabilities moved little (``proximal_newton._kept_eigen``,
issue 14, the nineteenth pass): the carry happens on a path, once at a time, and the path is
the one computed without it (KKT conditions in NumPy at every alpha, objectives equal)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax

from lasso_checks import assert_same_group_paths
from mnlogit import regularization_path
from mnlogit.solvers import proximal_newton
from mnlogit.solvers.proximal_newton import ColumnData, _kept_eigen


def _data(n: int, p: int, K: int, seed: int) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 2.0, p)
    X[rng.random(X.shape) < 0.7] = 0.0
    B = np.zeros((p, K))
    B[:6] = rng.standard_normal((6, K)) * 1.5
    eta = X @ B + rng.standard_normal(K) * 0.3
    y = np.array([rng.choice(K, p=q) for q in softmax(eta, axis=1)])
    return sp.csr_matrix(X), y


@pytest.mark.parametrize(("K", "weighted"), [(3, False), (6, True)])
def test_group_path_carrying_decompositions_equals_the_path_without(monkeypatch, K, weighted):
    X, y = _data(n=600, p=25, K=K, seed=K)
    sw = np.random.default_rng(1).uniform(0.3, 2.0, y.size) if weighted else np.ones(y.size)
    kwargs = dict(penalty="group", n_alphas=20, alpha_min_ratio=0.01, tol=1e-8)
    carried = []
    real = proximal_newton._kept_eigen

    def spy(data: Any, P: Any, centre: Any) -> Any:
        eigen, after = real(data, P, centre)
        carried.append(after is None)
        return eigen, after

    monkeypatch.setattr(proximal_newton, "_kept_eigen", spy)
    on = regularization_path(X, y, sample_weight=sw if weighted else None, **kwargs)
    assert any(carried) and not all(carried)
    assert not any(a and b for a, b in itertools.pairwise(carried))  # never twice
    carried.clear()
    monkeypatch.setattr(proximal_newton, "EIGEN_REUSE", False)
    off = regularization_path(X, y, sample_weight=sw if weighted else None, **kwargs)
    assert not carried  # (off: never asked)
    assert on.converged.all() and off.converged.all()
    assert_same_group_paths(X, y, on, off, sw)


def test_kept_eigen_carries_once_and_only_when_close():
    X, y = _data(n=200, p=8, K=4, seed=2)
    data = ColumnData.from_arrays(X, y, 4, None, True)
    assert data.eigen == []  # (no room reserved until the group asks)
    evals, evecs, fresh = data.block_eigen()
    assert evals.shape == (8, 4) and evecs.shape == (8, 4, 4) and fresh.shape == (8,)
    assert not fresh.any()
    again = data.block_eigen()
    assert again[0] is evals and again[1] is evecs and again[2] is fresh  # kept
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(4), 200).T
    fresh[:] = True
    eigen, centre = _kept_eigen(data, P, None)  # nothing kept: all to compute
    assert not fresh.any() and centre is not None and centre is not P
    np.testing.assert_array_equal(centre, P)
    assert eigen[0] is evals and eigen[1] is evecs and eigen[2] is fresh
    fresh[[1, 4]] = True  # (as an inner solve leaves them)
    near = P * (1.0 + 0.1 * rng.uniform(-1, 1, P.shape))
    near /= near.sum(axis=0)
    _, after = _kept_eigen(data, near, centre)  # close: carried, flags kept, not again
    assert after is None and fresh[[1, 4]].all()
    _, after = _kept_eigen(data, near, after)
    assert after is not None and not fresh.any()
    fresh[2] = True
    far = np.roll(P, 1, axis=0)
    _, after2 = _kept_eigen(data, far, after)  # moved too far: all to compute
    assert after2 is not None and not fresh.any()


def test_the_lasso_reserves_no_room_for_decompositions(monkeypatch):
    """Only the group penalty asks for the room (``p K (K + 1)`` doubles: for a wide sparse
    X with many classes more than a system may let a process reserve; the review of
    issue-group17 saw a MemoryError for 200,000 features and 150 classes)."""
    X, y = _data(n=200, p=8, K=4, seed=3)
    calls = []
    real = ColumnData.block_eigen

    def spy(self: Any) -> Any:
        calls.append(1)
        return real(self)

    monkeypatch.setattr(ColumnData, "block_eigen", spy)
    regularization_path(X, y, penalty="l1", n_alphas=5)
    regularization_path(X, y, penalty="elasticnet", l1_ratio=0.5, n_alphas=5)
    assert not calls
    regularization_path(X, y, penalty="group", n_alphas=5)
    assert calls
