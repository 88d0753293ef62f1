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

Schemes
-------
A fingerprint records the **scheme** that made it (an int; model files written before
schemes existed hold scheme 1). Digests of different schemes are not comparable, so a
refit against a fitted state hashes its data with the state's scheme
(:func:`scheme_for`), and :meth:`DataFingerprint.differences` refuses two schemes.

Scheme 1 (mnlogit 0.1's files; still computed for them):

- X in full up to :data:`FULL_HASH_BYTES` (16 MiB), beyond that an evenly spaced sample
  of its rows of that size (:func:`sampled_rows`): ``sha256(dtype.str + str(shape) +
  rows' C-order bytes)``; sparse X: ``sha256(dtype.str + str(shape) + b"csr" + data,
  indices and indptr of the sampled rows' canonical CSR (each its dtype and shape,
  then its bytes; the indices as int64) + str(sampled shape))``;
- labels: ``sha256(repr of the classes as text + "<i8" + str((n,)) + codes as int64)``;
- weights: ``sha256("<f8" + str((n,)) + weights as float64)``.

Scheme 2 (new fits; the default, :data:`SCHEME`), the same bytes but

- X sampled beyond :data:`SAMPLE_BYTES` (1 MiB) instead of 16 MiB;
- labels: the codes as the smallest unsigned integer dtype holding ``K - 1``
  (``"|u1"``, one byte a row, for K <= 256; then ``"<u2"``, ``"<u4"``, ``"<u8"``);
- weights: when every effective weight is exactly 1, ``sha256(b"unit" + str(n))``
  instead of ``n`` float64 ones; otherwise in full, as in scheme 1.

What the digests see. Labels and weights are hashed in full: a single changed label or
weight changes the digest. X is hashed in full up to the budget; a larger X is hashed
on an evenly spaced, deterministic sample of its rows (always the first and the last)
holding about the budget's bytes, with its full shape and dtype. A different data set, a
subset, a reordering, a different dtype or a transformation of the data changes the
sampled rows too; what the sample cannot see is an edit confined to rows it skips (a
single edited row of a 16 MB X is seen with probability about 1/16 under scheme 2).
Under scheme 2 X's share of the cost is bounded (about 1 MiB hashed whatever ``n``); the
labels cost ``n`` bytes for K <= 256 and weights other than all ones ``8 n``
(docs/decisions.md has the measurements). X is never
copied whole (rows are hashed in blocks, C order, so a Fortran-ordered copy of the same
numbers has the same digest).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from mnlogit.objective.blocks import row_blocks

__all__ = [
    "FULL_HASH_BYTES",
    "SAMPLE_BYTES",
    "SCHEME",
    "SCHEMES",
    "DataFingerprint",
    "SchemeMismatchError",
    "code_dtype",
    "hashed_bytes",
    "labels_prefix",
    "sampled_rows",
    "scheme_for",
    "streamed_digest",
    "unit_weights_digest",
]


#: Scheme 1: bytes of X hashed in full (16 MiB); beyond, an evenly spaced row sample this size.
FULL_HASH_BYTES = 2**24
#: Scheme 2: bytes of X hashed in full (1 MiB); beyond, an evenly spaced row sample this size.
SAMPLE_BYTES = 2**20
#: The scheme new fits use.
SCHEME = 2
#: The schemes this mnlogit computes and reads.
SCHEMES = (1, 2)


class SchemeMismatchError(ValueError):
    """Two fingerprints of different schemes were compared (their digests cannot be)."""


def hashed_bytes(scheme: int) -> int:
    """The X budget of a scheme: :data:`FULL_HASH_BYTES` or :data:`SAMPLE_BYTES`.

    Read at the call (tests lower it to reach the sampled path on small data).
    """
    _check_scheme(scheme)
    return FULL_HASH_BYTES if scheme == 1 else SAMPLE_BYTES


def _check_scheme(scheme: int) -> None:
    if type(scheme) is not int or scheme not in SCHEMES:
        raise ValueError(f"unknown data-fingerprint scheme {scheme!r}; known: {SCHEMES}")


def scheme_for(fitted: DataFingerprint | None) -> int:
    """The scheme to hash data in: ``fitted``'s (a refit is checked against it), else
    :data:`SCHEME`."""
    return SCHEME if fitted is None else fitted.scheme


def sampled_rows(
    n_rows: int, row_bytes: float, budget: int | None = None
) -> NDArray[np.intp] | None:
    """The rows of X the fingerprint hashes: None for all of them.

    Parameters
    ----------
    n_rows : int
    row_bytes : float
        Bytes per row (``p * itemsize`` dense, stored bytes over ``n`` sparse).
    budget : int, optional
        Bytes of rows hashed (:func:`hashed_bytes` of the scheme); default
        :data:`FULL_HASH_BYTES` (scheme 1).

    Returns
    -------
    ndarray of shape (k,) or None
        Increasing row indices, evenly spaced from the first row to the last, about
        ``budget`` bytes of rows in all; None when X is that small.
    """
    limit = FULL_HASH_BYTES if budget is None else int(budget)
    if n_rows * row_bytes <= limit:
        return None
    k = min(n_rows, max(2, int(limit // max(row_bytes, 1.0))))
    if k < 2:  # one huge row
        return np.zeros(1, dtype=np.intp)
    # strictly increasing as k <= n (consecutive entries differ by at least
    # (n - 1) / (k - 1) >= 1), so no np.unique (0.07 s of a 2M-row fit)
    return ((np.arange(k, dtype=np.int64) * (n_rows - 1)) // (k - 1)).astype(np.intp)


def code_dtype(n_classes: int, scheme: int) -> np.dtype[Any]:
    """The dtype the class codes are hashed as.

    Parameters
    ----------
    n_classes : int
    scheme : int

    Returns
    -------
    numpy.dtype
        int64 under scheme 1, else the smallest unsigned integer dtype holding
        ``n_classes - 1``.
    """
    if scheme == 1:
        return np.dtype(np.int64)
    return np.dtype(np.min_scalar_type(max(int(n_classes) - 1, 0)))


def unit_weights_digest(n_rows: int) -> str:
    """Scheme 2's weights digest when every effective weight is 1.

    Parameters
    ----------
    n_rows : int

    Returns
    -------
    str
        ``sha256(b"unit" + str(n_rows))`` in hex (64 digits).
    """
    return hashlib.sha256(b"unit" + str(int(n_rows)).encode()).hexdigest()


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
        The whole array's (the chunks are converted to it).
    shape : tuple of int
        The whole array's (the sampled rows' digest takes the full shape).
    chunks : iterable of ndarray
        Host arrays whose values, converted to ``dtype``, are the array's, in order.
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


def _update_as(h: Any, a: NDArray[Any], dtype: np.dtype[Any]) -> None:
    """:func:`_update_array` of ``a.astype(dtype)`` (1-D), converted a block at a time
    (the same bytes; no whole copy of a sparse matrix's indices or of the codes)."""
    h.update(f"{dtype.str}{a.shape}".encode())
    step = 2**20
    for start in range(0, a.size, step):
        h.update(np.ascontiguousarray(a[start : start + step], dtype=dtype).data.cast("B"))


def _all_ones(w: NDArray[Any]) -> bool:
    """Whether every entry is exactly 1 (blocks of 64k; stops at the first other block)."""
    step = 2**16
    return all(bool(np.all(w[a : a + step] == 1.0)) for a in range(0, w.size, step))


def _digest_sparse(h: Any, X: Any, budget: int) -> None:
    n_rows = X.shape[0]
    stored = X.nnz * (X.dtype.itemsize + 8)
    rows = sampled_rows(n_rows, stored / max(n_rows, 1), budget)
    h.update(f"{X.dtype.str}{X.shape}".encode())
    if rows is not None:  # row indexing of CSR or CSC: the sampled rows only
        X = X[rows]
    csr: Any = sp.csr_array(X)
    if not csr.has_sorted_indices:
        csr = csr.sorted_indices()
    h.update(b"csr")
    _update_array(h, np.asarray(csr.data))
    for index in (csr.indices, csr.indptr):
        _update_as(h, np.asarray(index), np.dtype(np.int64))
    h.update(str(csr.shape).encode())


def _digest_features(X: Any, budget: int) -> str:
    h = hashlib.sha256()
    if sp.issparse(X):
        _digest_sparse(h, cast(Any, X), budget)
        return h.hexdigest()
    A = np.asarray(X)
    n_rows, n_cols = A.shape
    rows = sampled_rows(n_rows, n_cols * A.dtype.itemsize, budget)
    if rows is None:
        _update_array(h, A)
        return h.hexdigest()
    h.update(f"{A.dtype.str}{A.shape}".encode())
    for sl in row_blocks(rows.size, n_cols):
        # np.take, not A[rows[sl]]: the same rows, gathered 3x faster (2M x 10: 0.012 ->
        # 0.003 s of the fit, issue-tall8)
        h.update(np.ascontiguousarray(np.take(A, rows[sl], axis=0)).data.cast("B"))
    return h.hexdigest()


class _Pending:
    """The bytes a deferred :class:`DataFingerprint` hashes when first read: the sampled
    rows of ``X`` (a read-only copy, at most about :data:`SAMPLE_BYTES`) with ``X``'s
    header."""

    __slots__ = ("header", "rows")

    def __init__(self, header: bytes, rows: NDArray[Any]) -> None:
        rows.setflags(write=False)
        self.header, self.rows = header, rows

    def digest(self) -> str:
        """The ``features`` digest :meth:`DataFingerprint.of` computes."""
        features = hashlib.sha256(self.header)
        features.update(self.rows.data.cast("B"))
        return features.hexdigest()


@dataclass(frozen=True)
class DataFingerprint:
    """SHA-256 digests (hex) of a fit's features, labels and weights, and their scheme.

    A new fit's digest of a large dense ``X`` is *deferred* (:meth:`of` with
    ``deferred=True``): the sampled rows it hashes are copied at the fit (about
    :data:`SAMPLE_BYTES`, whatever ``n``) and hashed when ``features`` is first read (a
    model file written, a refit checked, two fingerprints compared), so a fit that is never
    saved or checked does not pay for SHA-256 of them (docs/solvers.md, "Sixteenth pass").
    The labels and weights are hashed at once (deferring them would hold ``n`` codes in
    the fitted model). The digest is that of the data at the fit either way; threads that
    read it first at the same time may each hash the copy, and all get the same value.

    Attributes
    ----------
    n_rows : int
    features, labels, weights : str
        64 hex digits each.
    scheme : int
        What was hashed (module docstring): 1 for digests recorded before schemes
        existed (files of format version 1), :data:`SCHEME` for new fits.
    """

    n_rows: int
    features: str
    labels: str
    weights: str
    scheme: int = 1

    def __post_init__(self) -> None:
        """Refuse a scheme this mnlogit does not know (a record built by hand, too)."""
        _check_scheme(self.scheme)

    @classmethod
    def _deferred(
        cls, n_rows: int, labels: str, weights: str, scheme: int, pending: _Pending
    ) -> DataFingerprint:
        """A fingerprint whose ``features`` is ``pending``'s digest, taken when first read
        (:meth:`__getattr__`)."""
        _check_scheme(scheme)
        fingerprint = cls.__new__(cls)
        for name, value in (
            ("n_rows", n_rows), ("labels", labels), ("weights", weights), ("scheme", scheme)
        ):  # fmt: skip
            object.__setattr__(fingerprint, name, value)
        object.__setattr__(fingerprint, "_pending", pending)
        return fingerprint

    if not TYPE_CHECKING:  # (mypy would type every unknown attribute by it)

        def __getattr__(self, name: str) -> Any:
            """``features`` of a deferred fingerprint, hashed now (called only while it is
            not set)."""
            state = self.__dict__
            pending = state.get("_pending")
            if name == "features" and pending is not None:
                object.__setattr__(self, "features", pending.digest())
                state.pop("_pending", None)  # the copy is no longer needed
            try:
                return state[name]  # (set by another thread if it hashed first)
            except KeyError:
                raise AttributeError(
                    f"{type(self).__name__!r} object has no attribute {name!r}"
                ) from None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled and copied with its digests (the deferred copies are not carried)."""
        return (
            type(self),
            (self.n_rows, self.features, self.labels, self.weights, self.scheme),
        )

    @classmethod
    def of(
        cls,
        X: Any,
        classes: NDArray[Any],
        codes: NDArray[np.intp],
        weights: NDArray[np.float64],
        scheme: int = SCHEME,
        deferred: bool = False,
    ) -> DataFingerprint:
        """The fingerprint of prepared data.

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n, p)
        classes : ndarray of shape (K,)
        codes : ndarray of shape (n,)
        weights : ndarray of shape (n,)
            Effective weights.
        scheme : int, default=SCHEME
            A refit checked against a recorded fingerprint passes its scheme
            (:func:`scheme_for`).
        deferred : bool, default=False
            Where ``X`` is a dense array hashed on a row sample: copy the sampled rows
            now and hash them when ``features`` is first read (the same digest; a new
            fit's, which nothing may compare yet).

        Returns
        -------
        DataFingerprint
        """
        _check_scheme(scheme)
        n = int(codes.shape[0])
        w = np.asarray(weights, dtype=np.float64)
        if scheme >= 2 and _all_ones(w):
            w_digest = unit_weights_digest(n)
        else:
            h = hashlib.sha256()
            _update_array(h, w)
            w_digest = h.hexdigest()
        labels = hashlib.sha256(labels_prefix(classes))
        _update_as(labels, np.asarray(codes), code_dtype(classes.size, scheme))
        if deferred and not sp.issparse(X):
            A = np.asarray(X)
            rows = sampled_rows(A.shape[0], A.shape[1] * A.dtype.itemsize, hashed_bytes(scheme))
            if rows is not None:
                # np.take: a new C-ordered array, the bytes _digest_features hashes
                pending = _Pending(
                    f"{A.dtype.str}{A.shape}".encode(),
                    np.ascontiguousarray(np.take(A, rows, axis=0)),
                )
                return cls._deferred(n, labels.hexdigest(), w_digest, scheme, pending)
        features = _digest_features(X, hashed_bytes(scheme))
        return cls(n, features, labels.hexdigest(), w_digest, scheme)

    def differences(self, other: DataFingerprint, rows_only: bool = False) -> list[str]:
        """What differs from ``other``: some of ``"rows"``, ``"labels"``, ``"weights"``,
        ``"features"`` (the last not compared with ``rows_only``).

        Returns
        -------
        list of str

        Raises
        ------
        SchemeMismatchError
            When the two fingerprints have different schemes (their digests hash
            different bytes: equal data would look different).
        """
        if self.scheme != other.scheme:
            raise SchemeMismatchError(
                f"data fingerprints of schemes {self.scheme} and {other.scheme} cannot be compared"
            )
        parts = [("rows", self.n_rows, other.n_rows), ("labels", self.labels, other.labels)]
        parts.append(("weights", self.weights, other.weights))
        if not rows_only:
            parts.append(("features", self.features, other.features))
        return [name for name, a, b in parts if a != b]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a model file (``"scheme"`` read back as 1 when absent)."""
        return {
            "algorithm": "sha256",
            "scheme": self.scheme,
            "n_rows": self.n_rows,
            "features": self.features,
            "labels": self.labels,
            "weights": self.weights,
        }

    @classmethod
    def from_dict(cls, payload: Any) -> DataFingerprint:
        """Read :meth:`to_dict`'s output back (a record without ``"scheme"``, as files
        of format version 1 hold, is scheme 1).

        Raises
        ------
        ValueError
            When it is not such a record, or names a scheme this mnlogit does not know.
        """
        ok = isinstance(payload, dict) and payload.get("algorithm") == "sha256"
        ok = ok and type(payload.get("n_rows")) is int
        digests = [payload.get(k) for k in ("features", "labels", "weights")] if ok else []
        if not ok or not all(isinstance(d, str) and len(d) == 64 for d in digests):
            raise ValueError("data_fingerprint is not a SHA-256 fingerprint record")
        scheme = payload.get("scheme", 1)
        _check_scheme(scheme)
        features, labels, weights = digests
        return cls(int(payload["n_rows"]), features, labels, weights, scheme)
