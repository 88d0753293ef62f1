"""Inference methods of the fitted estimator (mixed into ``MultinomialLogit``).

The math lives in the sibling modules; this mixin reads the fitted state
(``fitted_``, a :class:`~mnlogit.fitted.FittedModel`: coefficients, reference, aliased
columns and the covariance of ``vec(B)``) and turns it into tables indexed by
``(class, term)``. It never writes the state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pandas as pd
import scipy.stats
from numpy.typing import ArrayLike, NDArray
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from mnlogit.arrays import placement_of
from mnlogit.device_preparation import prepare_on_device
from mnlogit.distributed.detect import is_dask
from mnlogit.exceptions import (
    InferenceUnavailableError,
    InvalidInputError,
    PenalizedInferenceWarning,
    SeparationError,
    warn,
)
from mnlogit.fitstats import FitStatistics
from mnlogit.fitted import SELECTION_STATUS, FitOutcome, FittedModel
from mnlogit.identification.validation import label_codes
from mnlogit.inference.combine import COMBINE_METHODS, combine_pairs, combine_table
from mnlogit.inference.device_intervals import (
    device_log_odds_se,
    device_probability_intervals,
)
from mnlogit.inference.device_margins import device_effects
from mnlogit.inference.discrete_changes import (
    Contrast,
    discrete_change,
    indicator_columns,
    level_contrasts,
)
from mnlogit.inference.hypotheses import (
    TestResult,
    as_matrix_hypothesis,
    parse_hypothesis,
    wald_statistic,
)
from mnlogit.inference.iia import IIA_METHODS, iia_tests
from mnlogit.inference.intervals import log_odds_standard_errors, probability_intervals
from mnlogit.inference.margins import average_effects, representative_rows
from mnlogit.inference.refits import TrainingData
from mnlogit.objective import log_softmax
from mnlogit.preparation import FitSettings, check_same_data, model_inputs, prepare
from mnlogit.refit_selected import SPARSE_PENALTIES
from mnlogit.summary import SparseSummary, Summary

__all__ = ["InferenceMixin"]

FloatArray = NDArray[np.float64]
#: The IIA tests ``summary(iia=...)`` shows, with their titles.
IIA_TITLES = {
    "hausman": "IIA: Hausman-McFadden tests (H0: odds independent of the omitted class)",
    "suest": "IIA: generalized Hausman (suest) tests, stacked scores",
}
TABLE_COLUMNS = ["coef", "std_err", "z", "p_value", "ci_lower", "ci_upper"]


def _z_table(
    est: FloatArray, se: FloatArray, alpha: float, index: pd.MultiIndex, first: str
) -> pd.DataFrame:
    """Estimate, standard error, z, two-sided p and normal interval."""
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha!r}")
    crit = float(scipy.stats.norm.ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        # a standard error of exactly 0 (an estimate that does not vary with the data)
        # or one that is not representable (NaN) gives no test
        z = np.where(se > 0, est / se, np.nan)
    frame = pd.DataFrame(
        {
            first: est,
            "std_err": se,
            "z": z,
            "p_value": 2 * scipy.stats.norm.sf(np.abs(z)),
            "ci_lower": est - crit * se,
            "ci_upper": est + crit * se,
        },
        index=index,
    )
    return frame


def _refuse_device_rows(X: Any) -> None:
    """A clear error for device arrays where a method needs the rows on the host (the
    refits of ``iia_test`` and ``combine_test``): the copy is the caller's to make."""
    if placement_of(X) is not None:
        raise InvalidInputError(
            "this method takes numpy arrays: its refits on parts of the rows run on the "
            "host (docs/gpu.md). Pass X.cpu().numpy() (a copy of X) and host labels"
        )


class InferenceMixin:
    """Standard errors, tests, reference switching, marginal effects, summaries."""

    # Set by fit (declared for type checkers); everything below reads the fitted state.
    fitted_: FittedModel
    classes_: NDArray[Any]
    penalty: str | None

    # ------------------------------------------------------------------ layout
    def _shown_positions(self) -> NDArray[np.intp]:
        """Entries of ``vec(B)`` of the classes with free coefficients."""
        p1 = self.fitted_.p1
        return np.concatenate(
            [np.arange(k * p1, (k + 1) * p1) for k in self.fitted_.free_classes()]
        ).astype(np.intp)

    def _class_term_index(self, classes: list[int], terms: list[str]) -> pd.MultiIndex:
        return pd.MultiIndex.from_product(
            [list(self.fitted_.classes[classes]), terms], names=["class", "term"]
        )

    # ------------------------------------------------------------------ covariance
    def _covariance(self) -> FloatArray:
        """Covariance of ``vec(B)``; raises when there is none, warns when penalized."""
        check_is_fitted(self, "coef_")
        state = self.fitted_
        if state.separation is not None:
            raise SeparationError(
                "no inference for this fit: its classes are separated, so the "
                "maximum-likelihood estimate does not exist. " + state.separation.message
            )
        if state.outcome is not None and state.outcome.selected:
            raise InferenceUnavailableError(SELECTION_STATUS)
        if state.cov is None:
            status = state.cov_status or "this model was built from coefficients, without data"
            raise InferenceUnavailableError(
                f"no covariance matrix: {status}. Fit with cov_type='nonrobust' (or "
                "'robust'/'cluster'), or call compute_covariance(X, y) on the fitted model"
            )
        if self.penalty == "l2":
            warn(
                PenalizedInferenceWarning(
                    "standard errors of a penalized fit come from the inverse penalized "
                    "information: a Bayesian posterior covariance under the ridge prior, not "
                    "the sampling variability of the shrunk estimates; intervals are not "
                    "centred on the true values and tests against zero are biased toward "
                    "acceptance"
                )
            )
        return state.cov

    def _outcome(self) -> FitOutcome:
        """The fit's outcome; ``NotFittedError`` for a model built from coefficients."""
        check_is_fitted(self, "loglik_")
        outcome = self.fitted_.outcome
        if outcome is None:  # loglik_ is set exactly when the state has an outcome
            raise InferenceUnavailableError("this model carries no fit statistics")
        return outcome

    def cov_params(self) -> pd.DataFrame:
        """Covariance of the coefficients, indexed by ``(class, term)`` on both axes.

        The reference class is omitted (its coefficients are fixed at zero); a
        symmetric-form fit shows all K classes and its covariance is singular (the
        coefficients of each term sum to zero).

        Returns
        -------
        DataFrame of shape (m, m)
            ``m = (K-1) * p1`` (reference form) or ``K * p1`` (symmetric form).
        """
        cov = self._covariance().copy()
        bad = self.fitted_.aliased_mask
        cov[bad, :] = np.nan
        cov[:, bad] = np.nan
        pos = self._shown_positions()
        index = self._class_term_index(self.fitted_.free_classes(), list(self.fitted_.term_names))
        return pd.DataFrame(cov[np.ix_(pos, pos)], index=index, columns=index)

    def coef_table(self, alpha: float = 0.05, exponentiate: bool = False) -> pd.DataFrame:
        """Coefficients with standard errors, z statistics, p-values and intervals.

        Parameters
        ----------
        alpha : float, default=0.05
            ``1 - alpha`` confidence intervals.
        exponentiate : bool, default=False
            Report relative risk ratios ``exp(coef)`` (Stata's ``rrr``): column
            ``rrr``, delta-method standard errors ``exp(coef) * se``, the same z and p as
            the coefficients, and intervals from the exponentiated bounds.

        Returns
        -------
        DataFrame of shape (m, 6)
            Indexed by ``(class, term)``, reference class omitted, ``"Intercept"`` first;
            columns ``coef`` (or ``rrr``), ``std_err, z, p_value, ci_lower, ci_upper``.
        """
        cov = self._covariance()
        pos = self._shown_positions()
        est = self.fitted_.coefficient_vector()[pos].copy()
        se = np.sqrt(np.maximum(np.diag(cov)[pos], 0.0))
        not_estimable = self.fitted_.aliased_mask[pos]
        est[not_estimable] = np.nan
        se[not_estimable] = np.nan
        index = self._class_term_index(self.fitted_.free_classes(), list(self.fitted_.term_names))
        table = _z_table(est, se, alpha, index, "coef")
        if not exponentiate:
            return table
        rrr = np.exp(est)
        return pd.DataFrame(
            {
                "rrr": rrr,
                "std_err": rrr * se,
                "z": table["z"].to_numpy(),
                "p_value": table["p_value"].to_numpy(),
                "ci_lower": np.exp(table["ci_lower"].to_numpy()),
                "ci_upper": np.exp(table["ci_upper"].to_numpy()),
            },
            index=index,
        )

    # ------------------------------------------------------------------ tests
    def wald_test(self, hypothesis: Any, q: ArrayLike | None = None) -> TestResult:
        """Wald chi-squared test of linear restrictions on the coefficients.

        Parameters
        ----------
        hypothesis : str or array-like of shape (r, m)
            A string such as ``"[2]age = 0, [3]age = 0"``, ``"[b]x1 - [c]x1 = 0"`` or a
            bare term name ``"age"`` (all its coefficients across classes are zero),
            including a formula term such as ``"C(region)"`` (all its indicator columns,
            all classes: the test of :meth:`term_tests`); or a matrix ``R`` whose ``m``
            columns follow the rows of :meth:`cov_params`.
        q : array-like of shape (r,), optional
            Right-hand side for a matrix hypothesis (zeros by default).

        Returns
        -------
        TestResult
            ``statistic``, ``df`` (the rank of the restrictions) and ``p_value``.

        Raises
        ------
        InvalidInputError
            A hypothesis that cannot be parsed, names an unknown class or term, or a
            matrix of the wrong shape (a ``ValueError``, as before).
        """
        cov = self._covariance()
        beta = self.fitted_.coefficient_vector()
        terms = self._term_columns()
        if isinstance(hypothesis, str) and hypothesis.strip() in terms:
            desc = hypothesis.strip()
            R = self._term_restrictions(terms[desc])
            qv = np.zeros(R.shape[0])
        elif isinstance(hypothesis, str):
            R, qv = parse_hypothesis(
                hypothesis,
                [str(c) for c in self.fitted_.classes],
                list(self.fitted_.term_names),
                self.fitted_.free_classes(),
            )
            desc = hypothesis
        else:
            pos = self._shown_positions()
            Rs, qv = as_matrix_hypothesis(hypothesis, q, pos.size)
            R = np.zeros((Rs.shape[0], beta.size))
            R[:, pos] = Rs
            desc = f"{Rs.shape[0]} linear restrictions"
        touched = np.any(R[:, self.fitted_.aliased_mask] != 0, axis=1)
        if touched.any():
            raise InvalidInputError(
                "the hypothesis involves coefficients of aliased (collinear) columns, which "
                "are not estimable"
            )
        return wald_statistic(beta, cov, R, qv, desc)

    def lr_test(self, other: Any = None) -> TestResult:
        """Likelihood-ratio test against the intercept-only model or a nested fit.

        Parameters
        ----------
        other : MultinomialLogit, optional
            A model fitted to the same rows, labels and weights, nested in this one (or
            containing it: the order does not matter). Both fits' data fingerprints
            must agree on rows, labels and weights (``InvalidInputError`` otherwise).
            ``None`` tests all slopes against the intercept-only model in closed form.

        Returns
        -------
        TestResult

        Raises
        ------
        InvalidInputError
            Also when the two fingerprints have different schemes (a model loaded from
            a file of format version 1 against a fit of this mnlogit): they cannot be
            compared, so the loaded model must be refitted first (docs/decisions.md).
        """
        return self._lr_test(other, checked_in_scheme=False)

    def _lr_test(self, other: Any, checked_in_scheme: bool) -> TestResult:
        """:meth:`lr_test`; ``checked_in_scheme=True`` when the caller has checked
        ``other``'s data against this fit's fingerprint in this fit's scheme already
        (``term_tests``' refits): a fingerprint of ``other`` in another scheme (a refit of a
        model loaded from a format-1 file) is then not compared; one in the same scheme
        still is."""
        stats = self._outcome().statistics
        if self.penalty is not None or (other is not None and other.penalty is not None):
            raise InvalidInputError(
                "likelihood-ratio tests compare maximized likelihoods; penalized fits do "
                "not maximize the likelihood. Refit with penalty=None"
            )
        ll = float(stats.loglik)
        n_params = int(stats.n_params)
        state = self.fitted_
        if other is None:
            df = n_params - (state.n_classes - 1) * int(state.fit_intercept)
            stat = 2.0 * (ll - float(stats.loglik_null))
            desc = "LR test against the intercept-only model"
        else:
            check_is_fitted(other, "loglik_")
            theirs: FitStatistics = other.fitted_.outcome.statistics
            if not np.array_equal(other.fitted_.classes, state.classes) or not np.isclose(
                theirs.nobs, stats.nobs
            ):
                raise InvalidInputError(
                    "lr_test needs both models fitted to the same observations and classes "
                    f"(nobs {stats.nobs} vs {theirs.nobs})"
                )
            mine, their_data = state.fingerprint, other.fitted_.fingerprint
            if (
                mine is not None
                and their_data is not None
                and (not checked_in_scheme or mine.scheme == their_data.scheme)
            ):
                check_same_data(mine, their_data, "lr_test", rows_only=True)
            df = abs(n_params - int(theirs.n_params))
            if df == 0:
                raise InvalidInputError("the two models have the same number of parameters")
            stat = 2.0 * abs(ll - float(theirs.loglik))
            desc = "LR test of nested models"
        return TestResult(stat, df, float(scipy.stats.chi2.sf(stat, df)), desc)

    def _term_columns(self) -> dict[str, list[int]]:
        """Each term's design-matrix columns (a formula term may span several)."""
        names = self.fitted_.feature_names
        design = self.fitted_.design
        if design is None:
            return {name: [j] for j, name in enumerate(names)}
        position = {name: j for j, name in enumerate(names)}
        return {term: [position[c] for c in cols] for term, cols in design.terms.items() if cols}

    def _term_restrictions(self, cols: list[int]) -> FloatArray:
        """``R`` setting the coefficients of design columns ``cols`` to zero in every
        non-reference class (every class in symmetric form), over ``vec(B)``."""
        state = self.fitted_
        p1, off = state.p1, int(state.fit_intercept)
        shown = state.free_classes()
        R = np.zeros((len(cols) * len(shown), state.n_classes * p1))
        for r, (k, j) in enumerate((k, j) for k in shown for j in cols):
            R[r, k * p1 + j + off] = 1.0
        return R

    def term_tests(
        self,
        X: Any = None,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
    ) -> pd.DataFrame:
        """Joint tests that a term's coefficients are zero in every class.

        Like SPost's ``mlogtest, wald lr``: a Wald test per term always; with the
        training data also a likelihood-ratio test, refitting without the term's
        columns (same settings). A formula term (e.g. ``C(region)``) is tested as a
        whole, over all its indicator columns.

        Parameters
        ----------
        X : array-like of shape (n, p) or data frame, optional
            The training data (with a formula, the data frame; ``y`` is then not needed).
        y : array-like of shape (n,), optional
        sample_weight : array-like of shape (n,), optional
            Default: the weights given to ``fit`` (a loaded model that was fitted with
            weights needs them again). The data must be the fit's: their fingerprint
            (X, labels, weights) is compared with the one ``fit`` recorded.

        Returns
        -------
        DataFrame of shape (n_terms, 3) or (n_terms, 6)
            Indexed by term; columns ``wald_chi2, wald_df, wald_p`` and, with data,
            ``lr_chi2, lr_df, lr_p``.
        """
        cov = self._covariance()
        state = self.fitted_
        beta = state.coefficient_vector()
        p1 = state.p1
        off = int(state.fit_intercept)
        terms = self._term_columns()
        rows: dict[str, dict[str, float]] = {}
        aliased = state.aliased_mask
        shown = state.free_classes()
        unknown = np.isnan(np.diag(cov))  # aliased, or a variance not representable
        for name, cols in terms.items():
            if any(
                aliased[k * p1 + j + off] or unknown[k * p1 + j + off] for k in shown for j in cols
            ):
                nan = float("nan")
                rows[name] = {"wald_chi2": nan, "wald_df": nan, "wald_p": nan}
                continue
            R = self._term_restrictions(cols)
            res = wald_statistic(beta, cov, R, np.zeros(R.shape[0]), name)
            rows[name] = {"wald_chi2": res.statistic, "wald_df": res.df, "wald_p": res.p_value}
        if X is not None and (y is not None or state.design is not None):
            Xd, yd, sw, without = self._lr_refit_data(X, y, sample_weight)
            p_all = Xd.shape[1]
            kept = state.kept_columns
            dropped = set() if kept is None else set(range(p_all)) - {int(j) for j in kept}
            for name, cols in terms.items():
                if np.isnan(rows[name]["wald_chi2"]):
                    nan = float("nan")
                    rows[name].update({"lr_chi2": nan, "lr_df": nan, "lr_p": nan})
                    continue
                reduced = clone(self).set_params(
                    formula=None, warm_start=False, cov_type=None, fit_intercept=off == 1
                )
                remove = sorted(set(cols) | dropped)
                reduced.fit(without(remove), yd, sample_weight=sw)
                # the data were checked against this fit's fingerprint (in its own
                # scheme) by _lr_refit_data; the refit's may be of a newer scheme
                res = self._lr_test(reduced, checked_in_scheme=True)
                rows[name].update({"lr_chi2": res.statistic, "lr_df": res.df, "lr_p": res.p_value})
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = "term"
        return frame

    def _lr_refit_data(
        self, X: Any, y: ArrayLike | None, sample_weight: ArrayLike | None
    ) -> tuple[Any, Any, Any, Callable[[list[int]], Any]]:
        """The training design, labels and weights for ``term_tests``' refits, checked to
        be the fit's (its fingerprint: refits of other data would compare likelihoods of
        different samples), and a map from columns to remove to the reduced design.

        Device arrays stay on their device (docs/gpu.md): the reduced designs are
        column selections there.
        """
        state = self.fitted_
        settings = FitSettings.from_params(self.get_params(), quiet=True)  # type: ignore[attr-defined]
        if sample_weight is None:
            sample_weight = state.sample_weight  # the fit's weights
        placement = placement_of(X)
        if placement is not None:
            prepare_on_device(placement, settings, X, y, sample_weight, None, state)
            xp, p_all = placement.xp, int(X.shape[1])

            def on_device(remove: list[int]) -> Any:
                keep = np.array([j for j in range(p_all) if j not in set(remove)], dtype=np.int64)
                return xp.take(X, placement.put(keep), axis=1)

            return X, y, sample_weight, on_device
        prepare(self, settings, X, y, sample_weight, None, fitted=state)
        inputs = model_inputs(settings, X, y, sample_weight, None, fitted=state)
        Xd: Any = inputs.X
        Xd = np.asarray(Xd.toarray() if hasattr(Xd, "toarray") else Xd, dtype=np.float64)
        return Xd, inputs.y, inputs.sample_weight, lambda remove: np.delete(Xd, remove, axis=1)

    # ------------------------------------------------------------------ model comparisons
    def _training_data(
        self, X: Any, y: ArrayLike | None, sample_weight: ArrayLike | None
    ) -> TrainingData:
        """The design (aliased columns removed), labels and weights, checked to be the
        training data: the model's log-likelihood on them must equal ``loglik_``."""
        outcome = self._outcome()
        state = self.fitted_
        if self.penalty is not None:
            raise InvalidInputError(
                "these tests compare maximum-likelihood fits; a penalized fit is not one. "
                "Refit with penalty=None"
            )
        if self.get_params()["class_weight"] is not None:  # type: ignore[attr-defined]
            raise InvalidInputError(
                "these tests refit on parts of the data, where class weights change "
                "meaning; fit with sample_weight instead of class_weight"
            )
        _refuse_device_rows(X)
        settings = FitSettings.from_params(self.get_params(), quiet=True)  # type: ignore[attr-defined]
        inputs = model_inputs(settings, X, y, sample_weight, None, fitted=state)
        Xd: Any = inputs.X
        Xd = np.asarray(Xd.toarray() if hasattr(Xd, "toarray") else Xd, dtype=np.float64)
        labels = np.asarray(inputs.y)
        w = None if inputs.sample_weight is None else np.asarray(inputs.sample_weight, float)
        unknown = set(pd.unique(labels)) - set(state.classes)
        if Xd.shape[1] != state.n_features or unknown:
            raise InvalidInputError(
                f"X has {Xd.shape[1]} design columns (the model {state.n_features})"
                + (
                    f" and y classes {sorted(map(str, unknown))[:5]} the model lacks"
                    if unknown
                    else ""
                )
            )
        B = state.coefficient_matrix()
        eta = Xd @ B[int(state.fit_intercept) :] + (B[0] if state.fit_intercept else 0.0)
        logp = log_softmax(eta)[np.arange(labels.size), label_codes(state.classes, labels)]
        ll = float(np.sum(logp if w is None else w * logp))
        expected = float(outcome.statistics.loglik)
        if not np.isclose(ll, expected, rtol=1e-6, atol=1e-6):
            raise InvalidInputError(
                f"these tests need the training data: the model's log-likelihood on the data "
                f"given is {ll:.6g}, at fit time it was {expected:.6g} (pass the same X, y "
                "and sample_weight as to fit)"
            )
        kept = state.kept_columns
        names = state.feature_names
        if kept is not None:
            Xd = Xd[:, kept]
            names = tuple(names[j] for j in kept)
        return TrainingData(Xd, labels, w, names)

    def _refit(
        self, X: FloatArray, y: Any, sample_weight: FloatArray | None, reference: Any, cov: bool
    ) -> FittedModel:
        """A fit with this model's settings on other rows (the :data:`Refit` of the tests).

        The tolerance is at most 1e-10: the Hausman contrasts difference two fits, so
        their optimization error must be far below the difference.
        """
        model = clone(self).set_params(
            tol=min(float(self.get_params()["tol"]), 1e-10),  # type: ignore[attr-defined]
            formula=None,
            warm_start=False,
            verbose=0,
            reference=reference,
            cov_type="nonrobust" if cov else None,
            fit_intercept=self.fitted_.fit_intercept,
        )
        model.fit(X, y, sample_weight=sample_weight)
        state: FittedModel = model.fitted_
        return state

    def iia_test(
        self,
        X: Any,
        y: ArrayLike | None = None,
        method: str = "hausman",
        omit: Any = None,
        *,
        sample_weight: ArrayLike | None = None,
        constant: bool = True,
        random_state: Any = None,
    ) -> pd.DataFrame:
        """Tests of the independence of irrelevant alternatives, one per omitted class.

        Each class in turn (or those in ``omit``) is dropped with its rows, the model is
        refitted with the same settings, and the restricted coefficients are compared
        with the full ones (see :mod:`mnlogit.inference.iia` for the statistics and
        docs/inference.md for how to read them and the literature's warnings).

        Parameters
        ----------
        X : array-like of shape (n, p), or a data frame for a formula model
            The training data (the model's log-likelihood on them is checked).
        y : array-like of shape (n,), optional
            Not needed with a formula.
        method : {"hausman", "suest", "small-hsiao"}, default="hausman"
            Hausman-McFadden (Stata ``hausman ..., alleqs constant``, SPost ``mlogtest,
            iia``, R ``mlogit::hmftest``), the generalized Hausman test from stacked
            scores (Stata ``suest``), or Small-Hsiao's split-sample test.
        omit : label or sequence of labels, optional
            The classes to omit; default every class.
        sample_weight : array-like of shape (n,), optional
            As given to ``fit``.
        constant : bool, default=True
            Include the intercepts in the Hausman comparisons.
        random_state : int, numpy Generator or None
            Small-Hsiao's random split (pass an int for reproducible results).

        Returns
        -------
        DataFrame of shape (n_omitted, 4)
            Indexed by ``omitted``; columns ``statistic, df, p_value, note`` (``nan``
            statistic and a note where a test cannot be computed; a note also flags a
            non-positive-definite variance difference, a changed base class or columns
            collinear after dropping rows). ``attrs["method"]`` names the test.
        """
        if method not in IIA_METHODS:
            raise InvalidInputError(f"method must be one of {IIA_METHODS}, got {method!r}")
        data = self._training_data(X, y, sample_weight)
        state = self.fitted_
        chosen = None
        if omit is not None:
            chosen = list(omit) if isinstance(omit, list | tuple | np.ndarray) else [omit]
        reference = None if state.reference_index is None else state.reference
        return iia_tests(
            data, state.classes, reference, self._refit, method, chosen, constant, random_state
        )

    def combine_test(
        self,
        method: str = "wald",
        pairs: Any = None,
        X: Any = None,
        y: ArrayLike | None = None,
        *,
        sample_weight: ArrayLike | None = None,
    ) -> pd.DataFrame:
        """Tests that two classes can be combined (all their slopes equal).

        SPost's ``mlogtest, combine`` (Wald) and ``mlogtest, lrcomb`` (likelihood ratio;
        see :mod:`mnlogit.inference.combine` for the constrained model).

        Parameters
        ----------
        method : {"wald", "lr"}, default="wald"
        pairs : sequence of (label, label), optional
            Default every pair of classes.
        X, y, sample_weight : optional
            The training data, needed for ``"lr"`` (a data frame alone with a formula).

        Returns
        -------
        DataFrame of shape (n_pairs, 4)
            Indexed by ``(class_a, class_b)``; columns ``statistic, df, p_value, note``.
        """
        if method not in COMBINE_METHODS:
            raise InvalidInputError(f"method must be one of {COMBINE_METHODS}, got {method!r}")
        state = self.fitted_
        chosen = combine_pairs(state.classes, pairs)
        if method == "wald":
            return combine_table(state, method, chosen, cov=self._covariance())
        if X is None:
            raise InvalidInputError("the likelihood-ratio test refits the model: pass X (and y)")
        data = self._training_data(X, y, sample_weight)
        return combine_table(state, method, chosen, data=data, refit=self._refit)

    # ------------------------------------------------------------------ effects
    def _rows(self, X: Any) -> FloatArray:
        _refuse_device_rows(X)
        rows: Any = self._design_matrix(X)  # type: ignore[attr-defined]
        if hasattr(rows, "toarray"):
            rows = rows.toarray()
        return np.asarray(rows, dtype=np.float64)

    def marginal_effects(
        self,
        X: ArrayLike,
        at: Any = "overall",
        method: str = "dydx",
        alpha: float = 0.05,
        *,
        dummy: bool = False,
        sample_weight: ArrayLike | None = None,
    ) -> pd.DataFrame:
        """Marginal effects (or elasticities) of each feature on each class probability.

        Continuous features get derivatives; the categorical variables of a formula
        always get discrete changes, each level against the base level (see
        :mod:`mnlogit.inference.discrete_changes`), and so do 0/1 columns with
        ``dummy=True``.

        Parameters
        ----------
        X : array-like of shape (n, p), or a data frame for a formula model
            The rows to average over (usually the training data).
        at : "overall", "mean", "median" or dict, default="overall"
            ``"overall"`` averages the effect over the rows (average marginal effects);
            ``"mean"``/``"median"`` evaluate it at the column means/medians; a dict
            ``{feature: value}`` fixes those features in every row, then averages. A
            discrete change at the means holds the other features at their means.
        method : {"dydx", "eyex", "dyex", "eydx"}, default="dydx"
            Derivative, elasticity, semi-elasticities (``ey``: of the log probability,
            ``ex``: with respect to the log feature). Discrete changes are of the
            probability (``dydx``) or of its log (``eydx``); with respect to the log of
            an indicator they are undefined (``nan`` rows for categorical terms; with
            ``dummy=True`` an error).
        alpha : float, default=0.05
        dummy : bool, default=False
            Discrete change from 0 to 1 for every column holding only 0 and 1
            (statsmodels' ``get_margeff(dummy=True)``).
        sample_weight : array-like of shape (n,), optional
            Frequency weights of the rows: weighted averages, weighted means and
            medians (use the fit's weights for weighted average marginal effects).

        Returns
        -------
        DataFrame of shape (K * q, 6)
            Indexed by ``(class, term)`` for all K classes (reference included);
            columns ``effect, std_err, z, p_value, ci_lower, ci_upper`` with delta-method
            errors. ``q = p`` without categorical terms; each categorical variable's
            design columns are replaced by one row per non-base level.
            ``attrs["discrete"]`` lists the terms reported as discrete changes.
        """
        if is_dask(X, sample_weight):  # partition sums, at="overall" only (docs/dask.md)
            from mnlogit.distributed.margins import dask_marginal_effects

            return dask_marginal_effects(
                self.fitted_, self._covariance(), X, at, method, alpha, dummy, sample_weight
            )
        cov = self._covariance()
        state = self.fitted_
        names = list(state.feature_names)
        B = state.coefficient_matrix()
        placement = placement_of(X)
        if placement is not None:  # sums on X's device (docs/gpu.md)
            if dummy:
                raise InvalidInputError(
                    "dummy=True is not available for device arrays (its discrete changes "
                    "copy the rows); pass numpy arrays"
                )
            contrasts: list[Contrast] = []
            effects, J = device_effects(
                placement, X, B, state.fit_intercept, method, at, names, sample_weight
            )
        else:
            rows = self._rows(X)
            weights = self._row_weights(sample_weight, rows.shape[0])
            contrasts = self._contrasts(X, rows, dummy, method)
            point, w_point = representative_rows(rows, at, names, weights)
            effects, J = average_effects(point, B, state.fit_intercept, method, w_point)
        se = np.sqrt(np.maximum(np.einsum("ab,bc,ac->a", J, cov, J), 0.0)).reshape(effects.shape)
        off = int(state.fit_intercept)
        gone = state.aliased_mask[off : state.p1]  # aliased features (same in every class)
        effects[:, gone] = np.nan
        se[:, gone] = np.nan
        replaced = {j: c for c in contrasts for j in c.columns}
        terms: list[str] = []
        columns: list[tuple[FloatArray, FloatArray]] = []
        for j, name in enumerate(names):
            contrast = replaced.get(j)
            if contrast is None:
                terms.append(name)
                columns.append((effects[:, j], se[:, j]))
            elif j == contrast.columns[0]:
                for c in (c for c in contrasts if c.columns == contrast.columns):
                    terms.append(c.name)
                    columns.append(self._discrete(c, at, names, weights, method, cov))
        table_effects = np.column_stack([c[0] for c in columns])
        table_se = np.column_stack([c[1] for c in columns])
        index = self._class_term_index(list(range(state.n_classes)), terms)
        table = _z_table(table_effects.ravel(), table_se.ravel(), alpha, index, "effect")
        table.attrs["discrete"] = [c.name for c in contrasts]
        return table

    def _row_weights(self, sample_weight: ArrayLike | None, n: int) -> FloatArray | None:
        if sample_weight is None:
            return None
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise InvalidInputError(
                f"sample_weight must be {n} finite non-negative numbers with a positive sum"
            )
        return w

    def _contrasts(self, X: Any, rows: FloatArray, dummy: bool, method: str) -> list[Contrast]:
        """The discrete changes of a marginal-effects table (categorical, then 0/1 columns)."""
        design = self.fitted_.design
        contrasts = [] if design is None else level_contrasts(design, X)
        if dummy:
            if method.endswith("ex"):
                raise InvalidInputError(
                    "dummy=True: an elasticity with respect to log(x) of a 0/1 column is "
                    "undefined; use method='dydx' or 'eydx'"
                )
            taken = {j for c in contrasts for j in c.columns}
            names = self.fitted_.feature_names
            for j in indicator_columns(rows):
                if j in taken:
                    continue
                high, low = rows.copy(), rows.copy()
                high[:, j] = 1.0
                low[:, j] = 0.0
                contrasts.append(Contrast(names[j], (j,), high, low))
        return contrasts

    def _discrete(
        self,
        contrast: Contrast,
        at: Any,
        names: list[str],
        weights: FloatArray | None,
        method: str,
        cov: FloatArray,
    ) -> tuple[FloatArray, FloatArray]:
        """One discrete change per class and its delta-method standard error."""
        state = self.fitted_
        K = state.n_classes
        if method.endswith("ex"):
            nan = np.full(K, np.nan)
            return nan, nan.copy()
        if isinstance(at, dict):
            fixed = {k: v for k, v in at.items() if k not in [names[j] for j in contrast.columns]}
            high, w = representative_rows(contrast.high, fixed, names, weights)
            low, _ = representative_rows(contrast.low, fixed, names, weights)
        else:
            high, w = representative_rows(contrast.high, at, names, weights)
            low, _ = representative_rows(contrast.low, at, names, weights)
        B = state.coefficient_matrix()
        change, J = discrete_change(high, low, B, state.fit_intercept, w, log=method == "eydx")
        se = np.sqrt(np.maximum(np.einsum("ab,bc,ac->a", J, cov, J), 0.0))
        return change, se

    def log_odds_se(self, X: ArrayLike, reference: Any = None) -> FloatArray:
        """Standard errors of the log-odds ``eta_k - eta_r`` of each class against one.

        Parameters
        ----------
        X : array-like of shape (n, p), or a data frame for a formula model
        reference : label, optional
            The class ``r``; default the model's reference (the first class for a
            symmetric-form fit).

        Returns
        -------
        ndarray of shape (n, K)
            Column ``r`` is zero. ``eta_k - eta_r`` itself is
            ``linear_predictor(X)[:, k] - linear_predictor(X)[:, r]``.
        """
        cov = self._covariance()
        state = self.fitted_
        r = self._reference_position(reference)
        placement = placement_of(X)
        if placement is not None:  # a device array of X's namespace (docs/gpu.md)
            return cast(FloatArray, device_log_odds_se(placement, X, cov, state.fit_intercept, r))
        return log_odds_standard_errors(self._rows(X), cov, state.fit_intercept, r)

    def _reference_position(self, reference: Any) -> int:
        state = self.fitted_
        if reference is None:
            return 0 if state.reference_index is None else state.reference_index
        labels = list(state.classes)
        if reference not in labels:
            raise InvalidInputError(f"reference {reference!r} is not a class ({labels})")
        return labels.index(reference)

    def predict_interval(self, X: ArrayLike, alpha: float = 0.05) -> tuple[FloatArray, FloatArray]:
        """Confidence bounds of the predicted class probabilities.

        Delta method on the logit scale of each probability, mapped back, so bounds lie
        in (0, 1) (see :mod:`mnlogit.inference.intervals`).

        Parameters
        ----------
        X : array-like of shape (n, p)
        alpha : float, default=0.05

        Returns
        -------
        lower, upper : ndarray of shape (n, K)
        """
        if not 0 < alpha < 1:
            raise InvalidInputError(f"alpha must be in (0, 1), got {alpha!r}")
        cov = self._covariance()
        state = self.fitted_
        placement = placement_of(X)
        if placement is not None:  # device arrays of X's namespace (docs/gpu.md)
            return cast(
                tuple[FloatArray, FloatArray],
                device_probability_intervals(
                    placement, X, state.coefficient_matrix(), cov, state.fit_intercept, alpha
                ),
            )
        return probability_intervals(
            self._rows(X), state.coefficient_matrix(), cov, state.fit_intercept, alpha
        )

    # ------------------------------------------------------------------ summary
    def summary(
        self, alpha: float = 0.05, exponentiate: bool = False, *, iia: Any = None
    ) -> Summary | SparseSummary:
        """A publication-ready summary: fit statistics, then one block per class.

        Parameters
        ----------
        alpha : float, default=0.05
        exponentiate : bool, default=False
            Show relative risk ratios instead of coefficients.
        iia : tuple or data frame, optional
            The training data, ``(X, y)`` or ``(X, y, sample_weight)`` (a formula model's
            data frame alone): adds the Hausman-McFadden and suest IIA tests (SPost's
            ``mlogtest, iia``) after the coefficients. Small-Hsiao depends on a random
            split; add it with ``summary().add_section(title, model.iia_test(...,
            method="small-hsiao", random_state=seed))``.

        Returns
        -------
        Summary or SparseSummary
            ``str()`` gives a text table; ``_repr_html_()`` and ``as_latex()`` the same
            content as HTML and LaTeX. A sparse fit (``penalty="l1"``, ``"elasticnet"``,
            ``"group"``) gives a :class:`~mnlogit.summary.SparseSummary`: its nonzero
            terms per class and no standard errors, which are not valid after selection
            (``alpha``, ``exponentiate`` and ``iia`` do not apply to it).
        """
        if self.penalty in SPARSE_PENALTIES:
            return self._sparse_summary()
        table = self.coef_table(alpha=alpha, exponentiate=exponentiate)
        state = self.fitted_
        outcome = self._outcome()
        if state.reference_index is None:
            reading = "symmetric form: coefficients sum to zero over classes"
        else:
            reading = f"against reference {state.reference}"
        notes = []
        if exponentiate:
            notes.append("Relative risk ratios exp(coef); std err by the delta method.")
        if self.penalty == "firth":
            notes.append(
                "Firth-penalized fit: standard errors from the inverse Fisher information at "
                "the penalized estimate; the log-likelihood shown is unpenalized."
            )
        elif self.penalty is not None:
            notes.append(
                "Penalized fit: standard errors are from the inverse penalized information "
                "(posterior covariance under the ridge prior), not classical ones."
            )
        if not outcome.converged:
            message = "" if state.convergence is None else state.convergence.message
            notes.append(f"WARNING: the solver did not converge: {message}")
        if state.aliased:
            notes.append(
                "Not estimable (aliased, dropped from the fit): " + ", ".join(state.aliased) + "."
            )
        summary = Summary(
            title="Multinomial logit regression results",
            header=self._summary_header(outcome),
            table=table,
            reference=reading,
            alpha=alpha,
            notes=notes,
        )
        if iia is not None:
            X, y, weights = (iia, None, None) if not isinstance(iia, tuple) else (*iia, None)[:3]
            for method, title in IIA_TITLES.items():
                found = self.iia_test(X, y, method=method, sample_weight=weights)
                summary.add_section(title, found)
        return summary

    def _sparse_summary(self) -> SparseSummary:
        """The nonzero terms of a sparse fit per class (:class:`SparseSummary`)."""
        state = self.fitted_
        outcome = self._outcome()
        B = state.coefficient_matrix()  # (p1, K)
        terms = list(state.term_names)
        rows = [
            (cls, term, float(B[j, k]))
            for k, cls in enumerate(state.classes)
            for j, term in enumerate(terms)
            if term == "Intercept" or B[j, k] != 0
        ]
        table = pd.DataFrame(
            {"coef": [r[2] for r in rows]},
            index=pd.MultiIndex.from_tuples([r[:2] for r in rows], names=["class", "term"]),
        )
        nonzero = np.any(state.coef != 0, axis=0)
        penalty: list[tuple[str, object]] = [("Penalty", str(self.penalty))]
        penalty.append(("alpha", outcome.alpha))
        if outcome.l1_ratio is not None and outcome.l1_ratio != 1.0:
            penalty.append(("l1_ratio", outcome.l1_ratio))
        penalty.append(("Nonzero features", f"{int(nonzero.sum())} of {nonzero.size}"))
        header = [h for h in self._summary_header(outcome) if h[0] not in ("Covariance", "Penalty")]
        header[4:4] = penalty
        notes = [
            "No standard errors, tests or intervals: the penalty selected these terms from "
            "the data, and classical inference ignores that selection. "
            "model.refit_selected(X, y) refits the selected terms without penalty, with "
            "standard errors that are NOT adjusted for the selection (too optimistic).",
        ]
        if not outcome.converged:
            message = "" if state.convergence is None else state.convergence.message
            notes.append(f"WARNING: the solver did not converge: {message}")
        reading = (
            "symmetric form"
            if state.reference_index is None
            else f"against reference {state.reference}"
        )
        return SparseSummary(
            title="Sparse multinomial logit regression",
            header=header,
            table=table,
            reference=reading,
            classes=list(state.classes),
            dropped=[
                name for name, kept in zip(state.feature_names, nonzero, strict=True) if not kept
            ],
            notes=notes,
        )

    def _summary_header(self, outcome: FitOutcome) -> list[tuple[str, object]]:
        """The fit statistics shown above the coefficient blocks."""
        stats = outcome.statistics
        header: list[tuple[str, object]] = [
            ("Observations", stats.nobs),
            ("Classes (K)", self.fitted_.n_classes),
            ("Log-likelihood", stats.loglik),
            ("Null log-likelihood", stats.loglik_null),
        ]
        if self.penalty is None:
            lr = self.lr_test()
            header += [(f"LR chi2({lr.df})", lr.statistic), ("Prob > chi2", lr.p_value)]
        elif self.penalty == "firth":
            header += [("Penalty", "Firth (Jeffreys prior)")]
        else:
            header += [("Penalty", f"{self.penalty}, alpha={outcome.alpha:.4g}")]
        header += [
            ("McFadden pseudo-R2", stats.pseudo_r2),
            ("AIC", stats.aic),
            ("BIC", stats.bic),
            ("Covariance", self.fitted_.cov_type),
            ("Solver", outcome.solver),
            ("Converged", f"{'yes' if outcome.converged else 'NO'} ({outcome.n_iter} it.)"),
        ]
        return header
