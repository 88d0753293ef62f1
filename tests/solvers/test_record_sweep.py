"""The sparse lasso's sweep over the row records (``coordinate_descent._record_sweep``, the
kernel ``_sweep`` hands the records path to) against the general sweep's steps: the block
step of each feature in turn (``_lasso_block_steps`` compiled on its own, as ``_sweep``'s
general loop calls it). The same steps in the same order, so the same numbers bit for bit:
coefficients, records, curvatures, block Hessians and their flags, and the largest change."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lasso_checks import sparse_sweep_problem
from mnlogit.solvers import coordinate_descent as cd
from mnlogit.solvers.local_array import LOCAL_DOUBLES


def _problem(K: int, seed: int) -> Any:
    rng, X, (indptr, indices, data), P, w, G = sparse_sweep_problem(K, seed)
    p = X.shape[1]
    W = rng.standard_normal((p, K)) * (rng.random((p, K)) < 0.4)
    W[[1, 6]] = 0.0  # zero features: under the threshold, or stepping from zero
    G[1] = 0.0
    G[6] *= 50.0
    lam1 = np.full(p, 0.01)
    lam1[1] = 1e3  # (feature 1 stays under its threshold whatever the others do)
    lam2 = rng.uniform(0.0, 0.002, p) * (np.arange(p) % 2)  # lasso and elastic net
    rms = rng.uniform(0.5, 2.0, p)
    features = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 13], dtype=np.intp)
    return (np.zeros((1, 1)), indptr, indices, data), features, P, w, G, W, lam1, lam2, rms


def _state(K: int, P: Any, w: Any, p: int, nf: int) -> Any:
    winv = cd._inverse_weights(w)
    R = cd._row_records(P * w, winv)
    h = np.full((p, K), cd.LAZY_CURVATURE)
    return R, h, np.full((nf, K, K), np.nan), np.zeros(nf, dtype=np.bool_)


def _reference_sweep(X: Any, features: Any, only_nonzero: bool, screen: float, P: Any, G: Any,
                     lam1: Any, lam2: Any, h: Any, blocks: Any, ready: Any, passes: int,
                     tol: float, rms: Any, W: Any, R: Any) -> float:  # fmt: skip
    K = P.shape[0]
    work, order = np.empty((3, K)), np.empty(K, dtype=np.int64)
    biggest = 0.0
    for t, j in enumerate(features):
        if only_nonzero and not W[j].any():
            continue
        change = cd._lasso_block_steps(
            *X, True, j, only_nonzero, screen, P, R[:, K : 2 * K].T, G, lam1[j], lam2[j], h,
            blocks[t], ready[t : t + 1], R[:, 2 * K + 1], W, R[:, :K].T, R[:, 2 * K], work,
            order, passes, cd.BLOCK_PASS_FLOOR * tol * rms[j], R,
        )  # fmt: skip
        biggest = max(biggest, change / rms[j])
    return biggest


# the sweeps of an inner solve: screened, full, then over the nonzero coordinates
SWEEPS = [(False, cd.FIRST_SWEEP_SCREEN), (False, 0.0), (True, 0.0), (True, 0.0), (False, 0.0)]


@pytest.mark.parametrize("K", [3, 10, LOCAL_DOUBLES])
@pytest.mark.parametrize("passes", [1, 10])
def test_record_sweep_takes_the_block_steps_bit_for_bit(K: int, passes: int) -> None:
    X, features, P, w, G, W0, lam1, lam2, rms = _problem(K, seed=K + passes)
    p, nf = W0.shape[0], features.size
    ref = _state(K, P, w, p, nf)
    got = _state(K, P, w, p, nf)
    W_ref, W_got = W0.copy(), W0.copy()
    tol = 1e-6
    for only_nonzero, screen in SWEEPS:
        big_ref = _reference_sweep(
            X, features, only_nonzero, screen, P, G, lam1, lam2, ref[1], ref[2], ref[3],
            passes, tol, rms, W_ref, ref[0],
        )  # fmt: skip
        R, h, blocks, ready = got
        big_got = cd._record_sweep(
            *X, features, only_nonzero, screen, P, R[:, K : 2 * K].T, G, lam1, lam2, h, blocks,
            ready, passes, tol, rms, W_got, R,
        )  # fmt: skip
        assert big_got == big_ref and big_ref > 0.0
        np.testing.assert_array_equal(W_got, W_ref)
        for a, b in zip(got, ref, strict=True):
            np.testing.assert_array_equal(a, b)  # records, curvatures, blocks (NaN if unset)
    assert not np.array_equal(W_got, W0)
    # feature 1 (zero, its model gradient under the threshold) never needs its block Hessian
    assert not got[3][1] and got[3][[0, 2, 5]].all()
    assert (got[1][1] == cd.LAZY_CURVATURE).all()


@pytest.mark.parametrize("K", [10, LOCAL_DOUBLES + 1])
def test_sweep_hands_the_records_path_to_the_record_sweep(K: int) -> None:
    # _sweep with the records: _record_sweep up to LOCAL_DOUBLES classes, its general loop
    # beyond (the local arrays' room); the same steps either way
    X, features, P, w, G, W0, lam1, lam2, rms = _problem(K, seed=3)
    p, nf = W0.shape[0], features.size
    ref, got = _state(K, P, w, p, nf), _state(K, P, w, p, nf)
    W_ref, W_got = W0.copy(), W0.copy()
    none = np.zeros((0, K)), np.zeros((0, K, K))
    for only_nonzero, screen in SWEEPS:
        big_ref = _reference_sweep(
            X, features, only_nonzero, screen, P, G, lam1, lam2, ref[1], ref[2], ref[3], 4,
            1e-6, rms, W_ref, ref[0],
        )  # fmt: skip
        R, h, blocks, ready = got
        big_got = cd._sweep(
            *X, True, features, only_nonzero, screen, P, R[:, K : 2 * K].T, G, lam1, lam2,
            False, h, *none, rms, blocks, ready, 4, 1e-6, R[:, 2 * K + 1], W_got, R[:, :K].T,
            R[:, 2 * K], R,
        )  # fmt: skip
        assert big_got == big_ref
        np.testing.assert_array_equal(W_got, W_ref)
        for a, b in zip(got, ref, strict=True):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(W_got, W0)
