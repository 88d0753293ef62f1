"""The grouped lasso's sweep over sparse X's row records (issue 14, the nineteenth pass):

- ``coordinate_descent._group_record_sweep`` (what ``_sweep`` hands the group's records path
  to) against the general sweep's block steps (``_group_step`` compiled on its own, feature
  by feature): the same steps (``_group_block``, shared) in the same order. Not bit for
  bit: with ``fastmath`` the compiler may order a block's ``K``-term sums differently in
  the two kernels (its local arrays cannot alias the records, the work rows can), so each
  sweep, from the same state, agrees to rounding (and a block's step divides by its model's
  curvature: the differences grow over sweeps along the flat directions, 1e-12 after four
  at ``K = 16``, so each sweep is compared from the reference's state);
- ``_group_optimum``'s warm start (Newton's search for the block's norm started at the
  block's current norm) against the block's optimality condition, from starts left and
  right of the answer and far off;
- the block decompositions kept across inner solves (``_model_curvatures``' ``eigen``):
  only the features not flagged are computed, and those equal a fresh decomposition;
- ``probabilities_close``' bound: probabilities within ``drift`` put every block Hessian
  within ``1 +- drift`` of the one at the old centre, checked on random vectors.
"""

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
    G -= G.mean(axis=1, keepdims=True)  # (a gradient sums to 0 over the classes)
    W = rng.standard_normal((p, K)) * (rng.random(p) < 0.6)[:, None]
    W[[1, 6]] = 0.0  # zero blocks: under the threshold, or stepping from zero
    G[1] = 0.0
    G[6] *= 50.0
    lam1 = np.full(p, 0.004)
    lam1[1] = 1e3  # (block 1 stays at zero whatever the others do)
    lam2 = rng.uniform(0.0, 0.002, p) * (np.arange(p) % 2)  # group lasso and elastic net
    rms = rng.uniform(0.5, 2.0, p)
    features = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 13], dtype=np.intp)
    Xs = (np.zeros((1, 1)), indptr, indices, data)
    evals, evecs = np.zeros((p, K)), np.zeros((p, K, K))
    cd._block_curvatures(*Xs, True, features, w, P, evals, evecs)
    return Xs, X, features, P, w, G, W, lam1, lam2, rms, evals, evecs


def _reference_sweep(
    Xs: Any, features: Any, only_nonzero: bool, P: Any, G: Any, lam1: Any, lam2: Any,
    evals: Any, evecs: Any, rms: Any, W: Any, R: Any,
) -> float:  # fmt: skip
    K = P.shape[0]
    work = np.empty((3, K))
    biggest = 0.0
    for j in features:
        if only_nonzero and not W[j].any():
            continue
        change = cd._group_step(
            *Xs, True, j, P, R[:, K : 2 * K].T, G, lam1[j], lam2[j], evals[j], evecs[j], W,
            R[:, :K].T, R[:, 2 * K], work, R[:, 2 * K + 1], R,
        )  # fmt: skip
        biggest = max(biggest, change / rms[j])
    return biggest


@pytest.mark.parametrize("K", [2, 3, 10, LOCAL_DOUBLES])
def test_group_record_sweep_takes_the_general_sweeps_block_steps(K: int) -> None:
    Xs, X, features, P, w, G, W0, lam1, lam2, rms, evals, evecs = _problem(K, seed=K)
    winv = cd._inverse_weights(w)
    R_ref = cd._row_records(P * w, winv)
    W_ref = W0.copy()
    for only_nonzero in (False, True, True, False):  # each sweep from the reference's state
        W_got, R_got = W_ref.copy(), R_ref.copy()
        big_ref = _reference_sweep(
            Xs, features, only_nonzero, P, G, lam1, lam2, evals, evecs, rms, W_ref, R_ref
        )
        big_got = cd._group_record_sweep(
            *Xs[1:], features, only_nonzero, G, lam1, lam2, evals, evecs, rms, W_got, R_got
        )
        assert big_got == pytest.approx(big_ref, rel=1e-12) and big_ref > 0.0
        np.testing.assert_allclose(W_got, W_ref, rtol=1e-12, atol=1e-14 * np.abs(W_ref).max())
        scale = np.abs(R_ref).max()  # (p . d sums terms of this size: its rounding)
        np.testing.assert_allclose(R_got, R_ref, rtol=1e-12, atol=1e-14 * scale)
    assert not np.array_equal(W_ref, W0)
    assert not W_ref[1].any() and W_ref[6].any()  # block 1 held at zero, block 6 left it
    # the records' predictor change is X (W - W0) (the moves were made)
    np.testing.assert_allclose(R_got[:, :K], X @ (W_got - W0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("K", [10, LOCAL_DOUBLES + 1])
def test_sweep_hands_the_group_records_path_to_the_group_record_sweep(K: int, monkeypatch) -> None:
    # _sweep with the records and the group: the record sweep up to LOCAL_DOUBLES classes,
    # its general loop beyond; the same steps either way (which one ran: _sweep's Python
    # body with spies on the two, below)
    Xs, _, features, P, w, G, W0, lam1, lam2, rms, evals, evecs = _problem(K, seed=5)
    winv = cd._inverse_weights(w)
    R_ref = cd._row_records(P * w, winv)
    W_ref = W0.copy()
    p = W0.shape[0]
    for only_nonzero in (False, True):
        W_got, R_got = W_ref.copy(), R_ref.copy()
        big_ref = _reference_sweep(
            Xs, features, only_nonzero, P, G, lam1, lam2, evals, evecs, rms, W_ref, R_ref
        )
        big_got = cd._sweep(
            *Xs, True, features, only_nonzero, 0.0, P, R_got[:, K : 2 * K].T, G, lam1, lam2,
            True, np.zeros((p, K)), evals, evecs, rms, np.zeros((0, K, K)),
            np.zeros(0, dtype=np.bool_), 0, 1e-6, R_got[:, 2 * K + 1], W_got, R_got[:, :K].T,
            R_got[:, 2 * K], R_got,
        )  # fmt: skip
        assert big_got == pytest.approx(big_ref, rel=1e-12)
        np.testing.assert_allclose(W_got, W_ref, rtol=1e-12, atol=1e-14 * np.abs(W_ref).max())
        scale = np.abs(R_ref).max()
        np.testing.assert_allclose(R_got, R_ref, rtol=1e-12, atol=1e-14 * scale)
    assert not np.array_equal(W_ref, W0)
    ran = []
    for name in ("_group_record_sweep", "_group_step"):
        real = getattr(cd, name)
        monkeypatch.setattr(cd, name, lambda *a, _f=real, _n=name: ran.append(_n) or _f(*a))
    W_got, R_got = W_ref.copy(), R_ref.copy()
    cd._sweep.py_func(
        *Xs, True, features, False, 0.0, P, R_got[:, K : 2 * K].T, G, lam1, lam2, True,
        np.zeros((p, K)), evals, evecs, rms, np.zeros((0, K, K)), np.zeros(0, dtype=np.bool_), 0,
        1e-6, R_got[:, 2 * K + 1], W_got, R_got[:, :K].T, R_got[:, 2 * K], R_got,
    )  # fmt: skip
    if K <= LOCAL_DOUBLES:
        assert ran == ["_group_record_sweep"]
    else:
        assert set(ran) == {"_group_step"} and len(ran) == features.size


def _block_problem(K: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((K, K))
    mu, V = np.linalg.eigh(A @ A.T / K)
    mu[0] = 0.0  # (a block Hessian is singular along the classes' common shift, which
    cp = V.T @ rng.standard_normal(K)
    cp[0] = 0.0  # a model's c has no part along: else no finite optimum without a ridge)
    return mu, cp


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("lam2", [0.0, 0.05])
def test_group_optimum_from_a_warm_start_meets_the_optimality_condition(seed, lam2):
    K = 7
    mu, cp = _block_problem(K, seed)
    lam1 = 0.3 * np.linalg.norm(cp)
    cold = np.empty(K)
    cd._group_optimum(mu, cp, lam1, lam2, cold)
    r = np.linalg.norm(cold)
    assert r > 0.0
    # (mu + lam2 + lam1 / r) out = cp: the block's optimality in the eigenbasis
    np.testing.assert_allclose((mu + lam2 + lam1 / r) * cold, cp, rtol=1e-12, atol=0)
    for start in (0.5 * r, 0.999 * r, r, 1.001 * r, 2.0 * r, 1e6 * r, 1e-9 * r):
        warm = np.empty(K)
        cd._group_optimum(mu, cp, lam1, lam2, warm, start)
        np.testing.assert_allclose(warm, cold, rtol=1e-12, atol=1e-14 * r)


@pytest.mark.parametrize("start", [0.0, 1.0, 1e6])
def test_group_optimum_without_a_finite_optimum_takes_no_step_from_any_start(start):
    """``c`` beyond ``lam1`` in the block Hessian's null space with no ridge (phi below 0
    everywhere: no root): no step, whatever the start (a warm start used to stop there)."""
    out = np.full(2, np.nan)
    cd._group_optimum(np.zeros(2), np.array([1.0, 0.0]), 0.5, 0.0, out, start)
    assert np.array_equal(out, np.zeros(2))


def test_kept_decompositions_are_used_and_the_others_computed() -> None:
    K = 6
    Xs, _, features, P, w, *_ = _problem(K, seed=7)
    p = 14
    ref_vals, ref_vecs = np.zeros((p, K)), np.zeros((p, K, K))
    cd._block_curvatures(*Xs, True, features, w, P, ref_vals, ref_vecs)
    evals, evecs = np.full((p, K), np.nan), np.full((p, K, K), np.nan)
    fresh = np.zeros(p, dtype=np.bool_)
    kept = features[::2]
    fresh[kept] = True  # these hold decompositions already: left as they are
    evals[kept], evecs[kept] = -7.0, -7.0
    _, got_vals, got_vecs, blocks, ready = cd._model_curvatures(
        *Xs, True, features, w, P, True, False, np.zeros((0, K, K)), p, False,
        np.zeros((0, K)), np.zeros(0), (evals, evecs, fresh),
    )  # fmt: skip
    assert got_vals is evals and got_vecs is evecs  # (the kept arrays themselves)
    assert blocks.shape[0] == 0 and ready.shape[0] == 0
    assert fresh[features].all() and not np.delete(fresh, features).any()
    assert (evals[kept] == -7.0).all() and (evecs[kept] == -7.0).all()
    computed = np.setdiff1d(features, kept)
    np.testing.assert_array_equal(evals[computed], ref_vals[computed])
    np.testing.assert_array_equal(evecs[computed], ref_vecs[computed])
    others = np.setdiff1d(np.arange(p), features)
    assert np.isnan(evals[others]).all()  # features outside the strong set: untouched


@pytest.mark.parametrize("drift", [0.1, 0.5])
def test_probabilities_within_the_drift_bound_every_block_hessian(drift: float) -> None:
    rng = np.random.default_rng(11)
    K, n = 5, 400
    P0 = rng.dirichlet(np.full(K, 0.7), n).T
    # the kernel's answer is NumPy's on a draw that moves past the bound here and there
    far = P0 * (1.0 + drift * rng.uniform(-1.2, 1.2, P0.shape))
    expected = bool(np.all(np.abs(far - P0) <= drift * P0))
    assert not expected
    assert cd.probabilities_close(far, P0, drift) is expected
    # moves of at most 0.3 drift, renormalized: within the bound, in any layout
    P = P0 * (1.0 + 0.3 * drift * rng.uniform(-1.0, 1.0, P0.shape))
    P /= P.sum(axis=0)
    assert np.all(np.abs(P - P0) <= drift * P0)
    assert cd.probabilities_close(P, P0, drift)
    assert cd.probabilities_close(np.asfortranarray(P), np.ascontiguousarray(P0), drift)
    x = rng.standard_normal(n) * (rng.random(n) < 0.5)
    w = rng.uniform(0.5, 2.0, n) / n

    def hessian(Q: Any) -> Any:
        c = w * x * x
        return np.diag(Q @ c) - (Q * c) @ Q.T

    H, H0 = hessian(P), hessian(P0)
    V = rng.standard_normal((K, 2000))
    ratio = np.einsum("kv,kl,lv->v", V, H, V) / np.einsum("kv,kl,lv->v", V, H0, V)
    assert ratio.min() >= 1.0 - drift and ratio.max() <= 1.0 + drift
    P[2, 7] = P0[2, 7] * (1.0 + 1.01 * drift)  # one probability past the bound
    assert not cd.probabilities_close(P, P0, drift)
