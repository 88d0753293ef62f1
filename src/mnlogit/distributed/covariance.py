"""Covariance of a Dask fit by partition sums: nonrobust, robust and cluster.

The same estimators as :mod:`mnlogit.inference.covariance`, with every sum over rows
reduced over partitions:

- ``"nonrobust"``: the inverse of ``S`` times the Hessian (one Hessian pass);
- ``"robust"``: the meat ``sum_i s_i u_i u_iᵀ`` -- per partition the ``(K-1)(K+0)/2``
  weighted Gram blocks of the scores, summed (one pass);
- ``"cluster"``: per partition the score sums ``U_g`` of each cluster label it holds; the
  reduction adds the sums of labels that span partitions, then
  ``G / (G - 1) sum_g U_g U_gᵀ`` (one pass).

The bread and the map back to the original scale are
:func:`mnlogit.inference.covariance.inverse_information` and
:func:`~mnlogit.inference.covariance.covariance_from_parts`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from mnlogit.distributed.firth import DaskFitted
from mnlogit.distributed.objective import probabilities_of
from mnlogit.distributed.partitions import Block, run_pass, shared
from mnlogit.inference.covariance import (
    COV_TYPES,
    MAX_COV_PARAMS,
    covariance_from_parts,
    inverse_information,
)
from mnlogit.objective import kernels

__all__ = ["dask_covariance"]

FloatArray = NDArray[np.float64]


def _scores(
    block: Block, coef: tuple[FloatArray, FloatArray | None], A: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-row scores in free coordinates ``(onehot - P) @ A`` ``(m, K-1)`` and weights."""
    P = probabilities_of(block, *coef)
    R = -P
    R[np.arange(block.n_rows), block.codes] += 1.0
    return R @ A, np.ones(block.n_rows) if block.weights is None else block.weights


def _meat_part(
    block: Block,
    coef: tuple[FloatArray, FloatArray | None],
    A: FloatArray,
    total: float,
    column_factor: FloatArray,
) -> FloatArray:
    """``sum_i s_i u_i u_iᵀ`` over one block (class-major blocks of ``p1 x p1``)."""
    R, w = _scores(block, coef, A)
    s = w * total  # the effective weights (normalized weights times S; 1 when equal)
    k1 = R.shape[1]
    intercept = coef[1] is not None
    p1 = block.X.shape[1] + int(intercept)
    M = np.empty((k1 * p1, k1 * p1))
    for a in range(k1):
        for b in range(a, k1):
            G = kernels.weighted_gram(
                block.X, s * R[:, a] * R[:, b], intercept=intercept, column_factor=column_factor
            )
            M[a * p1 : (a + 1) * p1, b * p1 : (b + 1) * p1] = G
            M[b * p1 : (b + 1) * p1, a * p1 : (a + 1) * p1] = G.T
    return M


def _add(*parts: FloatArray) -> FloatArray:
    return sum(parts[1:], parts[0].copy())


class ClusterSums(NamedTuple):
    """Cluster labels and their score sums ``(G, (K-1) p1)``."""

    labels: NDArray[Any]
    sums: FloatArray


def _cluster_part(
    block: Block,
    coef: tuple[FloatArray, FloatArray | None],
    A: FloatArray,
    total: float,
    column_factor: FloatArray,
) -> ClusterSums:
    R, w = _scores(block, coef, A)
    if block.groups is None:
        raise ValueError("cov_type='cluster' needs groups= passed to fit")
    labels, codes = np.unique(block.groups, return_inverse=True)
    codes = codes.ravel()
    G, m = labels.size, block.n_rows
    intercept = coef[1] is not None
    cols = []
    for a in range(R.shape[1]):
        C = sp.csr_matrix((w * total * R[:, a], (codes, np.arange(m))), shape=(G, m))
        Ua = np.asarray(C @ block.X, dtype=np.float64) * column_factor
        if intercept:
            Ua = np.hstack([np.asarray(C.sum(axis=1)).reshape(G, 1), Ua])
        cols.append(Ua)
    return ClusterSums(labels, np.hstack(cols))


def _merge_clusters(*parts: ClusterSums) -> ClusterSums:
    labels, inverse = np.unique(np.concatenate([p.labels for p in parts]), return_inverse=True)
    sums = np.zeros((labels.size, parts[0].sums.shape[1]))
    np.add.at(sums, inverse.ravel(), np.vstack([p.sums for p in parts]))
    return ClusterSums(labels, sums)


def dask_covariance(
    obj: DaskFitted, theta: FloatArray, cov_type: str, max_params: int | None = MAX_COV_PARAMS
) -> tuple[FloatArray | None, str]:
    """Covariance of ``vec(B)`` (kept columns) at ``theta`` and its status.

    Returns
    -------
    cov : ndarray of shape (K * p1, K * p1) or None
    status : str
    """
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type must be one of {COV_TYPES}, got {cov_type!r}")
    m = obj.n_params
    if max_params is not None and m > max_params:
        return None, (f"covariance skipped: {m} free parameters exceed MAX_COV_PARAMS={max_params}")
    bread = inverse_information(obj.information(theta) * obj.sum_weights)
    if bread is None:
        return None, (
            "covariance unavailable: the information matrix is singular or nearly so "
            "(collinear columns, or classes separated by the predictors)"
        )
    if cov_type == "nonrobust":
        return covariance_from_parts(bread, bread, cov_type, obj.param.A, obj.row_unscale())
    total = 1.0 if obj.data.equal_weights else obj.sum_weights
    args = (obj.coefficient_key(theta), shared(obj.param.A), total, shared(obj.column_factor))
    if cov_type == "robust":
        meat = run_pass(obj.counter, "robust meat", obj.blocks, _meat_part, _add, *args)
    else:
        found: ClusterSums = run_pass(
            obj.counter, "cluster meat", obj.blocks, _cluster_part, _merge_clusters, *args
        )
        G = found.labels.size
        if G < 2:
            raise ValueError("cluster-robust covariance needs at least two groups")
        meat = (G / (G - 1.0)) * (found.sums.T @ found.sums)
    return covariance_from_parts(
        bread, bread @ meat @ bread, cov_type, obj.param.A, obj.row_unscale()
    )
