"""The dense-X loss Hessian as one symmetric BLAS product (``syrk``) per row chunk.

In reference-0 coordinates the loss Hessian is
``H = blockdiag_a(Yᵀ diag(w P_a) Y) − ZᵀZ`` with ``Y = [1, X]`` (scaled) and
``Z = [P_a √w Y]_a``: ``ZᵀZ`` is accumulated by ``syrk`` chunk by chunk, the block
diagonal by one ``gemm``. X is read in chunks and never copied.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.blas import dsyrk as _syrk
from scipy.linalg.blas import ssyrk as _ssyrk

__all__ = ["HESSIAN_CHUNK_ELEMENTS", "HESSIAN_MIN_ROWS", "dense_loss_hessian"]

FloatArray = NDArray[np.float64]

# Rows per chunk of the (rows, (K-1)(p+1)) work matrix: about 2**18 elements (2 MiB), at
# least 256 rows so that each syrk stays efficient.
HESSIAN_CHUNK_ELEMENTS = 2**18
HESSIAN_MIN_ROWS = 256


def dense_loss_hessian(
    X: NDArray[Any],
    P1: FloatArray,
    ws: FloatArray,
    inv_scale: FloatArray | None,
    fit_intercept: bool,
    T: FloatArray | None,
    float32: bool = False,
) -> NDArray[Any]:
    """The loss Hessian of a dense X, in reference-0 or (with ``T``) free coordinates.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    P1 : ndarray of shape (n, K-1)
        The probabilities of classes ``1 .. K-1``.
    ws : ndarray of shape (n,)
        Normalized sample weights.
    inv_scale : ndarray of shape (p,), optional
        Column factors (the objective's feature scaling).
    fit_intercept : bool
    T : ndarray of shape (K-1, K-1), optional
        ``theta_ref0 = theta @ T``: the Hessian in the free coordinates
        ``(T ⊗ I) H (T ⊗ I)ᵀ``, formed directly -- each chunk's ``Z`` is transformed
        before its ``syrk`` and the block diagonal is spread over the blocks it maps to,
        so no second ``m x m`` array is ever made.
    float32 : bool, default=False
        A float32 ``syrk`` and a float32 result (twice as fast, half the memory: for
        preconditioners); float64 otherwise.

    Returns
    -------
    ndarray of shape ((K-1) * p1, (K-1) * p1)
    """
    n = X.shape[0]
    k1 = P1.shape[1]
    off = int(fit_intercept)
    p1 = X.shape[1] + off
    m = k1 * p1
    # Smaller chunks than elsewhere: Zbuf is the largest temporary of a fit.
    rows = max(HESSIAN_MIN_ROWS, HESSIAN_CHUNK_ELEMENTS // max(m, 1))
    step = max(1, min(n, rows))
    dtype = np.float32 if float32 else np.float64
    syrk = _ssyrk if float32 else _syrk
    Zbuf = np.empty((step, m), dtype=dtype)
    Zfree = None if T is None else np.empty((step, k1, p1), dtype=dtype)
    Ybuf = np.empty((step, p1), dtype=dtype)
    H = np.zeros((m, m), order="F", dtype=dtype)
    D = np.zeros((p1, m), dtype=dtype)
    sqrt_w = np.sqrt(ws)
    for start in range(0, n, step):
        stop = min(n, start + step)
        r = stop - start
        Y = Ybuf[:r]
        if off:
            Y[:, 0] = sqrt_w[start:stop]
        np.multiply(X[start:stop], sqrt_w[start:stop, None], out=Y[:, off:])
        if inv_scale is not None:
            Y[:, off:] *= inv_scale
        Z = Zbuf[:r]
        np.multiply(
            Y[:, None, :], P1[start:stop, :, None], out=Z.reshape(r, k1, p1), casting="unsafe"
        )
        if T is None or Zfree is None:
            H = syrk(-1.0, Z.T, beta=1.0, c=H, trans=0, overwrite_c=1)
        else:  # block b of the free Z is sum_a T[b, a] Z_a
            Zf = Zfree[:r]
            np.matmul(T.astype(dtype), Z.reshape(r, k1, p1), out=Zf)
            H = syrk(-1.0, Zf.reshape(r, m).T, beta=1.0, c=H, trans=0, overwrite_c=1)
        D += Y.T @ Z
    if T is None:
        for a in range(k1):
            H[a * p1 : (a + 1) * p1, a * p1 : (a + 1) * p1] += D[:, a * p1 : (a + 1) * p1]
    else:  # block (b, c) gains sum_a T[b, a] T[c, a] D_a (upper blocks only)
        D3 = D.reshape(p1, k1, p1)
        for b in range(k1):
            for c in range(b, k1):
                coef = (T[b] * T[c]).astype(dtype)
                H[b * p1 : (b + 1) * p1, c * p1 : (c + 1) * p1] += np.tensordot(
                    coef, D3, axes=([0], [1])
                )
    # Mirror the upper triangle into the lower one in column blocks (small temporaries,
    # no second m x m array).
    block = 256
    for j0 in range(0, m, block):
        j1 = min(m, j0 + block)
        H[j1:, j0:j1] = H[j0:j1, j1:].T
        tile = H[j0:j1, j0:j1]
        tile[...] = np.triu(tile) + np.triu(tile, 1).T
    return np.ascontiguousarray(H.T)  # symmetric: the transpose is the C-ordered view
