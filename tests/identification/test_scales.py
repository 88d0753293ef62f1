"""Tests of mnlogit.identification.scales, the per-column max-abs helper shared by
validation, collinearity and separation, against plain numpy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal

from mnlogit.identification import column_maxabs, column_scales
from mnlogit.identification.scales import as_divisors


def reference_maxabs(X: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """np.abs(X).max(axis=0) in float64 (zeros for no rows): the plain numpy answer."""
    A = np.asarray(X, dtype=np.float64)
    if rows is not None:
        A = A[rows]
    return np.abs(A).max(axis=0) if A.shape[0] else np.zeros(A.shape[1])


@pytest.fixture
def X() -> np.ndarray:
    rng = np.random.default_rng(7)
    X = rng.standard_normal((300, 5)) * np.array([1e-12, 1.0, 3.0, 1e12, 1.0])
    X[:, 4] = 0.0  # an all-zero column
    X[17, 2] = -50.0  # the largest magnitude is negative
    return X


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_equals_numpy(X: np.ndarray, dtype: type) -> None:
    Xd = X.astype(dtype)
    got = column_maxabs(Xd)
    assert got.dtype == np.float64 and got.shape == (5,)
    assert_array_equal(got, reference_maxabs(Xd))
    assert got[2] == 50.0 and got[4] == 0.0


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_equals_numpy(X: np.ndarray, fmt: str, dtype: type) -> None:
    Xd = X.astype(dtype)
    Xs = sp.csr_array(Xd).asformat(fmt)
    assert_array_equal(column_maxabs(Xs), reference_maxabs(Xd))
    assert_array_equal(column_maxabs(sp.csr_matrix(Xd).asformat(fmt)), reference_maxabs(Xd))


@pytest.mark.parametrize("kind", ["dense", "csr", "csc"])
def test_row_subset(X: np.ndarray, kind: str) -> None:
    rows = np.array([3, 17, 250, 5])
    M = X if kind == "dense" else sp.csr_array(X).asformat(kind)
    assert_array_equal(column_maxabs(M, rows), reference_maxabs(X, rows))
    assert column_maxabs(M, rows)[2] == 50.0
    assert_array_equal(column_maxabs(M, np.array([0])), np.abs(X[0]))
    assert_array_equal(column_maxabs(M, np.array([], dtype=np.intp)), np.zeros(5))


def test_row_subset_spanning_several_chunks() -> None:
    rng = np.random.default_rng(8)
    X = rng.standard_normal((120_000, 3)).astype(np.float32)  # 2**18 numbers per chunk
    rows = np.flatnonzero(rng.uniform(size=120_000) < 0.9)
    X[rows[-1], 1] = -1e6
    assert_array_equal(column_maxabs(X, rows), reference_maxabs(X, rows))
    assert_array_equal(column_maxabs(X), reference_maxabs(X))


def test_no_rows_gives_zeros() -> None:
    assert_array_equal(column_maxabs(np.zeros((0, 3))), np.zeros(3))
    assert_array_equal(column_maxabs(sp.csr_array((0, 3))), np.zeros(3))


def test_integers_do_not_overflow() -> None:
    X = np.array([[-128, 5], [3, -7]], dtype=np.int8)
    assert_array_equal(column_maxabs(X), [128.0, 7.0])
    assert_array_equal(column_maxabs(np.array([[True, False]])), [1.0, 0.0])


def test_matrix_input() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # np.matrix itself
        M = np.matrix([[1.0, -4.0], [2.0, 3.0]])
    assert_array_equal(column_maxabs(M), [2.0, 4.0])


def test_nan_and_inf_propagate_as_in_numpy(X: np.ndarray) -> None:
    X[5, 1] = np.nan
    X[9, 3] = -np.inf
    got = column_maxabs(X)
    with np.errstate(invalid="ignore"):
        ref = reference_maxabs(X)
    assert np.isnan(got[1]) and np.isnan(ref[1])
    assert got[3] == np.inf == ref[3]
    assert_array_equal(got[[0, 2, 4]], ref[[0, 2, 4]])


def test_as_divisors() -> None:
    assert_array_equal(as_divisors(np.array([0.0, 2.5, 1e-300, np.nan])), [1.0, 2.5, 1e-300, 1.0])


def test_column_scales_only_rescale_extreme_columns(X: np.ndarray) -> None:
    s = column_scales(X)
    mx = reference_maxabs(X)
    # 1e-12 and 1e12 columns are outside [1e-3, 1e3]; the zero column keeps scale 1
    assert_array_equal(s, [mx[0], 1.0, 1.0, mx[3], 1.0])
    assert_array_equal(column_scales(X, maxabs=mx), s)
    assert_array_equal(column_scales(sp.csc_array(X)), s)
    X[0, 0] = np.inf
    assert column_scales(X)[0] == 1.0
    assert_array_equal(column_scales(np.zeros((0, 2))), [1.0, 1.0])
