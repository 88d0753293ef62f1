"""``MultinomialLogit``: the scikit-learn face of the model.

It validates inputs, builds the objective for the chosen parameterization and
penalty, runs a solver, and stores the fitted state. The math lives in
:mod:`mnlogit.objective`, the optimization in :mod:`mnlogit.solvers`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from mnlogit.convergence import ConvergenceReport
from mnlogit.diagnostics import (
    check_class_sizes,
    check_feature_values,
    check_labels_present,
    check_positive_number,
    check_weights,
    column_maxabs,
    column_scales,
    encode_labels,
    resolve_reference,
)
from mnlogit.exceptions import (
    ConvergenceWarning,
    DataWarning,
    InferenceUnavailableError,
    InvalidInputError,
    SeparationError,
    SolverError,
)
from mnlogit.firth import FirthObjective
from mnlogit.fitstats import FitStatistics, null_loglik
from mnlogit.formula import FormulaDesign
from mnlogit.identification import (
    aliased_mask,
    drop_aliased,
    expand_coefficients,
    expand_covariance,
    find_separation,
    kept_rows,
    separation_suspected,
)
from mnlogit.inference import InferenceMixin
from mnlogit.inference.covariance import COV_TYPES, compute_covariance
from mnlogit.objective import MultinomialObjective, log_softmax
from mnlogit.parameterization import Parameterization
from mnlogit.penalties import make_penalty
from mnlogit.precision import VALIDATE_DTYPES, float64_product, solve_in_precision
from mnlogit.solvers import (
    CRITERIA,
    DEFAULT_MAX_ITER,
    SOLVERS,
    SolverOptions,
    choose_solver,
)

__all__ = ["MultinomialLogit"]

FloatArray = NDArray[np.float64]


class MultinomialLogit(InferenceMixin, ClassifierMixin, BaseEstimator):
    """Multinomial logistic (softmax) regression fitted by maximum likelihood.

    ``P(y = c_k | x) = exp(b_k + x . w_k) / sum_j exp(b_j + x . w_j)`` over the sorted
    classes ``c_1 .. c_K``. Unpenalized fits use a reference class whose coefficients
    are zero, so the others are log relative-risk ratios against it; penalized fits
    default to the symmetric form (coefficients sum to zero over classes), whose
    penalty does not depend on which class is called the reference.

    Parameters
    ----------
    reference : label, "first", "last", "auto" or None, default="auto"
        The reference (baseline) class. ``"auto"``: the first class in sorted order
        for unpenalized fits (as statsmodels and R's ``nnet::multinom``), the symmetric
        form for penalized fits with K >= 3 (with K = 2 the first class again: the
        penalty on the one log-odds vector is the same whichever class is the
        reference). ``None``: always the symmetric form (for K = 2 its penalty
        ``alpha/2 ||W||^2`` is half that of the log-odds form, so it equals scikit-learn
        with ``C = 2 / (alpha * S)``).
    penalty : None, "l2" or "firth", default=None
        ``None`` is maximum likelihood; ``"l2"`` adds ``alpha/2 * ||W||_F^2`` to the mean
        log-loss (intercepts are not penalized); ``"firth"`` maximizes
        ``loglik + 1/2 log det I`` (Jeffreys prior), which gives finite, bias-reduced
        estimates even under separation (see :mod:`mnlogit.firth`).
    alpha : float or None, default=None
        Penalty strength on the mean log-loss. ``None`` means ``1 / S`` (``S`` the sum
        of sample weights), which makes ``MultinomialLogit(penalty="l2")`` equal
        scikit-learn's ``LogisticRegression()`` (``C=1``). In general
        ``alpha = 1 / (C * S)``. Ignored (with a warning) when ``penalty=None``.
    solver : {"auto", "newton", "irls", "lbfgs", "newton-cg", "gd", "subsample-newton"}, \
default="auto"
        ``"auto"`` follows :func:`mnlogit.solvers.choose_solver`: ``"newton-cg"`` for
        sparse X; ``"newton"`` for small dense problems; ``"lbfgs"`` for dense X with more
        than 2000 columns and too few rows for a subsample; otherwise
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
    """

    def __init__(
        self,
        *,
        reference: Any = "auto",
        penalty: str | None = None,
        alpha: float | None = None,
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
    def _check_params(self) -> tuple[str, float, float]:
        if self.penalty not in (None, "l2", "firth"):
            raise InvalidInputError(f"penalty must be None, 'l2' or 'firth', got {self.penalty!r}")
        if self.penalty == "firth" and self.solver == "irls":
            raise InvalidInputError(
                "solver='irls' does not support penalty='firth'; use 'newton' or 'lbfgs'"
            )
        if self.solver != "auto" and self.solver not in SOLVERS:
            raise InvalidInputError(
                f"solver must be 'auto' or one of {sorted(SOLVERS)}, got {self.solver!r}"
            )
        if self.dtype not in (None, "float32", "float64"):
            raise InvalidInputError(
                f"dtype must be None, 'float32' or 'float64', got {self.dtype!r}"
            )
        if self.missing not in ("error", "drop"):
            raise InvalidInputError(f"missing must be 'error' or 'drop', got {self.missing!r}")
        if self.formula is not None and not isinstance(self.formula, str):
            raise InvalidInputError(f"formula must be a string, got {type(self.formula).__name__}")
        if self.cov_type is not None and self.cov_type not in COV_TYPES:
            raise InvalidInputError(
                f"cov_type must be one of {COV_TYPES} or None, got {self.cov_type!r}"
            )
        if self.criterion not in CRITERIA:
            raise InvalidInputError(f"criterion must be one of {CRITERIA}, got {self.criterion!r}")
        tol = check_positive_number("tol", self.tol)
        if not isinstance(self.fit_intercept, bool | np.bool_):
            raise InvalidInputError(
                f"fit_intercept must be True or False, got {self.fit_intercept!r}"
            )
        if (
            isinstance(self.verbose, bool)
            or not isinstance(self.verbose, int | np.integer)
            or self.verbose < 0
        ):
            raise InvalidInputError(f"verbose must be a non-negative integer, got {self.verbose!r}")
        if self.max_iter is not None and (
            isinstance(self.max_iter, bool)
            or not isinstance(self.max_iter, int | np.integer)
            or self.max_iter < 1
        ):
            raise InvalidInputError(
                f"max_iter must be a positive integer or None, got {self.max_iter!r}"
            )
        if self.penalty != "l2" and self.alpha is not None:
            warnings.warn(
                f"alpha is ignored because penalty={self.penalty!r}; set penalty='l2' to use it",
                UserWarning,
                stacklevel=3,
            )
        alpha = 0.0
        if self.penalty == "l2" and self.alpha is not None:
            alpha = check_positive_number("alpha", self.alpha, allow_zero=True)
        return self.solver, alpha, tol

    def _initial_theta(
        self,
        obj: MultinomialObjective,
        classes: NDArray[Any],
        class_totals: FloatArray,
    ) -> FloatArray:
        """Warm start if asked and compatible, else the intercept-only (null) model."""
        K, p1 = classes.size, obj.p1
        if (
            self.warm_start
            and hasattr(self, "coef_")
            and np.array_equal(getattr(self, "classes_", np.empty(0)), classes)
            and getattr(self, "fit_intercept_", None) == obj.fit_intercept
            and self._warm_columns_match(obj)
        ):
            B = self.coef_.T
            if obj.fit_intercept:
                B = np.vstack([self.intercept_[None, :], B])
            kept = getattr(self, "_kept_columns", None)
            if kept is not None:
                B = B[kept_rows(kept, obj.fit_intercept)]
            return obj.free_from_original(np.asarray(B, dtype=np.float64))
        B = np.zeros((p1, K))
        if obj.fit_intercept:
            freq = np.maximum(class_totals / class_totals.sum(), 1e-12)
            B[0] = np.log(freq)
        return obj.free_from_original(B)

    def _warm_columns_match(self, obj: MultinomialObjective) -> bool:
        """Whether the previous fit estimated the same columns as this objective holds."""
        p_old = self.coef_.shape[1]
        if p_old != getattr(self, "n_features_in_", -1):
            return False
        kept = getattr(self, "_kept_columns", None)
        used = p_old if kept is None else kept.size
        return bool(used == obj.n_features)

    def _objective(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None,
        alpha: float,
        reset: bool,
        fit_intercept: bool,
    ) -> tuple[MultinomialObjective, NDArray[Any], int | None, float]:
        """Validate data and build the objective; returns it with classes, reference, alpha."""
        check_feature_values(X, getattr(self, "feature_names_in_", None) if not reset else None)
        Xv: Any
        yv: Any
        Xv, yv = validate_data(
            self,
            X,
            y,
            accept_sparse=("csr", "csc"),
            dtype=VALIDATE_DTYPES[self.dtype],
            y_numeric=False,
            reset=reset,
        )
        check_labels_present(yv)
        check_classification_targets(yv)
        classes, codes = encode_labels(yv)
        sw = check_weights(sample_weight, Xv, yv, classes, codes, self.class_weight)
        maxabs = column_maxabs(Xv)  # shared by the collinearity check and the scaling
        if reset:
            self._kept_columns = None
            self.collinearity_ = None
            if self.penalty != "l2":
                Xv, self._kept_columns, self.collinearity_ = drop_aliased(
                    Xv, fit_intercept, self._input_names(Xv.shape[1]), sw, col_maxabs=maxabs
                )
                if self._kept_columns is not None:
                    maxabs = maxabs[self._kept_columns]
        elif getattr(self, "_kept_columns", None) is not None:
            Xv = Xv[:, self._kept_columns]
            maxabs = maxabs[self._kept_columns]
        n_rows = int(np.count_nonzero(sw > 0))
        p1 = Xv.shape[1] + int(fit_intercept)
        if self.penalty is None and p1 >= n_rows:
            raise InvalidInputError(
                f"an unpenalized fit with {p1} parameters per class and only {n_rows} rows "
                "(with positive weight) has no maximum-likelihood estimate: the classes are "
                "separable. Use penalty='l2' or penalty='firth', or fewer features"
            )
        if reset:
            single = check_class_sizes(classes, codes, sw)
            if single:
                warnings.warn(
                    DataWarning(
                        f"class(es) {single[:10]} have a single observation; their "
                        "coefficients are barely identified (expect huge standard errors or "
                        "separation)"
                    ),
                    stacklevel=4,
                )
        ridge = self.penalty == "l2"
        ref = resolve_reference(self.reference, classes, ridge)
        if ridge and self.alpha is None:
            alpha = 1.0 / float(sw.sum())
        param = Parameterization(classes.size, ref)
        scale = column_scales(Xv, maxabs=maxabs)
        if ridge:
            # Never scale a tiny column up under a ridge: its penalty weight 1/s^2 would
            # become astronomically large in the scaled coordinates.
            scale = np.maximum(scale, 1.0)
        weights = (1.0 / scale) ** 2 if ridge else None  # (1/s)^2: no overflow on the way
        penalty = make_penalty(
            self.penalty if ridge else None, alpha, fit_intercept, row_weights=weights
        )
        obj: Any = MultinomialObjective(
            Xv, codes, classes.size, sw, param, penalty, fit_intercept, feature_scale=scale
        )
        if self.penalty == "firth":
            obj = FirthObjective(obj)
        return obj, classes, ref, alpha

    def _input_names(self, p: int) -> list[str]:
        """Names of the design columns being fitted (formula terms, frame columns, x0..)."""
        design = getattr(self, "design_", None)
        if design is not None:
            return list(design.columns)
        names = getattr(self, "feature_names_in_", None)
        if names is not None and len(names) == p:
            return [str(n) for n in names]
        return [f"x{j}" for j in range(p)]

    def _fitted_design(self) -> FormulaDesign:
        design = getattr(self, "design_", None)
        if design is None:
            raise InvalidInputError("this model was not fitted with a formula")
        return design

    def _prepare_data(
        self, X: Any, y: Any, sample_weight: Any, groups: Any, reset: bool
    ) -> tuple[Any, Any, Any, Any, bool]:
        """Resolve a formula (or plain arrays) into ``(X, y, sample_weight, groups, intercept)``."""
        fit_intercept = bool(self.fit_intercept)
        if self.formula is None:
            if y is None:
                raise InvalidInputError(
                    f"{type(self).__name__} requires y to be passed, but the target y is None "
                    "(or give formula='y ~ ...' and a data frame)"
                )
            if reset:
                self.design_ = None
            return X, y, sample_weight, groups, fit_intercept
        if y is not None:
            raise InvalidInputError(
                "with a formula, y comes from its left-hand side: call fit(data) without y"
            )
        if not self.fit_intercept:
            raise InvalidInputError(
                "with a formula, the intercept follows the formula: write 'y ~ 0 + ...' "
                "instead of fit_intercept=False (so that categorical terms keep all levels)"
            )
        if reset:
            design, Xd, yd, kept = FormulaDesign.fit(self.formula, X, self.missing)
            self.design_ = design
            self.n_missing_dropped_ = int((~kept).sum())
        else:
            Xd, yd, kept = self._fitted_design().training_arrays(X, self.missing)
            design = self._fitted_design()
        if sample_weight is not None and not isinstance(sample_weight, str):
            sample_weight = np.asarray(sample_weight)[kept]
        if groups is not None:
            groups = np.asarray(groups)[kept]
        return Xd, yd, sample_weight, groups, fit_intercept and design.has_intercept

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
            Class labels of any sortable type. Omitted with a formula (the left-hand side
            gives them).
        sample_weight : array-like of shape (n,), optional
            Non-negative frequency weights: weight 2 is the same as the row twice.
        groups : array-like of shape (n,), optional
            Cluster labels for ``cov_type="cluster"``.

        Returns
        -------
        self
        """
        solver, alpha, tol = self._check_params()
        if self.cov_type == "cluster" and groups is None:
            raise InvalidInputError("cov_type='cluster' needs groups= passed to fit")
        X, y, sample_weight, groups, fit_intercept = self._prepare_data(
            X, y, sample_weight, groups, reset=True
        )
        obj, classes, ref, alpha = self._objective(
            X, y, sample_weight, alpha, reset=True, fit_intercept=fit_intercept
        )
        S = obj.sum_weights
        K = classes.size
        codes, sw = obj.y, obj.sample_weight
        Xv = obj.X
        if solver == "auto":
            solver = choose_solver(Xv.shape[0], obj.n_params, sp.issparse(Xv), obj.p1)
            if self.penalty == "firth" and solver in ("newton-cg", "subsample-newton"):
                solver = "newton" if solver == "subsample-newton" else "lbfgs"
        max_iter = DEFAULT_MAX_ITER[solver] if self.max_iter is None else int(self.max_iter)
        options = SolverOptions(
            tol=tol, max_iter=max_iter, criterion=self.criterion, verbose=int(self.verbose)
        )
        class_totals = np.bincount(codes, weights=sw, minlength=K).astype(np.float64)
        x0 = self._initial_theta(obj, classes, class_totals)
        try:
            with np.errstate(over="ignore", under="ignore"):
                result = solve_in_precision(SOLVERS[solver], obj, x0, options)
        except FloatingPointError as exc:
            raise SolverError(
                f"solver {solver!r} failed: {exc}. Check X for extreme values, or try "
                "penalty='l2' or another solver"
            ) from exc

        B = obj.original_coefficients(result.x)
        off = int(fit_intercept)
        self.fit_intercept_ = fit_intercept
        self.classes_ = classes
        self.reference_ = None if ref is None else classes[ref]
        self.intercept_ = B[0].copy() if fit_intercept else np.zeros(K)
        self.coef_ = np.ascontiguousarray(B[off:].T)
        kept = self._kept_columns
        if kept is not None:
            self.coef_ = expand_coefficients(self.coef_, kept, self.n_features_in_)
        self._aliased = aliased_mask(kept, self.n_features_in_, K, fit_intercept)
        self.aliased_ = [] if self.collinearity_ is None else list(self.collinearity_.aliased)
        self.solver_ = solver
        self.alpha_ = alpha
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        self.convergence_ = ConvergenceReport.from_result(
            solver, self.criterion, tol, max_iter, result
        )
        stats = FitStatistics(
            loglik=obj.loglik(result.x),
            loglik_null=null_loglik(class_totals, fit_intercept),
            n_params=obj.n_params,
            nobs=S,
        )
        self.loglik_ = stats.loglik
        self.loglik_null_ = stats.loglik_null
        self.deviance_ = stats.deviance
        self.aic_ = stats.aic
        self.bic_ = stats.bic
        self.pseudo_r2_ = stats.pseudo_r2
        self.nobs_ = S
        self.n_params_ = obj.n_params
        self.cov_type_ = self.cov_type
        self.separation_ = None
        if self.penalty is None and separation_suspected(
            lambda: obj.min_probability(result.x), sw, result.converged, K
        ):
            names = self._input_names(self.n_features_in_)
            if kept is not None:
                names = [names[j] for j in kept]
            self.separation_ = find_separation(
                obj.X, codes, K, sw, fit_intercept, names, classes, ref
            )
        if self.separation_ is not None:
            self._cov_full, self.cov_status_ = (
                None,
                (
                    f"no standard errors: the classes are {self.separation_.kind}ly separated, "
                    "so the maximum-likelihood estimate does not exist"
                ),
            )
        elif self.cov_type is None:
            self._cov_full, self.cov_status_ = None, "covariance not computed (cov_type=None)"
        else:
            self._cov_full, self.cov_status_ = compute_covariance(
                obj, result.x, self.cov_type, groups
            )
            if self._cov_full is not None and kept is not None:
                self._cov_full = expand_covariance(
                    self._cov_full, kept, self.n_features_in_, K, fit_intercept
                )
        if not result.converged:
            warnings.warn(
                ConvergenceWarning(
                    f"MultinomialLogit (solver={solver!r}) {result.message}. "
                    "Try a larger max_iter, solver='newton', scaling the features, or "
                    "penalty='l2' (coefficients that keep growing suggest separated classes)."
                ),
                stacklevel=2,
            )
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
        without refitting. Pass the training data.

        Parameters
        ----------
        X, y, sample_weight, groups
            As given to ``fit``.
        cov_type : {"nonrobust", "robust", "cluster"}, optional
            Defaults to the estimator's ``cov_type`` (or ``"nonrobust"`` if that is None).

        Returns
        -------
        self
        """
        check_is_fitted(self, "coef_")
        separation = getattr(self, "separation_", None)
        if separation is not None:
            raise SeparationError(separation.message)
        kind = cov_type or self.cov_type or "nonrobust"
        if kind not in COV_TYPES:
            raise InvalidInputError(f"cov_type must be one of {COV_TYPES}, got {kind!r}")
        X, y, sample_weight, groups, _ = self._prepare_data(
            X, y, sample_weight, groups, reset=False
        )
        obj, classes, _, _ = self._objective(
            X,
            y,
            sample_weight,
            float(getattr(self, "alpha_", 0.0)),
            reset=False,
            fit_intercept=self.fit_intercept_,
        )
        if not np.array_equal(classes, self.classes_):
            raise InvalidInputError(
                f"y has classes {classes.tolist()[:10]}, the model was fitted on "
                f"{self.classes_.tolist()[:10]}"
            )
        kept = getattr(self, "_kept_columns", None)
        B = self._full_B()
        if kept is not None:
            B = B[kept_rows(kept, self.fit_intercept_)]
        theta = obj.free_from_original(B)
        cov, status = compute_covariance(obj, theta, kind, groups, max_params=None)
        if cov is None:
            raise InferenceUnavailableError(status)
        if kept is not None:
            cov = expand_covariance(
                cov, kept, self.n_features_in_, self.classes_.size, self.fit_intercept_
            )
        self._cov_full, self.cov_status_ = cov, status
        self.cov_type_ = kind
        return self

    # ------------------------------------------------------------------ prediction
    def _design_matrix(self, X: Any) -> Any:
        """The model's design matrix for new data (formula applied, or X validated).

        Returns
        -------
        ndarray or sparse matrix of shape (n, p)
        """
        check_is_fitted(self, "coef_")
        design = getattr(self, "design_", None)
        if design is not None:
            return design.transform(X)
        check_feature_values(X, getattr(self, "feature_names_in_", None))
        return validate_data(
            self, X, accept_sparse=("csr", "csc"), dtype=(np.float64, np.float32), reset=False
        )

    def score(self, X: Any, y: ArrayLike | None = None, sample_weight: Any = None) -> float:
        """Accuracy; with a formula, ``y`` defaults to the data's response column."""
        if y is None and getattr(self, "design_", None) is not None:
            y = self._fitted_design().response_values(X)
        return float(super().score(X, y, sample_weight=sample_weight))

    def linear_predictor(self, X: ArrayLike) -> FloatArray:
        """Linear predictors ``eta = X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n, p)

        Returns
        -------
        ndarray of shape (n, K)
        """
        # float32 X: float64 products of row chunks (no float64 copy, no float32 rounding)
        eta = float64_product(self._design_matrix(X), self.coef_.T)
        eta += self.intercept_
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
            return eta[:, 1] - eta[:, 0]
        return eta

    def predict_log_proba(self, X: ArrayLike) -> FloatArray:
        """Log class probabilities, finite for any finite input (log-sum-exp).

        Returns
        -------
        ndarray of shape (n, K)
        """
        return log_softmax(self.linear_predictor(X))

    def predict_proba(self, X: ArrayLike) -> FloatArray:
        """Class probabilities; each row sums to one.

        Returns
        -------
        ndarray of shape (n, K)
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Most probable class.

        Returns
        -------
        ndarray of shape (n,)
        """
        eta = self.linear_predictor(X)
        return np.asarray(self.classes_[np.argmax(eta, axis=1)])

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
        from mnlogit.evaluation import evaluate

        return evaluate(self, X, y)

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
        from mnlogit.io import save

        return save(self, path)

    # ------------------------------------------------------------------ construction
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
        from mnlogit.construction import build_from_coefficients

        model: MultinomialLogit = build_from_coefficients(
            cls, classes, intercept, coef, reference, feature_names
        )
        return model
