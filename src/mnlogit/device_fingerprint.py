"""The data fingerprint of a device fit: the numpy path's SHA-256 digests, from row blocks.

A fit records SHA-256 digests of its features, labels and weights
(:class:`~mnlogit.fingerprint.DataFingerprint`) so that refits (``compute_covariance``,
``term_tests``, ``lr_test``) can check that they are given the fit's data. SHA-256 runs on
the host, so for device arrays this is a **transfer**, in blocks, never of ``X`` whole.
Under scheme 2 (new fits, :data:`~mnlogit.fingerprint.SCHEME`):

- features: the rows the numpy path hashes (:func:`~mnlogit.fingerprint.sampled_rows`:
  all rows of an ``X`` up to :data:`~mnlogit.fingerprint.SAMPLE_BYTES` = 1 MiB, else
  evenly spaced rows holding about that many bytes) are gathered on the device and moved
  to the host :data:`HASH_BLOCK_BYTES` at a time: at most about 1 MiB of ``X`` crosses;
- labels: the class codes, converted on the device to one byte each for K <= 256 (else
  four, converted on the host to the hashed width), cross in blocks: ``n`` bytes;
- weights: one boolean crosses (whether every weight is 1: the digest is then a marker);
  otherwise the effective weights cross in blocks in their device dtype (``4 n`` or
  ``8 n`` bytes) and are hashed as float64 on the host.

A refit against a scheme-1 fingerprint (a model file of format version 1) hashes as
scheme 1: at most 16 MiB of ``X``, codes as int64 and weights as float64 (``16 n`` bytes).

The digests are the ones the numpy path computes for the same numbers (same dtype, same
labels and weights), so a device fit's fingerprint accepts the same data as numpy arrays
and the other way round.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from mnlogit.arrays import Placement, to_host
from mnlogit.fingerprint import (
    SCHEME,
    DataFingerprint,
    code_dtype,
    hashed_bytes,
    labels_prefix,
    sampled_rows,
    streamed_digest,
    unit_weights_digest,
)

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


def _vector_blocks(a: Any, itemsize: int) -> Iterator[np.ndarray]:
    """``a`` (1-D, device) as host blocks of at most :data:`HASH_BLOCK_BYTES`."""
    n = int(a.shape[0])
    step = max(1, HASH_BLOCK_BYTES // itemsize)
    for start in range(0, n, step):
        yield to_host(a[start : min(start + step, n)])


def _label_digest(placement: Placement, classes: np.ndarray, codes: Any, scheme: int) -> str:
    """The labels' digest; under scheme 2 the codes are narrowed on the device before
    they cross (one byte each for K <= 256, else four, widened on the host)."""
    xp = placement.xp
    dtype = code_dtype(classes.size, scheme)
    moved, itemsize = codes, 8  # scheme 1: the codes as they are (int64 on the host)
    if scheme >= 2:
        narrow = dtype.itemsize == 1
        moved = xp.astype(codes, xp.uint8 if narrow else xp.int32)
        itemsize = 1 if narrow else 4
    blocks = _vector_blocks(moved, itemsize)
    return streamed_digest(dtype, (int(codes.shape[0]),), blocks, labels_prefix(classes))


def device_fingerprint(
    placement: Placement,
    X: Any,
    classes: np.ndarray,
    codes: Any,
    weights: Any,
    scheme: int = SCHEME,
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
    scheme : int, default=SCHEME
        A refit checked against a recorded fingerprint passes its scheme.

    Returns
    -------
    DataFingerprint
    """
    xp = placement.xp
    n, p = int(X.shape[0]), int(X.shape[1])
    dtype = to_host(X[0:1, 0:1]).dtype if n and p else np.dtype(np.float64)
    rows = sampled_rows(n, p * dtype.itemsize, hashed_bytes(scheme))
    features = streamed_digest(dtype, (n, p), _row_blocks(placement, X, rows))
    labels = _label_digest(placement, classes, codes, scheme)
    if scheme >= 2 and bool(to_host(xp.all(weights == 1))):
        w = unit_weights_digest(n)
    else:
        w = streamed_digest(np.dtype(np.float64), (n,), _vector_blocks(weights, 8))
    return DataFingerprint(n, features, labels, w, scheme)
