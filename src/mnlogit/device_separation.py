"""Separation of device data: the numpy path's answer without copying ``X`` to the host.

The numpy path (:func:`mnlogit.identification.find_separation`) decides whether the
classes are (quasi-)completely separated in three steps; a device fit takes the same
steps with the row passes on the device:

1. **certificate** (a converged fit): Stiemke weights built from the fitted
   probabilities prove that no class is separated
   (:mod:`mnlogit.identification.existence`). Here ``r`` (one backprojection), the
   curvature ``G`` (``(K-1)K/2`` weighted Gram passes, on the numpy path's row sample
   when all rows would cost too much) and the cells' margins ``a_ik · z`` (one product)
   run on the device; ``(m, m)`` and ``(p1, K)`` sums and one scalar come back.
2. **the LP on a subset of rows**: the rows with the smallest fitted probabilities
   (:data:`~mnlogit.identification.separation_check.REDUCED_ROWS` of them) and the first
   rows of every class are **moved to the host** (a stated, small transfer: about 2000 +
   100 K rows of ``X``, their labels and weights) and the linear program runs there. A
   subset that is not separated proves the data are not; a direction of recession of the
   subset is checked against every row on the device, and the rows it violates (up to
   ``4 * REDUCED_ROWS`` a round, at most ``REDUCED_ROUNDS`` rounds) join the subset.
3. Undecided (the rounds run out, or the LP is over its size caps): the numpy path runs
   the LP on all rows; a device fit does not copy ``X``, and warns -- when a fitted
   probability is below ``SUSPICIOUS_PROBABILITY`` -- that the classes may be separated
   and how to decide.

A class without rows of positive weight is separated (decided from the class totals).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from mnlogit.arrays import Placement, to_host
from mnlogit.device_preparation import DeviceData
from mnlogit.exceptions import SeparationWarning, warn
from mnlogit.identification import SeparationResult, detect_separation
from mnlogit.identification.existence import CERTIFICATE_MARGIN
from mnlogit.identification.separation_check import (
    REDUCED_ROUNDS,
    REDUCED_ROWS,
    SUSPICIOUS_PROBABILITY,
    certificate_samples,
)
from mnlogit.objective import xp_kernels as xk
from mnlogit.objective.device import DeviceObjective
from mnlogit.solvers import SolverResult

__all__ = ["device_separation"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


class _Rows:
    """The device data the checks read: ``X``, codes, weights, probabilities."""

    def __init__(self, data: DeviceData, P: Any) -> None:
        assert data.placement is not None
        self.placement: Placement = data.placement
        self.xp = data.placement.xp
        self.work = data.placement.work_dtype
        self.X = data.X
        self.codes = data.codes
        self.w = data.sample_weight
        self.P = P
        self.K = data.n_classes
        self.fit_intercept = data.fit_intercept
        self.off = int(data.fit_intercept)
        self.cf = 1.0 / data.column_scale  # host (p,)

    def onehot(self, codes: Any) -> Any:
        xp = self.xp
        return xp.reshape(codes, (-1, 1)) == xp.reshape(
            xp.arange(self.K, device=codes.device), (1, -1)
        )

    def blocks(self, n: int, width: int) -> list[slice]:
        step = xk.device_rows(width)
        return [slice(a, min(a + step, n)) for a in range(0, n, step)]

    def take(self, a: Any, rows: IntArray) -> Any:
        return self.xp.take(a, self.placement.put(rows.astype(np.int64)), axis=0)


def _curvature(d: _Rows, X: Any, codes: Any, w: Any, lam: Any) -> FloatArray:
    """``G = Σ λ_ik a_ik a_ikᵀ`` ``((K-1) p1, (K-1) p1)``, as existence._curvature."""
    xp, K = d.xp, d.K
    p1 = int(X.shape[1]) + d.off
    cf = d.placement.put(d.cf)
    G = np.zeros(((K - 1) * p1, (K - 1) * p1))

    def gram(h: Any) -> FloatArray:
        out = xk.weighted_gram(xp, X, h, intercept=d.fit_intercept, column_factor=cf, work=d.work)
        return to_host(out).astype(np.float64)

    for a in range(1, K):
        mine = codes == a
        G[(a - 1) * p1 : a * p1, (a - 1) * p1 : a * p1] = gram(
            xp.where(mine, w - lam[:, a], lam[:, a])
        )
        for b in range(a + 1, K):
            h = -xp.where(mine, lam[:, b], xp.where(codes == b, lam[:, a], 0.0))
            block = gram(h)
            G[(a - 1) * p1 : a * p1, (b - 1) * p1 : b * p1] = block
            G[(b - 1) * p1 : b * p1, (a - 1) * p1 : a * p1] = block.T
    return G


def _largest_margin(d: _Rows, X: Any, codes: Any, w: Any, Z: FloatArray) -> float:
    """``max a_ik · z`` over the cells (rows of positive weight, ``k != y_i``)."""
    xp = d.xp
    W = d.placement.put(Z[d.off :] * d.cf[:, None])
    b = d.placement.put(Z[0]) if d.fit_intercept else None
    n = int(X.shape[0])
    best = -np.inf
    for sl in d.blocks(n, max(int(X.shape[1]), d.K)):
        eta = xk.linear_predictor(xp, X[sl, :], W, b, d.work, d.work)
        mask = d.onehot(codes[sl])
        own = xp.sum(xp.where(mask, eta, 0.0), axis=1, keepdims=True)
        off_cells = xp.logical_or(mask, xp.reshape(w[sl] <= 0, (-1, 1)))
        margins = xp.where(off_cells, -np.inf, own - eta)
        best = max(best, float(xp.max(margins)))
    return best


def _certified(d: _Rows, data: DeviceData) -> bool:
    """Whether the fitted probabilities prove that no class is separated (step 1).

    The residual ``r`` is summed over all rows once; the curvature is formed on the numpy
    path's row selections (:func:`~mnlogit.identification.separation_check.certificate_samples`:
    a row sample first on tall data, then all rows), tried in order until one certifies.
    """
    xp = d.xp
    samples = certificate_samples(d.X, d.K, d.fit_intercept)
    if not samples:
        return False
    total = float(xp.sum(d.w))
    w = d.w / total
    lam = d.P * xp.reshape(w, (-1, 1))
    U = xp.astype(d.onehot(d.codes), d.work) * xp.reshape(w, (-1, 1)) - lam
    R = to_host(xk.backproject_rows(xp, d.X, U, d.work, d.work, d.fit_intercept))
    R = R.astype(np.float64)
    R[d.off :] *= d.cf[:, None]
    r = np.ascontiguousarray(R[:, 1:].T).reshape(-1)
    return any(_certified_on(d, rows, r, w, lam) for rows in samples)


def _certified_on(d: _Rows, rows: IntArray | None, r: FloatArray, w: Any, lam: Any) -> bool:
    """The certificate with the curvature formed on ``rows`` (None: all rows)."""
    xp = d.xp
    X, codes, weights, scale = d.X, d.codes, d.w, 1.0
    if rows is not None:  # the numpy path's row sample
        sampled = float(xp.sum(d.take(w, rows)))
        if not sampled > 0:
            return False
        scale = 1.0 / sampled
        X, codes, w, lam, weights = (d.take(a, rows) for a in (d.X, d.codes, w, lam, d.w))
    G = _curvature(d, X, codes, w, lam) * scale
    try:
        factor = scipy.linalg.cho_factor(G, lower=False, check_finite=True)
    except (np.linalg.LinAlgError, ValueError):
        return False
    z = scipy.linalg.cho_solve(factor, r)
    if not np.all(np.isfinite(z)):
        return False
    p1 = int(X.shape[1]) + d.off
    Z = np.zeros((p1, d.K))
    Z[:, 1:] = z.reshape(d.K - 1, p1).T
    return bool(scale * _largest_margin(d, X, codes, weights, Z) <= CERTIFICATE_MARGIN)


def _initial_rows(d: _Rows) -> IntArray:
    """The lowest fitted probabilities and the first rows of every class (host indices)."""
    xp = d.xp
    positive = d.w > 0
    scores = xp.where(positive, xp.min(d.P, axis=1), np.inf)
    n = int(scores.shape[0])
    k = min(REDUCED_ROWS, n)
    lowest = xp.argsort(scores)[:k]
    picks = [to_host(lowest[xp.take(positive, lowest)]).astype(np.intp)]
    for c in range(d.K):
        first = xp.nonzero(xp.logical_and(positive, d.codes == c))[0]
        cap = min(max(REDUCED_ROWS // 20, 2), int(first.shape[0]))
        picks.append(to_host(first[:cap]).astype(np.intp))
    return np.unique(np.concatenate(picks)).astype(np.intp)


def _cell_margins(d: _Rows, direction: FloatArray) -> tuple[IntArray, bool]:
    """Rows (positive weight) whose cells ``direction`` violates, and whether it is
    strict on every cell; as separation_check._cell_margins, on the device."""
    xp = d.xp
    D = d.placement.put(direction[d.off :])
    absD = d.placement.put(np.abs(direction[d.off :]))
    d0 = d.placement.put(direction[0]) if d.fit_intercept else None
    a0 = d.placement.put(np.abs(direction[0])) if d.fit_intercept else None
    n = int(d.X.shape[0])
    violated: list[IntArray] = []
    strict = True
    for sl in d.blocks(n, max(int(d.X.shape[1]), d.K)):
        X_b = d.X[sl, :]
        eta = xk.linear_predictor(xp, X_b, D, d0, d.work, d.work)
        mag = xk.linear_predictor(xp, xp.abs(X_b), absD, a0, d.work, d.work)
        mask = d.onehot(d.codes[sl])
        own = xp.sum(xp.where(mask, eta, 0.0), axis=1, keepdims=True)
        own_mag = xp.sum(xp.where(mask, mag, 0.0), axis=1, keepdims=True)
        margin = own - eta
        tol = 1e-7 * (own_mag + mag)
        positive = d.w[sl] > 0
        bad = xp.logical_and(xp.any(margin < -tol, axis=1), positive)
        if bool(xp.any(bad)):
            violated.append(to_host(xp.nonzero(bad)[0]).astype(np.intp) + sl.start)
        tight = xp.logical_not(xp.all(xp.where(mask, np.inf, margin) > tol, axis=1))
        strict = strict and not bool(xp.any(xp.logical_and(tight, positive)))
    found = np.concatenate(violated) if violated else np.zeros(0, np.intp)
    return found, strict


def _reduced_lp(
    d: _Rows, names: list[str], labels: list[str], reference: int
) -> SeparationResult | bool | None:
    """The LP on a growing subset of rows moved to the host (step 2)."""
    rows = _initial_rows(d)
    n = int(d.X.shape[0])
    for _ in range(REDUCED_ROUNDS):
        sub = detect_separation(
            to_host(d.take(d.X, rows)).astype(np.float64),
            to_host(d.take(d.codes, rows)).astype(np.intp),
            d.K,
            to_host(d.take(d.w, rows)).astype(np.float64),
            d.fit_intercept,
            names,
            labels,
            reference=reference,
        )
        if not sub.checked:
            return None
        if not sub.separated:
            return False
        violated, strict = _cell_margins(d, sub.direction)
        if violated.size == 0:
            kind: Literal["complete", "quasi-complete"] = "complete" if strict else "quasi-complete"
            zero = np.zeros((n, d.K), dtype=bool)
            zero[rows] = sub.zero_probability
            return replace(sub, kind=kind, zero_probability=zero)
        rows = np.union1d(rows, violated[: 4 * REDUCED_ROWS]).astype(np.intp)
    return None


def device_separation(
    data: DeviceData, objective: DeviceObjective, result: SolverResult
) -> SeparationResult | None:
    """The separation check of an unpenalized device fit (warns when separated).

    Parameters
    ----------
    data : DeviceData
    objective : DeviceObjective
    result : SolverResult

    Returns
    -------
    SeparationResult or None
        The result when the classes are separated (as the numpy path's, with the
        subset LP's direction); None when they are not, or when it stays undecided
        (then a warning when a fitted probability is below ``SUSPICIOUS_PROBABILITY``).
    """
    empty = [
        str(c) for c, t in zip(data.classes.tolist(), data.class_totals(), strict=True) if t <= 0
    ]
    if empty:  # decided without the LP: such a class's probabilities go to zero
        warn(
            SeparationWarning(
                f"no observations (with positive weight) of class(es) {empty}: their "
                "coefficients diverge (quasi-complete separation), so the maximum-likelihood "
                "estimate does not exist and standard errors mean nothing. Remove those "
                "classes, or use penalty='l2'"
            )
        )
        return None
    d = _Rows(data, objective.probabilities(result.x))
    if result.converged and _certified(d, data):
        return None
    ref = 0 if data.reference_index is None else data.reference_index
    labels = [str(c) for c in data.classes.tolist()]
    found = _reduced_lp(d, data.kept_names, labels, ref)
    if found is False:
        return None
    if isinstance(found, SeparationResult):
        warn(SeparationWarning(found.message))
        return found
    smallest = objective.min_probability(result.x)
    if smallest < SUSPICIOUS_PROBABILITY:
        warn(
            SeparationWarning(
                f"a fitted probability is {smallest:.3g}: the classes may be (quasi-)"
                "completely separated by the predictors, in which case the maximum-"
                "likelihood estimate does not exist and standard errors mean nothing. The "
                "check on a subset of rows did not decide, and the linear program over all "
                "rows needs them on the host: refit with numpy arrays (X.cpu().numpy()) to "
                "decide, or use penalty='l2'"
            )
        )
    return None
