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

import contextlib
import hashlib
import io
import json
import math
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from mnlogit.convergence import ConvergenceReport
from mnlogit.exceptions import InvalidInputError
from mnlogit.fingerprint import DataFingerprint
from mnlogit.fitstats import FitStatistics
from mnlogit.fitted import OUTCOME_ATTRIBUTES, FitOutcome, FittedModel
from mnlogit.formula import FormulaDesign, check_formula_safe
from mnlogit.identification import RecordedSeparation
from mnlogit.solvers import IterationRecord

__all__ = [
    "ARRAY_MEMBERS",
    "FIT_ATTRIBUTES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_ARRAY_BYTES",
    "MAX_JSON_BYTES",
    "ModelFileError",
    "SavableModel",
    "atomic_write",
    "format_version",
    "read",
    "save",
    "write",
]

FloatArray = NDArray[np.float64]

FORMAT_NAME = "mnlogit-model"
#: The newest format version this mnlogit writes and reads. Version 2 (data fingerprints
#: of scheme 2, :mod:`mnlogit.fingerprint`) changed what ``data_fingerprint``'s digests
#: hash; a file is written with the oldest version that holds it (:func:`format_version`).
FORMAT_VERSION = 2
#: The array members a model file may hold (any other name in ``"arrays"`` is refused).
ARRAY_MEMBERS = ("coef.npy", "intercept.npy", "cov.npy")
#: Largest ``model.json`` read (its declared uncompressed size is checked first).
MAX_JSON_BYTES = 256 * 2**20
#: Largest array member read: 4 GiB (a covariance of 23,000 coefficients).
MAX_ARRAY_BYTES = 4 * 2**30
# Room for a .npy header (magic, version, length and the padded header dictionary).
_MAX_NPY_HEADER = 4096
#: The estimator attributes kept in ``model.json``'s ``"fit"`` object, in file order; a
#: model has (and a file holds) those its producer knows.
FIT_ATTRIBUTES = (
    *OUTCOME_ATTRIBUTES,
    "cov_type_",
    "cov_status_",
    "n_missing_dropped_",
    "l1_ratio_",
)


def format_version(state: FittedModel) -> int:
    """The version a model file of ``state`` is written with: the oldest that holds it.

    2 when its data fingerprint is of scheme 2 or later: a version-1 reader ignores the
    ``"scheme"`` key, would take the digests for scheme 1's and refuse the fit's own data
    in refits, so it must refuse the file instead ("upgrade mnlogit"). 1 otherwise (no
    fingerprint, or a scheme-1 fingerprint of a model loaded from a version-1 file), so
    that older mnlogit still reads what it reads correctly.

    Parameters
    ----------
    state : FittedModel

    Returns
    -------
    int
    """
    fingerprint = state.fingerprint
    return 1 if fingerprint is None or fingerprint.scheme == 1 else 2


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


def _label_values(kind: Any, values: list[Any]) -> NDArray[Any]:
    """The labels of one JSON type as an array (each value must have that type)."""
    if kind == "str" and all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=str)
    if kind == "int" and all(type(v) is int for v in values):
        if all(-(2**63) <= v < 2**63 for v in values):
            return np.asarray(values, dtype=np.int64)
        if all(0 <= v < 2**64 for v in values):
            return np.asarray(values, dtype=np.uint64)  # exact, as fitted
        return np.asarray(values, dtype=object)
    if kind == "float":
        floats = [_unfloat(v) for v in values]
        if all(type(v) in (int, float) for v in floats):
            return np.asarray(floats, dtype=np.float64)
    if kind == "bool" and all(type(v) is bool for v in values):
        return np.asarray(values, dtype=bool)
    raise ModelFileError(f"class labels of type {kind!r} hold values of another type")


def _decode_labels(record: dict[str, Any]) -> NDArray[Any]:
    """The class labels, refusing unknown types, mixed values and duplicates.

    Their order is the fit's: sorted, or a categorical response's category order.
    """
    if not isinstance(record, dict) or not isinstance(record.get("values"), list):
        raise ModelFileError("classes must be an object with a list of values")
    labels = _label_values(record.get("type"), record["values"])
    if labels.size < 2 or labels.size != np.unique(labels).size:
        raise ModelFileError(
            f"class labels must be at least two distinct values, got {labels.size}"
        )
    return labels


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
        if state.outcome.selected:  # a lasso-family fit
            values["l1_ratio_"] = state.outcome.l1_ratio
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
            "gradient_user": report.gradient_user,
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
        "format_version": format_version(state),
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
        "data_fingerprint": None if state.fingerprint is None else state.fingerprint.to_dict(),
        "arrays": {name: hashlib.sha256(b).hexdigest() for name, b in blobs.items()},
    }
    text = json.dumps(meta, indent=1, allow_nan=False)
    target = Path(path)

    def write_zip(fh: Any) -> None:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("model.json", text)
            for name, blob in blobs.items():
                zf.writestr(name, blob)

    atomic_write(target, write_zip)
    return target


def _file_mode(target: Path) -> int:
    """The permission bits ``open(target, "w")`` would leave: the file's own if it exists."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path: str | Path, writer: Callable[[Any], None]) -> None:
    """Write a file so that it is either entirely new or untouched.

    ``writer`` writes into a temporary file in the same folder (binary mode); the
    file is flushed and fsync-ed, then renamed over ``path`` with :func:`os.replace`
    (atomic on POSIX and Windows). If anything fails (disk full, a size limit, an
    exception in ``writer``) the temporary file is removed and an existing ``path``
    is left as it was.

    Parameters
    ----------
    path : str or Path
    writer : callable (binary file object) -> None
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would:
        # the existing file's, or 0666 less the umask
        os.chmod(tmp, _file_mode(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename durable (POSIX)
        dir_fd = os.open(target.parent or ".", os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


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


def _manifest_layout(meta: dict[str, Any], p: Path) -> dict[str, tuple[int, ...]]:
    """The shape each array member must have, from ``model.json`` alone.

    Refuses a malformed ``"arrays"`` record (not an object, unknown member names,
    checksums that are not strings) and class or feature counts that cannot be a model.
    """
    listed = meta.get("arrays")
    if not isinstance(listed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in listed.items()
    ):
        raise ModelFileError(f"{p}: model.json's 'arrays' must map member names to checksums")
    unknown = sorted(set(listed) - set(ARRAY_MEMBERS))
    if unknown:
        raise ModelFileError(f"{p}: unexpected array member(s) {unknown[:5]}")
    classes = meta.get("classes")
    values = classes.get("values") if isinstance(classes, dict) else None
    n_features = meta.get("n_features")
    if not isinstance(values, list) or len(values) < 2:
        raise ModelFileError(f"{p}: model.json must list at least two class labels")
    if type(n_features) is not int or n_features < 0:
        raise ModelFileError(f"{p}: n_features must be a non-negative integer")
    K, p1 = len(values), n_features + int(bool(meta.get("fit_intercept", True)))
    shapes = {"coef.npy": (K, n_features), "intercept.npy": (K,), "cov.npy": (K * p1, K * p1)}
    return {name: shapes[name] for name in listed}


def _read_array(
    zf: zipfile.ZipFile, name: str, digest: str, shape: tuple[int, ...], p: Path
) -> NDArray[np.float64]:
    """One ``.npy`` member, checked before it is decompressed and before it is parsed.

    The member's declared size must be that of a float64 array of ``shape`` (the
    manifest's) plus a header, so decompression reads no more than the model needs; the
    bytes must match the checksum; the header must declare ``<f8``, C order and
    ``shape``. The array is read into one buffer (no second copy).
    """
    if name not in zf.namelist():
        raise ModelFileError(f"{p} is truncated: {name} is missing")
    info = zf.getinfo(name)
    data_bytes = 8 * math.prod(shape)
    if data_bytes > MAX_ARRAY_BYTES:
        raise ModelFileError(
            f"{p}: {name} would hold {data_bytes} bytes, more than MAX_ARRAY_BYTES="
            f"{MAX_ARRAY_BYTES}"
        )
    if not data_bytes < info.file_size <= data_bytes + _MAX_NPY_HEADER:
        raise ModelFileError(
            f"{p}: {name} has {info.file_size} bytes, not those of a float64 array of shape "
            f"{shape} that model.json describes"
        )
    buf = bytearray(info.file_size)
    with zf.open(info) as fh:
        stream: Any = fh  # a ZipExtFile (io.BufferedIOBase): it has readinto
        if stream.readinto(buf) != info.file_size or stream.read(1):
            raise ModelFileError(f"{p}: {name} is truncated")
    if hashlib.sha256(buf).hexdigest() != digest:
        raise ModelFileError(f"{p} is corrupted: the checksum of {name} does not match")
    head = io.BytesIO(bytes(buf[: _MAX_NPY_HEADER + 16]))
    try:
        version = np.lib.format.read_magic(head)
        reader = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }[version]
        got_shape, fortran, dtype = reader(head, max_header_size=_MAX_NPY_HEADER)
    except (ValueError, KeyError, SyntaxError, TypeError) as exc:
        raise ModelFileError(f"{p}: {name} is not a .npy array: {exc!r}") from exc
    if dtype != np.dtype("<f8") or fortran or tuple(got_shape) != shape:
        raise ModelFileError(
            f"{p}: {name} holds a {'Fortran-order ' if fortran else ''}{dtype} array of "
            f"shape {got_shape}; expected C-order float64 of shape {shape}"
        )
    offset = head.tell()
    if offset + data_bytes != len(buf):
        raise ModelFileError(f"{p}: {name} has trailing or missing bytes")
    return np.frombuffer(buf, dtype="<f8", count=math.prod(shape), offset=offset).reshape(shape)


def _read_json(zf: zipfile.ZipFile, p: Path) -> dict[str, Any]:
    """``model.json``, size-checked before reading; format and version checked."""
    info = zf.getinfo("model.json")
    if info.file_size > MAX_JSON_BYTES:
        raise ModelFileError(
            f"{p}: model.json declares {info.file_size} bytes, more than MAX_JSON_BYTES"
        )
    try:
        with zf.open(info) as fh:
            raw = fh.read(MAX_JSON_BYTES + 1)
        meta = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError, *_ARCHIVE_ERRORS) as exc:
        raise ModelFileError(f"{p}: model.json is corrupted: {exc!r}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{p} is not an mnlogit model file (format mismatch)")
    version = meta.get("format_version")
    if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
        raise ModelFileError(
            f"{p} uses model-file format version {version!r}; this mnlogit reads "
            f"versions up to {FORMAT_VERSION}: upgrade mnlogit"
        )
    return meta


def _read(path: Path) -> tuple[dict[str, Any], dict[str, NDArray[np.float64]]]:
    try:
        zf = zipfile.ZipFile(path)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (zipfile.BadZipFile, OSError, *_ARCHIVE_ERRORS) as exc:
        raise ModelFileError(
            f"{path} is not an mnlogit model file (not a ZIP archive, or truncated): {exc}"
        ) from exc
    with zf:
        if "model.json" not in zf.namelist():
            raise ModelFileError(f"{path} is not an mnlogit model file (no model.json inside)")
        meta = _read_json(zf, path)
        layout = _manifest_layout(meta, path)
        arrays: dict[str, NDArray[np.float64]] = {}
        for name, shape in layout.items():
            try:
                array = _read_array(zf, name, meta["arrays"][name], shape, path)
            except _ARCHIVE_ERRORS as exc:
                raise ModelFileError(f"{path}: cannot read {name}: {exc!r}") from exc
            arrays[name.removesuffix(".npy")] = array
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
        l1_ratio=None if fit.get("l1_ratio_") is None else float(fit["l1_ratio_"]),
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
    fingerprint = meta.get("data_fingerprint")  # optional: older version-1 files lack it
    try:  # without "scheme" (version-1 files): scheme 1
        recorded = None if fingerprint is None else DataFingerprint.from_dict(fingerprint)
    except ValueError as exc:
        raise ModelFileError(f"{p}: {exc}") from exc
    version = meta["format_version"]
    if (
        fingerprint is not None
        and recorded is not None
        and (recorded.scheme == 1) != (version == 1)
    ):
        # a version-1 file holds scheme-1 digests only; a later one records its scheme
        raise ModelFileError(
            f"{p}: a format-version-{version} file with a data fingerprint of scheme "
            f"{fingerprint.get('scheme', 'none')!r}: the file was edited or damaged"
        )
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
        fingerprint=recorded,
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
    try:
        meta, arrays = _read(p)
        return _decode_params(meta, p), _decode_state(meta, arrays, p)
    except (ModelFileError, FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelFileError(f"{p}: model.json is incomplete or malformed: {exc!r}") from exc
    except Exception as exc:  # a hostile file must never escape as another error
        raise ModelFileError(f"{p}: unreadable model file: {exc!r}") from exc
