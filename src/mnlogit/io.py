"""Model files: a documented, versioned, language-neutral format. No pickle.

A model file is a ZIP archive holding

- ``model.json`` -- UTF-8 JSON metadata: format name and version, the mnlogit version,
  classes, reference, feature names, the formula's encoding (plain data), estimator
  parameters, fit statistics, convergence report, and a SHA-256 checksum per array;
- ``coef.npy`` ``(K, p)``, ``intercept.npy`` ``(K,)`` and, when the model has one,
  ``cov.npy`` ``(K*(p+1), K*(p+1))`` (covariance of ``vec(B)``, class-major) -- NumPy's
  ``.npy`` format (a documented header plus raw little-endian float64), read with
  ``allow_pickle=False``.

Floats round-trip bitwise (arrays as raw float64; JSON numbers written with Python's
shortest round-trip ``repr``). Non-finite JSON numbers are written as the strings
``"NaN"``, ``"Infinity"``, ``"-Infinity"`` so the JSON stays standard. Loading never
executes code from the file: the archive is read as bytes, JSON is parsed by the
standard library, arrays by ``numpy.load(..., allow_pickle=False)``, and the formula is
rebuilt from its recorded levels and constants. See ``docs/model-file.md``.

The module reads and writes a pair ``(estimator parameters, FittedModel)``
(:func:`read`, :func:`write`) and knows nothing of the estimator class: ``save`` takes
any object with ``get_params()`` and ``fitted_``; :func:`mnlogit.load` (the estimator's
``load``) turns a pair read back into a ``MultinomialLogit``. The estimator imports this
module; this module never imports the estimator.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from mnlogit.convergence import ConvergenceReport
from mnlogit.exceptions import InvalidInputError
from mnlogit.fitstats import FitStatistics
from mnlogit.fitted import FitOutcome, FittedModel
from mnlogit.formula import FormulaDesign, check_formula_safe
from mnlogit.identification import RecordedSeparation
from mnlogit.solvers import IterationRecord

__all__ = [
    "FIT_ATTRIBUTES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelFileError",
    "SavableModel",
    "read",
    "save",
    "write",
]

FloatArray = NDArray[np.float64]

FORMAT_NAME = "mnlogit-model"
FORMAT_VERSION = 1
#: The estimator attributes kept in ``model.json``'s ``"fit"`` object, in file order; a
#: model has (and a file holds) those its producer knows.
FIT_ATTRIBUTES = (
    "loglik_",
    "loglik_null_",
    "deviance_",
    "aic_",
    "bic_",
    "pseudo_r2_",
    "nobs_",
    "n_params_",
    "n_iter_",
    "converged_",
    "solver_",
    "alpha_",
    "cov_type_",
    "cov_status_",
    "n_missing_dropped_",
)


# What reading a damaged archive member can raise: bad CRC or headers, a broken
# deflate stream, a compression method this Python lacks, a short read.
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError, EOFError)


class ModelFileError(ValueError):
    """The file is not a readable mnlogit model file (foreign, truncated, corrupted,
    or written by a newer format version)."""


def _json_float(x: float) -> Any:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def _plain(value: Any) -> Any:
    """JSON-able form with non-finite floats as strings."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _unfloat(value: Any) -> Any:
    if value == "NaN":
        return float("nan")
    if value == "Infinity":
        return float("inf")
    if value == "-Infinity":
        return float("-inf")
    return value


def _encode_labels(classes: NDArray[Any]) -> dict[str, Any]:
    values = classes.tolist()
    kinds = {type(v) for v in values}
    if kinds <= {bool}:
        kind = "bool"
    elif kinds <= {int}:
        kind = "int"
    elif kinds <= {float}:
        kind = "float"
        values = [_json_float(v) for v in values]
    elif kinds <= {str}:
        kind = "str"
    else:
        names = ", ".join(sorted(k.__name__ for k in kinds))
        raise ModelFileError(f"cannot save class labels of type(s) {names}; use str or numbers")
    return {"type": kind, "values": values}


def _decode_labels(record: dict[str, Any]) -> NDArray[Any]:
    kind, values = record["type"], record["values"]
    if kind == "str":
        return np.asarray([str(v) for v in values])
    if kind == "int":
        return np.asarray([int(v) for v in values])
    if kind == "float":
        return np.asarray([float(_unfloat(v)) for v in values])
    if kind == "bool":
        return np.asarray([bool(v) for v in values])
    raise ModelFileError(f"unknown class label type {kind!r}")


def _npy_bytes(array: NDArray[Any]) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array, dtype="<f8"), allow_pickle=False)
    return buf.getvalue()


class SavableModel(Protocol):
    """What :func:`save` needs of a model: its parameters and its fitted state."""

    fitted_: FittedModel

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...


def _encode_params(params: Mapping[str, Any]) -> dict[str, Any]:
    plain = dict(params)
    cw = plain.get("class_weight")
    if isinstance(cw, dict):
        plain["class_weight"] = {"pairs": [[_plain(k), float(v)] for k, v in cw.items()]}
    encoded: dict[str, Any] = _plain(plain)
    return encoded


def _fit_section(state: FittedModel) -> dict[str, Any]:
    """``model.json``'s ``"fit"`` object: the fit attributes the state has."""
    values: dict[str, Any] = {}
    if state.outcome is not None:
        values.update(state.outcome.attributes())
    if state.outcome is not None or state.cov is not None:
        values["cov_type_"] = state.cov_type
    if state.cov_status is not None:
        values["cov_status_"] = state.cov_status
    if state.n_missing_dropped is not None:
        values["n_missing_dropped_"] = state.n_missing_dropped
    return {a: _plain(values[a]) for a in FIT_ATTRIBUTES if a in values}


def _convergence_section(report: ConvergenceReport | None) -> Any:
    if report is None:
        return None
    return _plain(
        {
            "solver": report.solver,
            "criterion": report.criterion,
            "tol": report.tol,
            "max_iter": report.max_iter,
            "converged": report.converged,
            "n_iter": report.n_iter,
            "gradient": report.gradient,
            "parameter": report.parameter,
            "loglik": report.loglik,
            "objective": report.objective,
            "message": report.message,
            "history": [list(vars(r).values()) for r in report.history],
        }
    )


def write(path: str | Path, params: Mapping[str, Any], state: FittedModel) -> Path:
    """Write estimator parameters and a fitted state to ``path``.

    Parameters
    ----------
    path : str or Path
    params : mapping
        The estimator's ``get_params()``.
    state : FittedModel

    Returns
    -------
    Path
    """
    from mnlogit import __version__

    arrays: dict[str, NDArray[Any]] = {"coef": state.coef, "intercept": state.intercept}
    if state.cov is not None:
        arrays["cov"] = state.cov
    blobs = {f"{name}.npy": _npy_bytes(a) for name, a in arrays.items()}
    names = state.feature_names_in
    kept = state.kept_columns
    sep = state.separation
    meta: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "mnlogit_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "classes": _encode_labels(state.classes),
        "reference_index": state.reference_index,
        "fit_intercept": bool(state.fit_intercept),
        "n_features": state.n_features,
        "feature_names": None if names is None else [str(n) for n in names],
        "formula": None if state.design is None else state.design.to_dict(),
        "kept_columns": None if kept is None else [int(j) for j in kept],
        "aliased": list(state.aliased),
        "separation": None if sep is None else {"kind": sep.kind, "message": sep.message},
        "params": _encode_params(params),
        "fit": _fit_section(state),
        "convergence": _convergence_section(state.convergence),
        "arrays": {name: hashlib.sha256(b).hexdigest() for name, b in blobs.items()},
    }
    text = json.dumps(meta, indent=1, allow_nan=False)
    target = Path(path)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.json", text)
        for name, blob in blobs.items():
            zf.writestr(name, blob)
    return target


def save(model: SavableModel, path: str | Path) -> Path:
    """Write a fitted model to ``path`` (see the module docstring for the format).

    Parameters
    ----------
    model : MultinomialLogit
        Fitted, loaded, or built with ``from_coefficients``.
    path : str or Path

    Returns
    -------
    Path
    """
    state = getattr(model, "fitted_", None)
    if state is None:
        raise ModelFileError("the model is not fitted; nothing to save")
    return write(path, model.get_params(), state)


def _read(path: Path) -> tuple[dict[str, Any], dict[str, NDArray[np.float64]]]:
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelFileError(
            f"{path} is not an mnlogit model file (not a ZIP archive, or truncated): {exc}"
        ) from exc
    with zf:
        names = set(zf.namelist())
        if "model.json" not in names:
            raise ModelFileError(f"{path} is not an mnlogit model file (no model.json inside)")
        try:
            meta = json.loads(zf.read("model.json").decode("utf-8"))
        except (ValueError, UnicodeDecodeError, *_ARCHIVE_ERRORS) as exc:
            raise ModelFileError(f"{path}: model.json is corrupted: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
            raise ModelFileError(f"{path} is not an mnlogit model file (format mismatch)")
        version = meta.get("format_version")
        if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
            raise ModelFileError(
                f"{path} uses model-file format version {version!r}; this mnlogit reads "
                f"versions up to {FORMAT_VERSION}: upgrade mnlogit"
            )
        arrays: dict[str, NDArray[np.float64]] = {}
        for name, digest in dict(meta.get("arrays", {})).items():
            if name not in names:
                raise ModelFileError(f"{path} is truncated: {name} is missing")
            try:
                blob = zf.read(name)
            except _ARCHIVE_ERRORS as exc:
                raise ModelFileError(f"{path}: cannot read {name}: {exc}") from exc
            if hashlib.sha256(blob).hexdigest() != digest:
                raise ModelFileError(f"{path} is corrupted: the checksum of {name} does not match")
            try:
                arrays[name.removesuffix(".npy")] = np.load(io.BytesIO(blob), allow_pickle=False)
            except ValueError as exc:
                raise ModelFileError(f"{path}: {name} is not a plain float array: {exc}") from exc
    for required in ("coef", "intercept"):
        if required not in arrays:
            raise ModelFileError(f"{path} lacks the {required} array")
    return meta, arrays


def _decode_params(meta: dict[str, Any], p: Path) -> dict[str, Any]:
    """The estimator parameters, refusing a formula that is unsafe or not the model's."""
    params = dict(meta.get("params", {}))
    cw = params.get("class_weight")
    if isinstance(cw, dict) and "pairs" in cw:
        params["class_weight"] = {k: w for k, w in cw["pairs"]}
    formula = meta.get("formula")
    param_formula = params.get("formula")
    if param_formula is not None:
        if formula is None or param_formula != formula.get("formula"):
            raise ModelFileError(f"{p}: the estimator's formula does not match the model's")
        try:
            check_formula_safe(str(param_formula))
        except InvalidInputError as exc:
            raise ModelFileError(f"{p}: refusing the model's formula: {exc}") from exc
    return params


def _decode_outcome(fit: dict[str, Any]) -> FitOutcome | None:
    """The solver's outcome from the ``"fit"`` object (``None`` when it holds none)."""
    if "loglik_" not in fit:
        return None
    stats = FitStatistics(
        loglik=float(_unfloat(fit["loglik_"])),
        loglik_null=float(_unfloat(fit["loglik_null_"])),
        n_params=int(fit["n_params_"]),
        nobs=float(_unfloat(fit["nobs_"])),
    )
    return FitOutcome(
        solver=str(fit["solver_"]),
        alpha=float(_unfloat(fit["alpha_"])),
        n_iter=int(fit["n_iter_"]),
        converged=bool(fit["converged_"]),
        statistics=stats,
    )


def _decode_convergence(conv: Any) -> ConvergenceReport | None:
    if conv is None:
        return None
    history = [IterationRecord(*[_unfloat(v) for v in row]) for row in conv["history"]]
    return ConvergenceReport(
        **{k: _unfloat(v) for k, v in conv.items() if k != "history"}, history=history
    )


def _decode_columns(
    meta: dict[str, Any], n_features: int, p: Path
) -> tuple[NDArray[np.object_] | None, FormulaDesign | None, NDArray[np.intp] | None]:
    """Feature names, formula design and kept columns, checked against ``n_features``."""
    names = meta.get("feature_names")
    if names is not None and len(names) != n_features:
        raise ModelFileError(f"{p}: {len(names)} feature names for {n_features} features")
    formula = meta.get("formula")
    try:
        design = None if formula is None else FormulaDesign.from_dict(formula)
    except InvalidInputError as exc:
        raise ModelFileError(f"{p}: refusing the model's formula: {exc}") from exc
    kept = meta.get("kept_columns")
    kept_arr = None
    if kept is not None:
        kept_arr = np.asarray(kept, dtype=np.intp)
        if kept_arr.size and (kept_arr.min() < 0 or kept_arr.max() >= n_features):
            raise ModelFileError(f"{p}: kept_columns out of range")
    feature_names = None
    if names is not None and formula is None:
        feature_names = np.asarray(names, dtype=object)
    return feature_names, design, kept_arr


def _decode_state(meta: dict[str, Any], arrays: dict[str, FloatArray], p: Path) -> FittedModel:
    classes = _decode_labels(meta["classes"])
    coef, intercept = arrays["coef"], arrays["intercept"]
    K, n_features = classes.size, int(meta["n_features"])
    if coef.shape != (K, n_features) or intercept.shape != (K,):
        raise ModelFileError(
            f"{p}: array shapes {coef.shape}, {intercept.shape} do not match "
            f"{K} classes and {n_features} features"
        )
    fit_intercept = bool(meta.get("fit_intercept", True))
    cov = arrays.get("cov")
    p1 = n_features + int(fit_intercept)
    if cov is not None and cov.shape != (K * p1, K * p1):
        raise ModelFileError(f"{p}: covariance of shape {cov.shape}, expected {(K * p1, K * p1)}")
    feature_names, design, kept = _decode_columns(meta, n_features, p)
    ref_index = meta.get("reference_index")
    reference = None if ref_index is None else classes[int(ref_index)]
    fit = dict(meta.get("fit", {}))
    cov_status = fit.get("cov_status_")
    if cov is None and "cov_status_" not in fit:
        cov_status = "the model file holds no covariance"
    sep = meta.get("separation")
    dropped = fit.get("n_missing_dropped_")
    return FittedModel(
        classes=classes,
        reference=reference,
        reference_index=None if ref_index is None else int(ref_index),
        coef=coef,
        intercept=intercept,
        fit_intercept=fit_intercept,
        feature_names_in=feature_names,
        design=design,
        kept_columns=kept,
        aliased=tuple(str(a) for a in meta.get("aliased", [])),
        cov=cov,
        cov_type=fit.get("cov_type_"),
        cov_status=None if cov_status is None else str(cov_status),
        outcome=_decode_outcome(fit),
        convergence=_decode_convergence(meta.get("convergence")),
        separation=None
        if sep is None
        else RecordedSeparation(str(sep["kind"]), str(sep["message"])),
        n_missing_dropped=None if dropped is None else int(dropped),
    )


def read(path: str | Path) -> tuple[dict[str, Any], FittedModel]:
    """Read a model file: the estimator parameters and the fitted state.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    params : dict
        Estimator parameters as saved (names the estimator does not know are kept;
        :meth:`MultinomialLogit.from_fitted` ignores them).
    state : FittedModel

    Raises
    ------
    ModelFileError
        Foreign, truncated or corrupted file, or a newer format version.
    FileNotFoundError
    """
    p = Path(path)
    meta, arrays = _read(p)
    try:
        return _decode_params(meta, p), _decode_state(meta, arrays, p)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelFileError(f"{p}: model.json is incomplete or malformed: {exc!r}") from exc
