"""Firth's penalized likelihood on Dask data.

The same objective as :class:`mnlogit.objective.FirthObjective` --
``f = -(loglik + 1/2 log det I) / S`` -- with every row sum a pass: the loss and gradient
(one pass), the Fisher information (one Hessian pass, cached by point), and the penalty's
gradient, ``backproject`` of the per-row leverage terms
(:func:`mnlogit.objective.firth.leverage_scores`, the in-memory block kernel) with the
inverse information sent to the workers once (one pass). Newton's curvature is the Fisher
information (the in-memory objective differentiates the gradient numerically for up to
200 parameters, which would cost ``4 m`` passes per step here): ``solver="newton"`` takes
Fisher scoring's steps, which stall near separation, so ``"auto"`` runs L-BFGS (three
passes per iteration); the optimum is the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from mnlogit.distributed.objective import DaskObjective, probabilities_of
from mnlogit.distributed.partitions import Block, run_pass, shared
from mnlogit.objective import kernels
from mnlogit.objective.firth import leverage_scores
from mnlogit.objective.protocol import HESSIAN, HESSP, Inverse, SolverObjective

__all__ = ["DaskFirthObjective", "DaskFitted"]

FloatArray = NDArray[np.float64]


def _penalty_part(
    block: Block,
    coef: tuple[FloatArray, FloatArray | None],
    inv4: FloatArray,
    total: float,
    unscale: FloatArray,
) -> FloatArray:
    """``[colsum(U); Xᵀ U]`` of the leverage terms ``U`` of one block (X's own scale)."""
    W, b = coef
    P = probabilities_of(block, W, b)
    s = np.ones(block.n_rows) if block.weights is None else block.weights * total
    U = leverage_scores(block.X, P, inv4, s, unscale, b is not None)
    return kernels.backproject(block.X, U, intercept=b is not None)


def _add(*parts: FloatArray) -> FloatArray:
    return sum(parts[1:], parts[0].copy())


class DaskFirthObjective:
    """Wraps an unpenalized :class:`DaskObjective` with Firth's penalty (module docstring)."""

    capabilities = frozenset({HESSIAN, HESSP})
    low_precision = False

    def __init__(self, base: DaskObjective) -> None:
        if base.penalty.name != "none":
            raise ValueError("Firth's penalty replaces the ridge penalty; build base unpenalized")
        self.base = base
        self.data = base.data
        self.counter = base.counter
        self.blocks = base.blocks
        self.n_params = base.n_params
        self.n_samples = base.n_samples
        self.n_classes = base.n_classes
        self.p1 = base.p1
        self.param = base.param
        self.penalty = base.penalty
        self.sum_weights = base.sum_weights
        self.fit_intercept = base.fit_intercept
        self._cache: tuple[FloatArray, float, FloatArray] | None = None

    # ------------------------------------------------------------------ delegated
    @property
    def y(self) -> NDArray[np.intp]:
        return self.base.y

    @property
    def normalized_weights(self) -> FloatArray:
        return self.base.normalized_weights

    @property
    def column_factor(self) -> FloatArray:
        return self.base.column_factor

    def set_exact(self, exact: bool) -> None:
        self.base.set_exact(exact)

    def row_unscale(self) -> FloatArray:
        return self.base.row_unscale()

    def original_coefficients(self, theta: FloatArray) -> FloatArray:
        return self.base.original_coefficients(theta)

    def free_from_original(self, B: FloatArray) -> FloatArray:
        return self.base.free_from_original(B)

    def coefficient_key(self, theta: FloatArray) -> Any:
        return self.base.coefficient_key(theta)

    def loglik(self, theta: FloatArray) -> float:
        """The (unpenalized) log-likelihood, sum scale."""
        return self.base.loglik(theta)

    def min_probability(self, theta: FloatArray) -> float:
        return self.base.min_probability(theta)

    # ------------------------------------------------------------------ penalty
    def _penalty(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """``1/2 log det I`` and its gradient: a Hessian pass and a leverage pass."""
        if self._cache is not None and np.array_equal(self._cache[0], theta):
            return self._cache[1], self._cache[2]
        base = self.base
        info = base.loss_hessian_ref0(theta) * self.sum_weights
        try:
            chol = scipy.linalg.cholesky(info, lower=True, check_finite=True)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError, ValueError):
            return float("-inf"), np.zeros_like(theta)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            half_logdet = float(np.sum(np.log(np.diag(chol))))
            inv = scipy.linalg.cho_solve((chol, True), np.eye(info.shape[0]))
        if not (np.isfinite(half_logdet) and np.all(np.isfinite(inv))):
            return float("-inf"), np.zeros_like(theta)
        k1, p1 = self.n_classes - 1, self.p1
        total = 1.0 if self.data.equal_weights else self.sum_weights
        sums: FloatArray = run_pass(
            self.counter,
            "firth leverage",
            self.blocks,
            _penalty_part,
            _add,
            base.coefficient_key(theta),
            shared(inv.reshape(k1, p1, k1, p1)),
            total,
            shared(base.row_unscale()),
        )
        sums[int(self.fit_intercept) :] *= base.column_factor[:, None]
        grad = self.param.free_gradient(sums)
        if not np.all(np.isfinite(grad)):
            return float("-inf"), np.zeros_like(theta)
        self._cache = (np.array(theta, copy=True), half_logdet, grad)
        return half_logdet, grad

    # ------------------------------------------------------------------ objective
    def value(self, theta: FloatArray) -> float:
        half_logdet, _ = self._penalty(theta)
        return self.base.value(theta) - half_logdet / self.sum_weights

    def value_and_gradient(self, theta: FloatArray) -> tuple[float, FloatArray]:
        f, g = self.base.value_and_gradient(theta)
        half_logdet, pg = self._penalty(theta)
        return f - half_logdet / self.sum_weights, g - pg / self.sum_weights

    def information(self, theta: FloatArray) -> FloatArray:
        """The Fisher information (mean scale): a Firth fit's covariance is its inverse."""
        return self.base.hessian(theta)

    def hessian(self, theta: FloatArray) -> FloatArray:
        """The Fisher information (module docstring)."""
        return self.information(theta)

    def hessp(self, theta: FloatArray, v: FloatArray) -> FloatArray:
        return self.base.hessp(theta, v)

    def curvature_product(self, theta: FloatArray, v: FloatArray) -> FloatArray:
        return self.base.hessp(theta, v)

    def curvature_preconditioner(self, theta: FloatArray) -> Inverse | None:
        return None

    def kronecker_preconditioner(self, theta: FloatArray) -> Inverse | None:
        return None

    def probabilities(self, theta: FloatArray) -> FloatArray:
        return self.base.probabilities(theta)

    def linear_predictor(self, theta: FloatArray) -> FloatArray:
        return self.base.linear_predictor(theta)

    def backproject(self, U: FloatArray) -> FloatArray:
        return self.base.backproject(U)

    def subsample(self, stride: int) -> SolverObjective | None:
        return None


#: The objectives a Dask fit builds (the unpenalized or ridge loss, or Firth's wrapper).
DaskFitted = DaskObjective | DaskFirthObjective
