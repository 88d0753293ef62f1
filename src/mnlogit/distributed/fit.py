"""A fit on Dask data, stage by stage (the Dask counterpart of :mod:`mnlogit.fitting`).

::

    prepare_dask(...)      -> DaskPrepared     statistics and Gram passes, blocks persisted
    DaskObjective(...)     -> objective         passes of the block kernels
    dask_solver(...)       -> solver name       the "auto" rule for Dask
    solve_in_precision     -> SolverResult      the in-memory solvers, unchanged
    dask_separation(...)   -> separation        unpenalized fits
    dask_covariance(...)   -> covariance        nonrobust, robust, cluster by partition sums

:func:`fit_dask` returns the same :class:`~mnlogit.fitted.FittedModel` an in-memory fit
makes, so inference that reads the fitted state (coefficient tables, Wald tests, LR tests
between fits, summaries, model files, predictions) works unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnlogit.distributed.covariance import dask_covariance
from mnlogit.distributed.firth import DaskFirthObjective, DaskFitted
from mnlogit.distributed.objective import DaskObjective
from mnlogit.distributed.partitions import tune_workers
from mnlogit.distributed.preparation import DaskPrepared, prepare_dask
from mnlogit.distributed.separation import dask_separation
from mnlogit.exceptions import SolverError, warn
from mnlogit.fitstats import FitStatistics, null_loglik
from mnlogit.fitted import FittedModel
from mnlogit.fitting import (
    NEWTON_FALLBACK_MAX_PARAMS,
    estimated_rows,
    null_intercepts,
    state_at_solution,
)
from mnlogit.formula import MissingValuesDropped
from mnlogit.identification import SeparationResult, expand_covariance
from mnlogit.objective import make_penalty
from mnlogit.parameterization import Parameterization
from mnlogit.preparation import FitSettings
from mnlogit.solvers import (
    DEFAULT_MAX_ITER,
    SOLVERS,
    SolverOptions,
    SolverResult,
    solve_in_precision,
)
from mnlogit.solvers.subsample_newton import subsample_rows, uses_kronecker

__all__ = ["CLIENT_BLAS_THREADS", "client_threads", "dask_solver", "fit_dask"]

FloatArray = NDArray[np.float64]


def dask_solver(settings: FitSettings, data: DaskPrepared) -> str:
    """The solver a Dask fit runs.

    ``"irls"`` runs Newton's method (the same steps; IRLS's working responses would be
    ``n x K`` arrays on the client). ``"auto"``: ``"lbfgs"`` beyond 2000 free parameters
    (no ``m x m`` Hessian); ``"subsample-newton"`` when a row subsample exists (a Hessian
    from a gathered subsample preconditions full passes: a handful of passes where L-BFGS
    needs twenty or more); otherwise ``"newton"`` (the Hessian summed over partitions).
    Firth's objective offers no subsample or Hessian-vector products of its own, and its
    Newton steps on Dask use the Fisher information (Fisher scoring, which stalls near
    separation, where Firth is most used): ``"auto"`` takes ``"lbfgs"`` for it.
    """
    firth = settings.penalty == "firth"
    if settings.solver == "irls" or (firth and settings.solver == "subsample-newton"):
        return "newton"
    if firth and settings.solver == "newton-cg":
        return "lbfgs"
    if settings.solver != "auto":
        return settings.solver
    m = (data.n_classes - 1) * data.p1
    if firth:
        return "lbfgs"
    n = data.n_samples
    if m > NEWTON_FALLBACK_MAX_PARAMS:
        return "lbfgs"
    if subsample_rows(n, m) < n and not uses_kronecker(n, m):
        return "subsample-newton"
    return "newton"


#: BLAS threads of the client's own work during a fit (the subsample fit and the
#: factorizations of ``subsample-newton``, on at most ``max(1600 m, 20000)`` rows): one,
#: since where the workers or other jobs share the cores (a ``LocalCluster``)
#: multithreaded BLAS waits on descheduled threads -- measured 3 to 10 times slower than
#: one thread on the project's loaded 2-core machine. With Dask's threaded scheduler the
#: passes run in this process too, then with one BLAS thread per Dask thread.
CLIENT_BLAS_THREADS = 1


@contextmanager
def client_threads() -> Iterator[None]:
    """Limit the client's BLAS to :data:`CLIENT_BLAS_THREADS` threads inside the block."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(limits=CLIENT_BLAS_THREADS, user_api="blas"):
        yield


def _initial_point(obj: DaskFitted, data: DaskPrepared, previous: FittedModel | None) -> FloatArray:
    """``previous``'s coefficients when compatible (warm start), else the null model."""
    if (
        previous is not None
        and np.array_equal(previous.classes, data.classes)
        and previous.fit_intercept == data.fit_intercept
        and previous.n_features == data.n_features
    ):
        return obj.free_from_original(estimated_rows(previous, data.kept_columns))
    B = np.zeros((obj.p1, data.n_classes))
    if data.fit_intercept:
        firth = isinstance(obj, DaskFirthObjective)
        B[0] = null_intercepts(data.class_totals, data.n_samples, firth)
    return obj.free_from_original(B)


def _solve(
    solver: str, obj: DaskFitted, x0: FloatArray, settings: FitSettings
) -> tuple[SolverResult, SolverOptions]:
    max_iter = DEFAULT_MAX_ITER[solver] if settings.max_iter is None else settings.max_iter
    d = obj.row_unscale()
    scale = None if np.all(d == 1.0) else np.tile(1.0 / d, x0.size // d.size)
    options = SolverOptions(
        tol=settings.tol,
        max_iter=max_iter,
        criterion=settings.criterion,
        verbose=settings.verbose,
        gradient_scale=scale,
    )
    try:
        with np.errstate(over="ignore", under="ignore"), client_threads():
            return solve_in_precision(SOLVERS[solver], obj, x0, options), options
    except FloatingPointError as exc:
        raise SolverError(f"solver {solver!r} failed: {exc}") from exc


def _covariance(
    obj: DaskFitted,
    data: DaskPrepared,
    theta: FloatArray,
    settings: FitSettings,
    result: SolverResult,
    separation: SeparationResult | None,
) -> tuple[FloatArray | None, str]:
    if separation is not None:
        return None, (
            f"no standard errors: the classes are {separation.kind}ly separated, so the "
            "maximum-likelihood estimate does not exist"
        )
    if settings.cov_type is None:
        return None, "covariance not computed (cov_type=None)"
    if not result.converged:
        return None, (
            "no standard errors: the fit did not converge, so the coefficients are not the "
            "maximum-likelihood estimate. Refit with a larger max_iter or solver='newton'"
        )
    cov, status = dask_covariance(obj, theta, settings.cov_type)
    if cov is not None and data.kept_columns is not None:
        cov = expand_covariance(
            cov, data.kept_columns, data.n_features, data.n_classes, data.fit_intercept
        )
    return cov, status


def fit_dask(
    settings: FitSettings,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    groups: Any = None,
    previous: FittedModel | None = None,
) -> FittedModel:
    """Fit the model to Dask data (module docstring).

    Parameters
    ----------
    settings : FitSettings
    X : dask array of shape (n, p), or a dask DataFrame (numeric, or any with a formula)
    y : dask array or series of shape (n,), or None with a formula
    sample_weight, groups : dask array or series, array-like, a column name (formula), or None
    previous : FittedModel, optional
        Warm start (``warm_start=True``).

    Returns
    -------
    FittedModel
        With ``outcome.solver`` naming the solver and the passes it took.
    """
    tune_workers()
    data = prepare_dask(settings, X, y, sample_weight, groups)
    if data.n_missing_dropped:
        warn(
            MissingValuesDropped(
                f"dropped {data.n_missing_dropped} of {data.n_samples + data.n_missing_dropped} "
                "rows with missing values in the formula's columns"
            )
        )
    param = Parameterization(data.n_classes, data.reference_index)
    weights = (1.0 / data.column_scale) ** 2 if settings.ridge else None
    penalty = make_penalty(
        "l2" if settings.ridge else None, data.alpha, data.fit_intercept, row_weights=weights
    )
    base = DaskObjective(data, param, penalty)
    obj: DaskFitted = DaskFirthObjective(base) if settings.penalty == "firth" else base
    solver = dask_solver(settings, data)
    base.hessian_with_loss = solver == "newton" and settings.penalty != "firth"
    x0 = _initial_point(obj, data, previous)
    result, options = _solve(solver, obj, x0, settings)
    theta = result.x
    B = obj.original_coefficients(theta)
    statistics = FitStatistics(
        loglik=obj.loglik(theta),
        loglik_null=null_loglik(data.class_totals, data.fit_intercept),
        n_params=obj.n_params,
        nobs=data.sum_weights,
    )
    separation = None
    if settings.maximum_likelihood:
        separation = dask_separation(
            base, theta, result.converged, data.kept_names, data.classes, data.reference_index
        )
    cov, status = _covariance(obj, data, theta, settings, result, separation)
    state = state_at_solution(data, settings, B, statistics, result, solver, options, separation)
    return state.with_covariance(cov, settings.cov_type, status)
