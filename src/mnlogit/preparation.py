"""Data preparation, the first stage of a fit: validate, encode, identify.

:func:`prepare` turns what the user passed (arrays, a frame and a formula, labels,
weights, groups) into a :class:`PreparedData` record that the objective is built from:

1. **inputs** (:func:`model_inputs`): a formula is applied (or ``y`` required);
2. **validation and encoding**: scikit-learn's ``validate_data``, label and weight
   checks, labels encoded as class codes, effective weights (``sample_weight`` times
   ``class_weight``);
3. **identification**: aliased (collinear) columns dropped for unpenalized and Firth fits,
   the "no MLE with ``p1 >= n``" refusal, the reference class resolved (once, by
   :meth:`~mnlogit.parameterization.Parameterization.resolve_reference`), the penalty
   strength's default (once, :func:`penalty_strength`) and the column scales.

A *new* fit validates on a blank copy of the estimator, so a failing ``fit`` leaves a
fitted model as it was; a refit against a fitted state (``compute_covariance``,
likelihood-ratio refits) checks the data against the fitted columns and reuses the
state's design, kept columns, reference and penalty strength.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from mnlogit.exceptions import DataWarning, InvalidInputError, warn
from mnlogit.fingerprint import DataFingerprint, SchemeMismatchError, scheme_for
from mnlogit.fitted import FittedModel
from mnlogit.formula import FormulaDesign
from mnlogit.identification import (
    CollinearityResult,
    ColumnSums,
    category_order,
    check_class_sizes,
    check_column_range,
    check_feature_values,
    check_groups,
    check_labels_present,
    check_positive_number,
    check_weights,
    column_maxabs,
    column_maxabs_and_gram,
    column_scales,
    drop_aliased,
    encode_labels_and_counts,
)
from mnlogit.identification.aliasing import MAX_COLLINEARITY_COLUMNS
from mnlogit.inference.covariance import COV_TYPES
from mnlogit.objective.sparse_penalties import SPARSE_PENALTIES, resolve_l1_ratio
from mnlogit.objective.threads import one_blas_thread
from mnlogit.parameterization import Parameterization
from mnlogit.solvers import CRITERIA, SOLVERS

__all__ = [
    "VALIDATE_DTYPES",
    "FitSettings",
    "ModelInputs",
    "PreparedData",
    "check_same_data",
    "model_inputs",
    "penalty_strength",
    "prepare",
]

FloatArray = NDArray[np.float64]

# validate_data's dtype for each value of the estimator's dtype parameter: None keeps
# float32 (and float64) X as it is.
VALIDATE_DTYPES: dict[str | None, Any] = {
    None: (np.float64, np.float32),
    "float32": np.float32,
    "float64": np.float64,
}


#: The column read sums only a row sample's Gram matrix (``gram="sample"``, every 16th row)
#: when ``X`` has at least this many rows per design column: the sample then has about 8
#: rows per column, enough for :func:`~mnlogit.identification.collinearity.certify_full_rank`
#: to prove most full-rank designs full rank (1M x 50: the read 0.159 -> 0.082 s, one
#: thread; docs/benchmarks.md, issue-speed11).
_SAMPLE_GRAM_MIN_ROWS = 128


def _positive_int_or_none(name: str, value: Any, allow_none: bool) -> None:
    ok = (allow_none and value is None) or (
        not isinstance(value, bool) and isinstance(value, int | np.integer) and value >= 1
    )
    if not ok:
        raise InvalidInputError(f"{name} must be a positive integer or None, got {value!r}")


@dataclass(frozen=True)
class FitSettings:
    """The estimator's parameters, validated once per call.

    Attributes
    ----------
    penalty : None, "l2", "firth", "l1", "elasticnet" or "group"
    alpha : float or None
        The penalty strength given, validated; ``None`` means the default ``1 / S``
        (:func:`penalty_strength`); ignored for ``None`` and ``"firth"``.
    l1_ratio : float or None
        The sparse penalties' mix (resolved: 1 for ``"l1"`` and ``"group"``); ``None``
        for the others.
    penalty_factor : ndarray of shape (p,) or None
        As given (checked against ``p`` by the sparse fit).
    solver, criterion, missing : str
    tol : float
    max_iter : int or None
    fit_intercept, warm_start : bool
    verbose : int
    reference, class_weight : Any
        As given (resolved by :func:`prepare`).
    cov_type, formula, dtype : str or None
    """

    penalty: str | None
    alpha: float | None
    l1_ratio: float | None
    penalty_factor: Any
    solver: str
    tol: float
    max_iter: int | None
    criterion: str
    fit_intercept: bool
    class_weight: Any
    reference: Any
    warm_start: bool
    verbose: int
    cov_type: str | None
    formula: str | None
    missing: str
    dtype: str | None

    @classmethod
    def from_params(cls, params: Mapping[str, Any], quiet: bool = False) -> FitSettings:
        """Validate ``MultinomialLogit.get_params()``.

        Warns (pointing at the caller of ``fit``, unless ``quiet``) when ``alpha`` is
        given without ``penalty="l2"``.

        Raises
        ------
        InvalidInputError
            A parameter out of its domain, named with the value received.
        """
        p = dict(params)
        penalty, solver = p["penalty"], p["solver"]
        if penalty not in (None, "l2", "firth", *SPARSE_PENALTIES):
            raise InvalidInputError(
                "penalty must be None, 'l2', 'firth', 'l1', 'elasticnet' or 'group', "
                f"got {penalty!r}"
            )
        sparse = penalty in SPARSE_PENALTIES
        l1_ratio = resolve_l1_ratio(penalty, p.get("l1_ratio")) if sparse else None
        _check_sparse_options(p, sparse)
        if penalty == "firth" and solver in ("irls", "subsample-newton"):
            raise InvalidInputError(
                f"solver={solver!r} does not support penalty='firth' (Firth's penalty has no "
                "IRLS form and no row subsample); use 'newton' or 'lbfgs' (or 'newton-cg')"
            )
        if solver != "auto" and solver not in SOLVERS:
            raise InvalidInputError(
                f"solver must be 'auto' or one of {sorted(SOLVERS)}, got {solver!r}"
            )
        if p["dtype"] not in (None, "float32", "float64"):
            raise InvalidInputError(
                f"dtype must be None, 'float32' or 'float64', got {p['dtype']!r}"
            )
        if p["missing"] not in ("error", "drop"):
            raise InvalidInputError(f"missing must be 'error' or 'drop', got {p['missing']!r}")
        formula = p["formula"]
        if formula is not None and not isinstance(formula, str):
            raise InvalidInputError(f"formula must be a string, got {type(formula).__name__}")
        if p["cov_type"] is not None and p["cov_type"] not in COV_TYPES:
            raise InvalidInputError(
                f"cov_type must be one of {COV_TYPES} or None, got {p['cov_type']!r}"
            )
        if p["criterion"] not in CRITERIA:
            raise InvalidInputError(f"criterion must be one of {CRITERIA}, got {p['criterion']!r}")
        tol = check_positive_number("tol", p["tol"])
        if not isinstance(p["fit_intercept"], bool | np.bool_):
            raise InvalidInputError(
                f"fit_intercept must be True or False, got {p['fit_intercept']!r}"
            )
        verbose = p["verbose"]
        if isinstance(verbose, bool) or not isinstance(verbose, int | np.integer) or verbose < 0:
            raise InvalidInputError(f"verbose must be a non-negative integer, got {verbose!r}")
        _positive_int_or_none("max_iter", p["max_iter"], allow_none=True)
        alpha = p["alpha"]
        if penalty in (None, "firth") and alpha is not None and not quiet:
            warn(
                UserWarning(
                    f"alpha is ignored because penalty={penalty!r}; set penalty='l2' to use it"
                )
            )
        if penalty == "l2" and alpha is not None:
            alpha = check_positive_number("alpha", alpha, allow_zero=True)
        if sparse and alpha is not None:
            alpha = check_positive_number("alpha", alpha)
        return cls(
            penalty=penalty,
            alpha=alpha if penalty not in (None, "firth") else None,
            l1_ratio=l1_ratio,
            penalty_factor=p.get("penalty_factor"),
            solver=solver,
            tol=tol,
            max_iter=None if p["max_iter"] is None else int(p["max_iter"]),
            criterion=p["criterion"],
            fit_intercept=bool(p["fit_intercept"]),
            class_weight=p["class_weight"],
            reference=p["reference"],
            warm_start=bool(p["warm_start"]),
            verbose=int(verbose),
            cov_type=p["cov_type"],
            formula=formula,
            missing=p["missing"],
            dtype=p["dtype"],
        )

    @property
    def sparse(self) -> bool:
        """Whether the penalty is one of the lasso family (fitted by the proximal solver)."""
        return self.penalty in SPARSE_PENALTIES

    @property
    def ridge(self) -> bool:
        """Whether the fit has a ridge (L2) penalty."""
        return self.penalty == "l2"

    @property
    def maximum_likelihood(self) -> bool:
        """Whether the fit maximizes the plain likelihood: no penalty, or a ridge of
        strength exactly 0, which is the same model and gets the same checks (aliased
        columns dropped, the ``p + 1 >= n`` refusal, the separation check)."""
        return self.penalty is None or (self.ridge and self.alpha == 0.0)


def _check_sparse_options(params: Mapping[str, Any], sparse: bool) -> None:
    """Refuse options the lasso family does not have, and its options on other penalties."""
    if sparse:
        if params["solver"] != "auto":
            raise InvalidInputError(
                f"solver={params['solver']!r} does not support penalty={params['penalty']!r}: "
                "the lasso family is fitted by its own proximal Newton solver; use "
                "solver='auto'"
            )
        if params["reference"] not in ("auto", None):
            raise InvalidInputError(
                f"penalty={params['penalty']!r} acts on all K class rows (no reference class, "
                f"as glmnet), so reference={params['reference']!r} cannot be used; fit with "
                "reference='auto' or None and call with_reference(...) afterwards to express "
                "the same fit against a class"
            )
        return
    for name in ("l1_ratio", "penalty_factor"):
        if params.get(name) is not None:
            raise InvalidInputError(
                f"{name} applies to penalty='l1', 'elasticnet' or 'group' only, "
                f"got penalty={params['penalty']!r}"
            )


def penalty_strength(settings: FitSettings, sum_weights: float) -> float:
    """The penalty strength ``alpha`` of a new fit: as given, ``1 / S`` by default, else 0.

    ``1 / S`` (``S`` the sum of effective weights) makes ``penalty="l2"`` equal
    scikit-learn's ``LogisticRegression()`` (``C=1``), and the sparse penalties equal
    scikit-learn's ``penalty="l1"`` / ``"elasticnet"`` at ``C=1``. The one place this
    default is set.
    """
    if not (settings.ridge or settings.sparse):
        return 0.0
    return 1.0 / sum_weights if settings.alpha is None else settings.alpha


@dataclass(frozen=True, eq=False)
class ModelInputs:
    """What the model is fitted to, after a formula (if any) was applied.

    Attributes
    ----------
    X : array-like or sparse matrix of shape (m, p)
        As given (not yet validated), or the formula's design matrix.
    y : array-like of shape (m,)
    sample_weight : array-like of shape (m,) or None
    groups : array-like of shape (m,) or None
    fit_intercept : bool
        The estimator's, or the formula's.
    design : FormulaDesign or None
    n_missing_dropped : int or None
        Rows a new formula fit dropped for missing values (``None`` without a formula
        or for a refit).
    """

    X: Any
    y: Any
    sample_weight: Any
    groups: Any
    fit_intercept: bool
    design: FormulaDesign | None
    n_missing_dropped: int | None


def model_inputs(
    settings: FitSettings,
    X: Any,
    y: Any,
    sample_weight: Any,
    groups: Any,
    fitted: FittedModel | None = None,
) -> ModelInputs:
    """Apply the formula (learnt anew, or the fitted one when ``fitted`` is given).

    Parameters
    ----------
    settings : FitSettings
    X : array-like of shape (n, p), or a data frame with a formula
    y : array-like of shape (n,) or None
    sample_weight, groups : array-like of shape (n,) or None
    fitted : FittedModel, optional
        The state refitted against (its formula design is reused).

    Returns
    -------
    ModelInputs
        Rows dropped for missing values are dropped from the weights and groups too.
    """
    if settings.formula is None:
        if y is None:
            raise InvalidInputError(
                "MultinomialLogit requires y to be passed, but the target y is None "
                "(or give formula='y ~ ...' and a data frame)"
            )
        return ModelInputs(X, y, sample_weight, groups, settings.fit_intercept, None, None)
    if y is not None:
        raise InvalidInputError(
            "with a formula, y comes from its left-hand side: call fit(data) without y"
        )
    if not settings.fit_intercept:
        raise InvalidInputError(
            "with a formula, the intercept follows the formula: write 'y ~ 0 + ...' "
            "instead of fit_intercept=False (so that categorical terms keep all levels)"
        )
    dropped = None
    if fitted is None:
        design, Xd, yd, kept = FormulaDesign.fit(settings.formula, X, settings.missing)
        dropped = int((~kept).sum())
    else:
        if fitted.design is None:
            raise InvalidInputError("this model was not fitted with a formula")
        design = fitted.design
        Xd, yd, kept = design.training_arrays(X, settings.missing)
    if sample_weight is not None and not isinstance(sample_weight, str):
        sample_weight = np.asarray(sample_weight)[kept]
    if groups is not None:
        groups = np.asarray(groups)[kept]
    return ModelInputs(Xd, yd, sample_weight, groups, design.has_intercept, design, dropped)


@dataclass(frozen=True, eq=False)
class PreparedData:
    """The model's data, validated, encoded and identified: what an objective is built from.

    Attributes
    ----------
    X : ndarray or sparse (CSR/CSC) matrix of shape (n, p_kept)
        float64 or float32; aliased columns removed.
    codes : ndarray of shape (n,)
        Class codes ``0 .. K-1`` into ``classes``.
    classes : ndarray of shape (K,)
        Sorted labels.
    sample_weight : ndarray of shape (n,)
        Effective frequency weights (``sample_weight * class_weight[y]``).
    groups : array-like of shape (n,) or None
    fit_intercept : bool
    n_features : int
        ``p``, the design columns before dropping aliased ones.
    feature_names_in : ndarray of shape (p,) or None
        String column names of a training frame.
    column_names : tuple of str
        Names of the ``p`` design columns (formula columns, frame names or ``x0, x1, ...``).
    design : FormulaDesign or None
    n_missing_dropped : int or None
    kept_columns : ndarray of shape (p_kept,) or None
        Indices of the estimated columns (``None``: all).
    collinearity : CollinearityResult or None
    column_scale : ndarray of shape (p_kept,)
        Positive internal column scales (the objective works on ``X / s``).
    reference_index : int or None
    alpha : float
        Ridge strength (0 without a ridge penalty).
    fingerprint : DataFingerprint
        Digests of the validated X (before aliased columns are dropped), the labels and
        the effective weights.
    given_weight : ndarray of shape (n_given,) or None
        ``sample_weight`` as passed (before a formula dropped rows), for refits.
    class_rows : ndarray of shape (K, p_kept) or None
        ``sum_i (s_i / S) onehot(y_i) x_iᵀ`` over the kept columns (``s`` the weights,
        all equal, ``S`` their sum): the loss gradient's constant part, found in the
        column read of dense ``X`` with equal weights (:func:`_column_reads`); ``None``
        otherwise.
    unit_class_totals : ndarray of shape (K,) or None
        :meth:`class_totals` when every weight is 1 (the class counts, as float64: the
        same numbers as the weighted ``bincount``, whose sums of ones are exact); ``None``
        otherwise (it is then summed when asked).
    column_maxabs : ndarray of shape (p_kept,) or None
        The kept columns' largest absolute values over all rows (the preparation's
        column read): with ``column_scale`` they bound the scaled features, for the
        separation certificate from the fit's Hessian
        (:func:`mnlogit.identification.existence.newton_step_certifies`).
    """

    X: Any
    codes: NDArray[np.intp]
    classes: NDArray[Any]
    sample_weight: FloatArray
    groups: Any
    fit_intercept: bool
    n_features: int
    feature_names_in: NDArray[np.object_] | None
    column_names: tuple[str, ...]
    design: FormulaDesign | None
    n_missing_dropped: int | None
    kept_columns: NDArray[np.intp] | None
    collinearity: CollinearityResult | None
    column_scale: FloatArray
    reference_index: int | None
    alpha: float
    fingerprint: DataFingerprint
    given_weight: FloatArray | None = None
    class_rows: FloatArray | None = None
    unit_class_totals: FloatArray | None = None
    column_maxabs: FloatArray | None = None

    @property
    def n_classes(self) -> int:
        """``K``."""
        return int(self.classes.size)

    @property
    def kept_names(self) -> list[str]:
        """Names of the estimated columns."""
        if self.kept_columns is None:
            return list(self.column_names)
        return [self.column_names[j] for j in self.kept_columns]

    def class_totals(self) -> FloatArray:
        """Total effective weight of each class.

        Returns
        -------
        ndarray of shape (K,)
        """
        if self.unit_class_totals is not None:
            return self.unit_class_totals.copy()
        return np.bincount(self.codes, weights=self.sample_weight, minlength=self.n_classes).astype(
            np.float64
        )


def _column_names(
    design: FormulaDesign | None, names: NDArray[Any] | None, p: int
) -> tuple[str, ...]:
    if design is not None:
        return tuple(design.columns)
    if names is not None and len(names) == p:
        return tuple(str(n) for n in names)
    return tuple(f"x{j}" for j in range(p))


def _defers_finite_check(X: Any, fitted: FittedModel | None) -> bool:
    """Whether a new fit's finiteness check of ``X`` waits for the column read.

    A plain float ``ndarray``: the read that finds each column's largest absolute value
    (:func:`_column_reads`, every value of ``X``) gives a non-finite result exactly when
    the column holds a NaN or an infinite value, so the separate finiteness passes (this
    model's and scikit-learn's: two more reads of ``X``) are only run, to name the row and
    column, when that result is not finite. Refits and other inputs check first.
    """
    return fitted is None and type(X) is np.ndarray and X.ndim == 2 and X.dtype.kind == "f"


def _validated(
    validator: BaseEstimator,
    settings: FitSettings,
    inputs: ModelInputs,
    fitted: FittedModel | None,
) -> tuple[Any, NDArray[Any], NDArray[np.intp], FloatArray, WeightSummary]:
    """``(X, classes, codes, weights, summary)`` after scikit-learn's and this model's
    checks (the finiteness of ``X`` left to :func:`prepare` where
    :func:`_defers_finite_check`); ``summary`` from the label encoding's class counts and,
    without sample and class weights, the weights known to be ones (not read again)."""
    deferred = _defers_finite_check(inputs.X, fitted)
    check_feature_values(
        inputs.X, None if fitted is None else fitted.feature_names_in, check_finite=not deferred
    )
    check_labels_present(inputs.y)  # before validate_data, whose messages are bare
    Xv: Any
    yv: Any
    with np.errstate(over="ignore", invalid="ignore"):  # its finiteness check sums X
        Xv, yv = validate_data(
            validator,
            inputs.X,
            inputs.y,
            accept_sparse=("csr", "csc"),
            dtype=VALIDATE_DTYPES[settings.dtype],
            y_numeric=False,
            reset=fitted is None,
            ensure_all_finite=not deferred,
        )
    if not (yv.ndim == 1 and yv.dtype.kind in "iub"):
        # 1-d integer or boolean labels are always binary or multiclass targets (the
        # check's np.unique over y: 0.05 s on 1M rows, which encode_labels repeats)
        check_classification_targets(yv)
    check_groups(inputs.groups, int(Xv.shape[0]))
    order = category_order(inputs.y)
    if order is None and fitted is not None:
        order = list(fitted.classes.tolist())  # a refit keeps the fitted model's order
    classes, codes, counts = encode_labels_and_counts(yv, order)
    sw = check_weights(inputs.sample_weight, Xv, yv, classes, codes, settings.class_weight)
    unit = inputs.sample_weight is None and settings.class_weight is None
    summary = summarize_weights(sw, codes, int(classes.size), counts=counts, unit=unit)
    return Xv, classes, codes, sw, summary


def _column_reads(
    X: Any,
    sample_weight: FloatArray,
    checks_aliasing: bool,
    codes: NDArray[np.intp],
    classes: NDArray[Any],
    weights: WeightSummary,
) -> tuple[FloatArray, ColumnSums | None]:
    """The columns' largest absolute values, shape ``(p,)`` (shared by the collinearity
    check and the scaling), and -- read with them, when the collinearity check will form
    the Gram matrix of dense float64 ``X`` with equal weights -- its Gram sums and each
    class's column sums (weighted as the objective weighs rows: ``s_i / S``)."""
    if checks_aliasing and _one_read_gram(X, weights):
        weight = float(sample_weight[0] / float(sample_weight.sum()))
        n, p = X.shape
        # a row sample's Gram matrix where it has enough rows to prove full rank
        # (identification.collinearity.certify_full_rank; else X is read again)
        gram = "sample" if n >= _SAMPLE_GRAM_MIN_ROWS * (p + 1) else "full"
        sums = column_maxabs_and_gram(X, codes, int(classes.size), weight, gram=gram)
        return sums.maxabs, sums
    return column_maxabs(X), None


def _check_columns(X: Any, maxabs: FloatArray, names: tuple[str, ...], deferred: bool) -> None:
    """Refuse non-finite values (where their check was deferred to the column read:
    ``maxabs`` is not finite exactly when ``X`` holds one) and columns out of range."""
    if deferred and not np.all(np.isfinite(maxabs)):
        check_feature_values(X, names)  # raises, naming the row and column
    check_column_range(maxabs, names)


def _class_rows(column_sums: ColumnSums | None, kept: NDArray[np.intp] | None) -> FloatArray | None:
    """:attr:`PreparedData.class_rows` from the column read (``None`` without it)."""
    if column_sums is None or column_sums.class_rows is None:
        return None
    rows = column_sums.class_rows
    return rows if kept is None else np.ascontiguousarray(rows[:, kept])


def _one_read_gram(X: Any, weights: WeightSummary) -> bool:
    """Whether the collinearity check's Gram matrix is summed in the read that finds the
    column scales: dense float64 ``X`` whose Gram the check would form (equal weights, at
    most :data:`MAX_COLLINEARITY_COLUMNS` columns)."""
    return (
        isinstance(X, np.ndarray)
        and X.ndim == 2
        and X.dtype == np.float64
        and 0 < X.shape[1] < MAX_COLLINEARITY_COLUMNS
        and weights.equal
        and weights.low > 0
    )


class WeightSummary(NamedTuple):
    """What the preparation needs to know of the effective weights and the class codes,
    found once (:func:`summarize_weights`: two reductions of the weights, none where they
    are known to be ones, and the label encoding's class counts, where each check used to
    make its own mask or copy).

    Attributes
    ----------
    low, high : float
        The smallest and largest weight (0 for no rows).
    counts : ndarray of int of shape (K,)
        Rows of each class (all rows, whatever their weight).
    """

    low: float
    high: float
    counts: NDArray[np.intp]

    @property
    def equal(self) -> bool:
        """Whether all weights are equal (and there is at least one row)."""
        return self.counts.sum() > 0 and self.low == self.high

    @property
    def positive(self) -> bool:
        """Whether every weight is positive (and there is at least one row)."""
        return self.counts.sum() > 0 and self.low > 0

    def positive_counts(self) -> NDArray[np.intp] | None:
        """The rows of positive weight in each class, when every weight is positive."""
        return self.counts if self.positive else None

    def unit_totals(self) -> FloatArray | None:
        """:meth:`PreparedData.class_totals` when every weight is 1, else ``None``."""
        if self.low == self.high == 1.0:
            return self.counts.astype(np.float64)
        return None


def _warn_single_observations(
    classes: NDArray[Any], codes: NDArray[np.intp], sw: FloatArray, weights: WeightSummary
) -> None:
    """Warn about classes with a single row of positive weight (called directly under
    :func:`prepare`, whose warnings point at the caller of ``fit``: ``warn`` finds it)."""
    single = check_class_sizes(classes, codes, sw, counts=weights.positive_counts())
    if single:
        warn(
            DataWarning(
                f"class(es) {single[:10]} have a single observation; their "
                "coefficients are barely identified (expect huge standard errors or "
                "separation)"
            )
        )


def summarize_weights(
    sample_weight: FloatArray,
    codes: NDArray[np.intp],
    n_classes: int,
    *,
    counts: NDArray[np.intp] | None = None,
    unit: bool = False,
) -> WeightSummary:
    """:class:`WeightSummary` of validated weights and class codes.

    Parameters
    ----------
    sample_weight : ndarray of shape (n,)
        Effective weights (finite, non-negative).
    codes : ndarray of shape (n,)
        Class codes ``0 .. n_classes - 1``.
    n_classes : int
    counts : ndarray of int of shape (n_classes,), optional
        ``np.bincount(codes, minlength=n_classes)`` when already known (the label
        encoding's), else counted here.
    unit : bool, default=False
        Every weight is known to be 1 (no sample or class weights given): the weights
        are not read.

    Returns
    -------
    WeightSummary
    """
    if counts is None:
        counts = np.bincount(codes, minlength=n_classes)
    if sample_weight.size == 0:
        return WeightSummary(0.0, 0.0, counts)
    if unit:
        return WeightSummary(1.0, 1.0, counts)
    return WeightSummary(float(sample_weight.min()), float(sample_weight.max()), counts)


@one_blas_thread
def prepare(
    validator: BaseEstimator,
    settings: FitSettings,
    X: Any,
    y: Any,
    sample_weight: Any,
    groups: Any,
    fitted: FittedModel | None = None,
) -> PreparedData:
    """Validate, encode and identify the data of a fit (or of a refit against ``fitted``).

    Parameters
    ----------
    validator : MultinomialLogit
        What scikit-learn's ``validate_data`` records the columns on (new fit: pass a
        blank copy, which this call changes) or checks them against (refit: the fitted
        model, unchanged).
    settings : FitSettings
    X : array-like or sparse matrix of shape (n, p), or a data frame with a formula
    y : array-like of shape (n,) or None
    sample_weight, groups : array-like of shape (n,) or None
    fitted : FittedModel, optional
        Refit against this state: its design, kept columns, reference and penalty
        strength are reused, and the data must have its columns.

    Returns
    -------
    PreparedData
    """
    if fitted is None and settings.cov_type == "cluster" and groups is None:
        raise InvalidInputError("cov_type='cluster' needs groups= passed to fit")
    if fitted is not None and sample_weight is None:
        sample_weight = fitted.sample_weight  # a refit reuses the fit's weights
    inputs = model_inputs(settings, X, y, sample_weight, groups, fitted)
    Xv, classes, codes, sw, weights = _validated(validator, settings, inputs, fitted)
    # a refit hashes in the scheme the fit recorded (a model file's may be older)
    scheme = scheme_for(None if fitted is None else fitted.fingerprint)
    # a new fit's digests of a large dense X are taken when first read (a model file, a
    # refit's check): its sampled rows and codes are copied now (docs/solvers.md)
    fingerprint = DataFingerprint.of(Xv, classes, codes, sw, scheme=scheme, deferred=fitted is None)
    if fitted is not None and not np.array_equal(classes, fitted.classes):
        foreign = [c for c in classes.tolist() if c not in set(fitted.classes.tolist())]
        raise InvalidInputError(
            f"y has classes {classes.tolist()[:10]} (foreign: {foreign[:10]}), the model was "
            f"fitted on {fitted.classes.tolist()[:10]}"
        )
    if fitted is not None and fitted.fingerprint is not None:
        check_same_data(fitted.fingerprint, fingerprint, "a refit (compute_covariance, term_tests)")
    checks_aliasing = settings.penalty in (None, "firth") or settings.maximum_likelihood
    maxabs, column_sums = _column_reads(
        Xv, sw, fitted is None and checks_aliasing, codes, classes, weights
    )
    n_features = int(Xv.shape[1])
    names_in = getattr(validator, "feature_names_in_", None) if fitted is None else None
    names = _column_names(inputs.design, names_in, n_features)
    _check_columns(Xv, maxabs, names, _defers_finite_check(inputs.X, fitted))
    kept, collinearity = None, None
    if fitted is not None:
        kept = fitted.kept_columns
        if kept is not None:
            Xv = Xv[:, kept]
    elif checks_aliasing:
        # called from here, directly under fit, so that its warning points at the caller
        Xv, kept, collinearity = drop_aliased(
            Xv, inputs.fit_intercept, list(names), sw, col_maxabs=maxabs, column_sums=column_sums
        )
    if kept is not None:
        maxabs = maxabs[kept]
    n_rows = int(sw.size) if weights.positive else int(np.count_nonzero(sw > 0))
    p1 = Xv.shape[1] + int(inputs.fit_intercept)
    if p1 == 0:
        raise InvalidInputError(
            f"no column is left to estimate: all {n_features} column(s) are aliased (zero, "
            "constant or linear combinations of others) and there is no intercept"
        )
    if settings.maximum_likelihood and p1 >= n_rows:
        raise InvalidInputError(
            f"an unpenalized fit with {p1} parameters per class and only {n_rows} rows "
            "(with positive weight) has no maximum-likelihood estimate: the classes are "
            "separable. Use penalty='l2' or penalty='firth', or fewer features"
        )
    if fitted is None:
        _warn_single_observations(classes, codes, sw, weights)
        reference = (
            None
            if settings.sparse
            else Parameterization.resolve_reference(settings.reference, classes, settings.ridge)
        )
        alpha = penalty_strength(settings, float(sw.sum()))
    else:
        reference = fitted.reference_index
        alpha = 0.0 if fitted.outcome is None else fitted.outcome.alpha
    scale = column_scales(Xv, maxabs=maxabs)
    if settings.ridge and not settings.maximum_likelihood:
        # Never scale a tiny column up under a ridge: its penalty weight 1/s^2 would
        # become astronomically large in the scaled coordinates.
        scale = np.maximum(scale, 1.0)
    return PreparedData(
        X=Xv,
        codes=codes,
        classes=classes,
        sample_weight=sw,
        groups=inputs.groups,
        fit_intercept=inputs.fit_intercept,
        n_features=n_features,
        feature_names_in=None if names_in is None else np.asarray(names_in, dtype=object),
        column_names=names,
        design=inputs.design,
        n_missing_dropped=inputs.n_missing_dropped,
        kept_columns=kept,
        collinearity=collinearity,
        column_scale=scale,
        reference_index=reference,
        alpha=alpha,
        fingerprint=fingerprint,
        given_weight=_given_weight(sample_weight),
        class_rows=_class_rows(column_sums, kept),
        unit_class_totals=weights.unit_totals(),
        column_maxabs=maxabs,
    )


def check_same_data(
    fitted: DataFingerprint, given: DataFingerprint, what: str, rows_only: bool = False
) -> None:
    """Refuse data that are not those a model was fitted to.

    Parameters
    ----------
    fitted, given : DataFingerprint
        The fit's and the data's.
    what : str
        The operation, for the message (``"compute_covariance"``, ``"lr_test"``, ...).
    rows_only : bool, default=False
        Compare rows, labels and weights but not the features (nested models differ
        in their columns).

    Raises
    ------
    InvalidInputError
        Naming what differs (rows, labels, weights, features), or saying that the two
        fingerprints have different schemes (a model loaded from a file of format
        version 1 against a fit of this mnlogit: the digests cannot be compared).
    """
    try:
        differs = fitted.differences(given, rows_only=rows_only)
    except SchemeMismatchError:
        raise InvalidInputError(
            f"{what} cannot check that the data are the fit's: the two data fingerprints "
            f"use different schemes ({fitted.scheme} and {given.scheme}; scheme 1 is that "
            "of model files of format version 1). Refit the loaded model on its data with "
            "this mnlogit (clone(model).fit(X, y, sample_weight=...)) and compare the refit"
        ) from None
    if differs:
        hint = ""
        if "weights" in differs:
            hint = " (a model fitted with sample_weight needs the same sample_weight again)"
        raise InvalidInputError(
            f"{what} needs the data the model was fitted to, but the {', '.join(differs)} "
            f"differ from the fit's{hint}; pass the same X, y and sample_weight as to fit"
        )


def _given_weight(sample_weight: Any) -> FloatArray | None:
    """``sample_weight`` as a float64 array (``None`` when absent or not array-like)."""
    if sample_weight is None or isinstance(sample_weight, str) or np.isscalar(sample_weight):
        return None
    try:
        return np.array(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        return None
