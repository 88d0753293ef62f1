"""mnlogit.fingerprint: digests that tell the fit's data from other data, cheaply.

Large X is hashed on a sample of rows; these tests check, on X just above and well above
the full-hash size, that the digest ignores memory layout and storage format and sees
changes of data, shape and dtype.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mnlogit.fingerprint import FULL_HASH_BYTES, DataFingerprint, sampled_rows


def _digest(X):
    n = X.shape[0]
    codes = np.zeros(n, dtype=np.intp)
    return DataFingerprint.of(X, np.array([0, 1]), codes, np.ones(n)).features


def test_small_x_is_hashed_whole() -> None:
    assert sampled_rows(100, 8.0) is None
    assert sampled_rows(FULL_HASH_BYTES // 8, 8.0) is None


def test_sample_is_evenly_spaced_and_spans_all_rows() -> None:
    n = 10 * FULL_HASH_BYTES // 80  # ten times the full-hash size at 80 bytes a row
    rows = sampled_rows(n, 80.0)
    assert rows is not None
    assert rows[0] == 0 and rows[-1] == n - 1
    assert np.all(np.diff(rows) > 0)
    assert rows.size * 80 <= FULL_HASH_BYTES + 80
    gaps = np.diff(rows)
    assert gaps.max() - gaps.min() <= 1


@pytest.fixture(scope="module")
def big() -> np.ndarray:
    # 1.5 times the full-hash size: the sampled path
    n = int(1.5 * FULL_HASH_BYTES) // (16 * 8)
    return np.random.default_rng(0).normal(size=(n, 16))


def test_sampled_digest_ignores_layout(big: np.ndarray) -> None:
    assert sampled_rows(big.shape[0], big.shape[1] * 8) is not None
    assert _digest(big) == _digest(np.asfortranarray(big)) == _digest(big.copy())


def test_sampled_digest_sees_other_data(big: np.ndarray) -> None:
    rows = sampled_rows(big.shape[0], big.shape[1] * 8)
    assert rows is not None
    base = _digest(big)
    edited = big.copy()
    edited[rows[len(rows) // 2], 3] += 1e-12
    assert _digest(edited) != base
    assert _digest(big[::-1]) != base  # same rows, other order
    assert _digest(big.astype(np.float32)) != base
    assert _digest(big[:-1]) != base


def test_sparse_formats_agree_and_sample() -> None:
    n = 120_000  # 1.9 million stored values, 16 bytes each: 1.8 times the full-hash size
    X = sp.random(n, 400, density=0.04, format="csr", random_state=1, dtype=np.float64)
    assert sampled_rows(n, X.nnz * 16 / n) is not None  # the sampled path
    assert _digest(X) == _digest(X.tocsc()) == _digest(sp.csr_array(X))
    Y = X.copy()
    Y.data[0] += 1.0  # row 0 is always in the sample
    assert _digest(Y) != _digest(X)
