"""Kernels inlined into their compiled callers (:func:`mnlogit.objective.compiled.inlined`):
the sparse lasso's per-feature kernels carry numba's ``inline="always"``, and called from a compiled
kernel (inlined there: the local array, the early return with more classes than it holds)
they give what they give called from Python (a compiled kernel of their own), bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from lasso_checks import csc_arrays
from mnlogit.objective.compiled import HAVE_NUMBA, compiled
from mnlogit.solvers import coordinate_descent as cd


@compiled
def _gradients_in_a_loop(indptr, indices, data, R, out):  # type: ignore[no-untyped-def]
    for j in range(out.shape[0]):
        cd._record_gradient(indptr, indices, data, j, R, out[j])


@compiled
def _moves_in_a_loop(indptr, indices, data, steps, R):  # type: ignore[no-untyped-def]
    for j in range(steps.shape[0]):
        cd._record_move(indptr, indices, data, j, steps[j], R)


@pytest.mark.skipif(not HAVE_NUMBA, reason="inlining is numba's")
def test_the_per_feature_kernels_are_inlined():
    for kernel in (
        cd._lasso_block_steps, cd._record_gradient, cd._record_move, cd._group_block,
        cd._group_optimum,
    ):  # fmt: skip
        assert kernel.targetoptions.get("inline") == "always", kernel


@pytest.mark.parametrize("K", [3, 10, 17])  # (17: the gradient's early return, no local sums)
def test_inlined_record_passes_equal_the_kernels_own(K):
    rng = np.random.default_rng(K)
    n, p = 200, 12
    X = rng.standard_normal((n, p))
    X[rng.random(X.shape) < 0.8] = 0.0
    indptr, indices, data = csc_arrays(X)
    P = rng.dirichlet(np.ones(K), n).T
    w = rng.uniform(0.5, 2.0, n)
    R = cd._row_records(P * w, 1.0 / w)
    R[:, :K] = rng.standard_normal((n, K))
    R[:, 2 * K] = (P * R[:, :K].T).sum(axis=0)
    ref, got = np.empty((p, K)), np.empty((p, K))
    for j in range(p):
        cd._record_gradient(indptr, indices, data, j, R, ref[j])
    _gradients_in_a_loop(indptr, indices, data, R, got)
    np.testing.assert_array_equal(got, ref)
    assert np.all(ref[np.diff(indptr) > 0] != 0.0)
    steps = rng.standard_normal((p, K))
    R2 = R.copy()
    for j in range(p):
        cd._record_move(indptr, indices, data, j, steps[j], R)
    _moves_in_a_loop(indptr, indices, data, steps, R2)
    np.testing.assert_array_equal(R2, R)
    assert not np.array_equal(R[:, :K], R2[:, :K] * 0.0)
