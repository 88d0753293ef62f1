"""Proximal Newton with coordinate descent, active sets and strong rules: the lasso-family solver.

The problem, for each ``alpha`` of a decreasing grid (:mod:`mnlogit.objective.sparse_penalties`
defines the penalty)::

    minimize over (W, b):  L(W, b) + alpha * penalty(W),
    L = sum_i w_i (log sum_k exp(eta_ik) - eta_i,y_i),   eta_i = W^T x_i + b,   sum_i w_i = 1

One *outer* iteration (proximal Newton, glmnet's family): the gradient ``G`` and the
probabilities at the current point define the quadratic model of ``L`` with the exact
softmax Hessian; :func:`~mnlogit.solvers.coordinate_descent.cd_quadratic` minimizes the
model plus the penalty over the *strong set* by coordinate descent (compiled); a
backtracking (Armijo) line search on the true objective along the step keeps every outer
iteration a descent step. The change of the linear predictor comes back from the inner
solver, so an outer iteration reads the strong set's columns, never all of ``X``. Along a
path, each ``alpha`` starts from the secant extrapolation of the two previous solutions
when that lowers its objective (:func:`_predicted_start`).

Screening never changes the answer: the strong set at ``alpha_l`` is the features already
nonzero, the unpenalized ones, and those the sequential strong rule keeps
(``dual_norm(G_j) >= f_j a (2 alpha_l - alpha_{l-1})`` with ``G`` at the previous
solution); when the strong set has converged, the KKT conditions are checked on *every*
feature, violators join the strong set, and the solve goes on until none is left.

Stopping (the KKT residual). For feature ``j`` the residual is the distance from ``-G_j`` to
``alpha``'s subdifferential of the penalty at ``W_j`` (max over classes for the lasso, the
2-norm for groups), divided by the column's weighted RMS ``sqrt(sum_i w_i x_ij^2)`` — the
residual for the column standardized, so ``tol`` does not depend on the features' units;
the intercepts' residual is ``|dL/db_k|``. An ``alpha`` has converged when the largest
residual is at most ``tol``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from mnlogit.objective.sparse_penalties import SparsePenalty
from mnlogit.solvers.coordinate_descent import (
    LAZY_CURVATURE,
    block_hessians,
    cd_quadratic,
    column_rms,
    curvatures_close,
    dense_products,
    dense_shifted,
    dense_softmax_finish,
    linear_predictor,
    probabilities_close,
    records_buffer,
)
from mnlogit.solvers.outer_kernels import (
    extrapolate,
    gradient_products,
    predicted_coefficients,
    softmax_pass,
    step_slope,
    subtract_columns,
)

__all__ = ["ColumnData", "LossPass", "SparseSolution", "null_model", "solve_path"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Largest number of coordinate-descent sweeps in one outer iteration.
MAX_SWEEPS = 100_000
#: The inner solve's tolerance: this fraction of the outer KKT residual ...
INNER_FRACTION = 0.1
#: ... but at least this fraction of ``tol`` (an outer step ends with a KKT residual near
#: its inner tolerance, so the last one need not go much below ``tol``; measured in
#: docs/penalties.md).
INNER_FLOOR = 0.5
#: ... (the group penalty, and the lasso with sparse X); for the lasso and the elastic net
#: with dense X, at least this fraction of ``tol``: the outer KKT check still decides, and
#: above ``tol`` the last inner solve stops sooner without costing outer steps there
#: (measured in docs/penalties.md, "Seventh pass": 2 has 5-7% fewer sweeps on the dense
#: paths and the same outer steps, 3 already needs more; on the sparse path 2 costs 48%
#: more outer steps and 15% more time, so it keeps ``INNER_FLOOR``).
INNER_FLOOR_DENSE_LASSO = 2.0
#: Lasso / elastic net with sparse X: finish each inner solve on its settled support by
#: conjugate gradients (:mod:`mnlogit.solvers.support_cg`; measured in docs/penalties.md).
#: Off by default: 7-10% faster on the sparse benchmark path before the block steps (2%
#: with them, fifth pass), but the fits then depend on
#: rounding more than coordinate descent alone (scikit-learn's sample-weight equivalence
#: check of ``MultinomialLogitCV`` at ``tol=1e-6`` differs by 4.6e-6, above its 1e-7) ...
SUPPORT_NEWTON = False
#: ... and with dense X (off: the compiled column loops of its products cost more than the
#: sweeps they save there, measured in docs/penalties.md).
SUPPORT_NEWTON_DENSE = False
#: Lasso / elastic net: a feature's ``K`` coordinate steps in two passes over its column
#: with its ``K x K`` block Hessian instead of one pass per class (the same steps up to
#: rounding; measured in docs/penalties.md, "Fifth pass") ...
LASSO_BLOCKS = True
#: ... when the strong set's block Hessians take at most this many bytes (``m K^2`` floats) ...
LASSO_BLOCKS_BYTES = 256 * 2**20
#: ... and with dense X (off: measured slower there, with one pass over a feature's classes
#: and with ``LASSO_BLOCK_PASSES``: 456 -> 394 sweeps but 3.7x the time on the dense
#: 10k x 200 path, docs/penalties.md, "Ninth pass").
LASSO_BLOCKS_DENSE = False
#: The block steps' passes over a feature's classes (on its ``K x K`` model, no read of
#: the column) at most: 10 took the sparse benchmark path from 837 to 506 sweeps and
#: 8.1 to 6.0 s (docs/penalties.md, "Eighth pass"); 1 is one class loop, as before.
LASSO_BLOCK_PASSES = 10
#: Armijo's sufficient-decrease constant.
ARMIJO = 1e-4
#: Paths: each ``alpha`` after the second starts from the extrapolation of the two previous
#: solutions in ``log alpha``, kept when its objective is below the previous solution's
#: (:func:`_predicted_start`; measured in docs/penalties.md, "Sixth pass": the dense lasso
#: and the grouped lasso on dense X), for the lasso and the elastic net ...
PATH_PREDICTOR = True
#: ... for the group penalty with dense X ...
PATH_PREDICTOR_GROUP = True
#: ... and for the group penalty with sparse X, there with the inner tolerance
#: ``INNER_FRACTION_SPARSE_GROUP`` (with ``INNER_FRACTION`` the extrapolated starts ended the
#: sparse benchmark's group path 2.8e-8 above the tight path's objective at ``tol=1e-6``,
#: over the issue's 1e-8 bar; with 0.01 6.4e-9, against 7.0e-9 for the plain starts, and
#: 30% faster: docs/penalties.md, "Tenth pass").
PATH_PREDICTOR_SPARSE_GROUP = True
#: The inner solve's fraction of the outer KKT residual for the group penalty with sparse X
#: (in place of ``INNER_FRACTION``): more exact proximal Newton steps, fewer of them.
INNER_FRACTION_SPARSE_GROUP = 0.01
#: The lasso and the elastic net with sparse X: the first outer step of an ``alpha`` takes
#: this fraction of the KKT residual as its inner tolerance (the later ones
#: ``INNER_FRACTION``): its step leaves a KKT residual of about 3e-6 on the sparse
#: benchmark even when solved exactly (the loss's curvature changes along it), so a second
#: step follows anyway and a tighter first one is wasted (514 -> 470 sweeps, the objectives
#: 1.7e-9 above the ``tol=1e-9`` path instead of 4.4e-10; docs/penalties.md, "Eleventh
#: pass"). It also applies to the first step of the unpenalized start (:func:`null_model`,
#: ``alpha = 0``, only the unpenalized columns and intercepts): the KKT check decides there
#: too.
INNER_FRACTION_SPARSE_FIRST = 0.3
#: The same for the lasso and the elastic net with dense X: on the dense benchmarks the first
#: outer step's KKT residual stops falling after two or three sweeps (at 2-6e-5 on the 4k x
#: 1,000 path, from 3-7e-4: the curvature's change along the step, not the inner solve,
#: decides it), while 0.1 went on for one or two sweeps more. 0.3: sweeps 415 -> 380 and
#: 1.23-1.29 -> 1.10-1.16 s on the 4k x 1,000 path (outer steps 94 -> 96), 456 -> 447 sweeps
#: and 2-3% on 10k x 200, objectives within 3.9e-10 of the ``tol = 1e-10`` path
#: (docs/penalties.md, "Twentieth pass"). The later steps keep ``INNER_FRACTION``: 0.15 or
#: more for every step cost outer steps on 10k x 200 (nineteenth pass).
INNER_FRACTION_DENSE_FIRST = 0.3
#: The extrapolation's step, in units of the previous grid step, at most this (an irregular
#: grid's long step is not extrapolated further than the last one).
PREDICTOR_MAX_STEP = 1.0
#: Lasso / elastic net with dense X: an inner solve reuses the curvatures the previous one
#: (of the same ``alpha``) computed, when the probabilities moved little in between
#: (:func:`_kept_curvatures`; measured in docs/penalties.md, "Tenth pass") ...
CURVATURE_REUSE = True
#: ... by at most this fraction of every ``p_ik (1 - p_ik)`` (below 1: a step with a
#: carried curvature is an exact one scaled by less than 2).
CURVATURE_DRIFT = 0.5
#: Group penalty with sparse X: an inner solve reuses the block Hessians' eigendecompositions
#: the previous one (of the same ``alpha``) computed, when every probability moved by at
#: most ``CURVATURE_DRIFT`` of itself in between (:func:`_kept_eigen`) ...
EIGEN_REUSE = True
#: Dense X: above this many classes the compiled gradient product costs about 1.3x BLAS's
#: per column (10k x 200, one thread: K = 5 0.96 against 1.33 ms for every column, K = 20
#: 2.73 against 2.08, K = 50 10.7 against 7.96; the lead's review of issue-dlasso10), so
#: ``M @ X`` over every column is used when at least three quarters are asked for.
PRODUCTS_MAX_CLASSES = 12


def _records(n: int, K: int, p: int) -> FloatArray:
    """Sparse X's :func:`~mnlogit.solvers.coordinate_descent.records_buffer`: the row records,
    the snapshots of ``p`` features, and the block Hessians of as many features as
    ``LASSO_BLOCKS_BYTES`` allows (memory untouched until an inner solve uses it)."""
    return records_buffer(n, K, p, min(p, LASSO_BLOCKS_BYTES // (8 * K * K)))


def _weighted_sum(w: FloatArray, v: FloatArray) -> float:
    """``sum_i w_i v_i`` for ``w``, ``v`` of shape (n,), by NumPy's own loop, not BLAS's dot.

    OpenBLAS runs a dot product of more than 10,000 entries on its threads, which then
    spin for a while after it: called once per loss evaluation, that kept a second core
    busy for the whole sparse benchmark path at the default threads (CPU 5.5-5.6 s for
    2.8 s of wall time, against 2.8 s for 2.8 s with this sum; docs/penalties.md,
    "Twentieth pass")."""
    return float(np.sum(w * v))


def _rows(A: FloatArray) -> FloatArray:
    """The row-major ``(n, K)`` array behind a ``(K, n)`` array of sparse X (a copy only
    when it is not C-contiguous)."""
    return np.ascontiguousarray(A.T)


@dataclass(frozen=True, eq=False)
class LossPass:
    """The loss's pass at one point: what an outer step reads there.

    For sparse X the arrays are :class:`ColumnData`'s own (``work``), overwritten by its
    next :meth:`ColumnData.evaluate`: a pass is read before the next point is evaluated
    (the outer step reads its centre's pass for the gradient products, the inner solve and
    the KKT check, then the line search evaluates the next point; the residual matrix
    handed to the KKT check of the features outside the strong set is read before the
    next outer step).

    Attributes
    ----------
    loss : float
        The mean weighted NLL.
    P : ndarray of shape (K, n)
        The probabilities.
    M : ndarray of shape (K, n)
        The residual matrix ``M[k, i] = w_i (P_ik - [y_i = k])`` (``X^T M^T`` is the
        gradient).
    wP : ndarray of shape (K, n)
        ``w P``.
    g0 : ndarray of shape (K,)
        The intercepts' gradient (``M``'s row sums; zeros without intercepts).
    """

    loss: float
    P: FloatArray
    M: FloatArray
    wP: FloatArray
    g0: FloatArray


@dataclass(frozen=True, eq=False)
class ColumnData:
    """The data in the column-major form the coordinate kernels read.

    Attributes
    ----------
    Xd : ndarray of shape (n, p), column-major, or (1, 1) for sparse X
        Dense X as given when already column-major, else a column-major copy (the
        kernels read one column at a time, as glmnet's Fortran does).
    indptr, indices, data : ndarrays
        CSC arrays of sparse X (empty for dense X); ``data`` keeps X's dtype.
    sparse : bool
    codes : ndarray of shape (n,)
        Class codes ``0 .. K-1``.
    n_classes : int
    weights : ndarray of shape (n,)
        Row weights divided by their sum.
    sum_weights : float
    fit_intercept : bool
    rms : ndarray of shape (p,)
        Weighted column RMS (1 for an all-zero column).
    picks : ndarray of shape (n,) of int
        ``codes * n + arange(n)``: each row's own class in the flattened class-major
        ``(K, n)`` arrays of dense X (a gather with one flat index instead of a pair:
        the same values, a fifth of the time; row-major arrays use the pair).
    records : ndarray
        Sparse X: room for the row records (lasso and group), Anderson's snapshots and the block
        Hessians, reused by every inner solve
        (:func:`~mnlogit.solvers.coordinate_descent.records_buffer`); else empty. Every
        inner solve writes it, so one ``ColumnData`` must not serve two solves at once
        (each :func:`~mnlogit.path.regularization_path` call, so each CV fold, builds its
        own).
    eigen : list
        Empty until the group penalty's first inner solve on sparse X asks for room for its
        block eigendecompositions kept across inner solves (:meth:`block_eigen`: then the
        room, ``p K (K + 1)`` doubles, and the flags, ``p`` booleans; reserved only then:
        ``p K^2`` doubles that the lasso never needs can exceed what the system lets a
        process reserve, e.g. 200,000 features and 150 classes, 34 GB).
    work : ndarray
        Sparse X: the outer steps' own arrays, reused by every step (:meth:`evaluate`,
        :meth:`zero_step`: the probabilities, ``w P``, the residual matrix and the step
        ``D``, each ``(n, K)`` row-major, and the rows' NLL; no fresh 1.6 MB arrays and
        their page faults per step on the sparse benchmark); else empty. What they hold is
        valid until the next call that writes them (the docstring of
        :class:`LossPass`).
    """

    Xd: Any
    indptr: Any
    indices: Any
    data: Any
    sparse: bool
    codes: IntArray
    n_classes: int
    weights: FloatArray
    sum_weights: float
    fit_intercept: bool
    rms: FloatArray = field(repr=False)
    picks: IntArray = field(repr=False)
    records: FloatArray = field(repr=False)
    work: FloatArray = field(repr=False)
    eigen: list[Any] = field(repr=False, default_factory=list)

    @classmethod
    def from_arrays(
        cls,
        X: Any,
        codes: IntArray,
        n_classes: int,
        sample_weight: FloatArray | None,
        fit_intercept: bool,
    ) -> ColumnData:
        """Wrap dense or sparse ``X`` (float32 or float64; sparse is never densified).

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n, p)
        codes : ndarray of shape (n,)
        n_classes : int
        sample_weight : ndarray of shape (n,) or None
        fit_intercept : bool
        """
        n, p = X.shape
        sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        total = float(sw.sum())
        w = sw / total
        if sp.issparse(X):
            given: Any = X
            csc = given.tocsc()
            if csc.data.dtype not in (np.float32, np.float64):
                csc = csc.astype(np.float64)
            Xd = np.zeros((1, 1), dtype=csc.data.dtype, order="F")
            args = (Xd, csc.indptr, csc.indices, csc.data, True)
        else:
            Xd = np.asfortranarray(X)
            if Xd.dtype not in (np.float32, np.float64):
                Xd = Xd.astype(np.float64, order="F")
            empty = np.zeros(0, dtype=np.int32)
            args = (Xd, np.zeros(1, dtype=np.int32), empty, np.zeros(0, dtype=Xd.dtype), False)
        rms = np.empty(p)
        column_rms(*args, w, rms)
        rms[rms == 0] = 1.0
        codes = np.asarray(codes, dtype=np.intp)
        return cls(
            *args,
            codes=codes,
            n_classes=int(n_classes),
            weights=w,
            sum_weights=total,
            fit_intercept=bool(fit_intercept),
            rms=rms,
            picks=codes * n + np.arange(n, dtype=np.intp),
            records=_records(n, int(n_classes), p) if sp.issparse(X) else np.empty(0),
            work=np.empty(4 * n * int(n_classes) + n) if sp.issparse(X) else np.empty(0),
        )

    def block_eigen(self) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
        """The group penalty's kept block decompositions (sparse X): eigenvalues (p, K),
        eigenvectors (p, K, K) and the flags (p,) of the features whose pair holds one
        (:func:`~mnlogit.solvers.coordinate_descent.cd_quadratic`'s ``eigen``), in room
        reserved at the first call (the flags all off then) and kept for the next."""
        p, K = self.n_features, self.n_classes
        if not self.eigen:
            room = np.empty(p * K * (K + 1))
            self.eigen.extend(
                (room[: p * K].reshape((p, K)), room[p * K :].reshape((p, K, K)), np.zeros(p, bool))
            )
        evals, evecs, fresh = self.eigen
        return evals, evecs, fresh

    @property
    def n_features(self) -> int:
        """``p``."""
        return int(self.rms.size)

    @property
    def n_rows(self) -> int:
        """``n``."""
        return int(self.weights.size)

    def _args(self) -> tuple[Any, Any, Any, Any, bool]:
        return self.Xd, self.indptr, self.indices, self.data, self.sparse

    def products(self, features: IntArray, M: FloatArray, out: FloatArray) -> bool:
        """``out[j] = X_j^T M^T`` for ``j`` in ``features`` (``M`` of shape ``(K, n)``).

        Dense X: the blocked compiled product (:func:`dense_products`, faster than BLAS's
        ``M @ X`` for these few rows of ``M``; its cost is that of the columns asked for, so
        an outer step asks for the strong set's only, and the KKT check for the others once
        at the end of an ``alpha``), except for float64 X with more than
        :data:`PRODUCTS_MAX_CLASSES` classes and at least three quarters of the columns
        asked for: then BLAS's ``M @ X`` for every column (no copy of X); sparse X: the
        compiled column loop (:func:`gradient_products`, ``M`` row-major there: the
        transpose of :meth:`empty_predictor`'s layout, as :meth:`evaluate` writes it; another
        layout gives the same sums through a second, strided compilation of the kernel).

        Returns
        -------
        bool
            Whether every row of ``out`` was written.
        """
        if self.sparse:
            gradient_products(self.indptr, self.indices, self.data, features, M.T, out)
        elif (
            self.Xd.dtype == np.float64
            and M.shape[0] > PRODUCTS_MAX_CLASSES
            and 4 * features.size >= 3 * self.rms.size
        ):
            out[:] = (M @ self.Xd).T  # many classes, most columns: BLAS is faster
            return True
        else:
            dense_products(self.Xd, features, M, out)
        return features.size == self.rms.size

    def empty_predictor(self) -> FloatArray:
        """An uninitialized ``(K, n)`` array over rows and classes, in the layout the kernels
        read fastest: class-major for dense X (a class's column is contiguous), row-major
        (the ``(K, n)`` transpose of an ``(n, K)`` array) for sparse X, whose kernels touch
        all ``K`` classes of the few rows a column stores.

        Every array derived from it (probabilities, residuals, predictor changes) keeps its
        layout.
        """
        if self.sparse:
            return np.empty((self.n_rows, self.n_classes)).T
        return np.empty((self.n_classes, self.n_rows))

    def eta(self, W: FloatArray, b: FloatArray) -> FloatArray:
        """The linear predictor, class-major.

        Returns
        -------
        ndarray of shape (K, n)
        """
        out = self.empty_predictor()
        features = np.flatnonzero(np.any(W != 0, axis=1)).astype(np.intp)
        linear_predictor(*self._args(), features, W, b, out)
        return out

    def extrapolated(
        self, eta_1: FloatArray, eta_2: FloatArray, t: float, cut: FloatArray | None
    ) -> FloatArray:
        """``eta_1 + t (eta_1 - eta_2) - (X cut)^T``: the linear predictor on the line
        through two others, less the columns ``cut`` (p, K) clips (none when ``None``);
        for sparse X in one compiled pass and a pass over the clipped columns
        (:func:`extrapolate`, :func:`subtract_columns`).

        Returns
        -------
        ndarray of shape (K, n)
            A new array.
        """
        if self.sparse:
            out = self.empty_predictor()
            extrapolate(_rows(eta_1), _rows(eta_2), t, out.T)
            if cut is not None:
                features = np.flatnonzero(np.any(cut != 0, axis=1)).astype(np.intp)
                subtract_columns(self.indptr, self.indices, self.data, features, cut, out.T)
            return out
        eta = eta_1 + t * (eta_1 - eta_2)
        if cut is not None:
            eta -= self.eta(cut, np.zeros(self.n_classes))
        return eta

    def loss(self, eta: FloatArray) -> tuple[float, FloatArray]:
        """The mean weighted NLL and the probabilities at ``eta`` (shape ``(K, n)``, new
        arrays); for sparse X by :func:`softmax_pass`."""
        if self.sparse:
            shape = (self.n_rows, self.n_classes)
            P, wP, M, nll = np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape[0])
            rows = _rows(eta)
            softmax_pass(
                rows, rows, 0.0, False, self.codes, self.weights, rows, P, nll, wP, M,
                np.empty(self.n_classes),
            )  # fmt: skip
            return _weighted_sum(self.weights, nll), P.T
        _, point = self._dense_pass(eta, None)
        return point.loss, point.P

    def value(self, eta: FloatArray) -> float:
        """The mean weighted NLL at ``eta``."""
        if self.sparse:
            return self.loss(eta)[0]
        top = eta.max(axis=0)
        with np.errstate(under="ignore"):
            lse = top + np.log(np.exp(eta - top).sum(axis=0))
        return _weighted_sum(self.weights, lse - self._picked(eta))

    def evaluate(
        self, eta: FloatArray, step: tuple[FloatArray, float] | None = None
    ) -> tuple[FloatArray, LossPass]:
        """The point ``eta + t D`` (``step = (D, t)``; ``eta`` itself without a step) and the
        loss's pass there (:class:`LossPass`): for sparse X in compiled passes over the
        rows (:func:`softmax_pass`) into this object's own arrays (``work``), so the pass
        returned is valid until the next :meth:`evaluate`; for dense X in two compiled passes
        around NumPy's ``exp`` and ``log`` (:meth:`_dense_pass`), new arrays.

        Parameters
        ----------
        eta : ndarray of shape (K, n)
        step : tuple of (ndarray of shape (K, n), float), optional

        Returns
        -------
        eta : ndarray of shape (K, n)
            The point (a new array when there is a step; ``eta`` itself otherwise).
        LossPass
        """
        if not self.sparse:
            return self._dense_pass(eta, step)
        P, wP, M, _, nll = self._work()
        g0 = np.empty(self.n_classes)
        start = _rows(eta)
        if step is None:
            softmax_pass(
                start, start, 0.0, False, self.codes, self.weights, start, P.T, nll, wP.T,
                M.T, g0,
            )  # fmt: skip
        else:
            out = self.empty_predictor()
            softmax_pass(
                start, _rows(step[0]), step[1], True, self.codes, self.weights, out.T, P.T,
                nll, wP.T, M.T, g0,
            )  # fmt: skip
            eta = out
        if not self.fit_intercept:
            g0[:] = 0.0
        return eta, LossPass(_weighted_sum(self.weights, nll), P, M, wP, g0)

    def _dense_pass(
        self, eta: FloatArray, step: tuple[FloatArray, float] | None
    ) -> tuple[FloatArray, LossPass]:
        """:meth:`evaluate` for dense X: two compiled passes around NumPy's ``exp`` and
        ``log`` (:func:`dense_shifted`, :func:`dense_softmax_finish`; the point, the
        probabilities, ``w P``, the residual matrix and ``g0`` written in them, not in a
        chain of NumPy temporaries, and ``w P`` not formed again for the inner solve: a
        trial point's pass 0.25 -> 0.20 ms on ``5 x 10,000``, docs/penalties.md,
        "Nineteenth pass"); new arrays, but for the point: ``eta`` itself without a step."""
        K, n = self.n_classes, self.n_rows
        point = eta if step is None else self.empty_predictor()
        D, t = (np.zeros((0, 0)), 0.0) if step is None else step
        Z, top = self.empty_predictor(), np.empty(n)
        dense_shifted(eta, D, t, point, Z, top)
        with np.errstate(under="ignore"):  # (a probability underflowing to 0 is meant)
            np.exp(Z, out=Z)
        total = Z.sum(axis=0)
        wP, M, g0 = self.empty_predictor(), self.empty_predictor(), np.empty(K)
        loss = dense_softmax_finish(
            point, top, total, np.log(total), self.weights, self.codes, Z, wP, M, g0
        )
        if not self.fit_intercept:
            g0[:] = 0.0
        return point, LossPass(loss, Z, M, wP, g0)

    def zero_step(self) -> FloatArray:
        """A ``(K, n)`` array of zeros for an inner solve's change of the linear predictor:
        for sparse X this object's own (``work``; valid until the next :meth:`zero_step`),
        else a new one."""
        if not self.sparse:
            return np.zeros((self.n_classes, self.n_rows))
        D = self._work()[3]
        D.fill(0.0)
        return D

    def _work(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """Sparse X: ``work`` as the probabilities, ``w P``, the residual matrix and the step
        (each ``(K, n)``, the transposes of row-major arrays) and the rows' NLL ``(n,)``."""
        n, K = self.n_rows, self.n_classes
        blocks = self.work[: 4 * n * K].reshape(4, n, K)
        return blocks[0].T, blocks[1].T, blocks[2].T, blocks[3].T, self.work[4 * n * K :]

    def _picked(self, A: FloatArray) -> FloatArray:
        """``A[y_i, i]`` (n,) of a ``(K, n)`` array."""
        if A.flags.c_contiguous:
            return A.reshape(-1).take(self.picks)
        return A[self.codes, np.arange(self.n_rows)]

    def cd(
        self,
        features: IntArray,
        P: FloatArray,
        G: FloatArray,
        g0: FloatArray,
        lam: tuple[FloatArray, FloatArray],
        group: bool,
        W: FloatArray,
        b: FloatArray,
        D: FloatArray,
        tol: float,
        kept: FloatArray | None,
        wP: FloatArray,
        eigen: tuple[FloatArray, FloatArray, NDArray[np.bool_]] | None = None,
    ) -> int:
        """Coordinate descent on the quadratic model (:func:`cd_quadratic`).

        For the group penalty with dense float64 X the block Hessians come from matrix
        products (:func:`block_hessians`; every sum stays float64); otherwise the kernel
        computes the curvatures column by column (the lasso's diagonal ones cost about one
        gradient pass: no gain from BLAS there, measured; with dense X each at the
        coordinate's first step that needs it, ``coordinate_descent.LAZY_DENSE``; with the
        block steps a feature's from its block Hessian's diagonal). The
        lasso's block steps (``LASSO_BLOCKS``) run with sparse X only unless
        ``LASSO_BLOCKS_DENSE`` (measured in docs/penalties.md: slower on dense X with one
        pass over a feature's classes and with ``LASSO_BLOCK_PASSES``). ``kept`` (p, K): the
        lasso's curvatures carried from the previous inner solve (:func:`_kept_curvatures`).
        ``wP``: ``w P``, as :meth:`evaluate` computed it. ``eigen``: the group's
        kept block decompositions (:meth:`block_eigen`, :func:`_kept_eigen`).
        """
        K = self.n_classes
        blocks = (
            not group
            and (self.sparse or LASSO_BLOCKS_DENSE)
            and LASSO_BLOCKS
            and 8 * features.size * K * K <= LASSO_BLOCKS_BYTES
        )
        passes = LASSO_BLOCK_PASSES if blocks else 0
        curvatures = np.zeros((0, K, K))
        if group and not self.sparse and self.Xd.dtype == np.float64 and features.size:
            curvatures = block_hessians(self.Xd, features, wP, P)
        sweeps, _ = cd_quadratic(
            *self._args(), features, self.weights, P, wP, G, g0,
            self.fit_intercept, lam[0], lam[1], group, passes,
            curvatures, self.rms, W, b, D, tol, MAX_SWEEPS,
            SUPPORT_NEWTON and (self.sparse or SUPPORT_NEWTON_DENSE), self.empty_predictor(),
            np.zeros((0, K)) if kept is None else kept, self.records, eigen,
        )  # fmt: skip
        return int(sweeps)


@dataclass
class SparseSolution:
    """The solution at one ``alpha`` (and the state the next ``alpha`` starts from).

    Attributes
    ----------
    W : ndarray of shape (p, K)
    b : ndarray of shape (K,)
    G : ndarray of shape (p, K)
        Gradient of the mean loss at the solution (all features).
    loss : float
        Mean weighted NLL.
    objective : float
        ``loss + alpha * penalty(W)``.
    kkt : float
        The largest KKT residual (module docstring).
    converged : bool
    n_iter : int
        Outer (proximal Newton) iterations.
    eta : ndarray of shape (K, n)
    complete : bool
        Whether ``G`` holds every feature's gradient at this point (else only the strong
        set's rows are current).
    residual : ndarray of shape (K, n) or None
        The residual matrix at ``eta`` (:attr:`LossPass.M`) as the last
        outer step computed it, for the KKT check on the features outside the strong set
        (no second softmax pass; for sparse X in the data's own memory, valid until its
        next :meth:`ColumnData.evaluate`); dropped (``None``) once the ``alpha`` is solved.
    P : LossPass or None
        A predicted start's loss pass at ``eta`` (computed when its objective was
        compared: :func:`_predicted_start`), which its first outer step takes instead of a
        second softmax pass; ``None`` for a solution.
    """

    W: FloatArray
    b: FloatArray
    G: FloatArray
    loss: float
    objective: float
    kkt: float
    converged: bool
    n_iter: int
    eta: FloatArray = field(repr=False)
    complete: bool = False
    residual: FloatArray | None = field(default=None, repr=False)
    P: LossPass | None = field(default=None, repr=False)


def _residuals(
    data: ColumnData, penalty: SparsePenalty, alpha: float, W: FloatArray, G: FloatArray,
    features: IntArray,
) -> FloatArray:  # fmt: skip
    """The standardized KKT residuals (m,) of ``features`` (m,): ``penalty.residuals``
    over the columns' RMS."""
    return penalty.residuals(W, G, alpha, features, scale=data.rms)


def _kkt(
    data: ColumnData,
    penalty: SparsePenalty,
    alpha: float,
    W: FloatArray,
    G: FloatArray,
    g0: FloatArray,
    features: IntArray,
) -> float:
    """The largest standardized KKT residual over ``features`` and the intercepts."""
    res = _residuals(data, penalty, alpha, W, G, features)
    worst = float(res.max()) if res.size else 0.0
    if data.fit_intercept:
        worst = max(worst, float(np.abs(g0).max()))
    return worst


def _line_search(
    data: ColumnData,
    penalty: SparsePenalty,
    alpha: float,
    start: tuple[FloatArray, FloatArray, FloatArray, float],
    step: tuple[FloatArray, FloatArray, FloatArray],
    slope: float,
) -> tuple[FloatArray, FloatArray, FloatArray, LossPass]:
    """Backtrack from the full step until Armijo's condition holds on the true objective;
    returns the accepted point and its loss pass (the next step's start)."""
    W, b, eta, f0 = start
    dW, db, D = step
    t = 1.0
    while True:
        Wt, bt = W + t * dW, b + t * db
        eta_t, point = data.evaluate(eta, (D, t))
        ft = point.loss + penalty.value(Wt, alpha)
        if ft <= f0 + ARMIJO * t * slope + 1e-15 * abs(f0) or t < 1e-12:
            return Wt, bt, eta_t, point
        t *= 0.5


def _kept_curvatures(
    P: FloatArray, shape: tuple[int, ...], kept: tuple[FloatArray, FloatArray] | None
) -> tuple[FloatArray, FloatArray]:
    """The lasso's curvatures for the next inner solve (dense X): ``kept`` ``(h (p, K),
    P0 (K, n))``, the curvatures the previous inner solve computed and the probabilities at
    its centre, carried once when every ``P_ik (1 - P_ik)`` at the new centre ``P`` is within
    ``CURVATURE_DRIFT`` of ``P0``'s (relative, :func:`curvatures_close`); else a fresh ``h``
    of ``LAZY_CURVATURE`` (computed as the sweeps need them) with ``P`` (an empty second
    array marks a carried ``h``: it is not carried twice).

    Each curvature ``h_jk = sum_i w_i x_ij^2 P_ik (1 - P_ik)`` then moves by at most that
    fraction, so a coordinate step with the carried one is an exact step scaled by at most
    ``1 + CURVATURE_DRIFT < 2`` (coordinate descent still converges, to the same minimizer
    of the model: the fixed point of the steps does not depend on the curvatures) and the
    columns' passes that computed them are saved (measured in docs/penalties.md, "Tenth
    pass").
    """
    if kept is not None and kept[1].size and curvatures_close(P, kept[1], CURVATURE_DRIFT):
        return kept[0], np.zeros((0, 0))
    return np.full(shape, LAZY_CURVATURE), P


def _kept_eigen(
    data: ColumnData, P: FloatArray, centre: FloatArray | None
) -> tuple[tuple[FloatArray, FloatArray, NDArray[np.bool_]], FloatArray | None]:
    """The group's block decompositions for the next inner solve (sparse X) and the centre
    to pass to the one after: those of the previous inner solve, carried once when every
    probability at the new centre ``P`` (K, n) is within ``CURVATURE_DRIFT`` (relative) of
    those at ``centre``, where they were computed (:func:`probabilities_close`; then the
    next centre is None: they are not carried twice); else all flagged for computing, with
    a copy of ``P``.

    Every block Hessian then lies between ``1 - CURVATURE_DRIFT`` and ``1 +
    CURVATURE_DRIFT`` times the carried one, so a block step with the carried one still
    lowers the model (a step with curvature ``H~`` does whenever ``H~`` exceeds half the
    true ``H``) and the sweeps converge to the same minimizer of the model: the fixed point
    of the block steps does not depend on the curvature. Each carried inner solve saves a
    pass over the strong columns and an eigendecomposition per feature (measured in
    docs/penalties.md, "Nineteenth pass: the grouped lasso's sweeps").
    """
    eigen = data.block_eigen()
    if centre is not None and probabilities_close(P, centre, CURVATURE_DRIFT):
        return eigen, None
    eigen[2][:] = False
    return eigen, P.copy()


def _newton_steps(
    data: ColumnData,
    penalty: SparsePenalty,
    alpha: float,
    state: SparseSolution,
    strong: IntArray,
    tol: float,
    max_iter: int,
) -> SparseSolution:
    """Proximal Newton iterations on the ``strong`` features until their KKT residual is
    at most ``tol`` (or ``max_iter`` outer iterations in all)."""
    lam = penalty.strengths(alpha)
    W, b, eta, G = state.W, state.b, state.eta, state.G
    n_iter = state.n_iter
    reuse = CURVATURE_REUSE and not (penalty.group or data.sparse)
    kept: tuple[FloatArray, FloatArray] | None = None
    carry = EIGEN_REUSE and penalty.group and data.sparse
    centre: FloatArray | None = None
    eigen = None
    point = state.P if state.P is not None else data.evaluate(eta)[1]
    while True:
        P, M, g0 = point.P, point.M, point.g0
        complete = data.products(strong, M, G)
        kkt = _kkt(data, penalty, alpha, W, G, g0, strong)
        value = penalty.value(W, alpha)
        objective = point.loss + value
        if kkt <= tol or n_iter >= max_iter:
            return SparseSolution(
                W, b, G, point.loss, objective, kkt, kkt <= tol, n_iter, eta, complete, M
            )
        n_iter += 1
        Wn, bn = W.copy(), b.copy()
        D = data.zero_step()
        floor = INNER_FLOOR if penalty.group or data.sparse else INNER_FLOOR_DENSE_LASSO
        fraction = INNER_FRACTION_SPARSE_GROUP if penalty.group and data.sparse else INNER_FRACTION
        if not penalty.group and n_iter == 1:  # (an alpha's first outer step)
            fraction = INNER_FRACTION_SPARSE_FIRST if data.sparse else INNER_FRACTION_DENSE_FIRST
        inner_tol = max(floor * tol, fraction * kkt)
        kept = _kept_curvatures(P, G.shape, kept) if reuse else None
        h = None if kept is None else kept[0]
        if carry:
            eigen, centre = _kept_eigen(data, P, centre)
        data.cd(strong, P, G, g0, lam, penalty.group, Wn, bn, D, inner_tol, h, point.wP, eigen)
        dW, db = Wn - W, bn - b
        slope = step_slope(strong, G, Wn, W) + float(g0 @ db)
        slope += penalty.value(Wn, alpha) - value
        W, b, eta, point = _line_search(
            data, penalty, alpha, (W, b, eta, objective), (dW, db, D), slope
        )


def _solve_alpha(
    data: ColumnData,
    penalty: SparsePenalty,
    alpha: float,
    alpha_prev: float,
    state: SparseSolution,
    tol: float,
    max_iter: int,
) -> SparseSolution:
    """One ``alpha``: strong set, proximal Newton on it, KKT check on all features."""
    lam1_prev = penalty.factor * penalty.l1_ratio * (2.0 * alpha - alpha_prev)
    keep = (
        np.any(state.W != 0, axis=1)
        | (penalty.factor == 0)
        | (penalty.dual_norms(state.G) >= lam1_prev)
    )
    start = SparseSolution(
        state.W.copy(), state.b.copy(), state.G.copy(), state.loss, 0.0, np.inf, False, 0,
        state.eta, P=state.P,
    )  # fmt: skip
    while True:
        strong = np.flatnonzero(keep).astype(np.intp)
        start = _newton_steps(data, penalty, alpha, start, strong, tol, max_iter)
        rest = np.flatnonzero(~keep).astype(np.intp)
        M, start.residual = start.residual, None
        if rest.size == 0:
            return start
        if not start.complete:  # the rest's gradient at the strong set's solution
            if M is None:
                M = data.evaluate(start.eta)[1].M
            data.products(rest, M, start.G)
            start.complete = True
        res = _residuals(data, penalty, alpha, start.W, start.G, rest)
        violators = rest[res > tol]
        if violators.size == 0 or start.n_iter >= max_iter:
            start.kkt = max(start.kkt, float(res.max()))
            start.converged = start.kkt <= tol
            return start
        keep[violators] = True


def _predicted_start(
    data: ColumnData,
    penalty: SparsePenalty,
    alphas: tuple[float, float, float],
    state: SparseSolution,
    older: SparseSolution,
) -> SparseSolution:
    """The warm start for ``alpha``: the secant through the two previous solutions.

    Along a path the solution moves smoothly with ``log alpha`` while its support stays
    put, so the line through the two previous solutions starts the proximal Newton
    iterations much closer than the previous solution alone (an error of second order in
    the step of ``log alpha`` instead of first). With ``(alpha, alpha_1, alpha_2)`` the new
    and the two previous ``alpha``'s and ``t = log(alpha_1 / alpha) / log(alpha_2 /
    alpha_1)`` (at most ``PREDICTOR_MAX_STEP``; 1 on a log-spaced grid), the guess is
    ``W_1 + t (W_1 - W_2)`` and ``b_1 + t (b_1 - b_2)``. Lasso / elastic net: every
    penalized coordinate that is zero in ``W_1`` is kept zero and every one whose sign the
    extrapolation would flip is set to zero (the path is piecewise smooth between such
    events). Group: no guess when a row left the support between the two solutions (it
    would come back turned round); rows zero in both stay zero. Its linear predictor is
    the same extrapolation of the two predictors, less the clipped coordinates' columns
    (no pass over the other columns). Returned only when its objective at ``alpha`` is
    below that of ``state``, with the loss and probabilities that comparison computed
    (its first outer step takes them: no second softmax pass); else ``state`` itself. The
    strong rule still reads ``state``'s gradient (the returned start carries it), and the
    solve at ``alpha`` ends with the same KKT check on every feature: only its starting
    point changes.

    Parameters
    ----------
    data : ColumnData
    penalty : SparsePenalty
    alphas : tuple of float
        ``(alpha, alpha_1, alpha_2)``, decreasing.
    state, older : SparseSolution
        The solutions at ``alpha_1`` and ``alpha_2`` (``state.loss``: the loss at
        ``state.eta``, not recomputed).

    Returns
    -------
    SparseSolution
    """
    alpha, alpha_1, alpha_2 = alphas
    if not (alpha_2 > alpha_1 > alpha > 0.0):
        return state
    if penalty.group and np.any(np.any(older.W != 0, axis=1) & ~np.any(state.W != 0, axis=1)):
        return state
    t = min(np.log(alpha_1 / alpha) / np.log(alpha_2 / alpha_1), PREDICTOR_MAX_STEP)
    W, cut = np.empty_like(state.W), np.empty_like(state.W)
    clip_rows = (penalty.factor > 0) & (not penalty.group)
    clipped = predicted_coefficients(state.W, older.W, t, clip_rows, W, cut)
    b = state.b + t * (state.b - older.b)
    eta, point = data.evaluate(data.extrapolated(state.eta, older.eta, t, cut if clipped else None))
    if not point.loss + penalty.value(W, alpha) < state.loss + penalty.value(state.W, alpha):
        return state  # (state.loss: the loss at W_1, kept)
    return SparseSolution(W, b, state.G, point.loss, 0.0, np.inf, False, 0, eta, False, P=point)


def null_model(
    data: ColumnData, penalty: SparsePenalty, tol: float, max_iter: int
) -> SparseSolution:
    """The fit with every penalized coefficient 0: the intercepts and unpenalized features.

    Its gradient gives ``alpha_max`` (:meth:`SparsePenalty.alpha_max`); it is where a path
    starts.
    """
    K, p = data.n_classes, data.n_features
    b = np.zeros(K)
    if data.fit_intercept:
        totals = np.bincount(data.codes, weights=data.weights, minlength=K)
        b = np.log(np.maximum(totals, 1e-300))
        b -= b.mean()
    W = np.zeros((p, K))
    eta = data.eta(W, b)
    state = SparseSolution(W, b, np.zeros((p, K)), 0.0, 0.0, np.inf, False, 0, eta)
    free = np.flatnonzero(penalty.factor == 0).astype(np.intp)
    state = _newton_steps(data, penalty, 0.0, state, free, tol, max_iter)
    M, state.residual = state.residual, None
    if M is None:
        M = data.evaluate(state.eta)[1].M
    data.products(np.arange(p, dtype=np.intp), M, state.G)
    return state


def solve_path(
    data: ColumnData,
    penalty: SparsePenalty,
    alphas: FloatArray,
    tol: float,
    max_iter: int,
    start: SparseSolution,
    alpha_start: float,
) -> list[SparseSolution]:
    """Solve at each of the decreasing ``alphas``, each warm-started from the one before
    (or from the line through the two before when that lowers the objective:
    :func:`_predicted_start`, see ``PATH_PREDICTOR`` and ``PATH_PREDICTOR_GROUP``).

    Parameters
    ----------
    data : ColumnData
    penalty : SparsePenalty
    alphas : ndarray of shape (L,)
        Decreasing penalty strengths.
    tol : float
        KKT tolerance (module docstring).
    max_iter : int
        Outer iterations allowed per ``alpha``.
    start : SparseSolution
        The first ``alpha``'s warm start (the null model, or a previous solution), with its
        gradient on all features.
    alpha_start : float
        The ``alpha`` ``start`` solves (for the strong rule; ``alpha_max`` for the null model).

    Returns
    -------
    list of SparseSolution
        One per ``alpha``; intercepts and the rows of unpenalized features centred
        (``sum_k b_k = 0``, ``sum_k W_jk = 0``: the loss does not see a common shift, and
        no penalty picks one).
    """
    out: list[SparseSolution] = []
    state, prev = start, float(alpha_start)
    older: tuple[SparseSolution, float] | None = None
    free = penalty.factor == 0
    if penalty.group:
        predict = PATH_PREDICTOR_GROUP and (PATH_PREDICTOR_SPARSE_GROUP or not data.sparse)
    else:
        predict = PATH_PREDICTOR
    for alpha in alphas:
        guess = state
        if predict and older is not None:
            guess = _predicted_start(data, penalty, (float(alpha), prev, older[1]), state, older[0])
        older = (state, prev)
        state = _solve_alpha(data, penalty, float(alpha), prev, guess, tol, max_iter)
        if data.fit_intercept:
            shift = state.b.mean()
            state.b = state.b - shift
            state.eta = state.eta - shift
        if free.any():  # unpenalized rows: only their differences are identified
            state.W[free] -= state.W[free].mean(axis=1, keepdims=True)
            state.eta = data.eta(state.W, state.b)
        out.append(state)
        prev = float(alpha)
    return out
