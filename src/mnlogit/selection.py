"""``MultinomialLogitCV``: the penalty strength of a sparse fit chosen by cross-validation.

The procedure is cv.glmnet's, on mnlogit's objective:

1. the regularization path on all the data (:func:`mnlogit.regularization_path`) gives the
   alpha grid ``alphas_`` (decreasing) and ``path_``;
2. each fold of the splitter runs the path on its training rows over *the same grid*
   (no grid of its own) and scores every alpha on its held-out rows; folds run in
   parallel with joblib (``n_jobs``; scikit-learn's ``Parallel``, which passes its
   configuration on to the workers);
3. the fold scores ``cv_scores_`` (n_folds, L) are averaged with the folds' weight sums as
   weights (``cv_mean_``, cv.glmnet's ``cvm``); their standard error is
   ``sqrt(weighted mean of (score - mean)^2 / (n_folds - 1))`` (``cvsd``);
4. ``alpha_`` is the largest alpha with the best mean score (``lambda.min``) and
   ``alpha_1se_`` the largest alpha whose mean score is within one standard error of the
   best, ``cv_mean_ <= cv_mean_[best] + cv_se_[best]`` (``lambda.1se``; for a scorer where
   larger is better, ``>= ... - ...``);
5. the model is refitted on all data at ``alpha_`` (``select="min"``) or ``alpha_1se_``
   (``select="1se"``) as a :class:`~mnlogit.MultinomialLogit`, ``best_estimator_``.

The default score is the mean log loss of the held-out rows (weighted by ``sample_weight``),
``-(1/S) sum_i s_i log P(y_i | x_i)``: half of cv.glmnet's multinomial deviance, with the
same minimizer and one-SE choice. Probabilities are clipped below at the float64
machine epsilon, as :func:`sklearn.metrics.log_loss` clips them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, column_or_1d

from mnlogit.estimator import MultinomialLogit
from mnlogit.exceptions import InvalidInputError
from mnlogit.formula import FormulaDesign
from mnlogit.identification.validation import label_codes
from mnlogit.path import DEFAULT_TOL, RegularizationPath, regularization_path

__all__ = ["MultinomialLogitCV", "fold_log_loss", "one_se_rule"]

FloatArray = NDArray[np.float64]

_SELECT = ("min", "1se")
_EPS = float(np.finfo(np.float64).eps)


def fold_log_loss(
    X: Any,
    codes: NDArray[np.intp],
    weights: FloatArray | None,
    coef: FloatArray,
    intercept: FloatArray,
) -> FloatArray:
    """The mean (weighted) log loss of held-out rows at every alpha of a path.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (m, p)
    codes : ndarray of shape (m,)
        Class positions ``0..K-1`` of the held-out rows.
    weights : ndarray of shape (m,) or None
    coef : ndarray of shape (L, K, p)
    intercept : ndarray of shape (L, K)

    Returns
    -------
    ndarray of shape (L,)
        ``-(sum_i w_i log P(y_i | x_i)) / sum_i w_i``, probabilities clipped to
        ``[eps, 1]`` (as scikit-learn's ``log_loss``). A class with ``-inf`` intercept
        (absent from the fold's training rows) has probability 0.
    """
    L, K, p = coef.shape
    # (m, L*K) linear predictors in one product
    eta = np.asarray(X @ coef.reshape(L * K, p).T).reshape(-1, L, K)
    eta = eta + intercept[None, :, :]
    top = eta.max(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_norm = top[..., 0] + np.log(np.exp(eta - top).sum(axis=2))
        log_p = np.take_along_axis(eta, codes[:, None, None], axis=2)[..., 0] - log_norm
    loss = -np.maximum(log_p, np.log(_EPS))  # (m, L)
    w = np.ones(loss.shape[0]) if weights is None else weights
    return cast(FloatArray, (w @ loss) / w.sum())


def one_se_rule(
    alphas: FloatArray, mean: FloatArray, se: FloatArray, greater_is_better: bool
) -> tuple[int, int]:
    """cv.glmnet's ``lambda.min`` and ``lambda.1se`` as positions in ``alphas``.

    Parameters
    ----------
    alphas : ndarray of shape (L,)
    mean, se : ndarray of shape (L,)
        Mean score over folds and its standard error (NaN entries are ignored).
    greater_is_better : bool

    Returns
    -------
    best, one_se : int
        ``best``: the largest alpha with the best mean; ``one_se``: the largest alpha
        whose mean is within ``se[best]`` of the best mean.
    """
    sign = -1.0 if greater_is_better else 1.0
    loss = sign * mean
    finite = np.isfinite(loss)
    if not finite.any():
        raise InvalidInputError("no alpha has a finite cross-validated score")
    best_value = np.min(loss[finite])
    ties = np.flatnonzero(finite & (loss <= best_value))
    best = int(ties[np.argmax(alphas[ties])])
    bound = loss[best] + (se[best] if np.isfinite(se[best]) else 0.0)
    within = np.flatnonzero(finite & (loss <= bound))
    return best, int(within[np.argmax(alphas[within])])


def _fold_scores(
    X: Any,
    y: NDArray[Any],
    weights: FloatArray | None,
    train: NDArray[np.intp],
    test: NDArray[np.intp],
    classes: NDArray[Any],
    path_options: dict[str, Any],
    scorer: Callable[..., float] | None,
) -> FloatArray:
    """The path on one fold's training rows over the full grid, scored on its test rows.

    Returns
    -------
    ndarray of shape (L,)
    """
    w_train = None if weights is None else weights[train]
    path = regularization_path(_rows(X, train), y[train], sample_weight=w_train, **path_options)
    coef, intercept = _in_all_classes(path, classes)
    X_test = _rows(X, test)
    w_test = None if weights is None else weights[test]
    if scorer is None:
        codes = label_codes(classes, y[test])
        return fold_log_loss(X_test, codes, w_test, coef, intercept)
    scores = np.empty(coef.shape[0])
    for i in range(coef.shape[0]):
        model = MultinomialLogit.from_coefficients(classes, intercept[i], coef[i])
        kwargs = {} if w_test is None else {"sample_weight": w_test}
        scores[i] = scorer(model, X_test, y[test], **kwargs)
    return scores


def _rows(X: Any, rows: NDArray[np.intp]) -> Any:
    if sp.issparse(X):
        return cast(Any, X)[rows]
    return np.asarray(X)[rows]


def _in_all_classes(
    path: RegularizationPath, classes: NDArray[Any]
) -> tuple[FloatArray, FloatArray]:
    """A fold path's coefficients laid out over all the data's classes.

    The fold's classes may be fewer (a class missing from its training rows gets zero
    coefficients and a ``-inf`` intercept: probability 0, as a model that never saw it
    predicts) or in another order (a categorical's order on all data, sorted in a fold).
    """
    coef = np.asarray(path.coef, dtype=np.float64)
    intercept = np.asarray(path.intercept, dtype=np.float64)
    fold_classes = np.asarray(path.classes)
    if fold_classes.size == classes.size and np.array_equal(fold_classes, classes):
        return coef, intercept
    where = label_codes(classes, fold_classes)
    L, _, p = coef.shape
    full_coef = np.zeros((L, classes.size, p))
    full_intercept = np.full((L, classes.size), -np.inf)
    full_coef[:, where, :] = coef
    full_intercept[:, where] = intercept
    return full_coef, full_intercept


class MultinomialLogitCV(ClassifierMixin, BaseEstimator):
    """A sparse multinomial logit whose penalty strength is chosen by cross-validation.

    cv.glmnet for :class:`~mnlogit.MultinomialLogit`: the path on all data fixes the alpha
    grid, every fold runs the path on the same grid, and the model is refitted on all data
    at the chosen alpha. See the module docstring and docs/cross-validation.md.

    Parameters
    ----------
    penalty : {"l1", "elasticnet", "group"}, default="l1"
    l1_ratio : float or None, default=None
        Share of L1 in the elastic net (required for ``"elasticnet"``; 1 otherwise).
    alphas : array-like of shape (L,) or None, default=None
        The grid (sorted decreasing); default: ``n_alphas`` values from the smallest alpha
        that zeroes every penalized coefficient down to ``alpha_min_ratio`` of it.
    n_alphas : int, default=100
    alpha_min_ratio : float or None, default=None
        glmnet's default: 1e-4 when n > p, else 1e-2.
    cv : int, splitter or iterable, default=5
        As scikit-learn's ``check_cv`` takes it: an int is a ``StratifiedKFold`` (no
        shuffling); any splitter (``GroupKFold`` with ``groups=`` in ``fit``, ...).
    scoring : str, callable or None, default=None
        ``None`` is the mean log loss (lower is better, weighted by ``sample_weight``);
        otherwise a scikit-learn scorer (greater is better), called on a model built from
        each alpha's coefficients.
    n_jobs : int or None, default=None
        Folds run in parallel with joblib.
    penalty_factor : array-like of shape (p,) or None, default=None
        Per-feature multipliers of the penalty (0: unpenalized), as glmnet's.
    fit_intercept : bool, default=True
    tol : float, default=1e-6
        Tolerance of the path solver (its KKT residual; :data:`mnlogit.path.DEFAULT_TOL`).
    max_iter : int or None, default=None
    select : {"min", "1se"}, default="min"
        Which alpha the final model is refitted at: ``alpha_`` or ``alpha_1se_``.
    formula : str or None, default=None
        A formula (as ``MultinomialLogit(formula=...)``): ``fit`` then takes a data frame
        and no ``y``; the folds split the rows of its design matrix, and the refitted
        ``best_estimator_`` is a formula model.
    missing : {"error", "drop"}, default="error"
        With a formula: refuse rows with missing values, or drop them (with a warning),
        as ``MultinomialLogit(missing=...)``.

    Attributes
    ----------
    alphas_ : ndarray of shape (L,)
    path_ : RegularizationPath
        The path on all data.
    cv_scores_ : ndarray of shape (n_folds, L)
        Each fold's score at each alpha: mean log loss, or the scorer's value.
    cv_mean_, cv_se_ : ndarray of shape (L,)
    alpha_ : float
        The largest alpha with the best mean score.
    alpha_1se_ : float
        The largest alpha whose mean score is within one standard error of the best.
    alpha_selected_ : float
        The alpha ``best_estimator_`` was fitted at (``select``).
    score_name_ : str
        ``"log loss"`` or the scorer's name.
    best_estimator_ : MultinomialLogit
        Refitted on all data at ``alpha_selected_``.
    classes_, coef_, intercept_, n_features_in_, n_iter_ : as ``best_estimator_``'s
    feature_names_in_ : ndarray of shape (p,)
        Only when X has string column names.
    """

    def __init__(
        self,
        *,
        penalty: str = "l1",
        l1_ratio: float | None = None,
        alphas: ArrayLike | None = None,
        n_alphas: int = 100,
        alpha_min_ratio: float | None = None,
        cv: Any = 5,
        scoring: Any = None,
        n_jobs: int | None = None,
        penalty_factor: ArrayLike | None = None,
        fit_intercept: bool = True,
        tol: float = DEFAULT_TOL,
        max_iter: int | None = None,
        select: str = "min",
        formula: str | None = None,
        missing: str = "error",
    ) -> None:
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.alphas = alphas
        self.n_alphas = n_alphas
        self.alpha_min_ratio = alpha_min_ratio
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.penalty_factor = penalty_factor
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.select = select
        self.formula = formula
        self.missing = missing

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ fitting
    def _path_options(self) -> dict[str, Any]:
        return {
            "penalty": self.penalty,
            "l1_ratio": self.l1_ratio,
            "penalty_factor": self.penalty_factor,
            "fit_intercept": self.fit_intercept,
            "tol": self.tol,
            "max_iter": self.max_iter,
        }

    def _design(
        self, X: Any, y: Any, sample_weight: Any, groups: Any
    ) -> tuple[Any, Any, Any, Any, FormulaDesign | None]:
        """The design matrix, labels, weights and groups the paths run on (the formula
        applied, rows with missing values dropped for ``missing="drop"``)."""
        if self.formula is None:
            if y is None:
                raise InvalidInputError(
                    "MultinomialLogitCV requires y to be passed, but the target y is None "
                    "(or give formula='y ~ ...' and a data frame)"
                )
            if sp.issparse(X):
                X = sp.csr_array(cast(Any, X))  # rows of folds are taken from CSR
            # a column vector warns and is raveled, as scikit-learn's validate_data does
            labels = column_or_1d(y, warn=True) if np.asarray(y).ndim == 2 else y
            return X, labels, sample_weight, groups, None
        if y is not None:
            raise InvalidInputError(
                "with a formula, y comes from its left-hand side: call fit(data) without y"
            )
        import pandas as pd

        design, Xd, yd, kept = FormulaDesign.fit(self.formula, X, self.missing)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)[kept]
        if groups is not None:
            groups = np.asarray(groups)[kept]
        frame = pd.DataFrame(Xd, columns=design.columns)
        return frame, yd, sample_weight, groups, design

    def fit(
        self,
        X: Any,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        groups: ArrayLike | None = None,
    ) -> MultinomialLogitCV:
        """Run the path on all data and on every fold, choose alpha, refit on all data.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n, p), or a data frame with a formula
        y : array-like of shape (n,), optional (omitted with a formula)
        sample_weight : array-like of shape (n,), optional
            Frequency weights: used by every path and by the held-out log loss.
        groups : array-like of shape (n,), optional
            Group labels for a group splitter (``GroupKFold``, ...).

        Returns
        -------
        self
        """
        if self.select not in _SELECT:
            raise InvalidInputError(f"select must be one of {_SELECT}, got {self.select!r}")
        Xd, yd, weights, groups, design = self._design(X, y, sample_weight, groups)
        # the full-data path validates X, y and weights and fixes the grid (as cv.glmnet)
        options = self._path_options()
        full = regularization_path(
            Xd,
            yd,
            alphas=self.alphas,
            n_alphas=self.n_alphas,
            alpha_min_ratio=self.alpha_min_ratio,
            sample_weight=weights,
            **options,
        )
        classes = np.asarray(full.classes)
        labels = np.asarray(yd)  # a Categorical's values; ``classes`` keeps its order
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        Xa = Xd if sp.issparse(Xd) else np.asarray(Xd, dtype=np.float64)
        splitter = check_cv(self.cv, labels, classifier=True)
        folds = list(splitter.split(Xa, labels, groups))
        scorer = None if self.scoring is None else check_scoring(None, scoring=self.scoring)
        fold_options = {**options, "alphas": np.asarray(full.alphas)}
        scores = Parallel(n_jobs=self.n_jobs)(
            delayed(_fold_scores)(Xa, labels, w, train, test, classes, fold_options, scorer)
            for train, test in folds
        )
        fitted = self._cv_summary(full, np.vstack(scores), folds, w)
        chosen = fitted["alpha_" if self.select == "min" else "alpha_1se_"]
        best = self._final_estimator(chosen).fit(
            X, None if design is not None else yd, sample_weight=sample_weight
        )
        fitted.update(
            alpha_selected_=float(chosen),
            best_estimator_=best,
            classes_=best.classes_,
            coef_=best.coef_,
            intercept_=best.intercept_,
            n_features_in_=best.n_features_in_,
            n_iter_=best.n_iter_,
        )
        names = getattr(best, "feature_names_in_", None)
        self.__dict__.pop("feature_names_in_", None)
        if names is not None and design is None:
            fitted["feature_names_in_"] = names
        # published at once: a fit that fails leaves a fitted model as it was
        self.__dict__.update(fitted)
        return self

    def _cv_summary(
        self,
        full: RegularizationPath,
        scores: FloatArray,
        folds: list[tuple[NDArray[np.intp], NDArray[np.intp]]],
        weights: FloatArray | None,
    ) -> dict[str, Any]:
        """cv.glmnet's ``cvm``, ``cvsd``, ``lambda.min`` and ``lambda.1se``, as the fitted
        attributes ``cv_mean_``, ``cv_se_``, ``alpha_``, ``alpha_1se_`` (and the path's)."""
        alphas = np.asarray(full.alphas, dtype=np.float64)
        fold_w = np.array(
            [len(test) if weights is None else weights[test].sum() for _, test in folds],
            dtype=np.float64,
        )
        n_folds = scores.shape[0]
        finite = np.isfinite(scores)
        w = np.where(finite, fold_w[:, None], 0.0)
        filled = np.where(finite, scores, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (w * filled).sum(axis=0) / w.sum(axis=0)
            var = (w * (filled - mean) ** 2).sum(axis=0) / w.sum(axis=0)
            se = (
                np.sqrt(var / (finite.sum(axis=0) - 1))
                if n_folds > 1
                else np.full_like(mean, np.nan)
            )
        greater = self.scoring is not None
        best, one_se = one_se_rule(alphas, mean, se, greater_is_better=greater)
        name = self.scoring if isinstance(self.scoring, str) else "score"
        return {
            "path_": full,
            "alphas_": alphas,
            "cv_scores_": scores,
            "cv_mean_": mean,
            "cv_se_": se,
            "alpha_": float(alphas[best]),
            "alpha_1se_": float(alphas[one_se]),
            "score_name_": "log loss" if self.scoring is None else name,
        }

    def _final_estimator(self, alpha: float) -> MultinomialLogit:
        return MultinomialLogit(
            penalty=self.penalty,
            alpha=alpha,
            l1_ratio=self.l1_ratio,
            penalty_factor=self.penalty_factor,
            fit_intercept=self.fit_intercept if self.formula is None else True,
            tol=self.tol,
            max_iter=self.max_iter,
            formula=self.formula,
            missing=self.missing,
        )

    # ------------------------------------------------------------------ prediction
    def predict(self, X: Any) -> NDArray[Any]:
        """Most probable class under ``best_estimator_``.

        Returns
        -------
        ndarray of shape (n,)
        """
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)

    def predict_proba(self, X: Any) -> FloatArray:
        """Class probabilities under ``best_estimator_``.

        Returns
        -------
        ndarray of shape (n, K)
        """
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_proba(X)

    def predict_log_proba(self, X: Any) -> FloatArray:
        """Log class probabilities under ``best_estimator_``.

        Returns
        -------
        ndarray of shape (n, K)
        """
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_log_proba(X)

    def decision_function(self, X: Any) -> FloatArray:
        """Linear predictors under ``best_estimator_`` (scikit-learn's shape convention).

        Returns
        -------
        ndarray of shape (n, K), or (n,) when K == 2
        """
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.decision_function(X)

    def score(self, X: Any, y: ArrayLike | None = None, sample_weight: Any = None) -> float:
        """Accuracy of ``best_estimator_`` (formula models read ``y`` from ``X``)."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.score(X, y, sample_weight=sample_weight)

    def summary(self) -> Any:
        """The selected model's summary (nonzero terms per class), with the CV choice.

        Returns
        -------
        Summary
            ``best_estimator_.summary()`` with a note on how alpha was chosen.
        """
        check_is_fitted(self, "best_estimator_")
        summary = self.best_estimator_.summary()
        n_folds = self.cv_scores_.shape[0]
        summary.notes.insert(
            0,
            f"alpha chosen by {n_folds}-fold cross-validation ({self.score_name_}, "
            f"{self.alphas_.size} alphas): alpha_ = {self.alpha_:.4g} (best mean score), "
            f"alpha_1se_ = {self.alpha_1se_:.4g} (one-standard-error rule); "
            f"refitted at {'alpha_' if self.select == 'min' else 'alpha_1se_'}.",
        )
        return summary
