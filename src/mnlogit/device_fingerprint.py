"""The data fingerprint of a device fit: the numpy path's SHA-256 digests, from row blocks.

A fit records SHA-256 digests of its features, labels and weights
(:class:`~mnlogit.fingerprint.DataFingerprint`) so that refits (``compute_covariance``,
``term_tests``, ``lr_test``) can check that they are given the fit's data. SHA-256 runs on
the host, so for device arrays this is a **transfer**, in blocks, never of ``X`` whole:

- features: the rows the numpy path hashes (:func:`~mnlogit.fingerprint.sampled_rows`:
  all rows of an ``X`` up to :data:`~mnlogit.fingerprint.FULL_HASH_BYTES` = 16 MiB, else
  evenly spaced rows holding about that many bytes) are gathered on the device and moved
  to the host :data:`HASH_BLOCK_BYTES` at a time: at most 16 MiB of ``X`` crosses;
- labels and weights: the class codes (int64) and the effective weights (float64) cross
  in full, in blocks: ``16 n`` bytes.

The digests are the ones the numpy path computes for the same numbers (same dtype, same
labels and weights), so a device fit's fingerprint accepts the same data as numpy arrays
and the other way round.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from mnlogit.arrays import Placement, to_host
from mnlogit.fingerprint import DataFingerprint, labels_prefix, sampled_rows, streamed_digest

__all__ = ["HASH_BLOCK_BYTES", "device_fingerprint"]

#: Bytes moved to the host per block while hashing (4 MiB).
HASH_BLOCK_BYTES = 2**22


def _row_blocks(placement: Placement, X: Any, rows: Any) -> Iterator[np.ndarray]:
    """The rows ``rows`` (host indices, or None for all) of ``X`` as host blocks."""
    xp = placement.xp
    n, p = int(X.shape[0]), int(X.shape[1])
    count = n if rows is None else int(rows.size)
    step = max(1, HASH_BLOCK_BYTES // max(p * 8, 1))
    for start in range(0, count, step):
        stop = min(start + step, count)
        if rows is None:
            block = X[start:stop, :]
        else:
            block = xp.take(X, placement.put(rows[start:stop].astype(np.int64)), axis=0)
        yield to_host(block)


def _vector_blocks(a: Any, dtype: Any) -> Iterator[np.ndarray]:
    n = int(a.shape[0])
    step = max(1, HASH_BLOCK_BYTES // 8)
    for start in range(0, n, step):
        yield to_host(a[start : min(start + step, n)]).astype(dtype)


def device_fingerprint(
    placement: Placement, X: Any, classes: np.ndarray, codes: Any, weights: Any
) -> DataFingerprint:
    """The fingerprint of device data, equal to the numpy path's for the same numbers.

    Parameters
    ----------
    placement : Placement
    X : device array of shape (n, p)
        The validated features (before aliased columns are dropped), in the fit's dtype.
    classes : ndarray of shape (K,)
    codes : device integer array of shape (n,)
    weights : device array of shape (n,)
        Effective weights.

    Returns
    -------
    DataFingerprint
    """
    n, p = int(X.shape[0]), int(X.shape[1])
    dtype = to_host(X[0:1, 0:1]).dtype if n and p else np.dtype(np.float64)
    rows = sampled_rows(n, p * dtype.itemsize)
    features = streamed_digest(dtype, (n, p), _row_blocks(placement, X, rows))
    labels = streamed_digest(
        np.dtype(np.int64), (n,), _vector_blocks(codes, np.int64), labels_prefix(classes)
    )
    w = streamed_digest(np.dtype(np.float64), (n,), _vector_blocks(weights, np.float64))
    return DataFingerprint(n, features, labels, w)
