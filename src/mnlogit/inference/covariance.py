"""Covariance of the estimates: inverse information, sandwich, cluster sandwich.

All three are computed for the free parameters of the fitted parameterization from
the same objective code the solvers use, then mapped to the covariance of the full
coefficient matrix ``vec(B)`` (class-major, ``K * p1`` entries; the reference class's
block is exactly zero), which is what the model stores and every inference method
reads.

- ``"nonrobust"``: ``I^{-1}``, with ``I = S * hessian`` the (penalized) observed
  information on the sum scale (equal to the expected information for this model).
- ``"robust"``: ``I^{-1} M I^{-1}`` with ``M = sum_i s_i u_i u_i^T`` (``u_i`` the
  score of row ``i``; frequency-weight semantics, so a row of weight 2 counts as two
  rows). No small-sample factor (statsmodels' ``HC0``).
- ``"cluster"``: ``M = G/(G-1) * sum_g U_g U_g^T`` with ``U_g = sum_{i in g} s_i u_i``
  (Stata's ``vce(cluster)`` factor for maximum-likelihood estimators).

The covariance is skipped when the free-parameter count exceeds
:data:`MAX_COV_PARAMS`, or when the information matrix is singular (collinear
columns, separated classes); the status message says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numpy.typing import NDArray

from mnlogit.objective import FirthObjective, MultinomialObjective
from mnlogit.objective.device import DeviceObjective
from mnlogit.objective.device_firth import DeviceFirthObjective

__all__ = [
    "COV_TYPES",
    "MAX_COV_PARAMS",
    "NOISE_VARIANCE_RATIO",
    "compute_covariance",
    "covariance_from_parts",
    "inverse_information",
]

FloatArray = NDArray[np.float64]
#: What the covariance is computed from: the fitted objective (Firth's included; device
#: data's :class:`~mnlogit.objective.device.DeviceObjective`).
FittedObjective = MultinomialObjective | FirthObjective | DeviceObjective
COV_TYPES = ("nonrobust", "robust", "cluster")

#: Largest number of free parameters ``(K-1)(p+1)`` for which ``fit`` computes the
#: covariance: the information matrix is then at most 3000 x 3000 (72 MB) and its
#: inverse takes a few seconds on two cores.
MAX_COV_PARAMS = 3000

_MAX_INFLATION = 1e12
#: A sandwich variance below this multiple of the model-based variance is rounding noise.
NOISE_VARIANCE_RATIO = 1e-10


def _inverse_information(obj: FittedObjective, theta: FloatArray) -> FloatArray | None:
    # each objective says which curvature inference inverts: the (penalized) Hessian, or
    # for Firth the Fisher information at the penalized estimate (as R's logistf)
    return inverse_information(obj.information(theta) * obj.sum_weights)


def inverse_information(info: FloatArray) -> FloatArray | None:
    """The inverse of an information matrix (sum scale), or None when it is singular.

    Parameters
    ----------
    info : ndarray of shape (m, m)
        Symmetric positive (semi-)definite.

    Returns
    -------
    ndarray of shape (m, m) or None
        None when Cholesky fails or some variance inflation exceeds 1e12.
    """
    try:
        factor = scipy.linalg.cho_factor(info, lower=False, check_finite=True)
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError, ValueError):
        return None
    inv = scipy.linalg.cho_solve(factor, np.eye(info.shape[0]))
    # Cholesky succeeds on matrices that are singular to working precision. The
    # product diag(inv) * diag(info) is each parameter's variance inflation (>= 1);
    # beyond 1e12 the data carry no information that rounding does not swamp.
    if not np.all(np.isfinite(inv)) or np.max(np.diag(inv) * np.diag(info)) > _MAX_INFLATION:
        return None
    return np.asarray(0.5 * (inv + inv.T))


def _score_blocks(obj: FittedObjective, theta: FloatArray) -> FloatArray:
    """Per-row scores in free coordinates, per class: ``R = (onehot(y) - P) @ A``, (n, K-1)."""
    return obj.residuals(theta) @ obj.param.A


def _device(obj: FittedObjective) -> DeviceObjective | None:
    """The device objective under ``obj`` (Firth's wraps one), or None on the host."""
    if isinstance(obj, DeviceFirthObjective):
        return obj.device_base
    return obj if isinstance(obj, DeviceObjective) else None


def _meat_robust(obj: FittedObjective, theta: FloatArray) -> FloatArray:
    device = _device(obj)
    if device is not None:  # one rank update on the device
        return device.robust_meat(theta)
    R = _score_blocks(obj, theta)
    k1, p1 = R.shape[1], obj.p1
    s = obj.sample_weight
    M = np.empty((k1 * p1, k1 * p1))
    for a in range(k1):
        for b in range(a, k1):
            block = obj.weighted_gram(s * R[:, a] * R[:, b])
            M[a * p1 : (a + 1) * p1, b * p1 : (b + 1) * p1] = block
            M[b * p1 : (b + 1) * p1, a * p1 : (a + 1) * p1] = block.T
    return M


def _dense(a: Any) -> FloatArray:
    """A dense ndarray from a dense or sparse product."""
    if sp.issparse(a):
        a = a.toarray()  # type: ignore[attr-defined]
    return np.asarray(a, dtype=np.float64)


def _meat_cluster(obj: FittedObjective, theta: FloatArray, groups: Any) -> FloatArray:
    device = _device(obj)
    if device is not None:  # cluster sums on the device; groups are device codes there
        return device.cluster_meat(theta, groups)
    codes = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
    G = int(codes.max()) + 1
    if G < 2:
        raise ValueError("cluster-robust covariance needs at least two groups")
    R = _score_blocks(obj, theta)
    n = obj.n_samples
    cols = []
    for a in range(R.shape[1]):
        weights = obj.sample_weight * R[:, a]
        C = sp.csr_matrix((weights, (codes, np.arange(n))), shape=(G, n))
        prod: Any = C @ obj.X
        Ua = _dense(prod)
        if obj.fit_intercept:
            Ua = np.hstack([np.asarray(C.sum(axis=1)).reshape(G, 1), np.asarray(Ua)])
        cols.append(Ua * obj.row_unscale())  # scores of the scaled-feature parameters
    U = np.hstack(cols)
    return (G / (G - 1.0)) * (U.T @ U)


def compute_covariance(
    obj: FittedObjective,
    theta: FloatArray,
    cov_type: str,
    groups: Any = None,
    max_params: int | None = MAX_COV_PARAMS,
) -> tuple[FloatArray | None, str]:
    """Covariance of ``vec(B)`` and a status message.

    Parameters
    ----------
    obj : MultinomialObjective or FirthObjective
        The objective the model was fitted with.
    theta : ndarray of shape ((K-1) * p1,)
        The estimate.
    cov_type : {"nonrobust", "robust", "cluster"}
    groups : array-like of shape (n,), optional
        Cluster labels, required for ``"cluster"``.
    max_params : int or None
        Skip when there are more free parameters than this (``None``: never skip).

    Returns
    -------
    cov : ndarray of shape (K * p1, K * p1) or None
        ``None`` when skipped; the message says why.
    status : str
    """
    m = obj.n_params
    if max_params is not None and m > max_params:
        return None, (
            f"covariance skipped: {m} free parameters exceed MAX_COV_PARAMS={max_params}; "
            "call compute_covariance(X, y) on the fitted model to force it"
        )
    bread = _inverse_information(obj, theta)
    if bread is None:
        return None, (
            "covariance unavailable: the information matrix is singular or nearly so "
            "(collinear columns, or classes separated by the predictors)"
        )
    if cov_type == "nonrobust":
        cov_free = bread
    elif cov_type == "robust":
        cov_free = bread @ _meat_robust(obj, theta) @ bread
    elif cov_type == "cluster":
        if groups is None:
            raise ValueError("cov_type='cluster' needs groups= passed to fit")
        if np.shape(groups) != (obj.n_samples,):
            raise ValueError(
                f"groups must have one label per row ({obj.n_samples}), got shape "
                f"{np.shape(groups)}"
            )
        cov_free = bread @ _meat_cluster(obj, theta, groups) @ bread
    else:
        raise ValueError(f"cov_type must be one of {COV_TYPES} or None, got {cov_type!r}")
    return covariance_from_parts(bread, cov_free, cov_type, obj.param.A, obj.row_unscale())


def covariance_from_parts(
    bread: FloatArray, cov_free: FloatArray, cov_type: str, A: FloatArray, row_unscale: FloatArray
) -> tuple[FloatArray, str]:
    """Covariance of ``vec(B)`` from the free parameters' covariance, and its status.

    For an objective held elsewhere (a Dask engine sums the information and the meat over
    partitions): the same rounding-noise rule and map back to the original scale as
    :func:`compute_covariance`.

    Parameters
    ----------
    bread : ndarray of shape (m, m)
        The inverse information (sum scale) of the free parameters.
    cov_free : ndarray of shape (m, m)
        ``bread`` itself (``"nonrobust"``) or ``bread @ meat @ bread``.
    cov_type : {"nonrobust", "robust", "cluster"}
    A : ndarray of shape (K, K-1)
        The parameterization's map from free to full coefficients.
    row_unscale : ndarray of shape (p1,)
        ``B_original = row_unscale[:, None] * B_scaled``.

    Returns
    -------
    cov : ndarray of shape (K * p1, K * p1)
    status : str
    """
    status = f"{cov_type} covariance of {bread.shape[0]} free parameters"
    if cov_type != "nonrobust":
        cov_free, status = _drop_rounding_noise(cov_free, bread, status)
    return _to_original_scale(A, row_unscale, cov_free, status)


def _to_original_scale(
    A: FloatArray, row_unscale: FloatArray, cov_free: FloatArray, status: str
) -> tuple[FloatArray, str]:
    """``L cov_free L^T`` on the features' original scale, unrepresentable entries NaN.

    The covariance is computed on the internal (scaled) coordinates, where it is well
    conditioned; the map back multiplies entry ``(i, j)`` by ``d_i d_j`` (``d`` the
    inverse column scales). A variance whose value lies outside float64's normal range
    (a column whose largest absolute value is beyond about 1e±150, so that the standard
    error is beyond about 1e∓150 times the column's own scale) cannot be stored: its row
    and column are NaN (no standard error, no test) and the status says so, rather than
    a variance that underflowed to 0 (``z = inf``, ``p = 0``) or overflowed to inf
    (``p = 1``).
    """
    L = np.kron(A, np.diag(row_unscale))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        cov = L @ cov_free @ L.T
    unit = np.kron(A, np.eye(row_unscale.size))
    # diag(U C Uᵀ) by one gemm: the three-operand einsum ran an unblocked loop (3.4 s of
    # a 4 s covariance step at 847 free parameters)
    internal = np.einsum("ia,ia->i", unit @ cov_free, unit)
    var = np.diag(cov)
    lost = (internal > 0) & ~((var >= np.finfo(np.float64).tiny) & np.isfinite(var))
    with np.errstate(over="ignore", invalid="ignore"):
        cov = 0.5 * cov + 0.5 * cov.T
    if lost.any():
        cov[lost, :] = np.nan
        cov[:, lost] = np.nan
        status = (
            f"{status}; the variances of {int(lost.sum())} coefficient(s) lie outside "
            "float64's range (a column whose largest absolute value is beyond about "
            "1e±150): their standard errors, tests and intervals are NaN"
        )
    return cov, status


def _drop_rounding_noise(
    cov_free: FloatArray, bread: FloatArray, status: str
) -> tuple[FloatArray, str]:
    """Zero the sandwich variances that are rounding noise, and say so in the status.

    A free parameter whose sandwich variance is below :data:`NOISE_VARIANCE_RATIO` times
    its model-based variance does not vary with the data: e.g. the coefficient of a
    constant column under a ridge penalty, which the unpenalized intercept leaves at 0
    whatever the sample. Its variance is set to exactly 0 (coefficient tables then
    show no z and no p-value) rather than a p-value computed from rounding noise.
    """
    model_based = np.diag(bread)
    noise = np.diag(cov_free) <= NOISE_VARIANCE_RATIO * model_based
    if not noise.any():
        return cov_free, status
    cov_free = cov_free.copy()
    cov_free[noise, :] = 0.0
    cov_free[:, noise] = 0.0
    return cov_free, (
        f"{status}; {int(noise.sum())} free parameter(s) have a sandwich variance that is "
        "zero to rounding (they do not vary with the data, e.g. a constant column under a "
        "ridge penalty): their standard error is 0 and no z or p-value is reported"
    )
