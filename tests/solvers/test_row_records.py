"""The sparse lasso's row records (``coordinate_descent._row_records``): one 64-byte aligned,
row-major array holding each row's ``d_i``, ``w_i p_i``, ``p_i . d_i`` and ``1 / w_i``, which
the block steps' two passes, the intercepts' steps, Anderson's snapshots and the block
Hessians read with sparse X. Checked against the separate ``(K, n)`` / ``(n,)`` arrays the
other layouts keep (the same kernels' results), and the inner solve with the records against
the one without them, against the model's optimality conditions computed in NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from lasso_checks import model_centre, model_kkt
from mnlogit.solvers import coordinate_descent as cd
from mnlogit.solvers.local_array import LOCAL_DOUBLES


def _centre(K=7, n=150, p=9, seed=0, weighted=True):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p)
    X[rng.random(X.shape) < 0.75] = 0.0
    codes = rng.integers(0, K, n)
    sw = rng.uniform(0.0, 2.0, n) if weighted else None
    if weighted:
        sw[::7] = 0.0  # rows of weight 0: 1 / w_i is stored as 0
    W0 = rng.standard_normal((p, K)) * 0.3
    b0 = rng.standard_normal(K) * 0.2
    return (*model_centre(X, codes, K, sw, W0, b0, True), W0, b0)


@pytest.mark.parametrize("K", [2, 3, 7, 10, 11])
def test_records_are_aligned_padded_and_hold_the_rows(K):
    data, _, P, *_ = _centre(K=K)
    wP = P * data.weights
    winv = cd._inverse_weights(data.weights)
    R = cd._row_records(wP, winv)
    r = R.shape[1]
    assert R.shape[0] == data.n_rows and R.flags.c_contiguous
    assert r % 8 == 0 and 2 * K + 2 <= r < 2 * K + 10  # whole 64-byte lines, no spare line
    assert R.ctypes.data % 64 == 0  # every record starts on a cache line
    np.testing.assert_array_equal(R[:, :K], 0.0)  # d: the model's centre
    np.testing.assert_array_equal(R[:, K : 2 * K], wP.T)
    np.testing.assert_array_equal(R[:, 2 * K], 0.0)  # p . d
    np.testing.assert_array_equal(R[:, 2 * K + 1], winv)
    np.testing.assert_array_equal(R[:, 2 * K + 2 :], 0.0)


@pytest.mark.parametrize("K", [10, 17])  # (17: more classes than the gradient's local sums)
def test_record_passes_equal_the_separate_arrays_passes(K):
    assert (K <= LOCAL_DOUBLES) == (K == 10)
    data, _, P, *_ = _centre(K=K)
    K, n = P.shape
    rng = np.random.default_rng(2)
    wP = P * data.weights
    winv = cd._inverse_weights(data.weights)
    D = data.empty_predictor()
    D[:] = rng.standard_normal((K, n))
    pd = (P * D).sum(axis=0)
    R = cd._row_records(wP, winv)
    R[:, :K], R[:, 2 * K] = D.T, pd
    args = (data.indptr, data.indices, data.data)
    steps = rng.standard_normal(K)
    for j in range(data.n_features):
        ref, got = np.empty(K), np.empty(K)
        cd._block_gradient(data.Xd, *args, True, j, wP, D, pd, ref)
        cd._record_gradient(*args, j, R, got)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)
        cd._block_move_weighted(data.Xd, *args, True, j, steps, wP, winv, D, pd)
        cd._record_move(*args, j, steps, R)
        np.testing.assert_allclose(R[:, :K], D.T, rtol=0, atol=1e-13)
        used = data.weights > 0  # (a row of weight 0 keeps a stale p . d no sum reads)
        np.testing.assert_allclose(R[used, 2 * K], pd[used], rtol=0, atol=1e-12)
    # the intercepts' steps by the block Hessian: the same steps in either layout
    H0 = cd._intercept_hessian(data.weights, P, True)
    g0 = rng.standard_normal(K) * 0.01
    b, br = np.zeros(K), np.zeros(K)
    big = cd._intercepts(data.weights, P, wP, g0, H0, b, D, pd, np.zeros((0, 0)), np.zeros(0))
    Dr, pdr = R[:, :K].T, R[:, 2 * K]
    got = cd._intercepts(data.weights, P, R[:, K : 2 * K].T, g0, H0, br, Dr, pdr, R, np.zeros(0))
    assert got == pytest.approx(big, rel=1e-12) and big > 0.0
    np.testing.assert_allclose(br, b, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(Dr, D, rtol=0, atol=1e-13)
    np.testing.assert_allclose(pdr[used], pd[used], rtol=0, atol=1e-12)


def test_snapshots_round_trip_through_the_records():
    data, _, P, *_ = _centre(K=5)
    K, n = P.shape
    rng = np.random.default_rng(4)
    R = cd._row_records(P * data.weights, cd._inverse_weights(data.weights))
    R[:, :K] = rng.standard_normal((n, K))
    R[:, 2 * K] = rng.standard_normal(n)
    before = R.copy()
    flat, pflat = np.empty(K * n), np.empty(n)
    cd._copy_iterate(R[:, :K].T, R[:, 2 * K], R, flat, pflat, False)
    np.testing.assert_array_equal(flat, before[:, :K].ravel())  # row-major, as D's memory
    np.testing.assert_array_equal(pflat, before[:, 2 * K])
    R[:, :K] = 0.0
    R[:, 2 * K] = 0.0
    cd._copy_iterate(R[:, :K].T, R[:, 2 * K], R, flat, pflat, True)
    np.testing.assert_array_equal(R, before)  # (w p, 1 / w and the padding untouched)


@pytest.mark.parametrize("weighted", [True, False])
def test_inner_solve_with_records_is_the_one_without(weighted):
    # cd_quadratic keeps the rows in records for the sparse lasso's block steps; _descend on
    # the separate arrays is the same algorithm: up to rounding the same sweeps (rounding
    # may move the stop at 1e-12 by one) and the same minimizer, which satisfies the
    # model's optimality conditions (NumPy)
    data, X64, P, G, g0, W0, b0 = _centre(K=10, seed=3, weighted=weighted)
    K, p, n = P.shape[0], W0.shape[0], data.n_rows
    lam1, lam2 = np.full(p, 0.004), np.zeros(p)
    features = np.arange(p, dtype=np.intp)
    wP = P * data.weights
    args = (data.Xd, data.indptr, data.indices, data.data, True, features, data.weights, P)

    def solve(records):  # type: ignore[no-untyped-def]
        W, b, D = W0.copy(), b0.copy(), data.empty_predictor()
        D[:] = 0.0
        rest = (G, g0, True, lam1, lam2, False, 10, np.zeros((0, K, K)), data.rms, W, b, D)
        tail = (1e-12, 10_000, False, data.empty_predictor(), np.zeros((0, K)))
        if records:
            sweeps, _ = cd.cd_quadratic(*args, wP, *rest, *tail)
        else:
            pd, winv = np.zeros(n), cd._inverse_weights(data.weights)
            sweeps, _ = cd._descend(
                *args, wP, *rest, *tail, pd, winv, np.zeros((0, 0)), np.zeros(0),
                cd._eigen(None, K),
            )  # fmt: skip
        return W, b, np.asarray(D), int(sweeps)

    Wr, br, Dr, sr = solve(True)
    Wp, bp, Dp, sp_ = solve(False)
    assert abs(sr - sp_) <= 1 and sp_ > 3  # (rounding may move the last sweep at 1e-12)
    np.testing.assert_allclose(Wr, Wp, rtol=0, atol=1e-10)
    np.testing.assert_allclose(br, bp, rtol=0, atol=1e-10)
    np.testing.assert_allclose(Dr, Dp, rtol=0, atol=1e-10)
    # D came out of the records: the predictor change of the returned coefficients
    np.testing.assert_allclose(Dr, (X64 @ (Wr - W0) + (br - b0)).T, rtol=0, atol=1e-10)
    assert (Wr != 0).sum() > p  # a real support, not all zero
    nonzero, zero, intercepts = model_kkt(data, X64, P, G, g0, W0, b0, Wr, br, lam1, lam2)
    assert max(nonzero, zero, intercepts) <= 1e-9


def test_a_reused_buffer_carries_nothing_between_solves():
    # the records' memory, and after it the snapshots' and block Hessians' (the scratch),
    # is reused by every inner solve of a fit (ColumnData.records): filled with NaN and
    # passed through different problems (K = 10 and K = 4, elastic net, no intercepts,
    # support solves, a capped sweep count), every solve equals the same solve on fresh
    # memory bit for bit; a buffer too small for the problem is not used (fresh records
    # then), a misaligned one is used from its next 64-byte line on (records and scratch),
    # and a scratch too small for the block Hessians leaves them in fresh memory
    problems = [_centre(K=10, seed=3), _centre(K=10, seed=8), _centre(K=4, seed=11)]
    n, p = problems[0][0].n_rows, problems[0][5].shape[0]
    store = cd.records_buffer(n, 10, p, p)
    scratch = store[n * 24 + 8 :]
    assert scratch.size == 3 * (10 * n + n + p * 10) + p * 100
    store[:] = np.nan

    def solve(centre, buffer, newton, intercepts, lam2, sweeps):  # type: ignore[no-untyped-def]
        data, _, P, G, g0, W0, b0 = centre
        K = P.shape[0]
        W, b, D = W0.copy(), b0.copy(), data.empty_predictor()
        D[:] = 0.0
        args = (
            data.Xd, data.indptr, data.indices, data.data, True, np.arange(p, dtype=np.intp),
            data.weights, P, P * data.weights, G, g0, intercepts, np.full(p, 0.004),
            np.full(p, lam2), False, 10, np.zeros((0, K, K)), data.rms, W, b, D, 1e-12,
            sweeps, newton, data.empty_predictor(), np.zeros((0, K)),
        )  # fmt: skip
        out = cd.cd_quadratic(*args) if buffer is None else cd.cd_quadratic(*args, buffer)
        return W, b, np.asarray(D), out

    for newton, intercepts, lam2, sweeps in [
        (False, True, 0.0, 10_000),
        (True, False, 0.003, 10_000),
        (False, True, 0.003, 3),
    ]:
        for centre in problems + problems[:1]:
            fresh = solve(centre, None, newton, intercepts, lam2, sweeps)
            reused = solve(centre, store, newton, intercepts, lam2, sweeps)
            assert fresh[3] == reused[3]
            for a, c in zip(fresh[:3], reused[:3], strict=True):
                np.testing.assert_array_equal(a, c)
    # the snapshots (D's and pd's at the start, then W's) and the block Hessians (at the
    # scratch's end) were written there, not in fresh memory
    assert not np.isnan(scratch[: 3 * 10 * n]).any()
    assert not np.isnan(scratch[-p * 100 :]).all()
    fresh = solve(problems[0], None, True, True, 0.0, 10_000)
    short = np.full(n * 24 + 8 + 3 * (10 * n + n + p * 10) + p * 100 - 1, np.nan)
    for buffer in (np.full(10, np.nan), np.full(n * 24 + 16, np.nan)[1:], short):
        other = solve(problems[0], buffer, True, True, 0.0, 10_000)
        for a, c in zip(fresh[:3], other[:3], strict=True):
            np.testing.assert_array_equal(a, c)
    assert np.isnan(short[-p * 100 + 1 :]).all()  # the block Hessians did not fit: fresh


@pytest.mark.parametrize("K", [10, 17])  # (17: the intercepts' gradient summed in q itself)
def test_snapshot_pass_moves_copies_and_values_as_the_separate_passes(K):
    # _record_snapshot: the intercepts' pending move (left by _intercepts with a lift
    # array), the copy and the model's quadratic term in one pass over the records; each
    # against the separate kernels on a copy of the same records, bit for bit
    data, _, P, *_ = _centre(K=K, seed=8)
    K, n = P.shape
    rng = np.random.default_rng(9)
    w, wP = data.weights, P * data.weights
    R = cd._row_records(wP, cd._inverse_weights(w))
    R[:, :K] = rng.standard_normal((n, K))
    R[:, 2 * K] = (P * R[:, :K].T).sum(axis=0)
    H0 = cd._intercept_hessian(w, P, True)
    g0 = rng.standard_normal(K) * 0.01
    ref = R.copy()
    b, bref = np.zeros(K), np.zeros(K)
    lift = np.zeros(K)
    big = cd._intercepts(w, P, R[:, K : 2 * K].T, g0, H0, b, R[:, :K].T, R[:, 2 * K], R, lift)
    np.testing.assert_array_equal(R, ref)  # the move is left pending (to slot 0's pass)
    got = cd._intercepts(
        w, P, ref[:, K : 2 * K].T, g0, H0, bref, ref[:, :K].T, ref[:, 2 * K], ref, np.zeros(0)
    )
    assert big == got and big > 0.0
    np.testing.assert_array_equal(b, bref)
    np.testing.assert_array_equal(lift, bref)  # (from b = 0: the steps are the intercepts)
    p = 4
    features = np.arange(p, dtype=np.intp)
    Wc = rng.standard_normal((p, K))
    W0 = Wc + 0.1
    start, snaps, _ = cd._start_and_snapshots(features, W0, np.zeros(K), n)
    refsnaps = cd._start_and_snapshots(features, W0, np.zeros(K), n)[1]
    lam1, lam2 = np.full(p, 0.01), np.full(p, 0.002)
    G = rng.standard_normal((p, K)) * 0.01
    for slot in range(cd.ANDERSON_DEPTH + 1):
        last = slot == cd.ANDERSON_DEPTH
        quad = cd._record_snapshot(features, Wc, b, w, R, slot, snaps, lift, last)
        cd._snapshot(features, Wc, b, ref[:, :K].T, ref[:, 2 * K], ref, slot, refsnaps)
        np.testing.assert_array_equal(lift, 0.0)  # consumed: moved once
        np.testing.assert_array_equal(R, ref)
        np.testing.assert_array_equal(snaps[0][slot], refsnaps[0][slot])
        np.testing.assert_array_equal(snaps[1][slot], refsnaps[1][slot])
        if slot > 0:  # (slot 0's predictor is not read back with the records)
            np.testing.assert_array_equal(snaps[2][slot], refsnaps[2][slot])
            np.testing.assert_array_equal(snaps[3][slot], refsnaps[3][slot])
        if last:  # the model's value from the pass, as _model_value sums it
            args = (features, w, ref[:, K : 2 * K].T, G, g0, lam1, lam2, False, Wc, start[0])
            value = cd._model_value(*args, b, start[1], ref[:, :K].T, ref[:, 2 * K])
            linear = cd._model_linear(features, G, g0, lam1, lam2, False, Wc, start[0], b, start[1])
            assert linear + 0.5 * quad == value
            assert quad == pytest.approx(
                float(np.sum(wP.T * ref[:, :K] ** 2) - w @ ref[:, 2 * K] ** 2), rel=1e-12
            )
        else:
            assert quad == 0.0
    # with no pending move, slot 0 leaves the records as they are
    before = R.copy()
    assert cd._record_snapshot(features, Wc, b, w, R, 0, snaps, lift, False) == 0.0
    np.testing.assert_array_equal(R, before)
    # the extrapolation written into the records with its quadratic term
    c = np.array([0.3, 0.7])
    quad = cd._record_extrapolate(c, snaps[2], snaps[3], w, R)
    Dx = c[0] * snaps[2][1].reshape(n, K) + c[1] * snaps[2][2].reshape(n, K)
    np.testing.assert_allclose(R[:, :K], Dx, rtol=0, atol=1e-14)
    np.testing.assert_allclose(R[:, 2 * K], c[0] * snaps[3][1] + c[1] * snaps[3][2], atol=1e-14)
    assert quad == pytest.approx(
        float(np.sum(wP.T * R[:, :K] ** 2) - w @ R[:, 2 * K] ** 2), rel=1e-12
    )
