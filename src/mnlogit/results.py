"""statsmodels' names for a fitted model: ``model.results_`` and ``model.results(X, y)``.

A read-only view for people who type ``res.params``, ``res.bse`` or ``res.llr_pvalue``:
every number comes from mnlogit's own API (``coef_table``, ``loglik_``, ``lr_test``,
``marginal_effects``, ``predict_proba``), laid out as statsmodels' ``MNLogit`` results lay
them out. The mapping is in ``docs/inference.md`` ("statsmodels names").

=================  ==============================================================
statsmodels        mnlogit
=================  ==============================================================
``params``         ``coef_table()["coef"]`` as terms x classes (``coef_`` rows)
``bse``            ``coef_table()["std_err"]``, same layout
``tvalues``        ``coef_table()["z"]``
``pvalues``        ``coef_table()["p_value"]``
``conf_int()``     ``coef_table()[["ci_lower", "ci_upper"]]`` by ``(class, term)``
``cov_params()``   ``cov_params()``
``llf, llnull``    ``loglik_``, ``loglik_null_``
``llr, llr_p...``  ``lr_test()`` (statistic, p-value)
``prsquared``      ``pseudo_r2_`` (McFadden)
``aic, bic``       ``aic_``, ``bic_``
``nobs``           ``nobs_``
``df_model``       free slope parameters, ``lr_test().df``
``resid_resp...``  one-hot labels minus ``predict_proba(X)`` (needs the data)
``get_margeff()``  ``marginal_effects(X, at, method)`` (needs the data)
=================  ==============================================================

Unlike statsmodels, the columns of ``params`` are the class labels (statsmodels numbers
them ``0 .. K-2``), and the confidence level is ``alpha=`` in methods, as in statsmodels:
the constructor's ``alpha`` is the ridge strength, a different thing.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mnlogit.arrays import placement_of
from mnlogit.exceptions import InvalidInputError
from mnlogit.identification.validation import label_codes
from mnlogit.prediction import device_codes

__all__ = ["Results"]


class Results:
    """statsmodels-style names for a fitted :class:`~mnlogit.MultinomialLogit`.

    Parameters
    ----------
    model : MultinomialLogit
        Fitted, with a covariance for the inference names.
    X : array-like or data frame, optional
        The training data, for ``resid_response`` and ``get_margeff``.
    y : array-like, optional
        Their labels (formula models read them from ``X``).
    """

    def __init__(self, model: Any, X: Any = None, y: Any = None) -> None:
        self.model = model
        self._X = X
        self._y = y

    # ------------------------------------------------------------------ coefficients
    def _wide(self, column: str) -> pd.DataFrame:
        """A ``coef_table`` column as terms x classes (statsmodels' ``params`` layout)."""
        table = self.model.coef_table()
        terms = list(dict.fromkeys(table.index.get_level_values(1)))
        classes = list(dict.fromkeys(table.index.get_level_values(0)))
        wide = table[column].unstack(level=0)
        return wide.reindex(index=terms, columns=classes)

    @property
    def params(self) -> pd.DataFrame:
        """Coefficients, terms x non-reference classes (all classes in symmetric form)."""
        return self._wide("coef")

    @property
    def bse(self) -> pd.DataFrame:
        """Standard errors, laid out as :attr:`params`."""
        return self._wide("std_err")

    @property
    def tvalues(self) -> pd.DataFrame:
        """z statistics, laid out as :attr:`params`."""
        return self._wide("z")

    @property
    def pvalues(self) -> pd.DataFrame:
        """Two-sided p-values of the z statistics, laid out as :attr:`params`."""
        return self._wide("p_value")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """``1 - alpha`` confidence intervals, indexed by ``(class, term)``.

        Returns
        -------
        DataFrame with columns ``lower, upper``
        """
        table = self.model.coef_table(alpha=alpha)
        return table[["ci_lower", "ci_upper"]].rename(
            columns={"ci_lower": "lower", "ci_upper": "upper"}
        )

    def cov_params(self) -> pd.DataFrame:
        """Covariance of the coefficients, by ``(class, term)`` on both axes."""
        return pd.DataFrame(self.model.cov_params())

    # ------------------------------------------------------------------ fit statistics
    @property
    def llf(self) -> float:
        """Log-likelihood at the estimate (``loglik_``)."""
        return float(self.model.loglik_)

    @property
    def llnull(self) -> float:
        """Log-likelihood of the intercept-only model (``loglik_null_``)."""
        return float(self.model.loglik_null_)

    @property
    def llr(self) -> float:
        """Likelihood-ratio statistic against the intercept-only model (``lr_test()``)."""
        return float(self.model.lr_test().statistic)

    @property
    def llr_pvalue(self) -> float:
        """p-value of :attr:`llr` on :attr:`df_model` degrees of freedom."""
        return float(self.model.lr_test().p_value)

    @property
    def df_model(self) -> float:
        """Degrees of freedom of :attr:`llr`: the free slope parameters."""
        return float(self.model.lr_test().df)

    @property
    def prsquared(self) -> float:
        """McFadden's pseudo-R², ``1 - llf / llnull`` (``pseudo_r2_``)."""
        return float(self.model.pseudo_r2_)

    @property
    def aic(self) -> float:
        """Akaike's information criterion (``aic_``)."""
        return float(self.model.aic_)

    @property
    def bic(self) -> float:
        """Schwarz's Bayesian information criterion (``bic_``)."""
        return float(self.model.bic_)

    @property
    def nobs(self) -> float:
        """Number of observations (the sum of the weights; ``nobs_``)."""
        return float(self.model.nobs_)

    # ------------------------------------------------------------------ with data
    def _data(self, name: str) -> Any:
        if self._X is None:
            raise InvalidInputError(
                f"{name} needs the training data: use model.results(X, y) (or "
                "model.results(data) for a formula model) instead of model.results_"
            )
        return self._X

    @property
    def resid_response(self) -> NDArray[np.float64]:
        """Response residuals, ``onehot(y) - predict_proba(X)``, shape (n, K) (for device
        ``X`` an array of its namespace on its device, as ``predict_proba``'s)."""
        X = self._data("resid_response")
        y = self._y
        design = self.model.fitted_.design
        if y is None and design is not None:
            y = design.response_values(X)
        if y is None:
            raise InvalidInputError("resid_response needs the labels: model.results(X, y)")
        placement = placement_of(X)
        if placement is not None:  # device rows: a device array, as predict_proba's
            P = self.model.predict_proba(X)
            codes = device_codes(placement, self.model.classes_, y, int(P.shape[0]))
            xp = placement.xp
            grid = xp.reshape(xp.arange(P.shape[1], device=placement.device), (1, -1))
            return cast(
                NDArray[np.float64], xp.astype(xp.reshape(codes, (-1, 1)) == grid, P.dtype) - P
            )
        proba = np.asarray(self.model.predict_proba(X), dtype=np.float64)
        onehot = np.zeros_like(proba)
        onehot[np.arange(proba.shape[0]), label_codes(self.model.classes_, y)] = 1.0
        return onehot - proba

    def get_margeff(
        self, at: Any = "overall", method: str = "dydx", alpha: float = 0.05
    ) -> pd.DataFrame:
        """Marginal effects on each class probability (``marginal_effects``).

        Parameters
        ----------
        at : "overall", "mean", "median" or dict, default="overall"
        method : {"dydx", "eyex", "dyex", "eydx"}, default="dydx"
        alpha : float, default=0.05
            ``1 - alpha`` intervals.

        Returns
        -------
        DataFrame
            As :meth:`MultinomialLogit.marginal_effects`.
        """
        X = self._data("get_margeff")
        return pd.DataFrame(self.model.marginal_effects(X, at=at, method=method, alpha=alpha))
