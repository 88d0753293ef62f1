"""Preparation of device data (PyTorch, CuPy, array-api-strict): validate, encode, identify.

The counterpart of :func:`mnlogit.preparation.prepare` for ``X`` held by another array
namespace (:mod:`mnlogit.arrays`). Every check runs as a reduction on the device and brings
back only its small result, never ``X``:

- **values**: NaN and inf by one ``all(isfinite)`` per row block (the first bad row and its
  columns named); column ranges from the column maxima (``(p,)``);
- **labels**: ``unique_inverse`` on the device; the ``K`` classes come to the host;
- **weights**: finiteness, signs and totals by reductions; class weights applied on the device;
- **collinearity**: the weighted Gram matrix of the scaled design ``[1, X]`` is formed on the
  device (``(p1, p1)``) and R's alias rule is applied to a square root of it on the host
  (:func:`device_collinearity`). Weaker than the numpy path: that path re-checks columns
  whose residual is below 1e-5 on the data (corrected semi-normal equations); here the
  Gram matrix alone decides, so residuals are resolved to about 1e-8 relative.

Cluster labels (``groups=``) become integer codes on the device. Not available on a
device (a clear error): formulas, the solver ``"irls"``. The data fingerprint
(:mod:`mnlogit.device_fingerprint`) moves about 1 MiB of ``X``'s rows, the labels (a byte
each for K <= 256) and weights other than all ones to the host, in blocks, to hash them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnlogit.arrays import Placement, placement_of, to_host
from mnlogit.device_fingerprint import device_fingerprint
from mnlogit.exceptions import CollinearityWarning, DataWarning, InvalidInputError, warn
from mnlogit.fingerprint import scheme_for
from mnlogit.fitted import FittedModel
from mnlogit.identification import (
    CollinearityResult,
    check_column_range,
    check_groups,
    column_scales,
    detect_collinearity,
)
from mnlogit.identification.aliasing import MAX_COLLINEARITY_COLUMNS
from mnlogit.identification.validation import WEIGHT_TOTAL_RANGE
from mnlogit.objective import xp_kernels as xk
from mnlogit.parameterization import Parameterization
from mnlogit.preparation import FitSettings, PreparedData, check_same_data, penalty_strength

__all__ = ["DeviceData", "device_collinearity", "prepare_on_device"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: The solvers a device objective can serve (not IRLS: no working responses there).
DEVICE_SOLVERS = ("auto", "newton", "subsample-newton", "newton-cg", "lbfgs", "gd")


@dataclass(frozen=True, eq=False)
class DeviceData(PreparedData):
    """:class:`~mnlogit.preparation.PreparedData` whose ``X``, ``codes`` and
    ``sample_weight`` are device arrays; the class totals are kept on the host.

    Attributes
    ----------
    placement : Placement or None
        The namespace and device of the arrays.
    totals : ndarray of shape (K,) or None
        Total effective weight of each class.
    equal_weights : bool
        Whether every effective weight is the same (the kernels then skip them).
    """

    placement: Placement | None = None
    totals: FloatArray | None = None
    equal_weights: bool = False

    def class_totals(self) -> FloatArray:
        """Total effective weight of each class, shape ``(K,)`` (host)."""
        assert self.totals is not None
        return self.totals


def _refuse_unsupported(settings: FitSettings, groups: Any) -> None:
    """What the device path does not do, refused before any work."""
    where = "on device arrays (PyTorch, CuPy, ...)"
    if settings.formula is not None:
        raise InvalidInputError(f"formula= takes a data frame; it is not available {where}")
    if settings.solver not in DEVICE_SOLVERS:
        raise InvalidInputError(
            f"solver={settings.solver!r} is not available {where} (IRLS's working "
            f"responses are not formed there); use one of {list(DEVICE_SOLVERS)}"
        )


def _groups(placement: Placement, groups: Any, n: int) -> Any:
    """Cluster labels as device codes ``0 .. G-1`` ``(n,)`` (None stays None).

    Labels on the host (numbers or strings) are checked and encoded there and their codes
    sent to the device; labels on the device are encoded there (``unique_inverse``).
    """
    if groups is None:
        return None
    xp = placement.xp
    if placement_of(groups) is None:
        check_groups(groups, n)
        codes = np.unique(np.asarray(groups), return_inverse=True)[1].reshape(-1)
        return placement.put(codes.astype(np.int64))
    g = placement.take(groups)
    if g.ndim != 1 or g.shape[0] != n:
        raise InvalidInputError(
            f"groups must have one cluster label per row ({n}), got shape {tuple(g.shape)}"
        )
    if xp.isdtype(g.dtype, "real floating") and bool(xp.any(xp.isnan(g))):
        raise InvalidInputError("groups has missing cluster labels (NaN); give every row a cluster")
    return xp.astype(xp.reshape(xp.unique_inverse(g)[1], (-1,)), xp.int64)


def _features(placement: Placement, settings: FitSettings, X: Any) -> Any:
    """``X`` checked (2-D, finite) and in the fit's dtype, on the device."""
    xp = placement.xp
    X = placement.data(X)
    if X.ndim != 2:
        raise InvalidInputError(f"X must be 2-D (n, p), got shape {tuple(X.shape)}")
    if X.shape[0] < 1:
        raise InvalidInputError("X has no rows: nothing to fit")
    wanted = {"float32": xp.float32, "float64": placement.work_dtype}.get(str(settings.dtype))
    if wanted is None:
        wanted = X.dtype if X.dtype in (xp.float32, xp.float64) else placement.work_dtype
    if X.dtype != wanted:
        X = xp.astype(X, wanted)  # a copy on the device, as the numpy path converts
    bad = xk.first_nonfinite(xp, X)
    if bad is not None:
        row, mask = bad
        cols = np.flatnonzero(to_host(mask)).tolist()
        raise InvalidInputError(
            f"X contains NaN or infinity: row {row}, column(s) {[f'x{j}' for j in cols[:10]]}"
            " (the first such row). Remove or impute those values"
        )
    return X


def _labels(placement: Placement, y: Any, n: int) -> tuple[NDArray[Any], Any]:
    """``(classes, codes)``: host labels ``(K,)`` and device codes ``(n,)``."""
    xp = placement.xp
    if placement_of(y) is None and np.asarray(y).dtype.kind not in "biuf":
        raise InvalidInputError(
            f"labels of a fit on device arrays must be numbers (got {np.asarray(y).dtype}): "
            "encode them as integer codes, or fit numpy arrays"
        )
    y = placement.take(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise InvalidInputError(f"y must have shape ({n},), got {tuple(y.shape)}")
    if xp.isdtype(y.dtype, "real floating") and bool(xp.any(xp.isnan(y))):
        raise InvalidInputError("y contains NaN: every row needs a class label")
    classes, codes = xp.unique_inverse(y)
    host = to_host(classes)
    if host.size < 2:
        raise InvalidInputError(
            f"y has a single class {host.tolist()}: a classifier needs at least 2 classes"
        )
    return host, xp.astype(xp.reshape(codes, (-1,)), xp.int64)


def _weights(
    placement: Placement,
    sample_weight: Any,
    class_weight: Any,
    classes: NDArray[Any],
    codes: Any,
    n: int,
) -> tuple[Any, FloatArray, bool]:
    """Effective weights (device), class totals (host) and whether all weights are equal."""
    xp = placement.xp
    work = placement.work_dtype
    K = classes.size
    if sample_weight is None:
        w = xp.ones(n, dtype=work, device=placement.device)
    else:
        w = xp.astype(placement.take(sample_weight), work)
        if w.ndim != 1 or w.shape[0] != n:
            raise InvalidInputError(f"sample_weight must have shape ({n},), got {tuple(w.shape)}")
        if not bool(xp.all(xp.isfinite(w))) or bool(xp.any(w < 0)):
            raise InvalidInputError("sample_weight must be finite and non-negative")
    onehot = xp.astype(
        xp.reshape(codes, (-1, 1)) == xp.reshape(xp.arange(K, device=placement.device), (1, K)),
        work,
    )
    totals = to_host(xp.sum(onehot * xp.reshape(w, (-1, 1)), axis=0)).astype(np.float64)
    if class_weight is not None:
        if class_weight == "balanced":
            cw = totals.sum() / (K * np.where(totals > 0, totals, 1.0))
        elif isinstance(class_weight, dict):
            cw = np.array([float(class_weight.get(c, 1.0)) for c in classes.tolist()])
        else:
            raise InvalidInputError("class_weight must be a dict, 'balanced' or None")
        if not np.all(np.isfinite(cw) & (cw >= 0)):
            raise InvalidInputError(f"class_weight must be finite and >= 0, got {cw.tolist()}")
        w = w * (onehot @ placement.put(cw))
        totals = totals * cw
    total = float(totals.sum())
    if not WEIGHT_TOTAL_RANGE[0] <= total <= WEIGHT_TOTAL_RANGE[1]:
        raise InvalidInputError(
            f"sample weights (times class weights) sum to {total:.3g}, outside "
            f"[{WEIGHT_TOTAL_RANGE[0]:g}, {WEIGHT_TOTAL_RANGE[1]:g}]: nothing to fit, or "
            "the log-likelihood would over- or underflow. Rescale the weights"
        )
    equal = bool(xp.all(w == w[0]))
    positive = to_host(xp.sum(onehot * xp.reshape(xp.astype(w > 0, work), (-1, 1)), axis=0))
    single = [c for c, k in zip(classes.tolist(), positive.tolist(), strict=True) if k == 1]
    if single:
        warn(
            DataWarning(
                f"class(es) {single[:10]} have a single observation; their coefficients "
                "are barely identified (expect huge standard errors or separation)"
            )
        )
    return w, totals, equal


def device_collinearity(
    placement: Placement,
    X: Any,
    weights: Any,
    fit_intercept: bool,
    names: list[str],
    maxabs: FloatArray,
) -> CollinearityResult:
    """R's alias rule on device data, from the Gram matrix formed on the device.

    The weighted Gram matrix ``G`` of the design ``[1, X]`` with columns divided by their
    largest absolute values (``(p1, p1)``, float64 where the device has it) comes to the
    host; a square root ``F`` with ``FᵀF = G`` (``p1 x p1``, from ``eigh``) has the same
    column inner products as the weighted design, so
    :func:`~mnlogit.identification.detect_collinearity` on ``F`` applies the same rule
    (limited pivoting, tolerance 1e-7). Its coefficients are mapped back to the original
    units of the columns.

    Parameters
    ----------
    placement : Placement
    X : device array of shape (n, p)
    weights : device array of shape (n,)
        Effective weights; rows of weight 0 do not count.
    fit_intercept : bool
    names : list of str, length p
    maxabs : ndarray of shape (p,)
        Column maxima of ``X`` (host).

    Returns
    -------
    CollinearityResult
        ``method="gram"``.
    """
    xp = placement.xp
    divisors = np.where(maxabs > 0, maxabs, 1.0)
    h = weights / xp.max(weights)
    G = to_host(
        xk.weighted_gram(
            xp,
            X,
            h,
            intercept=fit_intercept,
            column_factor=placement.put(1.0 / divisors),
            work=placement.work_dtype,
        )
    ).astype(np.float64)
    lam, V = np.linalg.eigh(0.5 * (G + G.T))
    F = np.sqrt(np.clip(lam, 0.0, None))[:, None] * V.T
    terms = (["Intercept"] if fit_intercept else []) + list(names)
    found = detect_collinearity(
        F, fit_intercept=False, feature_names=terms, method="qr", check_finite=False
    )
    unit = np.concatenate([np.ones(int(fit_intercept)), divisors])
    # F's column j is design column j / unit[j]: x_a = sum_k c_ak (unit[a] / unit[k]) x_k
    coef = found.coefficients / unit[None, :] * unit[found.aliased_index][:, None]
    return replace(found, coefficients=coef, method="gram", fit_intercept=fit_intercept)


def _identify(
    placement: Placement,
    settings: FitSettings,
    X: Any,
    w: Any,
    names: list[str],
    maxabs: FloatArray,
    fit_intercept: bool,
) -> tuple[Any, IntArray | None, CollinearityResult | None, FloatArray]:
    """Aliased columns found and dropped (unpenalized and Firth fits), as the numpy path."""
    p1 = X.shape[1] + int(fit_intercept)
    drops = not settings.ridge or settings.maximum_likelihood  # as the numpy path: Firth too
    if not drops or p1 > MAX_COLLINEARITY_COLUMNS or X.shape[1] == 0:
        return X, None, None, maxabs
    result = device_collinearity(placement, X, w, fit_intercept, names, maxabs)
    if not result.collinear:
        return X, None, result, maxabs
    kept = np.asarray(result.kept_features, dtype=np.intp)
    warn(
        CollinearityWarning(
            f"{result.message}\nmnlogit dropped the aliased column(s) "
            f"{list(result.aliased)} from the fit; their coefficients are reported as not "
            "estimable (NaN in tables, 0 in coef_)."
        )
    )
    xp = placement.xp
    X = xp.take(X, xp.asarray(kept, device=placement.device), axis=1)
    return X, kept, result, maxabs[kept]


def _fitted_columns(
    placement: Placement, X: Any, kept: IntArray | None, maxabs: FloatArray
) -> tuple[Any, IntArray | None, None, FloatArray]:
    """A refit's columns: those the fit kept (no collinearity check)."""
    if kept is None:
        return X, None, None, maxabs
    xp = placement.xp
    X = xp.take(X, xp.asarray(np.asarray(kept, dtype=np.int64), device=placement.device), axis=1)
    return X, kept, None, maxabs[kept]


def _check_refit(fitted: FittedModel, classes: NDArray[Any], fingerprint: Any) -> None:
    """Refuse data other than the fit's (its classes and fingerprint), as the numpy path."""
    if not np.array_equal(classes, fitted.classes):
        raise InvalidInputError(
            f"y has classes {classes.tolist()[:10]}, the model was fitted on "
            f"{fitted.classes.tolist()[:10]}"
        )
    if fitted.fingerprint is not None:
        check_same_data(fitted.fingerprint, fingerprint, "a refit (compute_covariance, term_tests)")


def _host_vector(a: Any) -> FloatArray:
    """A weight vector as given, on the host (a refit on numpy data reuses it)."""
    return np.asarray(a if placement_of(a) is None else to_host(a), dtype=np.float64)


def prepare_on_device(
    placement: Placement,
    settings: FitSettings,
    X: Any,
    y: Any,
    sample_weight: Any,
    groups: Any,
    fitted: FittedModel | None = None,
) -> DeviceData:
    """Validate, encode and identify device data for a new fit, or for a refit against
    the ``fitted`` state (``compute_covariance``, likelihood-ratio tests), as
    :func:`mnlogit.preparation.prepare`: the data must have the fit's fingerprint, the
    fit's kept columns, reference and ``alpha`` are reused, and its weights are the
    default.

    Parameters
    ----------
    placement : Placement
        Of ``X``.
    settings : FitSettings
    X : device array of shape (n, p)
    y, sample_weight : array of shape (n,), on the device or the host (moved to the device)
    groups : array of shape (n,) or None
        Cluster labels, on the device or the host (:func:`_groups`).
    fitted : FittedModel, optional
        The state a refit is checked against.

    Returns
    -------
    DeviceData
    """
    _refuse_unsupported(settings, groups)
    if fitted is None and settings.cov_type == "cluster" and groups is None:
        raise InvalidInputError("cov_type='cluster' needs groups= passed to fit")
    if fitted is not None and sample_weight is None:
        sample_weight = fitted.sample_weight  # a refit reuses the fit's weights
    if y is None:
        raise InvalidInputError(
            "MultinomialLogit requires y to be passed, but the target y is None"
        )
    xp = placement.xp
    X = _features(placement, settings, X)
    n, p = int(X.shape[0]), int(X.shape[1])
    classes, codes = _labels(placement, y, n)
    group_codes = _groups(placement, groups, n)
    w, totals, equal = _weights(placement, sample_weight, settings.class_weight, classes, codes, n)
    scheme = scheme_for(None if fitted is None else fitted.fingerprint)
    fingerprint = device_fingerprint(placement, X, classes, codes, w, scheme)
    if fitted is not None:
        _check_refit(fitted, classes, fingerprint)
    names = [f"x{j}" for j in range(p)]
    maxabs = (
        to_host(xk.column_maxabs(xp, X)).astype(np.float64) if p else np.zeros(0, dtype=np.float64)
    )
    check_column_range(maxabs, names)
    fit_intercept = settings.fit_intercept
    if fitted is None:
        X, kept, collinearity, maxabs = _identify(
            placement, settings, X, w, names, maxabs, fit_intercept
        )
    else:
        X, kept, collinearity, maxabs = _fitted_columns(placement, X, fitted.kept_columns, maxabs)
    n_rows = int(xp.sum(xp.astype(w > 0, xp.int64)))
    p1 = int(X.shape[1]) + int(fit_intercept)
    if p1 == 0:
        raise InvalidInputError(
            f"no column is left to estimate: all {p} column(s) are aliased and there is no "
            "intercept"
        )
    if settings.maximum_likelihood and p1 >= n_rows:
        raise InvalidInputError(
            f"an unpenalized fit with {p1} parameters per class and only {n_rows} rows "
            "(with positive weight) has no maximum-likelihood estimate: the classes are "
            "separable. Use penalty='l2', or fewer features"
        )
    scale = column_scales(X, maxabs=maxabs)
    if settings.ridge and not settings.maximum_likelihood:
        scale = np.maximum(scale, 1.0)
    return DeviceData(
        X=X,
        codes=codes,
        classes=classes,
        sample_weight=w,
        groups=group_codes,
        fit_intercept=fit_intercept,
        n_features=p,
        feature_names_in=None,
        column_names=tuple(names),
        design=None,
        n_missing_dropped=None,
        kept_columns=kept,
        collinearity=collinearity,
        column_scale=scale,
        reference_index=(
            Parameterization.resolve_reference(settings.reference, classes, settings.ridge)
            if fitted is None
            else fitted.reference_index
        ),
        alpha=(
            penalty_strength(settings, float(totals.sum()))
            if fitted is None
            else (0.0 if fitted.outcome is None else fitted.outcome.alpha)
        ),
        fingerprint=fingerprint,
        given_weight=None if sample_weight is None else _host_vector(sample_weight),
        placement=placement,
        totals=totals,
        equal_weights=equal,
    )
