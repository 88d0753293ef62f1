"""Float32 Hessian-vector products on sparse X, for Newton-CG's search directions.

:meth:`mnlogit.objective.MultinomialObjective.curvature_product` uses them: the two
sparse products of a Hessian-vector product, and the ``n x K`` work between them, run
in float32 on a float32 copy of X's (scaled) values that shares X's index arrays
(``nnz x 4`` bytes, made once), with float32 probabilities. That halves their cost; the
result agrees with the float64 product to about 1e-6 relative, far below the relative
residual (1e-4 or more) to which conjugate gradients solve a direction. Gradients and
objective values stay float64, so the fit's optimum is the float64 one.

Only for CSR or CSC ``X`` with at least :data:`MIN_WORK` stored values times classes:
below that the gain is milliseconds, and float64 products keep fits that should agree
to rounding (sample weights against repeated rows, say) on the same path.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from mnlogit.precision import float32_sparse

__all__ = ["MIN_WORK", "Float32Operands", "operands", "product", "worthwhile"]

FloatArray = NDArray[np.float64]

# Stored values times classes from which the float32 products are used (about 4 ms of
# float64 products).
MIN_WORK = 2**22


class Float32Operands(NamedTuple):
    """What :func:`product` multiplies in float32."""

    x: Any  # X's (scaled) values as float32, sharing X's index arrays; None: unsafe
    a: NDArray[np.float32]  # the parameterization's A, (K, K-1)
    weights: NDArray[np.float32]  # normalized sample weights, (n,)
    ones: NDArray[np.float32]  # (n,), for column sums by BLAS


def worthwhile(obj: Any) -> bool:
    """Whether ``obj`` (a MultinomialObjective) should use float32 products."""
    X = obj.X
    return bool(obj.sparse and X.format in ("csr", "csc") and X.nnz * obj.n_classes >= MIN_WORK)


def operands(obj: Any) -> Float32Operands:
    """The float32 operands of ``obj``; ``x`` is None when X's scaled values do not fit.

    Float32 X without column scaling is used as it is; otherwise the copy comes from
    :func:`mnlogit.precision.float32_sparse` (None outside ``[1e-30, 1e30]``). The copy
    shares X's index arrays: X must not change while ``obj`` is in use.
    """
    inv_scale = obj._inv_scale
    x32 = obj.X if obj.low_precision and inv_scale is None else float32_sparse(obj.X, inv_scale)
    return Float32Operands(
        x32,
        obj.param.A.astype(np.float32),
        obj._ws.astype(np.float32),
        np.ones(obj.n_samples, dtype=np.float32),
    )


def product(
    obj: Any, ops: Float32Operands, P: NDArray[np.float32], v: FloatArray
) -> FloatArray | None:
    """The Hessian-vector product ``H v`` of ``obj``, or None when float32 cannot give it.

    Parameters
    ----------
    obj : MultinomialObjective
    ops : Float32Operands
        With ``ops.x`` not None.
    P : ndarray of shape (n, K), float32
        The probabilities at the point of the product.
    v : ndarray of shape ((K-1) * p1,)

    Returns
    -------
    ndarray of shape ((K-1) * p1,) or None
        None for ``v`` zero or not finite, or a non-finite result. ``v`` is divided by
        its largest entry first (the product is linear), so its scale cannot overflow.
    """
    vmax = max(float(v.max()), -float(v.min())) if v.size else 0.0
    if not 0.0 < vmax < np.inf:
        return None
    # v / vmax straight into float32 (one pass, no float64 temporary)
    V = np.empty((obj.n_classes - 1, obj.p1), dtype=np.float32)
    np.multiply(v.reshape(V.shape), 1.0 / vmax, out=V, casting="unsafe")
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        B = V.T @ ops.a.T  # (p1, K), C-ordered
        D = np.asarray(ops.x @ B[int(obj.fit_intercept) :])
        if obj.fit_intercept:
            D += B[0]
        # R = P * (D - rowsum(P * D)), in place in D
        D -= np.einsum("ij,ij->i", P, D)[:, None]
        D *= P
        if not obj._unweighted:
            D *= ops.weights[:, None]
        XtR = np.asarray(ops.x.T @ D)
        if obj.fit_intercept:
            XtR = np.vstack([ops.ones @ D, XtR])
        # free gradient A.T @ XtR.T, still in float32 (a third of the float64 cost)
        free = ops.a.T @ XtR.T
    out = free.astype(np.float64).reshape(-1)
    out *= vmax * (obj._ws[0] if obj._unweighted else 1.0)
    out += obj._penalty_diagonal() * v
    if not np.isfinite(float(out.sum())):  # an inf or nan anywhere (or overflow)
        return None
    return out
