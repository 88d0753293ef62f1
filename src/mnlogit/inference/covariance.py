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
import scipy.linalg.lapack
import scipy.sparse as sp
from numpy.typing import NDArray

from mnlogit.objective import FirthObjective, MultinomialObjective
from mnlogit.objective.device import DeviceObjective
from mnlogit.objective.device_firth import DeviceFirthObjective
from mnlogit.objective.threads import one_blas_thread

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
    # for Firth the Fisher information at the penalized estimate (as R's logistf); it is
    # a fresh array, scaled and inverted in place (one m x m array for the whole step)
    info = np.asarray(obj.information(theta), dtype=np.float64)
    info *= obj.sum_weights
    return inverse_information(info, overwrite=True)


def _mirror_upper(F: FloatArray) -> None:
    """Copy the upper triangle of the square ``F`` into its lower one, in place, in
    column blocks (no second ``m x m`` array)."""
    m = F.shape[0]
    block = 256
    for j0 in range(0, m, block):
        j1 = min(m, j0 + block)
        F[j1:, j0:j1] = F[j0:j1, j1:].T
        tile = F[j0:j1, j0:j1]
        tile[...] = np.triu(tile) + np.triu(tile, 1).T


def inverse_information(info: FloatArray, overwrite: bool = False) -> FloatArray | None:
    """The inverse of an information matrix (sum scale), or None when it is singular.

    Cholesky factor and inverse by LAPACK (``potrf``, ``potri``) in one ``m x m`` array.

    Parameters
    ----------
    info : ndarray of shape (m, m)
        Symmetric positive (semi-)definite.
    overwrite : bool, default=False
        Invert in ``info``'s own memory (a C- or Fortran-contiguous float64 array; its
        content is then lost) instead of a copy.

    Returns
    -------
    ndarray of shape (m, m) or None
        None when Cholesky fails or some variance inflation exceeds 1e12.
    """
    info = np.asarray(info, dtype=np.float64)
    m = info.shape[0]
    if info.ndim != 2 or info.shape != (m, m) or not np.isfinite(info).all():
        return None
    diag = np.diag(info).copy()
    # symmetric: the transpose of a C-ordered array is the Fortran-ordered one LAPACK
    # works on in place
    work = info.T if info.flags.c_contiguous else info
    if not (overwrite and work.flags.f_contiguous):
        work = np.array(work, order="F")
    potrf = scipy.linalg.lapack.dpotrf
    potri = scipy.linalg.lapack.dpotri
    factor, failed = potrf(work, lower=0, overwrite_a=1, clean=1)
    if failed != 0:
        return None
    inv, failed = potri(factor, lower=0, overwrite_c=1)
    if failed != 0:
        return None
    _mirror_upper(inv)
    # Cholesky succeeds on matrices that are singular to working precision. The
    # product diag(inv) * diag(info) is each parameter's variance inflation (>= 1);
    # beyond 1e12 the data carry no information that rounding does not swamp.
    if not np.isfinite(inv).all() or np.max(np.diag(inv) * diag) > _MAX_INFLATION:
        return None
    return np.asarray(inv.T)  # symmetric: the C-ordered view


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


@one_blas_thread
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

    ``L = A ⊗ diag(d)``. The covariance is computed on the internal (scaled) coordinates,
    where it is well conditioned; the map back multiplies entry ``(i, j)`` by ``d_i d_j``
    (``d`` the inverse column scales). A variance whose value lies outside float64's
    normal range (a column whose largest absolute value is beyond about 1e±150, so that
    the standard error is beyond about 1e∓150 times the column's own scale) cannot be
    stored: its row and column are NaN (no standard error, no test) and the status says
    so, rather than a variance that underflowed to 0 (``z = inf``, ``p = 0``) or
    overflowed to inf (``p = 1``).

    Formed as ``(A ⊗ I) C (A ⊗ I)ᵀ`` one block row at a time by products with the small
    ``A`` (``p1 x m`` temporaries, no Kronecker matrices), then scaled in place.
    """
    K, k1 = A.shape
    p1 = row_unscale.size
    C3 = cov_free.reshape(k1, p1, k1 * p1)
    cov = np.empty((K * p1, K * p1))
    for k in range(K):  # row block k: (A_k ⊗ I) C (p1, m), times (A ⊗ I)ᵀ
        left = np.tensordot(A[k], C3, axes=(0, 0)).reshape(p1, k1, p1)
        cov[k * p1 : (k + 1) * p1] = np.matmul(A, left).reshape(p1, K * p1)
    # diag((A ⊗ I) C (A ⊗ I)ᵀ) before the scaling, from the blocks' diagonals
    blocks_diag = np.einsum("aibi->abi", cov_free.reshape(k1, p1, k1, p1))
    internal = np.einsum("ka,kb,abi->ki", A, A, blocks_diag).reshape(-1)
    d = np.tile(row_unscale, K)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        cov *= d[:, None]
        cov *= d[None, :]
    var = np.diag(cov)
    lost = (internal > 0) & ~((var >= np.finfo(np.float64).tiny) & np.isfinite(var))
    with np.errstate(over="ignore", invalid="ignore"):
        _symmetrize(cov)
    if lost.any():
        cov[lost, :] = np.nan
        cov[:, lost] = np.nan
        status = (
            f"{status}; the variances of {int(lost.sum())} coefficient(s) lie outside "
            "float64's range (a column whose largest absolute value is beyond about "
            "1e±150): their standard errors, tests and intervals are NaN"
        )
    return cov, status


def _symmetrize(C: FloatArray) -> None:
    """``C = (C + Cᵀ) / 2`` in place, in column blocks (no second square array)."""
    m = C.shape[0]
    block = 256
    for j0 in range(0, m, block):
        j1 = min(m, j0 + block)
        tile = C[j0:j1, j0:j1]
        tile[...] = 0.5 * tile + 0.5 * tile.T
        upper = 0.5 * C[j0:j1, j1:] + 0.5 * C[j1:, j0:j1].T
        C[j0:j1, j1:] = upper
        C[j1:, j0:j1] = upper.T


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
