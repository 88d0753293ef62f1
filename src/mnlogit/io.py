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
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnlogit.convergence import ConvergenceReport
from mnlogit.exceptions import InvalidInputError
from mnlogit.solvers import IterationRecord

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelFileError", "load", "save"]

FORMAT_NAME = "mnlogit-model"
FORMAT_VERSION = 1
_FIT_ATTRIBUTES = (
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


def _params(model: Any) -> dict[str, Any]:
    params = dict(model.get_params())
    cw = params.get("class_weight")
    if isinstance(cw, dict):
        params["class_weight"] = {"pairs": [[_plain(k), float(v)] for k, v in cw.items()]}
    return _plain(params)


def save(model: Any, path: str | Path) -> Path:
    """Write a fitted model to ``path`` (see the module docstring for the format).

    Parameters
    ----------
    model : MultinomialLogit
        Fitted, or built with ``from_coefficients``.
    path : str or Path

    Returns
    -------
    Path
    """
    from mnlogit import __version__

    if not hasattr(model, "coef_"):
        raise ModelFileError("the model is not fitted; nothing to save")
    arrays: dict[str, NDArray[Any]] = {"coef": model.coef_, "intercept": model.intercept_}
    cov = getattr(model, "_cov_full", None)
    if cov is not None:
        arrays["cov"] = cov
    blobs = {f"{name}.npy": _npy_bytes(a) for name, a in arrays.items()}
    classes = model.classes_
    ref = model.reference_
    ref_index = None if ref is None else int(np.flatnonzero(classes == ref)[0])
    design = getattr(model, "design_", None)
    names = getattr(model, "feature_names_in_", None)
    report = getattr(model, "convergence_", None)
    meta: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "mnlogit_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "classes": _encode_labels(classes),
        "reference_index": ref_index,
        "fit_intercept": bool(getattr(model, "fit_intercept_", True)),
        "n_features": int(model.coef_.shape[1]),
        "feature_names": None if names is None else [str(n) for n in names],
        "formula": None if design is None else design.to_dict(),
        "kept_columns": None
        if getattr(model, "_kept_columns", None) is None
        else [int(j) for j in model._kept_columns],
        "aliased": list(getattr(model, "aliased_", [])),
        "separation": None
        if getattr(model, "separation_", None) is None
        else {"kind": model.separation_.kind, "message": model.separation_.message},
        "params": _params(model),
        "fit": {a: _plain(getattr(model, a)) for a in _FIT_ATTRIBUTES if hasattr(model, a)},
        "convergence": None
        if report is None
        else _plain(
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
        ),
        "arrays": {name: hashlib.sha256(b).hexdigest() for name, b in blobs.items()},
    }
    text = json.dumps(meta, indent=1, allow_nan=False)
    target = Path(path)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.json", text)
        for name, blob in blobs.items():
            zf.writestr(name, blob)
    return target


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


def load(path: str | Path) -> Any:
    """Read a model written by :func:`save` (or ``MultinomialLogit.save``).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    MultinomialLogit
        Ready to predict; carries the covariance and fit statistics it was saved with.

    Raises
    ------
    ModelFileError
        Foreign, truncated or corrupted file, or a newer format version.
    FileNotFoundError
    """
    from mnlogit.estimator import MultinomialLogit
    from mnlogit.formula import FormulaDesign, check_formula_safe
    from mnlogit.identification import RecordedSeparation, aliased_mask

    p = Path(path)
    meta, arrays = _read(p)
    try:
        classes = _decode_labels(meta["classes"])
        coef, intercept = arrays["coef"], arrays["intercept"]
        K, n_features = classes.size, int(meta["n_features"])
        if coef.shape != (K, n_features) or intercept.shape != (K,):
            raise ModelFileError(
                f"{p}: array shapes {coef.shape}, {intercept.shape} do not match "
                f"{K} classes and {n_features} features"
            )
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
        known = set(MultinomialLogit().get_params())
        model = MultinomialLogit(**{k: v for k, v in params.items() if k in known})
        ref_index = meta.get("reference_index")
        model.classes_ = classes
        model.reference_ = None if ref_index is None else classes[int(ref_index)]
        model.coef_ = coef
        model.intercept_ = intercept
        model.n_features_in_ = n_features
        model.fit_intercept_ = bool(meta.get("fit_intercept", True))
        names = meta.get("feature_names")
        if names is not None and len(names) != n_features:
            raise ModelFileError(f"{p}: {len(names)} feature names for {n_features} features")
        try:
            model.design_ = None if formula is None else FormulaDesign.from_dict(formula)
        except InvalidInputError as exc:
            raise ModelFileError(f"{p}: refusing the model's formula: {exc}") from exc
        if names is not None and formula is None:
            model.feature_names_in_ = np.asarray(names, dtype=object)
        for key, value in dict(meta.get("fit", {})).items():
            if key in _FIT_ATTRIBUTES:
                setattr(model, key, _unfloat(value))
        cov = arrays.get("cov")
        p1 = n_features + int(model.fit_intercept_)
        if cov is not None and cov.shape != (K * p1, K * p1):
            raise ModelFileError(
                f"{p}: covariance of shape {cov.shape}, expected {(K * p1, K * p1)}"
            )
        model._cov_full = cov
        kept = meta.get("kept_columns")
        if kept is not None:
            kept_arr = np.asarray(kept, dtype=np.intp)
            if kept_arr.size and (kept_arr.min() < 0 or kept_arr.max() >= n_features):
                raise ModelFileError(f"{p}: kept_columns out of range")
            model._kept_columns = kept_arr
        else:
            model._kept_columns = None
        model.aliased_ = [str(a) for a in meta.get("aliased", [])]
        sep = meta.get("separation")
        recorded = (
            None if sep is None else RecordedSeparation(str(sep["kind"]), str(sep["message"]))
        )
        setattr(model, "separation_", recorded)  # noqa: B010  (a recorded, not a live, result)
        model._aliased = aliased_mask(model._kept_columns, n_features, K, model.fit_intercept_)
        if model._cov_full is None and "cov_status_" not in meta.get("fit", {}):
            model.cov_status_ = "the model file holds no covariance"
        conv = meta.get("convergence")
        if conv is not None:
            history = [IterationRecord(*[_unfloat(v) for v in row]) for row in conv["history"]]
            model.convergence_ = ConvergenceReport(
                **{k: _unfloat(v) for k, v in conv.items() if k != "history"},
                history=history,
            )
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelFileError(f"{p}: model.json is incomplete or malformed: {exc!r}") from exc
    return model
