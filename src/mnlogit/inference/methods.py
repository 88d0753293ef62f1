"""Inference methods of the fitted estimator (mixed into ``MultinomialLogit``).

The math lives in the sibling modules; this mixin turns the fitted state (``coef_``,
``intercept_``, ``classes_``, ``reference_`` and the covariance of ``vec(B)``) into
tables indexed by ``(class, term)``.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats
from numpy.typing import ArrayLike, NDArray
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from mnlogit.exceptions import (
    InferenceUnavailableError,
    InvalidInputError,
    PenalizedInferenceWarning,
    SeparationError,
)
from mnlogit.inference.hypotheses import (
    TestResult,
    as_matrix_hypothesis,
    parse_hypothesis,
    wald_statistic,
)
from mnlogit.inference.intervals import probability_intervals
from mnlogit.inference.margins import average_effects
from mnlogit.summary import Summary

__all__ = ["InferenceMixin"]

FloatArray = NDArray[np.float64]
TABLE_COLUMNS = ["coef", "std_err", "z", "p_value", "ci_lower", "ci_upper"]


def _z_table(
    est: FloatArray, se: FloatArray, alpha: float, index: pd.MultiIndex, first: str
) -> pd.DataFrame:
    """Estimate, standard error, z, two-sided p and normal interval."""
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha!r}")
    crit = float(scipy.stats.norm.ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
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


class InferenceMixin:
    """Standard errors, tests, reference switching, marginal effects, summaries."""

    # Attributes set by fit (declared for type checkers).
    classes_: NDArray[Any]
    coef_: FloatArray
    intercept_: FloatArray
    reference_: Any
    fit_intercept: bool
    fit_intercept_: bool
    penalty: str | None
    _cov_full: FloatArray | None
    cov_status_: str

    # ------------------------------------------------------------------ layout
    def _feature_names(self) -> list[str]:
        design = getattr(self, "design_", None)
        if design is not None:
            return list(design.columns)
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            return [str(n) for n in names]
        return [f"x{j}" for j in range(self.coef_.shape[1])]

    def _term_names(self) -> list[str]:
        terms = self._feature_names()
        return ["Intercept", *terms] if self.fit_intercept_ else terms

    def _full_B(self) -> FloatArray:
        """``B`` of shape ``(p1, K)``."""
        B = self.coef_.T
        if self.fit_intercept_:
            B = np.vstack([self.intercept_[None, :], B])
        return np.asarray(B, dtype=np.float64)

    def _beta(self) -> FloatArray:
        """``vec(B)``, class-major, shape ``(K * p1,)``."""
        return np.ascontiguousarray(self._full_B().T).reshape(-1)

    def _shown_classes(self) -> list[int]:
        """Class positions with free coefficients (all but the reference)."""
        K = self.classes_.size
        if self.reference_ is None:
            return list(range(K))
        r = int(np.flatnonzero(self.classes_ == self.reference_)[0])
        return [k for k in range(K) if k != r]

    def _shown_positions(self) -> NDArray[np.intp]:
        p1 = len(self._term_names())
        return np.concatenate(
            [np.arange(k * p1, (k + 1) * p1) for k in self._shown_classes()]
        ).astype(np.intp)

    def _class_term_index(self, classes: list[int], terms: list[str]) -> pd.MultiIndex:
        return pd.MultiIndex.from_product(
            [list(self.classes_[classes]), terms], names=["class", "term"]
        )

    def _aliased_positions(self) -> NDArray[np.bool_]:
        """True for entries of ``vec(B)`` whose column was aliased (not estimable)."""
        mask = getattr(self, "_aliased", None)
        if mask is None or mask.size != self._beta().size:
            return np.zeros(self._beta().size, dtype=bool)
        return np.asarray(mask, dtype=bool)

    # ------------------------------------------------------------------ covariance
    def _covariance(self) -> FloatArray:
        """Covariance of ``vec(B)``; raises when there is none, warns when penalized."""
        check_is_fitted(self, "coef_")
        separation = getattr(self, "separation_", None)
        if separation is not None:
            raise SeparationError(
                "no inference for this fit: its classes are separated, so the "
                "maximum-likelihood estimate does not exist. " + separation.message
            )
        cov = getattr(self, "_cov_full", None)
        if cov is None:
            status = getattr(
                self, "cov_status_", "this model was built from coefficients, without data"
            )
            raise InferenceUnavailableError(
                f"no covariance matrix: {status}. Fit with cov_type='nonrobust' (or "
                "'robust'/'cluster'), or call compute_covariance(X, y) on the fitted model"
            )
        if self.penalty == "l2":
            warnings.warn(
                PenalizedInferenceWarning(
                    "standard errors of a penalized fit come from the inverse penalized "
                    "information: a Bayesian posterior covariance under the ridge prior, not "
                    "the sampling variability of the shrunk estimates; intervals are not "
                    "centred on the true values and tests against zero are biased toward "
                    "acceptance"
                ),
                stacklevel=3,
            )
        return cov

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
        bad = self._aliased_positions()
        cov[bad, :] = np.nan
        cov[:, bad] = np.nan
        pos = self._shown_positions()
        index = self._class_term_index(self._shown_classes(), self._term_names())
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
        est = self._beta()[pos].copy()
        se = np.sqrt(np.maximum(np.diag(cov)[pos], 0.0))
        not_estimable = self._aliased_positions()[pos]
        est[not_estimable] = np.nan
        se[not_estimable] = np.nan
        index = self._class_term_index(self._shown_classes(), self._term_names())
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
            bare term name ``"age"`` (all its coefficients across classes are zero); or
            a matrix ``R`` whose ``m`` columns follow the rows of :meth:`cov_params`.
        q : array-like of shape (r,), optional
            Right-hand side for a matrix hypothesis (zeros by default).

        Returns
        -------
        TestResult
            ``statistic``, ``df`` (the rank of the restrictions) and ``p_value``.
        """
        cov = self._covariance()
        beta = self._beta()
        if isinstance(hypothesis, str):
            R, qv = parse_hypothesis(
                hypothesis,
                [str(c) for c in self.classes_],
                self._term_names(),
                self._shown_classes(),
            )
            desc = hypothesis
        else:
            pos = self._shown_positions()
            Rs, qv = as_matrix_hypothesis(hypothesis, q, pos.size)
            R = np.zeros((Rs.shape[0], beta.size))
            R[:, pos] = Rs
            desc = f"{Rs.shape[0]} linear restrictions"
        touched = np.any(R[:, self._aliased_positions()] != 0, axis=1)
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
            containing it: the order does not matter). ``None`` tests all slopes against
            the intercept-only model in closed form.

        Returns
        -------
        TestResult
        """
        check_is_fitted(self, "loglik_")
        if self.penalty is not None or (other is not None and other.penalty is not None):
            raise InvalidInputError(
                "likelihood-ratio tests compare maximized likelihoods; penalized fits do "
                "not maximize the likelihood. Refit with penalty=None"
            )
        ll = float(self.loglik_)  # type: ignore[attr-defined]
        n_params = int(self.n_params_)  # type: ignore[attr-defined]
        if other is None:
            K = self.classes_.size
            df = n_params - (K - 1) * int(self.fit_intercept_)
            stat = 2.0 * (ll - float(self.loglik_null_))  # type: ignore[attr-defined]
            desc = "LR test against the intercept-only model"
        else:
            check_is_fitted(other, "loglik_")
            if not np.array_equal(other.classes_, self.classes_) or not np.isclose(
                other.nobs_,
                self.nobs_,  # type: ignore[attr-defined]
            ):
                raise InvalidInputError(
                    "lr_test needs both models fitted to the same observations and classes "
                    f"(nobs {self.nobs_} vs {other.nobs_})"  # type: ignore[attr-defined]
                )
            df = abs(n_params - int(other.n_params_))
            if df == 0:
                raise InvalidInputError("the two models have the same number of parameters")
            stat = 2.0 * abs(ll - float(other.loglik_))
            desc = "LR test of nested models"
        return TestResult(stat, df, float(scipy.stats.chi2.sf(stat, df)), desc)

    def _term_columns(self) -> dict[str, list[int]]:
        """Each term's design-matrix columns (a formula term may span several)."""
        names = self._feature_names()
        design = getattr(self, "design_", None)
        if design is None:
            return {name: [j] for j, name in enumerate(names)}
        position = {name: j for j, name in enumerate(names)}
        return {term: [position[c] for c in cols] for term, cols in design.terms.items() if cols}

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

        Returns
        -------
        DataFrame of shape (n_terms, 3) or (n_terms, 6)
            Indexed by term; columns ``wald_chi2, wald_df, wald_p`` and, with data,
            ``lr_chi2, lr_df, lr_p``.
        """
        cov = self._covariance()
        beta = self._beta()
        p1 = len(self._term_names())
        off = int(self.fit_intercept_)
        terms = self._term_columns()
        rows: dict[str, dict[str, float]] = {}
        aliased = self._aliased_positions()
        for name, cols in terms.items():
            if any(aliased[k * p1 + j + off] for k in self._shown_classes() for j in cols):
                nan = float("nan")
                rows[name] = {"wald_chi2": nan, "wald_df": nan, "wald_p": nan}
                continue
            R = np.zeros((len(cols) * len(self._shown_classes()), beta.size))
            for r, (k, j) in enumerate((k, j) for k in self._shown_classes() for j in cols):
                R[r, k * p1 + j + off] = 1.0
            res = wald_statistic(beta, cov, R, np.zeros(R.shape[0]), name)
            rows[name] = {"wald_chi2": res.statistic, "wald_df": res.df, "wald_p": res.p_value}
        design = getattr(self, "design_", None)
        if X is not None and (y is not None or design is not None):
            Xd, yd, sw, _, _ = self._prepare_data(  # type: ignore[attr-defined]
                X, y, sample_weight, None, reset=False
            )
            Xd = np.asarray(Xd.toarray() if hasattr(Xd, "toarray") else Xd, dtype=np.float64)
            p_all = Xd.shape[1]
            kept = getattr(self, "_kept_columns", None)
            dropped = set() if kept is None else set(range(p_all)) - {int(j) for j in kept}
            for name, cols in terms.items():
                if np.isnan(rows[name]["wald_chi2"]):
                    nan = float("nan")
                    rows[name].update({"lr_chi2": nan, "lr_df": nan, "lr_p": nan})
                    continue
                reduced = clone(self).set_params(
                    formula=None, warm_start=False, cov_type=None, fit_intercept=self.fit_intercept_
                )
                remove = sorted(set(cols) | dropped)
                reduced.fit(np.delete(Xd, remove, axis=1), yd, sample_weight=sw)
                res = self.lr_test(reduced)
                rows[name].update({"lr_chi2": res.statistic, "lr_df": res.df, "lr_p": res.p_value})
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = "term"
        return frame

    # ------------------------------------------------------------------ reference
    def with_reference(self, reference: Any) -> Any:
        """The same fit expressed against another reference class (no refit).

        Parameters
        ----------
        reference : label or None
            A class label, or ``None`` for the symmetric form.

        Returns
        -------
        MultinomialLogit
            A copy whose coefficients (and covariance, moved as ``J cov J^T``) are
            re-expressed; probabilities and log-likelihoods are identical.
        """
        check_is_fitted(self, "coef_")
        K = self.classes_.size
        if reference is None:
            N = np.eye(K) - 1.0 / K
        else:
            hits = np.flatnonzero(self.classes_ == reference)
            if hits.size != 1:
                raise InvalidInputError(
                    f"reference={reference!r} is not one of the classes {list(self.classes_)}"
                )
            N = np.eye(K)
            N[int(hits[0]), :] -= 1.0
        B_new = self._full_B() @ N
        new = copy.deepcopy(self)
        new.reference = reference  # type: ignore[attr-defined]
        new.reference_ = reference
        off = int(self.fit_intercept_)
        if self.fit_intercept_:
            new.intercept_ = np.ascontiguousarray(B_new[0])
        new.coef_ = np.ascontiguousarray(B_new[off:].T)
        cov = getattr(self, "_cov_full", None)
        if cov is not None:
            L = np.kron(N.T, np.eye(B_new.shape[0]))
            new._cov_full = L @ cov @ L.T
        return new

    # ------------------------------------------------------------------ effects
    def _rows(self, X: Any) -> FloatArray:
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
    ) -> pd.DataFrame:
        """Marginal effects (or elasticities) of each feature on each class probability.

        Parameters
        ----------
        X : array-like of shape (n, p)
            The rows to average over (usually the training data).
        at : "overall", "mean", "median" or dict, default="overall"
            ``"overall"`` averages the effect over the rows (average marginal effects);
            ``"mean"``/``"median"`` evaluate it at the column means/medians; a dict
            ``{feature: value}`` fixes those features in every row, then averages.
        method : {"dydx", "eyex", "dyex", "eydx"}, default="dydx"
            Derivative, elasticity, semi-elasticities (``ey``: of the log probability,
            ``ex``: with respect to the log feature).
        alpha : float, default=0.05

        Returns
        -------
        DataFrame of shape (K * p, 6)
            Indexed by ``(class, term)`` for all K classes (reference included); columns
            ``effect, std_err, z, p_value, ci_lower, ci_upper`` with delta-method errors.
        """
        cov = self._covariance()
        rows = self._rows(X)
        names = self._feature_names()
        if isinstance(at, dict):
            rows = rows.copy()
            for key, value in at.items():
                j = names.index(key) if key in names else key
                if not isinstance(j, int | np.integer) or not 0 <= j < rows.shape[1]:
                    raise InvalidInputError(f"at: {key!r} is not a feature ({names})")
                rows[:, j] = value
        elif at == "mean":
            rows = rows.mean(axis=0, keepdims=True)
        elif at == "median":
            rows = np.median(rows, axis=0, keepdims=True)
        elif at != "overall":
            raise InvalidInputError(f"at must be 'overall', 'mean', 'median' or a dict, got {at!r}")
        effects, J = average_effects(rows, self._full_B(), self.fit_intercept_, method)
        se = np.sqrt(np.maximum(np.einsum("ab,bc,ac->a", J, cov, J), 0.0))
        p1 = len(self._term_names())
        off = int(self.fit_intercept_)
        gone = self._aliased_positions()[off:p1]  # aliased features (same in every class)
        effects = effects.copy()
        effects[:, gone] = np.nan
        se = se.reshape(effects.shape)
        se[:, gone] = np.nan
        se = se.ravel()
        index = self._class_term_index(list(range(self.classes_.size)), names)
        return _z_table(effects.ravel(), se, alpha, index, "effect")

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
        return probability_intervals(self._rows(X), self._full_B(), cov, self.fit_intercept_, alpha)

    # ------------------------------------------------------------------ summary
    def summary(self, alpha: float = 0.05, exponentiate: bool = False) -> Summary:
        """A publication-ready summary: fit statistics, then one block per class.

        Parameters
        ----------
        alpha : float, default=0.05
        exponentiate : bool, default=False
            Show relative risk ratios instead of coefficients.

        Returns
        -------
        Summary
            ``str()`` gives a text table; ``_repr_html_()`` and ``as_latex()`` the same
            content as HTML and LaTeX.
        """
        table = self.coef_table(alpha=alpha, exponentiate=exponentiate)
        K = self.classes_.size
        m: Any = self
        header: list[tuple[str, object]] = [
            ("Observations", m.nobs_),
            ("Classes (K)", K),
            ("Log-likelihood", m.loglik_),
            ("Null log-likelihood", m.loglik_null_),
        ]
        if self.penalty is None:
            lr = self.lr_test()
            header += [(f"LR chi2({lr.df})", lr.statistic), ("Prob > chi2", lr.p_value)]
        elif self.penalty == "firth":
            header += [("Penalty", "Firth (Jeffreys prior)")]
        else:
            header += [("Penalty", f"{self.penalty}, alpha={m.alpha_:.4g}")]
        header += [
            ("McFadden pseudo-R2", m.pseudo_r2_),
            ("AIC", m.aic_),
            ("BIC", m.bic_),
            ("Covariance", m.cov_type_),
            ("Solver", m.solver_),
            ("Converged", f"{'yes' if m.converged_ else 'NO'} ({m.n_iter_} it.)"),
        ]
        if self.reference_ is None:
            reading = "symmetric form: coefficients sum to zero over classes"
        else:
            reading = f"against reference {self.reference_}"
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
        if not m.converged_:
            notes.append(f"WARNING: the solver did not converge: {m.convergence_.message}")
        aliased = getattr(self, "aliased_", [])
        if aliased:
            notes.append(
                "Not estimable (aliased, dropped from the fit): " + ", ".join(aliased) + "."
            )
        return Summary(
            title="Multinomial logit regression results",
            header=header,
            table=table,
            reference=reading,
            alpha=alpha,
            notes=notes,
        )
