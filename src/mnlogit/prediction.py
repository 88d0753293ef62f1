"""Predictions in row blocks: linear predictor, softmax and argmax without n x p passes.

One sweep over ``X``: each row block is multiplied by the coefficients into its rows of
the ``(n, K)`` result, and the softmax (or log-softmax, or argmax) is applied there in
place while the block is in cache. The only ``(n, K)`` array is the result itself.

Validation rides on the same sweep. A NaN or infinite feature makes its row's linear
predictor non-finite (``inf * w`` is ``±inf`` or, for ``w = 0``, NaN), so finite linear
predictors prove the row finite; only rows whose linear predictor is not finite are
inspected: a non-finite feature is reported (:class:`~mnlogit.exceptions.InvalidInputError`
through ``on_nonfinite``), finite features too large for float64 products are rescaled
by a power of two (``log p = log_softmax(s * eta(x / s))``, exact scaling), so the output
is finite for any finite input.

Arrays of another namespace (PyTorch, CuPy, ...) are predicted on their own device by
:func:`predict_on_device`, which returns arrays of that namespace and device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from mnlogit.arrays import Placement, placement_of, to_host
from mnlogit.exceptions import InvalidInputError
from mnlogit.identification.validation import label_codes
from mnlogit.objective import xp_kernels as xk
from mnlogit.objective.blocks import row_blocks
from mnlogit.objective.kernels import is_sparse

__all__ = ["device_codes", "device_labels", "predict_blocks", "predict_on_device"]

FloatArray = NDArray[np.float64]
Kind = Literal["proba", "log_proba", "argmax"]

_LOWEST = np.finfo(np.float64).min


def _block_eta(X_b: Any, W: FloatArray, b: FloatArray, out: FloatArray) -> None:
    """``out = X_b @ W + b`` in float64 (a float32 block converted, never rounded)."""
    if is_sparse(X_b):
        out[...] = X_b @ W
    elif X_b.dtype == np.float64:
        np.matmul(X_b, W, out=out)
    else:
        np.matmul(X_b.astype(np.float64), W, out=out)
    out += b


def _rows_dense(X_b: Any, rows: NDArray[np.intp]) -> FloatArray:
    """Rows ``rows`` of a block as a dense float64 array of shape (len(rows), p)."""
    sub: Any = X_b[rows]
    return np.asarray(sub.toarray() if is_sparse(sub) else sub, dtype=np.float64)


def _repair_rows(
    X_b: Any,
    eta: FloatArray,
    W: FloatArray,
    b: FloatArray,
    on_nonfinite: Callable[[], None],
) -> None:
    """Replace the non-finite rows of ``eta`` by shifted, finite linear predictors.

    Parameters
    ----------
    X_b : ndarray or sparse matrix of shape (m, p)
    eta : ndarray of shape (m, K)
        The block's linear predictors, repaired in place.
    W : ndarray of shape (p, K)
    b : ndarray of shape (K,)
    on_nonfinite : callable
        Called (and expected to raise) when a row of ``X_b`` holds NaN or inf.
    """
    bad = np.flatnonzero(~np.isfinite(eta).all(axis=1))
    if not bad.size:
        return
    rows = _rows_dense(X_b, bad)
    if not np.isfinite(rows).all():
        on_nonfinite()
        raise ValueError("X contains NaN or infinity")  # on_nonfinite did not raise
    top = np.maximum(np.abs(rows).max(axis=1, initial=0.0), 1.0)
    s = np.ldexp(1.0, np.frexp(top)[1] - 1)[:, None]  # a power of two <= top
    small = (rows / s) @ W + b / s
    t = (small - small.max(axis=1, keepdims=True)) * s
    eta[bad] = np.maximum(np.nan_to_num(t, nan=_LOWEST), _LOWEST)


def _softmax_in_place(eta: FloatArray, log: bool) -> None:
    """Row-wise softmax (``log``: log-softmax) of a finite-max block, in place.

    Parameters
    ----------
    eta : ndarray of shape (m, K)
        Linear predictors whose row maxima are finite; overwritten by the result.
    log : bool
    """
    eta -= eta.max(axis=1, keepdims=True)
    if log:
        eta -= np.log(np.exp(eta).sum(axis=1, keepdims=True))
        np.maximum(eta, _LOWEST, out=eta)
    else:
        np.exp(eta, out=eta)
        eta /= eta.sum(axis=1, keepdims=True)


def predict_blocks(
    X: Any,
    coef: FloatArray,
    intercept: FloatArray,
    kind: Kind,
    on_nonfinite: Callable[[], None],
) -> NDArray[Any]:
    """Probabilities, log probabilities or most probable class indices, by row blocks.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
        float64 or float32 (float32 blocks are converted, products run in float64); CSC
        input is walked as CSR.
    coef : ndarray of shape (K, p)
    intercept : ndarray of shape (K,)
    kind : {"proba", "log_proba", "argmax"}
    on_nonfinite : callable
        Raises the caller's error for NaN or infinite features; called only when some
        row's linear predictor is not finite and that row holds NaN or inf.

    Returns
    -------
    ndarray of shape (n, K), float64, or of shape (n,), intp for ``"argmax"``
        Probabilities finite and rows summing to one for any finite input; log
        probabilities clipped below at float64's most negative number.
    """
    n, p = X.shape
    K = coef.shape[0]
    if is_sparse(X) and X.format != "csr":
        X = X.tocsr()
    W = np.ascontiguousarray(coef.T, dtype=np.float64)
    b = np.asarray(intercept, dtype=np.float64)
    argmax = kind == "argmax"
    out: NDArray[Any] = np.empty(n, np.intp) if argmax else np.empty((n, K))
    scratch = np.empty((0, K))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for sl in row_blocks(n, max(p, K)):
            X_b = X[sl]
            if argmax:
                if scratch.shape[0] != X_b.shape[0]:
                    scratch = np.empty((X_b.shape[0], K))
                eta = scratch
            else:
                eta = out[sl]
            _block_eta(X_b, W, b, eta)
            if not np.isfinite(eta.sum()):  # NaN, inf, or an overflowing sum: look closer
                _repair_rows(X_b, eta, W, b, on_nonfinite)
            if argmax:
                out[sl] = eta.argmax(axis=1)
            else:
                _softmax_in_place(eta, log=kind == "log_proba")
    return out


def _rescaled_rows(xp: Any, X_b: Any, eta: Any, W: Any, b: Any, work: Any) -> Any:
    """``eta`` with its non-finite rows (of finite features) replaced on the device by
    shifted, finite linear predictors, as :func:`_repair_rows` does on the host.

    Row ``i`` is divided by a power of two ``s_i`` near its largest absolute value, its
    linear predictor formed and shifted by its maximum, then multiplied back by ``s_i``
    (exact scaling: ``log p`` and ``p`` as for the unscaled row), floored at the most
    negative finite number.

    Parameters
    ----------
    X_b : device array of shape (m, p), finite
    eta : device array of shape (m, K), work dtype
    W : device array of shape (p, K); b : (K,)

    Returns
    -------
    device array of shape (m, K)
    """
    lowest = float(xp.finfo(work).min)
    Xw = X_b if X_b.dtype == work else xp.astype(X_b, work)
    top = xp.maximum(xp.max(xp.abs(Xw), axis=1, keepdims=True), 1.0)
    s = 2.0 ** xp.floor(xp.log2(top))  # a power of two <= top (as frexp's)
    small = (Xw / s) @ W + b / s
    t = (small - xp.max(small, axis=1, keepdims=True)) * s
    t = xp.maximum(xp.where(xp.isnan(t), lowest, t), lowest)
    ok = xp.all(xp.isfinite(eta), axis=1, keepdims=True)
    return xp.where(ok, eta, t)


def predict_on_device(
    placement: Placement,
    X: Any,
    coef: FloatArray,
    intercept: FloatArray,
    kind: Kind | Literal["eta"],
) -> Any:
    """Predictions of device ``X`` as arrays of its namespace, on its device.

    The coefficients go to the device (``(p, K)``); each row block's linear predictor is
    formed there (float64 products where the device has float64, a float32 block
    converted) and turned into probabilities, log probabilities or the most probable
    class index; nothing ``n``-sized comes to the host.

    Parameters
    ----------
    placement : Placement
        Of ``X``.
    X : device array of shape (n, p)
    coef : ndarray of shape (K, p)
    intercept : ndarray of shape (K,)
    kind : {"proba", "log_proba", "argmax", "eta"}

    Returns
    -------
    device array of shape (n, K) (work dtype), or (n,) int64 indices for ``"argmax"``

    Raises
    ------
    InvalidInputError
        ``X`` not 2-D with ``p`` columns, or a NaN or infinite value (first row named).
        Finite features whose linear predictor overflows are rescaled (probabilities
        finite, rows summing to one; ``"eta"`` returns ``inf`` there), as on numpy.
    """
    xp = placement.xp
    X = placement.data(X)
    if X.ndim != 2 or X.shape[1] != coef.shape[1]:
        raise InvalidInputError(
            f"X has shape {tuple(X.shape)}, the model expects {coef.shape[1]} features"
        )
    work = placement.work_dtype
    W = placement.put(np.ascontiguousarray(coef.T))
    b = placement.put(intercept)
    parts = []
    n = int(X.shape[0])
    step = xk.device_rows(max(int(X.shape[1]), coef.shape[0]))
    for start in range(0, n, step):
        X_b = X[start : min(start + step, n), :]
        eta = xk.linear_predictor(xp, X_b, W, b, work, work)
        if not bool(xp.all(xp.isfinite(eta))):
            bad = xk.first_nonfinite(xp, X_b)
            if bad is not None:
                raise InvalidInputError(f"X contains NaN or infinity (row {start + bad[0]})")
            if kind != "eta":  # the linear predictor itself is inf there, as on numpy
                eta = _rescaled_rows(xp, X_b, eta, W, b, work)
        if kind == "argmax":
            parts.append(xp.argmax(eta, axis=1))
            continue
        if kind != "eta":
            eta = eta - xp.max(eta, axis=1, keepdims=True)
            lse = xp.log(xp.sum(xp.exp(eta), axis=1, keepdims=True))
            eta = eta - lse if kind == "log_proba" else xp.exp(eta - lse)
        parts.append(eta)
    if not parts:
        shape = (0,) if kind == "argmax" else (0, coef.shape[0])
        return xp.zeros(
            shape, dtype=xp.int64 if kind == "argmax" else work, device=placement.device
        )
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def device_labels(placement: Placement, classes: NDArray[Any], index: Any) -> Any:
    """Class labels of device class indices: a device array for numeric labels.

    Parameters
    ----------
    placement : Placement
    classes : ndarray of shape (K,)
        Host labels.
    index : device array of shape (n,)
        Class indices from :func:`predict_on_device`.

    Returns
    -------
    device array of shape (n,), or an ndarray of shape (n,) for labels that are not numbers
        (strings cannot live on a device: those indices come to the host).
    """
    xp = placement.xp
    if classes.dtype.kind in "biuf":
        dtype = None if classes.dtype.kind != "f" else placement.work_dtype
        return xp.take(placement.put(classes, dtype=dtype), index)
    return classes[to_host(index)]


def device_codes(placement: Placement, classes: NDArray[Any], y: Any, n: int) -> Any:
    """Device class codes ``(n,)`` of labels ``y`` given on the device or the host (the
    inverse of :func:`device_labels`).

    Parameters
    ----------
    placement : Placement
    classes : ndarray of shape (K,)
        The model's (host) labels.
    y : array of shape (n,)
    n : int
        The number of rows ``y`` must have.

    Raises
    ------
    InvalidInputError
        Labels the model was not fitted on, or a wrong length.
    """
    xp = placement.xp
    if placement_of(y) is None:
        import pandas as pd  # (prediction itself needs no pandas)

        y = np.asarray(y)
        unknown = sorted(map(str, set(pd.unique(y).tolist()) - set(classes.tolist())))
        if unknown:
            raise InvalidInputError(
                f"y holds label(s) {unknown[:5]} that the model was not fitted on "
                f"(its classes: {[str(c) for c in classes]})"
            )
        codes = placement.put(label_codes(classes, y).astype(np.int64))
    else:
        if classes.dtype.kind not in "biuf":
            raise InvalidInputError("labels on a device are numbers; the model's are not")
        yd = placement.take(y)
        known = placement.put(classes)
        codes = xp.clip(xp.searchsorted(known, xp.astype(yd, known.dtype)), 0, classes.size - 1)
        bad = xp.take(known, codes) != xp.astype(yd, known.dtype)
        if bool(xp.any(bad)):
            found = to_host(xp.unique_values(yd[bad]))
            raise InvalidInputError(
                f"y holds label(s) {[str(u) for u in found[:5]]} that the model was not "
                f"fitted on (its classes: {[str(c) for c in classes]})"
            )
    if int(codes.shape[0]) != n:
        raise InvalidInputError(f"X has {n} rows but y has {int(codes.shape[0])}")
    return codes
