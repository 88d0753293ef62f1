"""A fingerprint of the data a model was fitted to: SHA-256 digests of X, labels, weights.

Refits and nested-model checks must run on the fit's own data: ``compute_covariance``
and the likelihood-ratio refits of ``term_tests`` compare the fingerprint of the data
they are given with the one the fit recorded, and ``lr_test(other)`` compares the
labels and weights of two fits (their columns differ, by design). Comparing sizes
alone accepted a model fitted to other data of the same size.

The digests cover

- ``features``: the validated design matrix before aliased columns are dropped (a
  formula's design for formula fits), its dtype, shape and bytes; sparse matrices as
  canonical CSR (sorted indices), so CSR and CSC of the same matrix agree;
- ``labels``: the sorted classes and each row's class code;
- ``weights``: the effective frequency weights (``sample_weight * class_weight``).

X is hashed in full up to :data:`FULL_HASH_BYTES`; a larger X is hashed on an evenly
spaced, deterministic sample of its rows holding about that many bytes (with its full
shape and dtype), so that the fingerprint costs a few tens of milliseconds whatever ``n``
is (measured in docs/decisions.md). Labels and weights (``n`` numbers each) are always
hashed in full. A different data set, a subset or a transformation of the data changes
the sampled rows too; what the sample cannot see is an edit confined to rows it skips.
X is never copied whole (rows are hashed in blocks, C order, so a Fortran-ordered copy of
the same numbers has the same digest).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from mnlogit.objective.blocks import row_blocks

__all__ = ["FULL_HASH_BYTES", "DataFingerprint", "labels_prefix", "sampled_rows", "streamed_digest"]


#: Bytes of X hashed in full (16 MiB); beyond, an evenly spaced sample of rows this size.
FULL_HASH_BYTES = 2**24


def sampled_rows(n_rows: int, row_bytes: float) -> NDArray[np.intp] | None:
    """The rows of X the fingerprint hashes: None for all of them.

    Parameters
    ----------
    n_rows : int
    row_bytes : float
        Bytes per row (``p * itemsize`` dense, stored bytes over ``n`` sparse).

    Returns
    -------
    ndarray of shape (k,) or None
        Increasing row indices, evenly spaced from the first row to the last, about
        :data:`FULL_HASH_BYTES` bytes of rows in all; None when X is that small.
    """
    if n_rows * row_bytes <= FULL_HASH_BYTES:
        return None
    k = min(n_rows, max(2, int(FULL_HASH_BYTES // max(row_bytes, 1.0))))
    if k < 2:  # one huge row
        return np.zeros(1, dtype=np.intp)
    # strictly increasing as k <= n (consecutive entries differ by at least
    # (n - 1) / (k - 1) >= 1), so no np.unique (0.07 s of a 2M-row fit)
    return ((np.arange(k, dtype=np.int64) * (n_rows - 1)) // (k - 1)).astype(np.intp)


def streamed_digest(
    dtype: np.dtype[Any],
    shape: tuple[int, ...],
    chunks: Iterable[NDArray[Any]],
    prefix: bytes = b"",
) -> str:
    """The digest of an array given as consecutive chunks of its (C-order) bytes.

    Equal to what :class:`DataFingerprint` computes for the whole array (its header,
    then its bytes): a device array (:mod:`mnlogit.device_fingerprint`) is hashed from
    row blocks moved to the host one at a time.

    Parameters
    ----------
    dtype : numpy dtype
        The whole array's.
    shape : tuple of int
        The whole array's (the sampled rows' digest takes the full shape).
    chunks : iterable of ndarray
        Host arrays of ``dtype`` whose bytes, in order, are the array's.
    prefix : bytes
        Hashed first (the labels' digest starts with the classes).

    Returns
    -------
    str
        64 hex digits.
    """
    h = hashlib.sha256(prefix)
    h.update(f"{np.dtype(dtype).str}{tuple(shape)}".encode())
    for chunk in chunks:
        h.update(np.ascontiguousarray(chunk, dtype=dtype).data.cast("B"))
    return h.hexdigest()


def labels_prefix(classes: NDArray[Any]) -> bytes:
    """What the labels' digest hashes before the class codes (the classes, as text)."""
    return repr([str(c) for c in classes.tolist()]).encode()


def _update_array(h: Any, a: NDArray[Any]) -> None:
    """Feed an array's dtype, shape and bytes (row blocks, C order) into ``h``."""
    h.update(f"{a.dtype.str}{a.shape}".encode())
    if a.ndim == 2 and a.shape[0] > 0:
        for sl in row_blocks(*a.shape):
            h.update(np.ascontiguousarray(a[sl]).data.cast("B"))
    else:
        h.update(np.ascontiguousarray(a).data.cast("B"))


def _update_int64(h: Any, a: NDArray[Any]) -> None:
    """:func:`_update_array` of ``a.astype(np.int64)`` (1-D), converted a block at a time
    (the same bytes; no whole int64 copy of a sparse matrix's indices)."""
    h.update(f"{np.dtype(np.int64).str}{a.shape}".encode())
    step = 2**20
    for start in range(0, a.size, step):
        h.update(np.ascontiguousarray(a[start : start + step], dtype=np.int64).data.cast("B"))


def _digest_features(X: Any) -> str:
    h = hashlib.sha256()
    n_rows, n_cols = X.shape
    if sp.issparse(X):
        X = cast(Any, X)
        stored = X.nnz * (X.dtype.itemsize + 8)
        rows = sampled_rows(n_rows, stored / max(n_rows, 1))
        h.update(f"{X.dtype.str}{X.shape}".encode())
        if rows is not None:  # row indexing of CSR or CSC: the sampled rows only
            X = cast(Any, X)[rows]
        csr: Any = sp.csr_array(cast(Any, X))
        if not csr.has_sorted_indices:
            csr = csr.sorted_indices()
        h.update(b"csr")
        _update_array(h, np.asarray(csr.data))
        for index in (csr.indices, csr.indptr):
            _update_int64(h, np.asarray(index))
        h.update(str(csr.shape).encode())
        return h.hexdigest()
    A = np.asarray(X)
    rows = sampled_rows(n_rows, n_cols * A.dtype.itemsize)
    if rows is None:
        _update_array(h, A)
        return h.hexdigest()
    h.update(f"{A.dtype.str}{A.shape}".encode())
    for sl in row_blocks(rows.size, n_cols):
        # np.take, not A[rows[sl]]: the same rows, gathered 3x faster (2M x 10: 0.012 ->
        # 0.003 s of the fit, issue-tall8)
        h.update(np.ascontiguousarray(np.take(A, rows[sl], axis=0)).data.cast("B"))
    return h.hexdigest()


@dataclass(frozen=True)
class DataFingerprint:
    """SHA-256 digests (hex) of a fit's features, labels and weights.

    Attributes
    ----------
    n_rows : int
    features, labels, weights : str
        64 hex digits each.
    """

    n_rows: int
    features: str
    labels: str
    weights: str

    @classmethod
    def of(
        cls,
        X: Any,
        classes: NDArray[Any],
        codes: NDArray[np.intp],
        weights: NDArray[np.float64],
    ) -> DataFingerprint:
        """The fingerprint of prepared data.

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n, p)
        classes : ndarray of shape (K,)
        codes : ndarray of shape (n,)
        weights : ndarray of shape (n,)
            Effective weights.

        Returns
        -------
        DataFingerprint
        """
        labels = hashlib.sha256(labels_prefix(classes))
        _update_array(labels, np.asarray(codes, dtype=np.int64))
        w = hashlib.sha256()
        _update_array(w, np.asarray(weights, dtype=np.float64))
        return cls(int(codes.shape[0]), _digest_features(X), labels.hexdigest(), w.hexdigest())

    def differences(self, other: DataFingerprint, rows_only: bool = False) -> list[str]:
        """What differs from ``other``: some of ``"rows"``, ``"labels"``, ``"weights"``,
        ``"features"`` (the last not compared with ``rows_only``).

        Returns
        -------
        list of str
        """
        parts = [("rows", self.n_rows, other.n_rows), ("labels", self.labels, other.labels)]
        parts.append(("weights", self.weights, other.weights))
        if not rows_only:
            parts.append(("features", self.features, other.features))
        return [name for name, a, b in parts if a != b]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a model file."""
        return {
            "algorithm": "sha256",
            "n_rows": self.n_rows,
            "features": self.features,
            "labels": self.labels,
            "weights": self.weights,
        }

    @classmethod
    def from_dict(cls, payload: Any) -> DataFingerprint:
        """Read :meth:`to_dict`'s output back.

        Raises
        ------
        ValueError
            When it is not such a record.
        """
        ok = isinstance(payload, dict) and payload.get("algorithm") == "sha256"
        ok = ok and type(payload.get("n_rows")) is int
        digests = [payload.get(k) for k in ("features", "labels", "weights")] if ok else []
        if not ok or not all(isinstance(d, str) and len(d) == 64 for d in digests):
            raise ValueError("data_fingerprint is not a SHA-256 fingerprint record")
        return cls(int(payload["n_rows"]), *digests)
