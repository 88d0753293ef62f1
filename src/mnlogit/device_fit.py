"""A fit of device data: the stages of :mod:`mnlogit.fitting` with the array-API engine.

::

    prepare_on_device(...)   -> DeviceData          (mnlogit.device_preparation)
    build_device_objective   -> DeviceObjective     (mnlogit.objective.device)
    choose_device_solver     -> solver name         (the device's "auto" rule)
    initial_point, solve, fitted_state, fit_covariance   (mnlogit.fitting, unchanged)

The solvers are the numpy path's own: they iterate on float64 host vectors of length
``(K-1)(p+1)`` while every pass over the data runs on ``X``'s device. The separation
check runs its row passes on the device and its linear program on a subset of rows
(:mod:`mnlogit.device_separation`). The result is the same :class:`~mnlogit.fitted.FittedModel`
(host arrays) as a numpy fit's, so inference, summaries and model files work unchanged.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mnlogit.arrays import Placement
from mnlogit.device_preparation import DeviceData, prepare_on_device
from mnlogit.device_separation import device_separation
from mnlogit.exceptions import DataWarning, warn
from mnlogit.fitted import FittedModel
from mnlogit.fitting import Objective, fit_covariance, fitted_state, initial_point, solve
from mnlogit.identification import SeparationResult
from mnlogit.objective import make_penalty
from mnlogit.objective.device import DeviceObjective
from mnlogit.objective.device_firth import DeviceFirthObjective
from mnlogit.parameterization import Parameterization
from mnlogit.preparation import FitSettings, PreparedData
from mnlogit.solvers import FLOAT32_TOL, SolverResult
from mnlogit.solvers.subsample_newton import subsample_rows

__all__ = [
    "DEVICE_NEWTON_MAX_PARAMS",
    "build_device_objective",
    "choose_device_solver",
    "fit_on_device",
]

#: Largest ``(K-1)(p+1)`` for which ``solver="auto"`` takes Newton on a device: its
#: Hessian is one rank update of ``n x m`` per pass (``n m²`` flops, which a GPU runs near
#: peak speed) and an ``m x m`` host matrix (32 MB at 2000); Newton converges in about
#: ten passes where L-BFGS needs hundreds. Above it, L-BFGS (one pass per iteration).
DEVICE_NEWTON_MAX_PARAMS = 2000


def build_device_objective(
    data: DeviceData, settings: FitSettings
) -> DeviceObjective | DeviceFirthObjective:
    """The penalized mean negative log-likelihood of device ``data`` (as
    :func:`mnlogit.fitting.build_objective`: ridge on the original scale; Firth's penalty
    wraps the unpenalized objective)."""
    assert data.placement is not None
    param = Parameterization(data.n_classes, data.reference_index)
    weights = (1.0 / data.column_scale) ** 2 if settings.ridge else None
    penalty = make_penalty(
        "l2" if settings.ridge else None, data.alpha, data.fit_intercept, row_weights=weights
    )
    objective = DeviceObjective(
        data.placement,
        data.X,
        data.codes,
        data.n_classes,
        data.sample_weight,
        param,
        penalty,
        data.fit_intercept,
        feature_scale=data.column_scale,
        equal_weights=data.equal_weights,
    )
    return DeviceFirthObjective(objective) if settings.penalty == "firth" else objective


def choose_device_solver(settings: FitSettings, data: DeviceData) -> str:
    """``"auto"`` on a device; any other solver as asked.

    Up to :data:`DEVICE_NEWTON_MAX_PARAMS` free parameters ``m``: ``"subsample-newton"``
    when the data have rows for a subsample (as on numpy: its Hessian from ``r << n``
    float32 rows is the initial matrix of L-BFGS steps on all rows, a few passes in all),
    else ``"newton"``. Above it ``"lbfgs"`` (the numpy path's Kronecker curvature model
    is not built on a device). Firth's objective has no subsample: ``"newton"``
    (``"lbfgs"`` above the limit), as :func:`mnlogit.fitting.choose_fit_solver` does.
    """
    if settings.solver != "auto":
        return settings.solver
    n = int(data.X.shape[0])
    m = (data.n_classes - 1) * (int(data.X.shape[1]) + int(data.fit_intercept))
    if m > DEVICE_NEWTON_MAX_PARAMS:
        return "lbfgs"
    if settings.penalty == "firth":
        return "newton"
    return "subsample-newton" if subsample_rows(n, m) < n else "newton"


def _separation(
    data: PreparedData, objective: Objective, result: SolverResult
) -> SeparationResult | None:
    """:func:`mnlogit.device_separation.device_separation` for the maximum-likelihood
    fits that are checked (only those: never Firth's or a ridge's objective)."""
    assert isinstance(data, DeviceData) and isinstance(objective, DeviceObjective)
    return device_separation(data, objective, result)


def fit_on_device(
    placement: Placement,
    settings: FitSettings,
    X: Any,
    y: Any,
    sample_weight: Any,
    groups: Any,
    previous: FittedModel | None = None,
) -> FittedModel:
    """Fit device data; the stages of ``MultinomialLogit.fit`` with the device engine.

    Parameters
    ----------
    placement : Placement
        Namespace and device of ``X``.
    settings : FitSettings
    X : device array of shape (n, p)
    y, sample_weight : array of shape (n,) (moved to ``X``'s device when on the host)
    groups : None
    previous : FittedModel, optional
        Warm start.

    Returns
    -------
    FittedModel
        Host arrays throughout (coefficients, covariance, statistics).
    """
    if not placement.float64:  # float32 gradients cannot meet a tolerance below their noise
        settings = replace(settings, tol=max(settings.tol, FLOAT32_TOL))
    data = prepare_on_device(placement, settings, X, y, sample_weight, groups)
    objective = build_device_objective(data, settings)
    solver = choose_device_solver(settings, data)
    x0 = initial_point(objective, data, previous)
    result, options, solver = solve(solver, objective, x0, settings)
    state = fitted_state(
        data, settings, objective, result, solver, options, separation_check=_separation
    )
    state = fit_covariance(state, objective, result.x, data)
    if not placement.float64:
        warn(
            DataWarning(
                f"the device {placement.device!r} has no float64: the fit ran in float32 "
                "throughout, with tol raised to at least {FLOAT32_TOL:g} (coefficients and "
                "standard errors to about 1e-6 relative)"
            )
        )
    return state
