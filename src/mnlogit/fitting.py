"""The fit as a straight pipeline, after :func:`mnlogit.preparation.prepare`.

::

    prepare(...)            -> PreparedData        (mnlogit.preparation)
    build_objective(...)    -> objective
    choose_fit_solver(...)  -> solver name         (Firth's restrictions included)
    initial_point(...)      -> x0                  (warm start or the null model)
    solve(...)              -> SolverResult        (float32 data: two phases; auto's
                                                   fallback to Newton)
    fitted_state(...)       -> FittedModel         (coefficients, statistics, separation)
    full_covariance(...)    -> covariance of vec(B) and its status

``MultinomialLogit.fit`` calls these in this order; ``compute_covariance`` and the
likelihood-ratio refits of ``term_tests`` reuse the same stages. Each stage is a function
of the records before it; none reads or writes the estimator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from mnlogit.convergence import ConvergenceReport
from mnlogit.exceptions import ConvergenceWarning, DataWarning, SolverError
from mnlogit.fitstats import FitStatistics, null_loglik
from mnlogit.fitted import SELECTION_STATUS, FitOutcome, FittedModel
from mnlogit.identification import (
    SeparationResult,
    expand_coefficients,
    expand_covariance,
    find_separation,
    kept_rows,
    separation_suspected,
)
from mnlogit.identification.existence import FitProbabilities, newton_step_certifies
from mnlogit.inference.covariance import MAX_COV_PARAMS, FittedObjective, compute_covariance
from mnlogit.objective import FirthObjective, MultinomialObjective, make_penalty
from mnlogit.objective.sparse_penalties import SparsePenalty, resolve_penalty_factor
from mnlogit.objective.threads import one_blas_thread
from mnlogit.parameterization import Parameterization
from mnlogit.path import DEFAULT_MAX_OUTER, sparse_problem
from mnlogit.preparation import FitSettings, PreparedData
from mnlogit.solvers import (
    DEFAULT_MAX_ITER,
    SOLVERS,
    IterationRecord,
    SolverOptions,
    SolverResult,
    choose_solver,
    solve_in_precision,
)

__all__ = [
    "Objective",
    "SeparationCheck",
    "build_objective",
    "choose_fit_solver",
    "convergence_warning",
    "covariance_warning",
    "estimated_rows",
    "fit_covariance",
    "fit_sparse",
    "fitted_state",
    "full_covariance",
    "initial_point",
    "null_intercepts",
    "solve",
    "state_at_solution",
]

FloatArray = NDArray[np.float64]
#: ``check(data, objective, result)``: the separation check of an unpenalized fit.
SeparationCheck = Callable[[PreparedData, "Objective", SolverResult], SeparationResult | None]
#: The objectives a fit builds (the unpenalized or ridge loss, or Firth's wrapper of it).
Objective = FittedObjective


@one_blas_thread
def build_objective(data: PreparedData, settings: FitSettings) -> Objective:
    """The penalized mean negative log-likelihood of ``data``.

    The parameterization is the prepared reference (or the symmetric form); a ridge
    penalty acts on the original feature scale (row weights ``1 / s^2`` on the scaled
    coefficients); Firth's penalty wraps the unpenalized objective.
    """
    param = Parameterization(data.n_classes, data.reference_index)
    weights = (1.0 / data.column_scale) ** 2 if settings.ridge else None  # no overflow
    penalty = make_penalty(
        "l2" if settings.ridge else None, data.alpha, data.fit_intercept, row_weights=weights
    )
    objective = MultinomialObjective(
        data.X,
        data.codes,
        data.n_classes,
        data.sample_weight,
        param,
        penalty,
        data.fit_intercept,
        feature_scale=data.column_scale,
        class_rows=data.class_rows,
    )
    return FirthObjective(objective) if settings.penalty == "firth" else objective


def choose_fit_solver(settings: FitSettings, data: PreparedData) -> str:
    """The solver that runs: the one asked for, or the ``"auto"`` rule.

    ``"auto"`` follows :func:`mnlogit.solvers.choose_solver`; Firth's objective offers
    neither Hessian-vector products nor a subsample, so for it ``"newton-cg"`` becomes
    ``"lbfgs"`` and ``"subsample-newton"`` becomes ``"newton"``.
    """
    if settings.solver != "auto":
        return settings.solver
    p1 = data.X.shape[1] + int(data.fit_intercept)
    n_params = (data.n_classes - 1) * p1
    solver = choose_solver(data.X.shape[0], n_params, sp.issparse(data.X), p1)
    if settings.penalty == "firth" and solver in ("newton-cg", "subsample-newton"):
        solver = "newton" if solver == "subsample-newton" else "lbfgs"
    return solver


def estimated_rows(state: FittedModel, kept: NDArray[np.intp] | None) -> FloatArray:
    """The rows of ``state``'s ``B`` that a fit on the ``kept`` columns estimates.

    Returns
    -------
    ndarray of shape (p1_kept, K)
    """
    B = state.coefficient_matrix()
    return B if kept is None else B[kept_rows(kept, state.fit_intercept)]


@one_blas_thread
def initial_point(
    objective: Objective, data: PreparedData, previous: FittedModel | None = None
) -> FloatArray:
    """The solver's start: ``previous``'s coefficients when compatible (warm start),
    else the intercept-only (null) model.

    ``previous`` is compatible when it has the same classes, intercept setting and number
    of design columns. The null model's intercepts are :func:`null_intercepts`.

    Returns
    -------
    ndarray of shape ((K-1) * p1_kept,)
    """
    if (
        previous is not None
        and np.array_equal(previous.classes, data.classes)
        and previous.fit_intercept == data.fit_intercept
        and previous.n_features == data.n_features
    ):
        return objective.free_from_original(estimated_rows(previous, data.kept_columns))
    B = np.zeros((objective.p1, data.n_classes))
    if data.fit_intercept:
        rows = int(data.sample_weight.shape[0])  # (a device array's shape is on the host)
        firth = isinstance(objective, FirthObjective)
        B[0] = null_intercepts(data.class_totals(), rows, firth)
    return objective.free_from_original(B)


def null_intercepts(totals: FloatArray, rows: int, firth: bool) -> FloatArray:
    """The intercept-only model's intercepts, ``log`` of the class shares (floored at 1e-12).

    With Firth's penalty and a class of zero weight (which Firth's fit allows), each class
    first gets half a mean row weight (Jeffreys' add-half; ``totals.sum() / rows``): the
    empty class then starts at a finite, moderate intercept instead of ``log(1e-12)``,
    where ``p (1 - p)`` is 0 in float32 and the penalty's ``log det`` is ``-inf``. Other
    fits keep the plain shares (the same starts as before this rule).

    Parameters
    ----------
    totals : ndarray of shape (K,)
        Each class's total weight.
    rows : int
        Rows given (the mean row weight's denominator).
    firth : bool

    Returns
    -------
    ndarray of shape (K,)
    """
    if firth and bool(np.any(totals <= 0)):
        totals = totals + 0.5 * totals.sum() / max(rows, 1)
    return np.log(np.maximum(totals / totals.sum(), 1e-12))


#: ``solver="auto"`` on dense X: iterations an approximate-curvature solver
#: (``subsample-newton``, ``lbfgs``) gets before exact Newton takes over from its last
#: iterate, when the problem has at most :data:`NEWTON_FALLBACK_MAX_PARAMS` free parameters
#: (the approximate solvers need 4-30 on the benchmark problems; a stalled one ran to 200).
AUTO_PATIENCE = 50
#: Largest ``(K-1)(p+1)`` for which ``auto`` falls back to exact Newton.
NEWTON_FALLBACK_MAX_PARAMS = 2000
_APPROXIMATE = ("subsample-newton", "lbfgs")


def _run(solver: str, objective: Objective, x0: FloatArray, options: SolverOptions) -> SolverResult:
    """One solver from ``x0`` (float32 data: float32 products, then float64)."""
    try:
        with np.errstate(over="ignore", under="ignore"):
            return solve_in_precision(SOLVERS[solver], objective, x0, options)
    except FloatingPointError as exc:
        raise SolverError(
            f"solver {solver!r} failed: {exc}. Check X for extreme values, or try "
            "penalty='l2' or another solver"
        ) from exc


def _chain(first: SolverResult, second: SolverResult) -> SolverResult:
    """One result for ``second`` continuing from ``first``'s last iterate."""
    offset = first.n_iter
    later = [replace(rec, iteration=rec.iteration + offset) for rec in second.history[1:]]
    return SolverResult(
        x=second.x,
        converged=second.converged,
        n_iter=first.n_iter + second.n_iter,
        history=list(first.history) + later,
        criterion=second.criterion,
        tol=second.tol,
        stop_reason=second.stop_reason,
        float32_iterations=first.float32_iterations + second.float32_iterations,
    )


@one_blas_thread
def solve(
    solver: str, objective: Objective, x0: FloatArray, settings: FitSettings
) -> tuple[SolverResult, SolverOptions, str]:
    """Run ``solver`` from ``x0`` (float32 data: float32 products, then float64).

    With a covariance to come (``settings.cov_type``), the solver is told so
    (``SolverOptions.final_hessian``): subsample-newton and newton then form the Hessian
    in the same pass as the gradient they predict to be their last.

    With ``solver="auto"`` (and no ``max_iter`` given) an approximate-curvature solver
    that has not converged after :data:`AUTO_PATIENCE` iterations hands its iterate to
    exact Newton when the problem is small enough (:data:`NEWTON_FALLBACK_MAX_PARAMS`):
    ``auto`` never stops at ``max_iter`` on a slowly converging problem that Newton
    solves in a few steps.

    Returns
    -------
    result : SolverResult
    options : SolverOptions
        With ``max_iter`` resolved (the sum of both phases' budgets after a fallback).
    solver : str
        What ran: ``solver``, or ``"<solver>, then newton"``.

    Raises
    ------
    SolverError
        A floating-point failure inside the solver.
    """
    max_iter = DEFAULT_MAX_ITER[solver] if settings.max_iter is None else settings.max_iter
    fallback = (
        settings.solver == "auto"
        and settings.max_iter is None
        and settings.penalty != "firth"
        and solver in _APPROXIMATE
        and x0.size <= NEWTON_FALLBACK_MAX_PARAMS
    )
    # the gradient's user-unit scale: d f / d B_original = (d f / d B_scaled) / d
    d = objective.row_unscale()
    scale = None if np.all(d == 1.0) else np.tile(1.0 / d, x0.size // d.size)
    options = SolverOptions(
        tol=settings.tol,
        max_iter=min(max_iter, AUTO_PATIENCE) if fallback else max_iter,
        criterion=settings.criterion,
        verbose=settings.verbose,
        gradient_scale=scale,
        # fit_covariance will take the Hessian at the solution: the solver may form it
        # in its last pass (docs/solvers.md, "The last pass")
        final_hessian=settings.cov_type is not None and x0.size <= MAX_COV_PARAMS,
    )
    result = _run(solver, objective, x0, options)
    if not fallback or result.converged:
        return result, options, solver
    newton = replace(options, max_iter=DEFAULT_MAX_ITER["newton"])
    result = _chain(result, _run("newton", objective, result.x, newton))
    total = replace(options, max_iter=options.max_iter + newton.max_iter)
    return result, total, f"{solver}, then newton"


@one_blas_thread
def fitted_state(
    data: PreparedData,
    settings: FitSettings,
    objective: Objective,
    result: SolverResult,
    solver: str,
    options: SolverOptions,
    separation_check: SeparationCheck | None = None,
) -> FittedModel:
    """The fitted state at the solution, without its covariance.

    Coefficients are mapped back to the original scale and expanded to all ``p``
    columns (aliased ones 0); an unpenalized fit that looks separated runs the
    separation linear program (and warns, pointing at the caller of ``fit``), or
    ``separation_check`` when given (device data: :mod:`mnlogit.device_separation`).
    """
    B = objective.original_coefficients(result.x)
    statistics = FitStatistics(
        loglik=objective.loglik(result.x),
        loglik_null=null_loglik(data.class_totals(), data.fit_intercept),
        n_params=objective.n_params,
        nobs=objective.sum_weights,
    )
    separation = None
    if settings.maximum_likelihood:
        check = _separation_check if separation_check is None else separation_check
        separation = check(data, objective, result)
    return state_at_solution(
        data,
        settings,
        B,
        statistics,
        result,
        solver,
        options,
        separation,
        fingerprint=data.fingerprint,
        sample_weight=data.given_weight,
    )


def state_at_solution(
    data: Any,
    settings: FitSettings,
    B: FloatArray,
    statistics: FitStatistics,
    result: SolverResult,
    solver: str,
    options: SolverOptions,
    separation: SeparationResult | None,
    fingerprint: Any = None,
    sample_weight: FloatArray | None = None,
) -> FittedModel:
    """The fitted state (without covariance) from a solution, for every engine.

    Parameters
    ----------
    data : PreparedData or an engine's prepared data with the same names
        ``classes``, ``reference_index``, ``n_classes``, ``fit_intercept``,
        ``kept_columns``, ``n_features``, ``feature_names_in``, ``design``,
        ``collinearity``, ``n_missing_dropped`` and ``alpha``.
    B : ndarray of shape (p1_kept, K)
        Coefficients on the original scale, intercept row first when fitted.
    statistics, result, solver, options, separation
        The fit's statistics, solver result and name, options and separation check.
    fingerprint, sample_weight : optional
        The data's digest and the weights as given (absent for Dask data).
    """
    off = int(data.fit_intercept)
    coef = np.ascontiguousarray(B[off:].T)
    if data.kept_columns is not None:
        coef = expand_coefficients(coef, data.kept_columns, data.n_features)
    return FittedModel(
        classes=data.classes,
        reference=None if data.reference_index is None else data.classes[data.reference_index],
        reference_index=data.reference_index,
        coef=coef,
        intercept=B[0].copy() if data.fit_intercept else np.zeros(data.n_classes),
        fit_intercept=data.fit_intercept,
        feature_names_in=data.feature_names_in,
        design=data.design,
        kept_columns=data.kept_columns,
        aliased=() if data.collinearity is None else tuple(data.collinearity.aliased),
        cov_type=settings.cov_type,
        outcome=FitOutcome(
            solver=solver,
            alpha=data.alpha,
            n_iter=result.n_iter,
            converged=result.converged,
            statistics=statistics,
        ),
        convergence=ConvergenceReport.from_result(
            solver, settings.criterion, settings.tol, options.max_iter, result
        ),
        separation=separation,
        collinearity=data.collinearity,
        n_missing_dropped=data.n_missing_dropped,
        fingerprint=fingerprint,
        sample_weight=sample_weight,
    )


def _separation_check(
    data: PreparedData, objective: Objective, result: SolverResult
) -> SeparationResult | None:
    """The separation check of an unpenalized fit (it warns when the classes are separated).

    Every such fit is checked. A converged fit whose solver kept the loss Hessian at its
    point (the covariance's, formed in the last pass) first solves one system with it:
    a short Newton step proves that no class is separated
    (:func:`~mnlogit.identification.existence.newton_step_certifies`, no pass over ``X``).
    Otherwise, a fit that converged first looks for a certificate that no
    class is separated (from its probabilities;
    :func:`~mnlogit.identification.existence.not_separated`); when that does not decide,
    the full LP runs for small fits and fits that show signs of separation
    (:func:`separation_suspected`), else the LP on a subset of rows grown until it
    decides (starting from the rows with the smallest fitted probabilities, where
    separated cells show first). Where the full LP is over its size caps, the subset LP
    decides for every fit, the suspected ones and those that did not converge included
    (their probabilities at the last iterate order the rows; they certify nothing).
    """
    if result.converged and _hessian_certifies(data, objective, result.x):
        return None
    if result.converged:
        # every converged fit tries the certificate first, small ones too (an LP over
        # 5,000 cells and 255 variables took 1-2 s)
        probabilities: FloatArray | FitProbabilities = _fit_probabilities(objective, result.x)
    else:
        # no certificate; the probabilities order the rows of the subset LP, which decides
        # where the full LP is over its size caps (past them a fit stopped at max_iter on
        # separated data reported nothing before)
        probabilities = objective.probabilities(result.x)
    # a large converged fit without signs of separation (so with probabilities) may let
    # the LP on a subset of rows decide
    suspected = separation_suspected(
        lambda: objective.min_probability(result.x),
        data.sample_weight,
        result.converged,
        data.n_classes,
    )
    return find_separation(
        data.X,
        data.codes,
        data.n_classes,
        data.sample_weight,
        data.fit_intercept,
        data.kept_names,
        data.classes,
        data.reference_index,
        probabilities=probabilities,
        subset_first=not suspected,
        column_factor=1.0 / data.column_scale,
        certify=result.converged,
    )


def _hessian_certifies(data: PreparedData, objective: Objective, theta: FloatArray) -> bool:
    """Whether the loss Hessian the solver's last pass kept at ``theta`` (for the
    covariance) proves that no class is separated
    (:func:`~mnlogit.identification.existence.newton_step_certifies`): one solve with a
    matrix the fit has anyway, no pass over ``X``. False when none is kept
    (``cov_type=None``, sparse X, a last pass not predicted), when the columns' max-abs
    is unknown, or when it does not decide.
    """
    if not isinstance(objective, MultinomialObjective) or data.column_maxabs is None:
        return False
    H = objective.kept_loss_hessian(theta)
    if H is None:
        return False
    bound = data.column_maxabs / data.column_scale  # max |x̃_il| on the scaled features
    if data.fit_intercept:
        bound = np.concatenate([[1.0], bound])
    if not np.all(np.isfinite(bound)):
        return False
    _, g = objective.value_and_gradient(theta)  # the cached point: no pass
    return newton_step_certifies(H, g, objective.full_coefficients, bound)


def _fit_probabilities(objective: Objective, theta: FloatArray) -> FloatArray | FitProbabilities:
    """What the certificate reads of a converged fit: the in-memory objective's
    probabilities by rows and its kept residual (no ``n x K`` array on dense X, no pass
    for the residual), else the ``(n, K)`` probabilities."""
    if not isinstance(objective, MultinomialObjective):
        return objective.probabilities(theta)
    base = objective
    return FitProbabilities(
        rows=lambda rows: base.probabilities_of_rows(theta, rows),
        residual=base.residual_sums(theta),
        row_minimum=lambda: base.row_minimum_probability(theta),
    )


@one_blas_thread
def full_covariance(
    objective: Objective,
    theta: FloatArray,
    cov_type: str,
    groups: object,
    data: PreparedData,
    max_params: int | None = MAX_COV_PARAMS,
) -> tuple[FloatArray | None, str]:
    """Covariance of the full ``vec(B)`` at ``theta`` (aliased entries zero) and its status.

    Returns
    -------
    cov : ndarray of shape (K * p1, K * p1) or None
        ``p1`` counts all ``p`` columns; ``None`` when skipped or singular.
    status : str
    """
    cov, status = compute_covariance(objective, theta, cov_type, groups, max_params=max_params)
    if cov is not None and data.kept_columns is not None:
        cov = expand_covariance(
            cov, data.kept_columns, data.n_features, data.n_classes, data.fit_intercept
        )
    return cov, status


def fit_covariance(
    state: FittedModel, objective: Objective, theta: FloatArray, data: PreparedData
) -> FittedModel:
    """``state`` with the covariance ``fit`` computes (or the reason it does not)."""
    if state.separation is not None:
        status = (
            f"no standard errors: the classes are {state.separation.kind}ly separated, "
            "so the maximum-likelihood estimate does not exist"
        )
        return state.with_covariance(None, state.cov_type, status)
    if state.cov_type is None:
        return state.with_covariance(None, None, "covariance not computed (cov_type=None)")
    if state.outcome is not None and not state.outcome.converged:
        return state.with_covariance(
            None,
            state.cov_type,
            "no standard errors: the fit did not converge, so the coefficients are not the "
            "maximum-likelihood estimate and the curvature there does not give their "
            "covariance. Refit (a larger max_iter, solver='newton'), or call "
            "compute_covariance(X, y) to compute it at these coefficients anyway",
        )
    cov, status = full_covariance(objective, theta, state.cov_type, data.groups, data)
    return state.with_covariance(cov, state.cov_type, status)


def covariance_warning(state: FittedModel) -> DataWarning | None:
    """The warning for standard errors that float64 cannot hold (``None`` when all can)."""
    if state.cov is None:
        return None
    lost = np.isnan(np.diag(state.cov)) & ~state.aliased_mask
    if not lost.any():
        return None
    p1 = state.p1
    terms = state.term_names
    names = sorted({terms[i % p1] for i in np.flatnonzero(lost)})
    return DataWarning(
        f"the variances of the coefficients of {names[:10]} lie outside float64's range "
        "(columns whose largest absolute value is beyond about 1e±150): their standard "
        "errors, tests and intervals are NaN. Rescale those columns (change their units) "
        "for inference"
    )


def convergence_warning(state: FittedModel) -> ConvergenceWarning | None:
    """The warning for a fit that stopped before converging (``None`` when it converged)."""
    if state.outcome is None or state.outcome.converged or state.convergence is None:
        return None
    return ConvergenceWarning(
        f"MultinomialLogit (solver={state.outcome.solver!r}) {state.convergence.message}. "
        "Try a larger max_iter, solver='newton', scaling the features, or "
        "penalty='l2' (coefficients that keep growing suggest separated classes)."
    )


#: The name ``solver_`` and ``convergence_`` give the lasso-family solver.
SPARSE_SOLVER = "proximal-newton"


@one_blas_thread
def fit_sparse(data: PreparedData, settings: FitSettings) -> FittedModel:
    """The fitted state of a lasso-family penalty (``settings.sparse``), without covariance.

    Solved by :mod:`mnlogit.solvers.proximal_newton` on the original feature scale from the
    null model (intercepts and unpenalized features fitted), with the strong rule's
    previous ``alpha`` taken as ``alpha_max``. ``convergence_`` reports the KKT residual
    (standardized columns) as its gradient measure. ``n_params_`` counts the intercepts'
    ``K - 1`` and, per selected feature, ``min(nonzero classes, K - 1)`` (the lasso's
    degrees of freedom; the loss does not see a common shift of a feature's ``K``
    coefficients). No covariance: ``cov_status_`` says why.
    """
    from mnlogit.solvers.proximal_newton import solve_path

    K = data.n_classes
    factor = resolve_penalty_factor(settings.penalty_factor, int(data.X.shape[1]))
    ratio = 1.0 if settings.l1_ratio is None else settings.l1_ratio
    penalty = SparsePenalty(str(settings.penalty), ratio, factor)
    max_iter = DEFAULT_MAX_OUTER if settings.max_iter is None else settings.max_iter
    problem, null, alpha_max = sparse_problem(
        data.X, data.codes, K, data.sample_weight, data.fit_intercept, penalty, settings.tol,
        max_iter,
    )  # fmt: skip
    (sol,) = solve_path(
        problem, penalty, np.array([data.alpha]), settings.tol, max_iter, null,
        max(alpha_max, data.alpha),
    )  # fmt: skip
    coef = np.ascontiguousarray(sol.W.T)
    nonzero = np.count_nonzero(coef, axis=0)
    n_params = (K - 1) * int(data.fit_intercept) + int(np.minimum(nonzero, K - 1).sum())
    statistics = FitStatistics(
        loglik=-sol.loss * problem.sum_weights,
        loglik_null=null_loglik(data.class_totals(), data.fit_intercept),
        n_params=n_params,
        nobs=problem.sum_weights,
    )
    records = [
        IterationRecord(sol.n_iter, sol.objective, sol.kkt, float("nan"), -sol.loss, 1.0, sol.kkt)
    ]
    result = SolverResult(
        x=np.concatenate([sol.b, coef.ravel()]),
        converged=sol.converged,
        n_iter=sol.n_iter,
        history=records,
        criterion="gradient",
        tol=settings.tol,
        stop_reason=f"reached max_iter={max_iter} proximal Newton iterations",
    )
    return FittedModel(
        classes=data.classes,
        reference=None,
        reference_index=None,
        coef=coef,
        intercept=sol.b.copy() if data.fit_intercept else np.zeros(K),
        fit_intercept=data.fit_intercept,
        feature_names_in=data.feature_names_in,
        design=data.design,
        cov_type=None,
        cov_status=SELECTION_STATUS,
        outcome=FitOutcome(
            solver=SPARSE_SOLVER,
            alpha=data.alpha,
            n_iter=sol.n_iter,
            converged=sol.converged,
            statistics=statistics,
            l1_ratio=settings.l1_ratio,
        ),
        convergence=ConvergenceReport.from_result(
            SPARSE_SOLVER, "gradient", settings.tol, max_iter, result
        ),
        n_missing_dropped=data.n_missing_dropped,
        fingerprint=data.fingerprint,
        sample_weight=data.given_weight,
    )
