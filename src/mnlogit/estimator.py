"""``MultinomialLogit``: the scikit-learn face of the model.

A thin face over the fit pipeline: :mod:`mnlogit.preparation` validates, encodes and
identifies the data; :mod:`mnlogit.fitting` builds the objective, chooses and runs the
solver and assembles the one fitted state, :class:`mnlogit.fitted.FittedModel`. The
estimator keeps that record as ``fitted_`` and :meth:`MultinomialLogit._set_fitted`, the one
place that writes fitted attributes, copies it onto the scikit-learn attributes.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from mnlogit import io as modelfile
from mnlogit.arrays import Placement, placement_of
from mnlogit.device_fit import build_device_objective, fit_on_device
from mnlogit.device_preparation import prepare_on_device
from mnlogit.distributed.detect import is_dask
from mnlogit.exceptions import InferenceUnavailableError, InvalidInputError, SeparationError, warn
from mnlogit.fitted import OUTCOME_ATTRIBUTES, SELECTION_STATUS, FittedModel
from mnlogit.fitting import (
    Objective,
    build_objective,
    choose_fit_solver,
    convergence_warning,
    covariance_warning,
    estimated_rows,
    fit_covariance,
    fit_sparse,
    fitted_state,
    full_covariance,
    initial_point,
    solve,
)
from mnlogit.formula import MissingValuesDropped, as_pandas
from mnlogit.identification import check_feature_values
from mnlogit.inference.covariance import COV_TYPES
from mnlogit.inference.methods import InferenceMixin
from mnlogit.objective import float64_product
from mnlogit.prediction import device_labels, predict_blocks, predict_on_device
from mnlogit.preparation import FitSettings, PreparedData, prepare
from mnlogit.refit_selected import refit_selected

__all__ = ["MultinomialLogit"]

FloatArray = NDArray[np.float64]

# Serializes the publication of fitted states (``_set_fitted``): fits of one estimator
# from several threads each build their state privately, and the last to finish
# publishes all its attributes at once, never a mixture of two fits.
_PUBLISH_LOCK = threading.Lock()


#: The attributes only a lasso-family fit has.
SELECTION_ATTRIBUTES = ("l1_ratio_", "n_nonzero_")


class MultinomialLogit(InferenceMixin, ClassifierMixin, BaseEstimator):
    """Multinomial logistic (softmax) regression fitted by maximum likelihood.

    ``P(y = c_k | x) = exp(b_k + x . w_k) / sum_j exp(b_j + x . w_j)`` over the classes
    ``c_1 .. c_K``: sorted, or in category order for a pandas categorical ``y`` (as R's
    factor levels and Stata's value order). Unpenalized fits use a reference class whose
    coefficients are zero, so the others are log relative-risk ratios against it; penalized fits
    default to the symmetric form (coefficients sum to zero over classes), whose
    penalty does not depend on which class is called the reference.

    Parameters
    ----------
    reference : label, "first", "last", "auto" or None, default="auto"
        The reference (baseline) class. ``"auto"``: the first class (sorted or category order)
        for unpenalized fits (as statsmodels and R's ``nnet::multinom``), the symmetric
        form for penalized fits with K >= 3 (with K = 2 the first class again: the
        penalty on the one log-odds vector is the same whichever class is the
        reference). ``None``: always the symmetric form (for K = 2 its penalty
        ``alpha/2 ||W||^2`` is half that of the log-odds form, so it equals scikit-learn
        with ``C = 2 / (alpha * S)``).
    penalty : None, "l2", "firth", "l1", "elasticnet" or "group", default=None
        ``None`` is maximum likelihood; ``"l2"`` adds ``alpha/2 * ||W||_F^2`` to the mean
        log-loss (intercepts are not penalized); ``"firth"`` maximizes
        ``loglik + 1/2 log det I`` (Jeffreys prior), which gives finite, bias-reduced
        estimates even under separation (see :mod:`mnlogit.objective.firth`).
        ``"l1"``, ``"elasticnet"`` and ``"group"`` are glmnet's lasso family on all K
        class rows: ``alpha * sum_j f_j (l1_ratio * |W_j|_1 + (1 - l1_ratio)/2 ||W_j||^2)``,
        with ``||W_j||_2`` in place of ``|W_j|_1`` for ``"group"`` (a feature's K
        coefficients enter or leave together); fitted by a proximal Newton solver
        (:mod:`mnlogit.solvers.proximal_newton`), no covariance (selection), and
        ``reference`` must be ``"auto"`` or ``None``. See docs/penalties.md and
        :func:`mnlogit.regularization_path`.
    alpha : float or None, default=None
        Penalty strength on the mean log-loss (glmnet's ``lambda``). ``None`` means
        ``1 / S`` (``S`` the sum of sample weights), which makes
        ``MultinomialLogit(penalty="l2")`` equal scikit-learn's ``LogisticRegression()``
        (``C=1``). In general ``alpha = 1 / (C * S)``. Ignored (with a warning) when
        ``penalty=None`` or ``"firth"``.
    l1_ratio : float or None, default=None
        The lasso share of ``"elasticnet"`` (required) and ``"group"`` (default 1) in
        ``[0, 1]``; ``"l1"`` is 1. ``penalty="elasticnet", l1_ratio=0`` is the ridge of
        ``penalty="l2"`` with ``reference=None``.
    penalty_factor : array-like of shape (p,) or None, default=None
        Per-feature multipliers ``f_j >= 0`` of the sparse penalties (0: unpenalized),
        used as given (glmnet rescales its ``penalty.factor`` to sum to ``p``).
    solver : {"auto", "newton", "irls", "lbfgs", "newton-cg", "gd", "subsample-newton"}, \
default="auto"
        ``"auto"`` follows :func:`mnlogit.solvers.choose_solver`: ``"newton-cg"`` for
        sparse X (``"subsample-newton"`` where it has at most 2000 free parameters and
        room for a row subsample); ``"newton"`` for small dense problems; ``"lbfgs"``
        for dense X with more than 2000 columns and too few rows for a subsample; otherwise
        ``"subsample-newton"`` (L-BFGS whose initial matrix is a Hessian from a row
        subsample, or a Kronecker-factored model of it). See docs/solvers.md.
    tol : float, default=1e-8
        Tolerance of the convergence ``criterion``.
    max_iter : int or None, default=None
        Iteration limit; ``None`` picks the solver's default (100 for Newton and IRLS,
        200 for Newton-CG, 5000 for L-BFGS, 50000 for gradient descent).
    criterion : {"gradient", "parameter", "loglik"}, default="gradient"
        Which of the three recorded convergence measures stops the solver: the largest
        absolute gradient entry of the mean objective, the relative parameter change,
        or the relative objective (log-likelihood) change.
    fit_intercept : bool, default=True
    class_weight : dict, "balanced" or None, default=None
        Multiplies each row's sample weight by its class's weight, as in scikit-learn.
    warm_start : bool, default=False
        Start from the previous solution when refitting on data with the same classes
        and number of features.
    verbose : int, default=0
        1 or more prints one line per solver iteration.
    cov_type : {"nonrobust", "robust", "cluster"} or None, default="nonrobust"
        Covariance computed at the end of ``fit``: inverse observed information,
        sandwich, or cluster sandwich over ``groups=`` passed to ``fit``; ``None``
        skips it (and all standard errors). Skipped with a message in ``cov_status_``
        when there are more than 3000 free parameters (``compute_covariance`` forces it).
    formula : str or None, default=None
        A formulaic formula such as ``"risk ~ age + income + C(region)"``. Then ``fit``
        takes a pandas or polars DataFrame and no ``y`` (the left-hand side is the
        response); strings and categoricals on the right expand to indicator columns
        (``C(x, contr.treatment("level"))`` picks the reference level); the intercept
        follows the formula (``~ 0 + ...`` drops it). ``predict`` and the other methods
        then take data frames too.
    missing : {"error", "drop"}, default="error"
        With a formula: refuse rows with missing values in the formula's columns
        (counting them per column), or drop them with a warning
        (``n_missing_dropped_`` says how many). Prediction always refuses them.
    dtype : {None, "float32", "float64"}, default=None
        Precision of the products with ``X`` during ``fit``. ``None`` keeps a float32 or
        float64 ``X`` as it is (other types become float64); ``"float32"`` converts ``X``
        to float32 (a copy, half the size) and ``"float64"`` to float64. With float32
        data the solver iterates on float32 products to a gradient of 1e-6, then
        finishes in float64 (row chunks converted on the fly, ``X`` never copied), so the
        coefficients match the float64 fit of the same numbers to the requested ``tol``.

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
    reference_ : label or None
    coef_ : ndarray of shape (K, p)
        Rows in ``classes_`` order; the reference row is zero.
    intercept_ : ndarray of shape (K,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (p,)
        Only when X has string column names.
    solver_ : str
    alpha_ : float
        Penalty strength used (0 for unpenalized fits).
    l1_ratio_ : float
        The lasso-family fits' ``l1_ratio`` (absent for the others).
    n_nonzero_ : int
        Lasso-family fits: features with a nonzero coefficient in any class.
    n_iter_ : int
    converged_ : bool
    convergence_ : ConvergenceReport
    loglik_, loglik_null_, deviance_, aic_, bic_, pseudo_r2_ : float
    nobs_ : float
        Sum of the effective sample weights.
    n_params_ : int
        Free parameters, ``(K-1)(p+1)`` (``(K-1)p`` without intercept).
    cov_type_ : str or None
        The covariance type held (``compute_covariance`` can change it).
    cov_status_ : str
        Whether and how the covariance was computed, or why not.
    aliased_ : list of str
        Columns dropped from the fit as linear combinations of earlier ones (not
        estimable).
    collinearity_ : CollinearityResult or None
        The rank check of the design (``None`` for ridge fits or above 2000 columns);
        aliased columns were dropped from the fit (see :mod:`mnlogit.identification`).
    separation_ : SeparationResult or None
        Set when an unpenalized fit's classes are separated (no MLE exists).
    design_ : FormulaDesign or None
        The formula's encoding (formula fits).
    n_missing_dropped_ : int
        Rows dropped for missing values (formula fits only).
    fitted_ : FittedModel
        The one record of the fit that all the attributes above are read from (see
        :mod:`mnlogit.fitted`): what ``save`` writes, ``load`` reads and inference uses.
    """

    def __init__(
        self,
        *,
        reference: Any = "auto",
        penalty: str | None = None,
        alpha: float | None = None,
        l1_ratio: float | None = None,
        penalty_factor: Any = None,
        solver: str = "auto",
        tol: float = 1e-8,
        max_iter: int | None = None,
        criterion: str = "gradient",
        fit_intercept: bool = True,
        class_weight: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        cov_type: str | None = "nonrobust",
        formula: str | None = None,
        missing: str = "error",
        dtype: str | None = None,
    ) -> None:
        self.reference = reference
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.penalty_factor = penalty_factor
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.criterion = criterion
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.verbose = verbose
        self.cov_type = cov_type
        self.formula = formula
        self.missing = missing
        self.dtype = dtype

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        X: Any,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        groups: ArrayLike | None = None,
    ) -> MultinomialLogit:
        """Fit the model by (penalized) maximum likelihood.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n, p), or a data frame with a formula
            Numeric features (a DataFrame's column names are kept). With ``formula=``, a
            pandas or polars DataFrame holding the formula's columns.
        y : array-like of shape (n,), optional
            Class labels of any sortable type; a pandas categorical keeps its category
            order for ``classes_`` (ordered or not), other labels are sorted. Omitted
            with a formula (the left-hand side gives them).
        sample_weight : array-like of shape (n,), optional
            Non-negative frequency weights: weight 2 is the same as the row twice.
        groups : array-like of shape (n,), optional
            Cluster labels for ``cov_type="cluster"``.

        Returns
        -------
        self

        Notes
        -----
        The fit builds its state privately and publishes it in one step at the end: a
        failing fit leaves a fitted model as it was, and fits of one estimator from
        several threads leave the whole state of one of them (the last to finish).
        """
        settings = FitSettings.from_params(self.get_params())
        placement = placement_of(X)
        if settings.sparse and (placement is not None or is_dask(X, y)):
            raise InvalidInputError(
                f"penalty={settings.penalty!r} fits numpy arrays, scipy sparse matrices and data "
                "frames; Dask and device (array-API) arrays take penalty=None, 'l2' or 'firth' "
                "(docs/penalties.md)"
            )
        if placement is not None:  # PyTorch, CuPy, ...: the device engine (docs/gpu.md)
            previous = getattr(self, "fitted_", None) if settings.warm_start else None
            state = fit_on_device(placement, settings, X, y, sample_weight, groups, previous)
            for warning in (convergence_warning(state), covariance_warning(state)):
                if warning is not None:
                    warn(warning)
            self._set_fitted(state, placement)
            return self
        if is_dask(X, y):  # Dask input: the same stages by partition sums (docs/dask.md)
            from mnlogit.distributed.fit import fit_dask

            previous = getattr(self, "fitted_", None) if settings.warm_start else None
            state = fit_dask(settings, X, y, sample_weight, groups, previous)
            for warning in (convergence_warning(state), covariance_warning(state)):
                if warning is not None:
                    warn(warning)
            self._set_fitted(state)
            return self
        # validated on a blank copy: a failing fit leaves a fitted model as it was
        data = prepare(clone(self), settings, X, y, sample_weight, groups)
        if settings.sparse:
            state = fit_sparse(data, settings)
            unconverged = convergence_warning(state)
            if unconverged is not None:
                warn(unconverged)
            self._set_fitted(state)
            return self
        objective = build_objective(data, settings)
        solver = choose_fit_solver(settings, data)
        previous = getattr(self, "fitted_", None) if settings.warm_start else None
        x0 = initial_point(objective, data, previous)
        result, options, solver = solve(solver, objective, x0, settings)
        state = fitted_state(data, settings, objective, result, solver, options)
        state = fit_covariance(state, objective, result.x, data)
        for warning in (convergence_warning(state), covariance_warning(state)):
            if warning is not None:
                warn(warning)
        self._set_fitted(state)
        return self

    def compute_covariance(
        self,
        X: Any,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        groups: ArrayLike | None = None,
        cov_type: str | None = None,
    ) -> MultinomialLogit:
        """Compute (or recompute) the covariance at the fitted coefficients.

        Use it when ``fit`` skipped the covariance (more than 3000 free parameters, or
        ``cov_type=None``) or to switch between nonrobust, robust and cluster errors
        without refitting. Pass the training data: its fingerprint (X, labels, weights)
        must match the one ``fit`` recorded (``InvalidInputError`` otherwise).

        Parameters
        ----------
        X, y, sample_weight, groups
            As given to ``fit``; ``sample_weight`` defaults to the fit's weights.
        cov_type : {"nonrobust", "robust", "cluster"}, optional
            Defaults to the estimator's ``cov_type`` (or ``"nonrobust"`` if that is None).

        Returns
        -------
        self
            Changed in place (as ``fit`` is): the new covariance replaces the old, and
            ``get_params()["cov_type"]`` becomes the kind computed, so that the
            parameters keep describing the model (``clone(model).fit(...)`` gives the same
            covariance). A call that fails changes nothing.
        """
        check_is_fitted(self, "coef_")
        state = self.fitted_
        if state.separation is not None:
            raise SeparationError(state.separation.message)
        if state.outcome is not None and state.outcome.selected:
            raise InferenceUnavailableError(SELECTION_STATUS)
        kind = cov_type or self.cov_type or "nonrobust"
        if kind not in COV_TYPES:
            raise InvalidInputError(f"cov_type must be one of {COV_TYPES}, got {kind!r}")
        settings = FitSettings.from_params(self.get_params(), quiet=True)
        placement = placement_of(X)
        data: PreparedData
        objective: Objective
        if placement is None:
            data = prepare(self, settings, X, y, sample_weight, groups, fitted=state)
            objective = build_objective(data, settings)
        else:  # device data, checked against the fit's fingerprint (device_fingerprint)
            data = prepare_on_device(placement, settings, X, y, sample_weight, groups, state)
            objective = build_device_objective(data, settings)
        theta = objective.free_from_original(estimated_rows(state, data.kept_columns))
        cov, status = full_covariance(objective, theta, kind, data.groups, data, max_params=None)
        if cov is None:
            raise InferenceUnavailableError(status)
        state = state.with_covariance(cov, kind, status)
        warning = covariance_warning(state)
        if warning is not None:
            warn(warning)
        self._set_fitted(state, placement_of(self.coef_))
        self.set_params(cov_type=kind)
        return self

    def refit_selected(
        self, X: Any, y: ArrayLike | None = None, sample_weight: ArrayLike | None = None
    ) -> MultinomialLogit:
        """Unpenalized refit of the features a sparse fit selected, NOT adjusted for the
        selection: see :func:`mnlogit.refit_selected.refit_selected`."""
        return refit_selected(self, X, y, sample_weight)

    # ------------------------------------------------------------------ fitted state
    def _set_fitted(self, state: FittedModel, placement: Placement | None = None) -> None:
        """Hold ``state`` as ``fitted_`` and set every scikit-learn attribute from it.

        With a ``placement`` (a fit of device arrays) ``coef_`` and ``intercept_`` are
        arrays of that namespace on that device in X's dtype, as scikit-learn's array-API
        convention has it; every other attribute, and ``fitted_`` itself, holds host values.

        The one place that writes fitted attributes. Attributes a state cannot know are
        absent rather than ``None``, as scikit-learn expects: a model built from
        coefficients has no ``loglik_``, ``solver_``, ``convergence_`` or ``cov_type_``
        (until ``compute_covariance`` gives it one), a fit without a formula no
        ``n_missing_dropped_``, a fit on bare arrays no ``feature_names_in_``.
        """
        values: dict[str, Any] = dict.fromkeys((*OUTCOME_ATTRIBUTES, *SELECTION_ATTRIBUTES))
        values.update(
            feature_names_in_=state.feature_names_in,
            convergence_=state.convergence,
            cov_status_=state.cov_status,
            n_missing_dropped_=state.n_missing_dropped,
            cov_type_=None,
        )
        if state.outcome is not None:
            values.update(state.outcome.attributes())
            if state.outcome.selected:
                values["l1_ratio_"] = state.outcome.l1_ratio
                values["n_nonzero_"] = int(np.count_nonzero(np.any(state.coef != 0, axis=0)))
        optional = {name: value for name, value in values.items() if value is not None}
        if state.outcome is not None or state.cov is not None:
            optional["cov_type_"] = state.cov_type  # None too: fit skipped the covariance
        fixed = {
            "fitted_": state,
            "classes_": state.classes,
            "reference_": state.reference,
            "coef_": state.coef if placement is None else placement.attribute(state.coef),
            "intercept_": (
                state.intercept if placement is None else placement.attribute(state.intercept)
            ),
            "fit_intercept_": state.fit_intercept,
            "n_features_in_": state.n_features,
            "design_": state.design,
            "aliased_": list(state.aliased),
            "separation_": state.separation,
            "collinearity_": state.collinearity,
        }
        with _PUBLISH_LOCK:
            for name in set(values) - set(optional):
                self.__dict__.pop(name, None)
            self.__dict__.update(fixed, **optional)

    def with_reference(self, reference: Any) -> MultinomialLogit:
        """The same fit expressed against another reference class (no refit).

        Parameters
        ----------
        reference : label, "first", "last" or None
            A class label, ``"first"`` or ``"last"`` (of ``classes_``, as the constructor
            takes them; the keywords are checked before the labels), or ``None`` for the
            symmetric form. ``get_params()["reference"]`` of the copy is what was given.

        Returns
        -------
        MultinomialLogit
            A copy whose coefficients (and covariance, moved as ``J cov J^T``) are
            re-expressed; probabilities and log-likelihoods are identical.
        """
        check_is_fitted(self, "coef_")
        state = self.fitted_.with_reference(reference)
        new: MultinomialLogit = clone(self).set_params(reference=reference)
        new._set_fitted(state, placement_of(self.coef_))
        return new

    # ------------------------------------------------------------------ prediction
    def _design_matrix(self, X: Any, check_finite: bool = True) -> Any:
        """The model's design matrix for new data (formula applied, or X validated).

        Parameters
        ----------
        X : array-like, DataFrame or sparse matrix of shape (n, p)
        check_finite : bool, default=True
            False: types and shape only; the caller checks finiteness in its own pass
            (predictions do, see :mod:`mnlogit.prediction`).

        Returns
        -------
        ndarray or sparse matrix of shape (n, p)
        """
        check_is_fitted(self, "coef_")
        state = self.fitted_
        if state.design is not None:
            return state.design.transform(X)
        check_feature_values(X, state.feature_names_in, check_finite=check_finite)
        with np.errstate(over="ignore", invalid="ignore"):  # its finiteness check sums X
            return validate_data(
                self,
                X,
                accept_sparse=("csr", "csc"),
                dtype=(np.float64, np.float32),
                reset=False,
                ensure_all_finite=check_finite,
            )

    def _predict(
        self, X: Any, kind: Literal["proba", "log_proba", "argmax"], state: FittedModel | None
    ) -> NDArray[Any]:
        """Row-block predictions of one fitted state (:func:`mnlogit.prediction.predict_blocks`).

        Returns
        -------
        ndarray of shape (n, K), or (n,) of class indices for ``"argmax"``
        """
        check_is_fitted(self, "coef_")
        state = state if state is not None else self.fitted_
        placement = placement_of(X)
        if placement is not None:  # arrays of X's namespace, on its device
            return cast(
                NDArray[Any], predict_on_device(placement, X, state.coef, state.intercept, kind)
            )
        Xd = self._design_matrix(X, check_finite=False)

        def refuse() -> None:  # the error path re-reads X to name the columns and rows
            check_feature_values(X, state.feature_names_in)
            check_feature_values(Xd, state.feature_names_in)

        return predict_blocks(Xd, state.coef, state.intercept, kind, refuse)

    def _dask_predict(self, X: Any, kind: Literal["proba", "log_proba", "labels"]) -> Any:
        """Lazy predictions of Dask input (:func:`mnlogit.distributed.prediction.dask_predict`)."""
        from mnlogit.distributed.prediction import dask_predict

        check_is_fitted(self, "coef_")
        return dask_predict(self.fitted_, X, kind)

    def score(self, X: Any, y: ArrayLike | None = None, sample_weight: Any = None) -> float:
        """Accuracy; with a formula, ``y`` defaults to the data's response column."""
        state = getattr(self, "fitted_", None)
        if y is None and state is not None and state.design is not None:
            y = state.design.response_values(X)
        return float(super().score(X, y, sample_weight=sample_weight))

    def _complete_rows(self, X: Any) -> tuple[Any, NDArray[np.bool_] | None]:
        """The rows of ``X`` that can be predicted, and which rows they are.

        A formula model fitted with ``missing="drop"`` predicts data with missing values:
        the rows with a missing value in the formula's columns are left out (``mask``
        False; a ``MissingValuesDropped`` warning counts them) and come back as NaN
        (:meth:`_scatter`). Otherwise ``X`` itself (``mask`` None): missing values are
        then refused by the design matrix.
        """
        check_is_fitted(self, "coef_")
        design = self.fitted_.design
        if design is None or self.missing != "drop":
            return X, None
        mask = design.complete_rows(X)
        if mask.all():
            return X, None
        warn(
            MissingValuesDropped(
                f"{int((~mask).sum())} of {mask.size} rows have missing values in the "
                "formula's columns: their predictions are NaN (the model was fitted with "
                "missing='drop')"
            )
        )
        return as_pandas(X).loc[mask], mask

    @staticmethod
    def _scatter(values: FloatArray, mask: NDArray[np.bool_] | None) -> FloatArray:
        """``values`` of the predicted rows at their places, NaN elsewhere."""
        if mask is None:
            return values
        out = np.full((mask.size, *values.shape[1:]), np.nan)
        out[mask] = values
        return out

    def linear_predictor(self, X: ArrayLike) -> FloatArray:
        """Linear predictors ``eta = X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n, p)

        Returns
        -------
        ndarray of shape (n, K)
            ``inf`` where a linear predictor exceeds the float64 range (features near
            1e308); :meth:`predict_log_proba` stays finite there. NaN rows for rows
            with missing values when the model was fitted with ``missing="drop"``.
        """
        placement = placement_of(X)
        if placement is not None:
            state = self.fitted_
            return cast(
                FloatArray, predict_on_device(placement, X, state.coef, state.intercept, "eta")
            )
        rows, mask = self._complete_rows(X)
        return self._scatter(self._eta(self._design_matrix(rows), self.fitted_), mask)

    @staticmethod
    def _eta(Xd: Any, state: FittedModel) -> FloatArray:
        """Linear predictors of a design matrix (one fitted state read once: a fit in
        another thread cannot mix two states)."""
        # float32 X: float64 products of row chunks (no float64 copy, no float32 rounding)
        with np.errstate(over="ignore", invalid="ignore"):
            eta = float64_product(Xd, state.coef.T)
            eta += state.intercept
        return eta

    def decision_function(self, X: ArrayLike) -> FloatArray:
        """Linear predictors, in scikit-learn's shape convention.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n, p)

        Returns
        -------
        ndarray of shape (n, K), or (n,) when K == 2
            For two classes, the log-odds of ``classes_[1]`` against ``classes_[0]``
            (what scikit-learn's binary classifiers return); use
            :meth:`linear_predictor` for the ``(n, 2)`` matrix.
        """
        eta = self.linear_predictor(X)
        if eta.shape[1] == 2:
            with np.errstate(invalid="ignore", over="ignore"):
                return eta[:, 1] - eta[:, 0]
        return eta

    def predict_log_proba(self, X: ArrayLike) -> FloatArray:
        """Log class probabilities, finite for any finite input (log-sum-exp, and rows
        scaled where the linear predictor overflows); computed in row blocks.

        Returns
        -------
        ndarray of shape (n, K)
            NaN rows for rows with missing values when the model was fitted with
            ``missing="drop"`` (a ``MissingValuesDropped`` warning counts them).
        """
        if is_dask(X):  # a lazy Dask array (docs/dask.md)
            return self._dask_predict(X, "log_proba")
        rows, mask = self._complete_rows(X)
        return self._scatter(self._predict(rows, "log_proba", None), mask)

    def predict_proba(self, X: ArrayLike) -> FloatArray:
        """Class probabilities; each row sums to one. Computed in row blocks, the
        softmax in place: the result is the only ``(n, K)`` array.

        Returns
        -------
        ndarray of shape (n, K)
            NaN rows for rows with missing values when the model was fitted with
            ``missing="drop"`` (a ``MissingValuesDropped`` warning counts them).
        """
        if is_dask(X):  # a lazy Dask array (docs/dask.md)
            return self._dask_predict(X, "proba")
        rows, mask = self._complete_rows(X)
        return self._scatter(self._predict(rows, "proba", None), mask)

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Most probable class.

        Returns
        -------
        ndarray of shape (n,)
            With ``missing="drop"`` and rows with missing values, an object array with
            ``None`` for those rows.
        """
        placement = placement_of(X)
        if placement is not None:
            return cast(
                NDArray[Any],
                device_labels(placement, self.fitted_.classes, self._predict(X, "argmax", None)),
            )
        if is_dask(X):  # a lazy Dask array (docs/dask.md)
            return self._dask_predict(X, "labels")
        rows, mask = self._complete_rows(X)
        state = self.fitted_
        labels = np.asarray(state.classes[self._predict(rows, "argmax", state)])
        if mask is None:
            return labels
        out = np.full(mask.size, None, dtype=object)
        out[mask] = labels
        return out

    def evaluate(self, X: Any, y: ArrayLike | None = None) -> Any:
        """Accuracy, log loss, Brier score, per-class precision/recall/F1, confusion matrix.

        Parameters
        ----------
        X : array-like of shape (n, p), or a data frame for formula models
        y : array-like of shape (n,), optional
            With a formula model, defaults to the data's response column.

        Returns
        -------
        EvaluationReport
        """
        if is_dask(X, y):  # partition sums, one pass (docs/dask.md)
            from mnlogit.distributed.prediction import dask_evaluate

            check_is_fitted(self, "coef_")
            return dask_evaluate(self.fitted_, X, y)
        from mnlogit.evaluation import evaluate

        return evaluate(self, X, y)

    def results(self, X: Any = None, y: ArrayLike | None = None) -> Any:
        """statsmodels' names for this fit (``params``, ``bse``, ``llr_pvalue``, ...).

        Parameters
        ----------
        X : array-like or data frame, optional
            The training data, needed by ``resid_response`` and ``get_margeff``.
        y : array-like, optional
            Their labels (formula models read them from ``X``).

        Returns
        -------
        mnlogit.results.Results
            A view: every number comes from this model's own API (see
            :mod:`mnlogit.results` for the mapping).
        """
        from mnlogit.results import Results

        check_is_fitted(self, "coef_")
        return Results(self, X, y)

    @property
    def results_(self) -> Any:
        """``results()`` without data: statsmodels' names that need only the fit."""
        return self.results()

    def save(self, path: Any) -> Any:
        """Write the model to a file (ZIP of JSON metadata and ``.npy`` arrays, no pickle).

        Parameters
        ----------
        path : str or Path

        Returns
        -------
        Path
            See :mod:`mnlogit.io` and ``docs/model-file.md``; read back with
            :func:`mnlogit.load`.
        """
        return modelfile.save(self, path)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_fitted(
        cls, fitted: FittedModel, params: Mapping[str, Any] | None = None
    ) -> MultinomialLogit:
        """An estimator holding a fitted state (what ``mnlogit.load`` returns).

        Parameters
        ----------
        fitted : FittedModel
        params : mapping, optional
            Estimator parameters (``get_params()`` names); unknown names are ignored.

        Returns
        -------
        MultinomialLogit
        """
        known = cls().get_params()
        model = cls(**{k: v for k, v in (params or {}).items() if k in known})
        model._set_fitted(fitted)
        return model

    @classmethod
    def from_coefficients(
        cls,
        classes: ArrayLike,
        intercept: ArrayLike,
        coef: ArrayLike,
        reference: Any = None,
        feature_names: ArrayLike | None = None,
    ) -> MultinomialLogit:
        """A fitted model from given coefficients (worked examples, model files).

        Parameters
        ----------
        classes : array-like of shape (K,)
            Class labels, in the order of the rows of ``intercept`` and ``coef``.
        intercept : array-like of shape (K,) or (K-1,)
        coef : array-like of shape (K, p) or (K-1, p)
            With ``K-1`` rows, ``reference`` must be given and the rows are the other
            classes in the order of ``classes``; the reference row is zero.
        reference : label or None
            The reference class. With ``K`` rows and a reference, the coefficients are
            re-expressed against it (each row minus the reference row); with ``None``
            they are centred over classes (symmetric form). Probabilities are the
            same either way.
        feature_names : array-like of shape (p,), optional

        Returns
        -------
        MultinomialLogit
            Ready for ``predict``/``predict_proba``; it carries no fit statistics.
        """
        state = FittedModel.from_coefficients(classes, intercept, coef, reference, feature_names)
        return cls.from_fitted(state, {"reference": reference})


def load(path: str | Path) -> MultinomialLogit:
    """Read a model file written by ``MultinomialLogit.save`` (see :func:`mnlogit.io.read`).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    MultinomialLogit
        Ready to predict; carries the covariance and fit statistics it was saved with.
    """
    params, state = modelfile.read(path)
    return MultinomialLogit.from_fitted(state, params)
