"""A Kronecker-factored model of the multinomial Hessian, for many parameters.

The Hessian of the mean loss is ``H = sum_i w_i M_i ⊗ y_i y_iᵀ`` with ``y_i = [1, x_i]``
and ``M_i = diag(p_i) - p_i p_iᵀ`` over the free classes. Replacing each ``M_i`` by
``c_i M`` -- its trace ``c_i`` times one shared shape ``M = sum_i w_i M_i / sum_i w_i c_i``
-- gives

    H ≈ M ⊗ C,    C = sum_i w_i c_i y_i y_iᵀ,

a ``(K-1) x (K-1)`` and a ``p1 x p1`` matrix instead of an ``m x m`` one
(``m = (K-1) p1``): ``C`` costs one weighted Gram matrix (``n p1²`` flops on a row
subsample), and ``H^{-1} g`` two small eigendecompositions and four small products.
It keeps what makes the multinomial problem hard for plain gradient methods -- the
coupling between classes (``M``) and the correlation and scale of the features, weighted
by how uncertain each row's prediction is (``C``) -- and misses only the dependence of
each row's class-curvature shape on ``x``. It is the initial matrix of L-BFGS in
:mod:`mnlogit.solvers.subsample_newton` (docs/solvers.md has what it saves).

This is the Kronecker-factored approximate curvature (K-FAC) idea of Martens & Grosse
(2015) applied to one softmax layer, with the per-row weights ``c_i``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from mnlogit.objective.kernels import is_sparse
from mnlogit.objective.loss import ProbabilityVisitor
from mnlogit.objective.penalties import Penalty

__all__ = [
    "MAX_KRONECKER_FEATURES",
    "PRECONDITION_MIN_WORK",
    "CurvatureSource",
    "block_diagonal_inverse",
    "class_factor",
    "kronecker_inverse",
    "worth_preconditioning",
]

FloatArray = NDArray[np.float64]
Inverse = Callable[[FloatArray], FloatArray]


class CurvatureSource(Protocol):
    """What the curvature models read of an objective (all public names)."""

    @property
    def n_samples(self) -> int: ...
    @property
    def n_classes(self) -> int: ...
    @property
    def p1(self) -> int: ...
    @property
    def sparse(self) -> bool: ...
    @property
    def penalty(self) -> Penalty: ...
    @property
    def normalized_weights(self) -> FloatArray: ...
    @property
    def to_ref0(self) -> FloatArray: ...

    def visit_probabilities(self, theta: FloatArray, visit: ProbabilityVisitor) -> None: ...

    def weighted_gram(self, h: FloatArray, stride: int = 1) -> FloatArray: ...

    def weighted_column_squares(self, h: FloatArray) -> FloatArray: ...


# Largest p1 for which C (p1 x p1) is formed and eigendecomposed; beyond it only the
# diagonals of M and C are used.
MAX_KRONECKER_FEATURES = 2000
# Numbers per column block in which the block-diagonal model is applied (256 KiB).
_APPLY_BLOCK = 2**15
# Multiply-adds of one product X @ V (rows x columns x classes, or stored values x
# classes) from which Newton-CG's CG is preconditioned by the block-diagonal model.
# Smaller problems need few CG iterations anyway, and plain CG keeps fits that should
# agree to rounding on one path: with the preconditioner, a fit weighted by integers and
# the same fit on repeated rows (one of scikit-learn's estimator checks, 15 rows) parted
# at 4e-8 after a 14-iteration solve.
PRECONDITION_MIN_WORK = 2**22


def worth_preconditioning(X: Any, n_classes: int) -> bool:
    """Whether one product ``X @ V`` costs :data:`PRECONDITION_MIN_WORK` multiply-adds.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p)
    n_classes : int
    """
    work = X.nnz if is_sparse(X) else X.shape[0] * (X.shape[1] + 1)
    return int(work) * int(n_classes) >= PRECONDITION_MIN_WORK


def kronecker_inverse(obj: CurvatureSource, theta: FloatArray) -> Inverse:
    """``g -> (M ⊗ C + D)^{-1} g`` for the objective ``obj`` at ``theta`` (module docstring).

    ``D`` folds in the penalty's diagonal (as ``I ⊗ diag(r)``, ``r`` its mean over classes,
    added to ``C`` after dividing by the mean eigenvalue of ``M``) and a damping of
    ``1e-10`` of the largest eigenvalue product, so singular ``C`` (collinear columns
    under a ridge) or ``M`` do no harm.

    Parameters
    ----------
    obj : CurvatureSource
        A :class:`~mnlogit.objective.MultinomialObjective`, usually a row subsample of
        the objective being minimized.
    theta : ndarray of shape (m,)

    Returns
    -------
    callable
        Maps a gradient of shape ``(m,)`` (class-major, as the free vector) to ``(m,)``.
    """
    k1, p1 = obj.n_classes - 1, obj.p1
    M, wc = class_factor(obj, theta)
    r = np.asarray(obj.penalty.hessian_diagonal((p1, k1))).mean(axis=1)
    mbar = max(float(np.trace(M)) / k1, 1e-300)
    lm, UM = scipy.linalg.eigh(M, check_finite=False)
    lm = np.maximum(lm, 0.0)
    if p1 <= MAX_KRONECKER_FEATURES:
        # C from about 20 (p+1) rows spread over the data (at least 5000): enough for a
        # preconditioner, and it reads only that share of X.
        stride = 1 if obj.sparse else max(1, obj.n_samples // max(20 * p1, 5000))
        C = obj.weighted_gram(wc, stride=stride)
        C[np.diag_indices_from(C)] += r / mbar
        lc, UC = scipy.linalg.eigh(C, check_finite=False)
        lc = np.maximum(lc, 0.0)
        denom = _floored(lc[:, None] * lm[None, :])

        def apply(g: FloatArray) -> FloatArray:
            G = g.reshape(k1, p1).T  # (p1, k1)
            Z = UC.T @ G @ UM
            Z /= denom
            return np.ascontiguousarray((UC @ Z @ UM.T).T).reshape(-1)

        return apply
    return block_diagonal_inverse(obj, theta)


def block_diagonal_inverse(obj: CurvatureSource, theta: FloatArray) -> Inverse:
    """``g -> (M ⊗ diag(C) + D)^{-1} g``: the Kronecker model with ``C`` cut to its diagonal.

    One ``(K-1) x (K-1)`` block per feature, all sharing ``M``'s eigenvectors; costs one
    weighted sum of squares per column (no ``p1 x p1`` matrix), so it suits sparse ``X``
    with many columns. ``D`` is the penalty's diagonal, exactly.
    """
    k1, p1 = obj.n_classes - 1, obj.p1
    M, wc = class_factor(obj, theta)
    lm, UM = scipy.linalg.eigh(M, check_finite=False)
    lm = np.maximum(lm, 0.0)
    dC = obj.weighted_column_squares(wc)
    R = np.asarray(obj.penalty.hessian_diagonal((p1, k1)))  # (p1, k1), diagonal in theta
    # (k1, p1), in place: one m-sized array for the model's whole lifetime
    denom = np.multiply(lm[:, None], dC[None, :])
    denom += R.mean(axis=1)[None, :]
    inv_denom = np.divide(1.0, _floored(denom), out=denom)
    UMT = np.ascontiguousarray(UM.T)
    # Class-major throughout (g.reshape(k1, p1) is the free vector's own layout), through
    # M's eigenbasis in blocks of columns: m can be in the millions, and fresh
    # temporaries and transposed copies tripled the cost of an application
    # (docs/solvers.md), while a whole (k1, p1) scratch array was m more numbers alive
    # through every CG solve (issue-sparse5).
    step = max(1, _APPLY_BLOCK // max(k1, 1))
    scratch = np.empty((k1, min(step, p1)))

    def apply(g: FloatArray) -> FloatArray:
        G = g.reshape(k1, p1)
        out = np.empty(k1 * p1)
        O = out.reshape(k1, p1)
        for start in range(0, p1, step):
            stop = min(start + step, p1)
            work = scratch[:, : stop - start]
            np.matmul(UMT, G[:, start:stop], out=work)  # into M's eigenbasis
            np.multiply(work, inv_denom[:, start:stop], out=work)
            np.matmul(UM, work, out=O[:, start:stop])
        return out

    return apply


def _floored(denom: FloatArray) -> FloatArray:
    """The model's eigenvalues, each at least ``1e-10`` of the largest (in place).

    With no positive finite eigenvalue at all (no curvature and no penalty, or values that
    overflowed) every one becomes 1: the identity, which is safe, instead of a
    division by zero.
    """
    top = float(denom.max()) if denom.size else 0.0
    if not (np.isfinite(top) and top > 0.0) or not np.all(np.isfinite(denom)):
        denom[...] = 1.0
        return denom
    denom += 1e-10 * top
    return denom


def class_factor(obj: CurvatureSource, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The class factor ``M`` (free coordinates, ``(K-1, K-1)``) and the row weights ``w c``.

    ``c_i`` is the trace of row ``i``'s ``M_i = diag(p_i) - p_i p_iᵀ`` over the classes of
    the reference-0 coordinates; ``M = T (sum_i w_i M_i) Tᵀ / sum_i w_i c_i``. Summed
    over row blocks of the probabilities (no ``n x K`` temporaries).

    Returns
    -------
    M : ndarray of shape (K-1, K-1)
    wc : ndarray of shape (n,)
    """
    k1 = obj.n_classes - 1
    w = obj.normalized_weights
    wc = np.empty(obj.n_samples)
    outer = np.zeros((k1, k1))
    totals = np.zeros(k1)

    def visit(prob: FloatArray, rows: slice) -> None:
        # one memory layout whatever the block's (a sweep's blocks are transposed
        # views), so the sums round the same way from the buffer or from a sweep
        P = np.ascontiguousarray(prob[:, 1:])
        wP = P * w[rows, None]
        totals[...] += wP.sum(axis=0)
        outer[...] += wP.T @ P
        wc[rows] = w[rows] * np.einsum("ik,ik->i", P, 1.0 - P)

    obj.visit_probabilities(theta, visit)
    M0 = (np.diag(totals) - outer) / max(float(wc.sum()), 1e-300)
    T = obj.to_ref0
    return T @ M0 @ T.T, wc
