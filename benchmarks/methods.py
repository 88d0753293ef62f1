"""The fitting methods compared: mnlogit's solvers, scikit-learn's, statsmodels'.

Each method turns ``(X, y)`` of a :class:`~benchmarks.problems.Problem` into full
coefficients ``intercept (K,)`` and ``coef (K, p)`` (any parameterization: they are
scored through probabilities, see :mod:`benchmarks.scoring`). Which methods are run on
which problem, and why some are skipped, is decided by :meth:`Method.skip_reason`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from benchmarks.problems import Problem

__all__ = ["METHODS", "FitOutput", "Limits", "Method"]

TOL = 1e-8
SKLEARN_MAX_ITER = 10_000
STATSMODELS_MAX_ITER = 100


# mnlogit.inference.covariance.MAX_COV_PARAMS: where ``fit`` computes the covariance (the
# default ``MultinomialLogit()`` that ``mnlogit-auto+cov`` times; issue 18)
_FIT_COV_MAX_PARAMS = 3000


@dataclass(frozen=True)
class Limits:
    """When a method is too expensive to be worth running on a problem.

    Attributes
    ----------
    newton_max_params : int
        mnlogit ``newton``/``irls``/``subsample-newton`` only when ``(K-1)(p+1)`` is at most this.
    gd_max_work : float
        mnlogit ``gd`` only when ``n * (K-1)(p+1)`` is at most this ("small problems").
    newton_cholesky_max_params : int
        scikit-learn ``newton-cholesky`` forms a ``K(p+1)``-square Hessian; only when
        ``K(p+1)`` is at most this.
    statsmodels_max_params : int
        statsmodels only when ``(K-1)(p+1)`` is at most this.
    memory_budget_mb : float
        statsmodels only when its estimated peak (below) fits.
    """

    newton_max_params: int = 2000
    gd_max_work: float = 2e6
    newton_cholesky_max_params: int = 10_000
    statsmodels_max_params: int = 1500
    memory_budget_mb: float = 8000.0


@dataclass
class FitOutput:
    """What a fit returns, in a library-neutral form."""

    intercept: NDArray[np.float64]
    coef: NDArray[np.float64]
    n_iter: int
    converged: bool
    solver: str
    warnings: list[str] = field(default_factory=list)


def statsmodels_memory_mb(prob: Problem) -> float:
    """Estimated extra peak of statsmodels' MNLogit Newton fit, in MB.

    ``add_constant`` copies ``X`` (float64, ``p + 1`` columns); each Hessian block builds
    another ``n x (p+1)`` temporary; the Hessian itself and its inverse are ``m x m``.
    """
    xc = prob.n * (prob.p + 1) * 8
    m = prob.n_params
    return (3 * xc + 3 * m * m * 8) / 2**20


@dataclass(frozen=True)
class Method:
    """One way of fitting the model.

    Attributes
    ----------
    name : str
        e.g. ``"mnlogit-auto"``, ``"sklearn-lbfgs"``, ``"statsmodels-newton"``.
    library : {"mnlogit", "sklearn", "statsmodels"}
    solver : str
        The library's solver name.
    covariance : bool
        mnlogit only: also compute the covariance (``cov_type="nonrobust"``), as
        statsmodels always does; otherwise ``cov_type=None``.
    """

    name: str
    library: str
    solver: str
    covariance: bool = False

    @property
    def is_competitor(self) -> bool:
        """scikit-learn and statsmodels are the competitors mnlogit is timed against."""
        return self.library != "mnlogit"

    def skip_reason(self, prob: Problem, limits: Limits) -> str | None:
        """Why this method is not run on ``prob``, or None when it is."""
        m = prob.n_params
        if self.library == "mnlogit":
            if (
                self.solver in ("newton", "irls", "subsample-newton")
                and m > limits.newton_max_params
            ):
                return f"(K-1)(p+1) = {m:,} > {limits.newton_max_params:,}"
            if self.solver == "gd" and prob.n * m > limits.gd_max_work:
                return f"gd only on small problems (n·m ≤ {limits.gd_max_work:.0e})"
            if self.covariance and m > _FIT_COV_MAX_PARAMS:
                return f"fit skips the covariance above {_FIT_COV_MAX_PARAMS:,} parameters"
        if self.library == "sklearn" and self.solver == "newton-cholesky":
            size = prob.K * (prob.p + 1)
            if size > limits.newton_cholesky_max_params:
                return f"K(p+1) = {size:,} > {limits.newton_cholesky_max_params:,} (dense Hessian)"
        if self.library == "statsmodels":
            if prob.penalty is not None:
                return "statsmodels MNLogit: unpenalized only"
            if prob.sparse:
                return "statsmodels MNLogit: dense only"
            if m > limits.statsmodels_max_params:
                return f"(K-1)(p+1) = {m:,} > {limits.statsmodels_max_params:,}"
            est = statsmodels_memory_mb(prob)
            if est > limits.memory_budget_mb:
                return f"estimated {est:,.0f} MB > budget {limits.memory_budget_mb:,.0f} MB"
        return None

    def prepare(self) -> None:
        """Import the library (outside the timed region)."""
        if self.library == "mnlogit":
            import mnlogit  # noqa: F401
        elif self.library == "sklearn":
            import sklearn.linear_model  # noqa: F401
        else:
            import statsmodels.api  # noqa: F401

    def fit(
        self, X: Any, y: NDArray[np.intp], prob: Problem, max_iter: int | None = None
    ) -> FitOutput:
        """Fit on ``(X, y)``; ``max_iter`` overrides the default budget (warm-up)."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if self.library == "mnlogit":
                out = self._fit_mnlogit(X, y, prob, max_iter)
            elif self.library == "sklearn":
                out = self._fit_sklearn(X, y, prob, max_iter)
            else:
                out = self._fit_statsmodels(X, y, prob, max_iter)
        out.warnings = sorted({f"{w.category.__name__}: {str(w.message)[:200]}" for w in caught})
        if any("ConvergenceWarning" in w for w in out.warnings):
            out.converged = False
        return out

    def _fit_mnlogit(
        self, X: Any, y: NDArray[np.intp], prob: Problem, max_iter: int | None
    ) -> FitOutput:
        from mnlogit import MultinomialLogit

        model = MultinomialLogit(
            solver=self.solver,
            penalty=prob.penalty,
            alpha=prob.alpha if prob.penalty is not None else None,
            tol=TOL,
            max_iter=max_iter,
            cov_type="nonrobust" if self.covariance else None,
        )
        model.fit(X, y)
        return FitOutput(
            intercept=np.asarray(model.intercept_, dtype=np.float64),
            coef=np.asarray(model.coef_, dtype=np.float64),
            n_iter=int(model.n_iter_),
            converged=bool(model.converged_),
            solver=str(model.solver_),
        )

    def _fit_sklearn(
        self, X: Any, y: NDArray[np.intp], prob: Problem, max_iter: int | None
    ) -> FitOutput:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(
            C=prob.sklearn_C,
            solver=self.solver,
            tol=TOL,
            max_iter=SKLEARN_MAX_ITER if max_iter is None else max_iter,
        )
        model.fit(X, y)
        coef = np.asarray(model.coef_, dtype=np.float64)
        intercept = np.asarray(model.intercept_, dtype=np.float64)
        if coef.shape[0] == 1:  # binary: one row, the log-odds of class 1 against class 0
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        n_iter = int(np.max(model.n_iter_))
        return FitOutput(
            intercept=intercept,
            coef=coef,
            n_iter=n_iter,
            converged=n_iter < model.max_iter,
            solver=self.solver,
        )

    def _fit_statsmodels(
        self, X: Any, y: NDArray[np.intp], prob: Problem, max_iter: int | None
    ) -> FitOutput:
        import statsmodels.api as sm

        exog = sm.add_constant(X, prepend=True, has_constant="add")
        res = sm.MNLogit(y, exog).fit(
            method="newton",
            tol=TOL,
            maxiter=STATSMODELS_MAX_ITER if max_iter is None else max_iter,
            disp=False,
        )
        # the standard errors are part of what is timed (issue 18: fit + bse)
        np.asarray(res.bse)
        params = np.asarray(res.params, dtype=np.float64)  # (p+1, K-1), class 0 reference
        B = np.zeros((prob.p + 1, prob.K))
        B[:, 1:] = params
        retvals = res.mle_retvals
        return FitOutput(
            intercept=B[0].copy(),
            coef=np.ascontiguousarray(B[1:].T),
            n_iter=int(retvals.get("iterations", -1)),
            converged=bool(retvals.get("converged", False)),
            solver="newton",
        )


METHODS: dict[str, Method] = {
    method.name: method
    for method in [
        Method("mnlogit-auto", "mnlogit", "auto"),
        Method("mnlogit-newton", "mnlogit", "newton"),
        Method("mnlogit-irls", "mnlogit", "irls"),
        Method("mnlogit-newton-cg", "mnlogit", "newton-cg"),
        Method("mnlogit-lbfgs", "mnlogit", "lbfgs"),
        Method("mnlogit-subsample-newton", "mnlogit", "subsample-newton"),
        Method("mnlogit-gd", "mnlogit", "gd"),
        Method("mnlogit-auto+cov", "mnlogit", "auto", covariance=True),
        Method("sklearn-lbfgs", "sklearn", "lbfgs"),
        Method("sklearn-newton-cg", "sklearn", "newton-cg"),
        Method("sklearn-newton-cholesky", "sklearn", "newton-cholesky"),
        Method("statsmodels-newton", "statsmodels", "newton"),
    ]
}
