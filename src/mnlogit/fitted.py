"""The fitted state: one immutable record of everything a fit produces.

:class:`FittedModel` is made in four places and nowhere else:

- ``MultinomialLogit.fit`` (by :func:`mnlogit.fitting.fitted_state`, then
  :meth:`FittedModel.with_covariance`);
- :func:`mnlogit.io.read` (``mnlogit.load``), from a model file;
- :meth:`FittedModel.from_coefficients` (``MultinomialLogit.from_coefficients``);
- :meth:`FittedModel.with_reference` (``MultinomialLogit.with_reference``).

The estimator keeps it as ``fitted_`` and copies its fields onto the scikit-learn
attributes (``coef_``, ``classes_``, ``loglik_``, ...) in one method; the model file
serializes it; inference, summary, report and CLI read it through the public names
below (``feature_names``, ``term_names``, ``cov``, ``coefficient_matrix()``, ...).

Fields that a producer cannot know are ``None``: a model built from coefficients has
no ``outcome`` (solver, statistics), no ``convergence`` and no covariance.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mnlogit.convergence import ConvergenceReport
from mnlogit.exceptions import InvalidInputError
from mnlogit.fingerprint import DataFingerprint
from mnlogit.fitstats import FitStatistics
from mnlogit.formula import FormulaDesign
from mnlogit.identification import (
    CollinearityResult,
    RecordedSeparation,
    SeparationResult,
    aliased_mask,
)
from mnlogit.parameterization import Parameterization

__all__ = ["OUTCOME_ATTRIBUTES", "SELECTION_STATUS", "FitOutcome", "FittedModel"]

FloatArray = NDArray[np.float64]


#: The estimator attributes a :class:`FitOutcome` gives, in :meth:`FitOutcome.attributes`'s order.
OUTCOME_ATTRIBUTES = (
    "loglik_",
    "loglik_null_",
    "deviance_",
    "aic_",
    "bic_",
    "pseudo_r2_",
    "nobs_",
    "n_params_",
    "n_iter_",
    "converged_",
    "solver_",
    "alpha_",
)

#: ``cov_status_`` of a lasso-family fit, and the message of its refused inference.
SELECTION_STATUS = (
    "no standard errors after selection by a lasso-family penalty: the nonzero terms were "
    "chosen by the same data, so standard errors, tests and intervals computed as if they "
    "had been fixed in advance are not valid. refit_selected(X, y) gives an unpenalized "
    "fit on the selected columns (its inference is not adjusted for the selection)"
)


@dataclass(frozen=True, eq=False)
class FitOutcome:
    """What solving produced (absent on a model built from coefficients).

    Attributes
    ----------
    solver : str
        The solver that ran (``"auto"`` resolved).
    alpha : float
        Penalty strength used (0 for unpenalized and Firth fits).
    n_iter : int
    converged : bool
    statistics : FitStatistics
        Log-likelihoods, free-parameter count and sum of weights; deviance, AIC, BIC
        and pseudo-R² derive from them.
    l1_ratio : float or None
        Set by the lasso-family fits (``penalty="l1"``, ``"elasticnet"``, ``"group"``),
        whose coefficients were selected by the penalty: no covariance is computed for
        them (``selected``). ``None`` for the other fits.
    """

    solver: str
    alpha: float
    n_iter: int
    converged: bool
    statistics: FitStatistics
    l1_ratio: float | None = None

    @property
    def selected(self) -> bool:
        """Whether a lasso-family penalty selected the terms (inference is refused)."""
        return self.l1_ratio is not None

    def attributes(self) -> dict[str, Any]:
        """The estimator's fitted attributes for this outcome, by name (``loglik_``, ...).

        The one mapping from the record to scikit-learn-style names: the estimator sets
        these attributes and the model file stores them under the same names.
        """
        s = self.statistics
        values: tuple[Any, ...] = (s.loglik, s.loglik_null, s.deviance, s.aic, s.bic)
        values += (s.pseudo_r2, s.nobs, s.n_params, self.n_iter, self.converged)
        values += (self.solver, self.alpha)
        return dict(zip(OUTCOME_ATTRIBUTES, values, strict=True))


@dataclass(frozen=True, eq=False)
class FittedModel:
    """Everything a fit produces, in one immutable record.

    Attributes
    ----------
    classes : ndarray of shape (K,)
        Sorted class labels (the rows of ``coef`` and ``intercept``).
    reference : label or None
        The reference class as given (``None``: symmetric form).
    reference_index : int or None
        Its position in ``classes``, resolved once by
        :meth:`~mnlogit.parameterization.Parameterization.resolve_reference`.
    coef : ndarray of shape (K, p)
        Rows in ``classes`` order; the reference row is zero; aliased columns hold 0.
    intercept : ndarray of shape (K,)
        Zeros without an intercept.
    fit_intercept : bool
    feature_names_in : ndarray of shape (p,) or None
        String column names of the training frame (``None`` for bare arrays and formula
        fits).
    design : FormulaDesign or None
        The formula's encoding, for formula fits.
    kept_columns : ndarray of shape (p_kept,) or None
        Feature columns estimated (``None``: all); the others were aliased.
    aliased : tuple of str
        Names of the aliased (dropped) columns.
    cov : ndarray of shape (K * p1, K * p1) or None
        Covariance of ``vec(B)`` (class-major, ``p1 = p + fit_intercept``); zero rows and
        columns for the reference class and for aliased coefficients.
    cov_type : str or None
        The covariance type held (or asked for: ``None`` when ``fit`` skipped it).
    cov_status : str or None
        Whether and how the covariance was computed, or why not (``None``: never asked).
    outcome : FitOutcome or None
        Solver, penalty strength, iterations and fit statistics.
    convergence : ConvergenceReport or None
    separation : SeparationResult, RecordedSeparation or None
        Set when an unpenalized fit's classes are separated (a model file keeps the kind
        and message only).
    collinearity : CollinearityResult or None
        The rank check of the design (not kept in model files).
    n_missing_dropped : int or None
        Rows dropped for missing values (formula fits only).
    fingerprint : DataFingerprint or None
        Digests of the data fitted (X, labels, weights): refits and nested-model tests
        check their data against it. Kept in model files; ``None`` for models built
        from coefficients and files written before it existed.
    sample_weight : ndarray or None
        The ``sample_weight`` given to ``fit``, reused by refits that are not given one
        (not kept in model files).
    """

    classes: NDArray[Any]
    reference: Any
    reference_index: int | None
    coef: FloatArray
    intercept: FloatArray
    fit_intercept: bool = True
    feature_names_in: NDArray[np.object_] | None = None
    design: FormulaDesign | None = None
    kept_columns: NDArray[np.intp] | None = None
    aliased: tuple[str, ...] = ()
    cov: FloatArray | None = field(default=None, repr=False)
    cov_type: str | None = None
    cov_status: str | None = None
    outcome: FitOutcome | None = None
    convergence: ConvergenceReport | None = field(default=None, repr=False)
    separation: SeparationResult | RecordedSeparation | None = None
    collinearity: CollinearityResult | None = field(default=None, repr=False)
    n_missing_dropped: int | None = None
    fingerprint: DataFingerprint | None = None
    sample_weight: FloatArray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        K, p = self.n_classes, self.n_features
        if self.coef.ndim != 2 or self.coef.shape[0] != K or self.intercept.shape != (K,):
            raise ValueError(
                f"coef {self.coef.shape} and intercept {self.intercept.shape} do not fit "
                f"{K} classes"
            )
        if self.reference_index is not None and not 0 <= self.reference_index < K:
            raise ValueError(f"reference index {self.reference_index} out of range")
        size = K * self.p1
        if self.cov is not None and self.cov.shape != (size, size):
            raise ValueError(f"covariance of shape {self.cov.shape}, expected {(size, size)}")
        if self.feature_names_in is not None and self.feature_names_in.shape != (p,):
            raise ValueError(f"{self.feature_names_in.shape} feature names for {p} features")

    # ------------------------------------------------------------------ layout
    @property
    def n_classes(self) -> int:
        """``K``."""
        return int(self.classes.size)

    @property
    def n_features(self) -> int:
        """``p``, the design columns (aliased ones included)."""
        return int(self.coef.shape[1])

    @property
    def p1(self) -> int:
        """Coefficient rows per class: ``p + 1`` with an intercept, else ``p``."""
        return self.n_features + int(self.fit_intercept)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the ``p`` design columns: the formula's columns, the training frame's
        column names, or ``x0, x1, ...`` for bare arrays."""
        if self.design is not None:
            return tuple(self.design.columns)
        if self.feature_names_in is not None:
            return tuple(str(n) for n in self.feature_names_in)
        return tuple(f"x{j}" for j in range(self.n_features))

    @property
    def term_names(self) -> tuple[str, ...]:
        """The ``p1`` coefficient rows of each class: ``"Intercept"`` first (when fitted),
        then :attr:`feature_names`."""
        names = self.feature_names
        return ("Intercept", *names) if self.fit_intercept else names

    @property
    def aliased_mask(self) -> NDArray[np.bool_]:
        """True for the ``K * p1`` entries of ``vec(B)`` whose column was aliased."""
        return aliased_mask(self.kept_columns, self.n_features, self.n_classes, self.fit_intercept)

    def free_classes(self) -> list[int]:
        """Positions of the classes with free coefficients (all but the reference)."""
        return [k for k in range(self.n_classes) if k != self.reference_index]

    def coefficient_matrix(self) -> FloatArray:
        """``B``: column ``k`` holds class ``k``'s intercept (row 0, when fitted) and weights.

        Returns
        -------
        ndarray of shape (p1, K)
        """
        B = self.coef.T
        if self.fit_intercept:
            B = np.vstack([self.intercept[None, :], B])
        return np.asarray(B, dtype=np.float64)

    def coefficient_vector(self) -> FloatArray:
        """``vec(B)``, class-major (the layout of :attr:`cov`).

        Returns
        -------
        ndarray of shape (K * p1,)
        """
        return np.ascontiguousarray(self.coefficient_matrix().T).reshape(-1)

    # ------------------------------------------------------------------ new states
    def with_covariance(
        self, cov: FloatArray | None, cov_type: str | None, status: str
    ) -> FittedModel:
        """The same fit holding another covariance (``compute_covariance``).

        Parameters
        ----------
        cov : ndarray of shape (K * p1, K * p1) or None
        cov_type : str or None
        status : str

        Returns
        -------
        FittedModel
        """
        return replace(self, cov=cov, cov_type=cov_type, cov_status=status)

    def with_reference(self, reference: Any) -> FittedModel:
        """The same fit expressed against another reference class (no refit).

        Coefficients move to the new representative ``B @ N``; the covariance moves with
        the Jacobian of that map, ``J cov J^T``. Probabilities and everything else are
        unchanged.

        Parameters
        ----------
        reference : label, "first", "last" or None
            A class label, ``"first"`` / ``"last"`` (the first or last of ``classes``,
            as the constructor's ``reference`` takes them; keywords before labels), or
            ``None`` for the symmetric form.

        Returns
        -------
        FittedModel
        """
        if isinstance(reference, str) and reference in ("first", "last"):
            index: int | None = 0 if reference == "first" else self.n_classes - 1
            reference = self.classes[index]
        else:
            index = Parameterization.resolve_reference(reference, self.classes, keywords=False)
        target = Parameterization(self.n_classes, index)
        B = target.project(self.coefficient_matrix())
        off = int(self.fit_intercept)
        cov = self.cov
        if cov is not None:
            J = target.full_jacobian(self.p1)
            cov = J @ cov @ J.T
        return replace(
            self,
            reference=reference,
            reference_index=index,
            coef=np.ascontiguousarray(B[off:].T),
            intercept=np.ascontiguousarray(B[0]) if self.fit_intercept else self.intercept,
            cov=cov,
        )

    @classmethod
    def from_coefficients(
        cls,
        classes: ArrayLike,
        intercept: ArrayLike,
        coef: ArrayLike,
        reference: Any = None,
        feature_names: ArrayLike | None = None,
    ) -> FittedModel:
        """A state from given coefficients (see ``MultinomialLogit.from_coefficients``).

        Parameters
        ----------
        classes : array-like of shape (K,)
            Class labels, in the order of the rows of ``intercept`` and ``coef``.
        intercept : array-like of shape (K,) or (K-1,)
        coef : array-like of shape (K, p) or (K-1, p)
            With ``K-1`` rows, ``reference`` must be given and the rows are the other
            classes in the order of ``classes``.
        reference : label or None
            With ``K`` rows and a reference, the coefficients are re-expressed against it;
            with ``None`` they are centred over classes (symmetric form).
        feature_names : array-like of shape (p,), optional

        Returns
        -------
        FittedModel
            Classes sorted; no outcome, convergence report or covariance.
        """
        labels = np.asarray(classes)
        K = labels.size
        if K < 2 or np.unique(labels).size != K:
            raise InvalidInputError("classes must hold at least two distinct labels")
        b = np.atleast_1d(np.asarray(intercept, dtype=np.float64))
        W = np.atleast_2d(np.asarray(coef, dtype=np.float64))
        if W.shape[0] != b.shape[0]:
            raise InvalidInputError(
                f"intercept has {b.shape[0]} entries but coef has {W.shape[0]} rows"
            )
        order = np.argsort(labels, kind="stable")
        index = Parameterization.resolve_reference(reference, labels[order], keywords=False)
        ref_pos = None if index is None else int(order[index])  # in the order given
        if W.shape[0] == K - 1:
            if ref_pos is None:
                raise InvalidInputError("coef with K-1 rows needs the reference class")
            W = np.insert(W, ref_pos, 0.0, axis=0)
            b = np.insert(b, ref_pos, 0.0)
        if W.shape[0] != K:
            raise InvalidInputError(f"coef must have {K} or {K - 1} rows, got {W.shape[0]}")
        B = np.vstack([b[None, :], W.T])
        shift = B.mean(axis=1, keepdims=True) if ref_pos is None else B[:, [ref_pos]]
        B = B - shift
        names = None
        if feature_names is not None:
            names = np.asarray(feature_names, dtype=object)
            if names.shape != (W.shape[1],):
                raise InvalidInputError(
                    f"feature_names must have {W.shape[1]} entries, got {names.shape}"
                )
        return cls(
            classes=labels[order],
            reference=reference,
            reference_index=index,
            coef=np.ascontiguousarray(B[1:, order].T),
            intercept=np.ascontiguousarray(B[0, order]),
            fit_intercept=True,
            feature_names_in=names,
        )
