"""Model files: ``model.save(path)`` and ``mnlogit.load(path)``.

A model file is a ZIP of ``model.json`` and ``.npy`` arrays (docs/model-file.md). Round
trips are bitwise; damaged, foreign or future files raise ``ModelFileError``; loading
never runs code from the file.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone

import mnlogit
from helpers import make_data
from mnlogit import MultinomialLogit, load
from mnlogit.exceptions import InferenceUnavailableError, InvalidInputError
from mnlogit.io import FIT_ATTRIBUTES, FORMAT_NAME, FORMAT_VERSION, ModelFileError

REGIONS = ["east", "north", "south", "west"]


def customers(n: int = 240, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.uniform(20, 65, n),
            "income": rng.uniform(20, 100, n),
            "region": rng.choice(REGIONS, n),
        }
    )
    eta = np.column_stack(
        [
            np.zeros(n),
            -1.5 + 0.04 * frame["age"] + 0.7 * (frame["region"] == "north"),
            1.0 - 0.03 * frame["income"] - 0.8 * (frame["region"] == "west"),
        ]
    )
    prob = np.exp(eta)
    prob /= prob.sum(axis=1, keepdims=True)
    codes = (rng.uniform(size=(n, 1)) > np.cumsum(prob, axis=1)).sum(axis=1)
    frame["risk"] = np.asarray(["low", "medium", "high"])[np.minimum(codes, 2)]
    return frame


# --------------------------------------------------------------------------- models
# Each case builds (model, X for prediction); all are small and fit in milliseconds.
def _arrays(**kw: Any) -> tuple[MultinomialLogit, Any]:
    X, y, _ = make_data(n=200, p=3, K=3, seed=5)
    return MultinomialLogit(**kw).fit(X, y), X


def _labels(labels: list[Any], **kw: Any) -> tuple[MultinomialLogit, Any]:
    X, y, _ = make_data(n=200, p=2, K=len(labels), seed=6)
    return MultinomialLogit(**kw).fit(X, np.asarray(labels)[y]), X


def _frame(**kw: Any) -> tuple[MultinomialLogit, Any]:
    X, y, _ = make_data(n=200, p=3, K=4, seed=7)
    frame = pd.DataFrame(X, columns=["height", "weight", "log income"])
    return MultinomialLogit(**kw).fit(frame, np.asarray(["a", "b", "c", "d"])[y]), frame


def _formula(formula: str, **kw: Any) -> tuple[MultinomialLogit, Any]:
    frame = customers()
    return MultinomialLogit(formula=formula, **kw).fit(frame), frame


def _weighted() -> tuple[MultinomialLogit, Any]:
    X, y, _ = make_data(n=200, p=3, K=3, seed=8)
    w = np.random.default_rng(0).integers(1, 4, 200).astype(float)
    return MultinomialLogit(class_weight={0: 2.0, 1: 1.0, 2: 0.5}).fit(X, y, sample_weight=w), X


def _cluster() -> tuple[MultinomialLogit, Any]:
    X, y, _ = make_data(n=200, p=2, K=3, seed=9)
    groups = np.repeat(np.arange(20), 10)
    return MultinomialLogit(cov_type="cluster").fit(X, y, groups=groups), X


def _sparse() -> tuple[MultinomialLogit, Any]:
    X, y, _ = make_data(n=200, p=3, K=3, seed=10)
    X[np.abs(X) < 0.5] = 0.0
    Xs = sp.csr_matrix(X)
    return MultinomialLogit().fit(Xs, y), Xs


def _unconverged() -> tuple[MultinomialLogit, Any]:
    X, y, _ = make_data(n=200, p=3, K=3, seed=11)
    with pytest.warns(mnlogit.exceptions.ConvergenceWarning):
        model = MultinomialLogit(solver="gd", max_iter=3).fit(X, y)
    return model, X


def _from_coefficients(**kw: Any) -> tuple[MultinomialLogit, Any]:
    if kw.get("reference") is None:  # K rows, centred into the symmetric form
        intercept, coef = [0.0, 0.5, 1.2], [[0.0, 0.0], [0.1, -0.05], [0.15, -0.08]]
    else:  # K-1 rows against the reference (the docs' worked example)
        intercept, coef = [0.5, 1.2], [[0.1, -0.05], [0.15, -0.08]]
    model = MultinomialLogit.from_coefficients(["low", "medium", "high"], intercept, coef, **kw)
    X = np.array([[25.0, 30.0], [40.0, 60.0], [60.0, 20.0]])
    if kw.get("feature_names") is not None:
        X = pd.DataFrame(X, columns=kw["feature_names"])
    return model, X


CASES: dict[str, Callable[[], tuple[MultinomialLogit, Any]]] = {
    "arrays": lambda: _arrays(),
    "dataframe-names": lambda: _frame(),
    "formula-categorical": lambda: _formula("risk ~ age + income + C(region)"),
    "formula-strings": lambda: _formula("risk ~ age + region"),
    "formula-sum-contrasts": lambda: _formula("risk ~ age + C(region, contr.sum)"),
    "formula-treatment-base": lambda: _formula(
        "risk ~ income + C(region, contr.treatment(base='south'))"
    ),
    "formula-helmert": lambda: _formula("risk ~ age + C(region, contr.helmert)"),
    "formula-scale-center": lambda: _formula("risk ~ scale(age) + center(income) + region"),
    "formula-interaction": lambda: _formula("risk ~ age * income + I(age ** 2)"),
    "formula-log": lambda: _formula("risk ~ np.log(income) + age"),
    "formula-poly": lambda: _formula("risk ~ poly(age, 2) + income"),
    "formula-no-intercept": lambda: _formula("risk ~ 0 + age + C(region)"),
    "labels-str": lambda: _labels(["Strong Democrat", "Independent", "Weak Republican"]),
    "labels-int": lambda: _labels([10, -3, 7]),
    "labels-float": lambda: _labels([2.0, 10.0, -1.0]),
    "labels-bool": lambda: _labels([False, True]),
    "reference-label": lambda: _labels(["x", "y", "z"], reference="z"),
    "reference-int-label": lambda: _labels([10, -3, 7], reference=7),
    "reference-last": lambda: _arrays(reference="last"),
    "reference-none": lambda: _arrays(reference=None),
    "penalized-alpha": lambda: _arrays(penalty="l2", alpha=0.05),
    "penalized-default": lambda: _frame(penalty="l2"),
    "penalized-formula": lambda: _formula("risk ~ age + C(region)", penalty="l2", alpha=0.01),
    "no-intercept": lambda: _arrays(fit_intercept=False),
    "cov-none": lambda: _arrays(cov_type=None),
    "cov-robust": lambda: _arrays(cov_type="robust"),
    "cov-cluster": _cluster,
    "weights-class-weight": _weighted,
    "class-weight-balanced": lambda: _labels(["p", "q", "r"], class_weight="balanced"),
    "sparse": _sparse,
    "solver-lbfgs-loglik": lambda: _arrays(solver="lbfgs", criterion="loglik", tol=1e-10),
    "unconverged": _unconverged,
    "from-coefficients": lambda: _from_coefficients(reference="low"),
    "from-coefficients-names": lambda: _from_coefficients(
        reference="low", feature_names=["age", "income"]
    ),
    "from-coefficients-symmetric": lambda: _from_coefficients(reference=None),
}


def _same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return bool(a == b) and type(a) is type(b)


def _plain_value(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _summary_text(model: MultinomialLogit) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(model.summary())


def _cov(model: MultinomialLogit) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.cov_params()


def assert_same_model(original: MultinomialLogit, loaded: MultinomialLogit, X: Any) -> None:
    """Everything a user can see of the model is identical, bit for bit."""
    assert type(loaded) is MultinomialLogit
    assert loaded.get_params() == original.get_params()
    assert list(loaded.classes_) == list(original.classes_)
    if original.classes_.dtype.kind not in "OU":
        assert loaded.classes_.dtype.kind == original.classes_.dtype.kind
    if original.reference_ is None:
        assert loaded.reference_ is None
    else:
        assert loaded.reference_ == original.reference_
        assert type(_plain_value(loaded.reference_)) is type(_plain_value(original.reference_))
    assert np.array_equal(loaded.coef_, original.coef_)
    assert np.array_equal(loaded.intercept_, original.intercept_)
    assert loaded.coef_.dtype == np.float64
    assert loaded.n_features_in_ == original.n_features_in_
    assert loaded.fit_intercept_ == original.fit_intercept_
    names = getattr(original, "feature_names_in_", None)
    if names is None:
        assert getattr(loaded, "feature_names_in_", None) is None
    else:
        assert list(loaded.feature_names_in_) == list(names)
    assert loaded.fitted_.feature_names == original.fitted_.feature_names
    assert np.array_equal(loaded.predict_proba(X), original.predict_proba(X))
    assert np.array_equal(loaded.predict_log_proba(X), original.predict_log_proba(X))
    assert np.array_equal(loaded.predict(X), original.predict(X))
    for attr in FIT_ATTRIBUTES:
        if attr == "cov_status_" and not hasattr(original, attr):
            continue  # a model from coefficients: the loaded one says why it has no cov
        assert hasattr(loaded, attr) == hasattr(original, attr), attr
        if hasattr(original, attr):
            a, b = _plain_value(getattr(original, attr)), getattr(loaded, attr)
            assert _same_scalar(a, b), (attr, a, b)
    conv = getattr(original, "convergence_", None)
    if conv is None:
        assert getattr(loaded, "convergence_", None) is None
    else:
        for field in (
            "solver",
            "criterion",
            "tol",
            "max_iter",
            "converged",
            "n_iter",
            "gradient",
            "parameter",
            "loglik",
            "objective",
            "message",
        ):
            a, b = _plain_value(getattr(conv, field)), getattr(loaded.convergence_, field)
            assert _same_scalar(a, b), (field, a, b)
        assert len(loaded.convergence_.history) == len(conv.history) >= 1
        pd.testing.assert_frame_equal(
            loaded.convergence_.history_frame(), conv.history_frame(), check_exact=True
        )
    if original.fitted_.cov is None:
        assert loaded.fitted_.cov is None
        with pytest.raises(InferenceUnavailableError):
            loaded.cov_params()
        with pytest.raises(InferenceUnavailableError):
            loaded.coef_table()
    else:
        a, b = _cov(original), _cov(loaded)
        assert np.array_equal(a.to_numpy(), b.to_numpy())
        assert a.index.equals(b.index) and a.columns.equals(b.columns)
        assert _summary_text(loaded) == _summary_text(original)


@pytest.mark.parametrize("case", list(CASES))
def test_round_trip_is_exact(case: str, tmp_path: Path) -> None:
    model, X = CASES[case]()
    path = model.save(tmp_path / "model.mnlogit")
    assert path == tmp_path / "model.mnlogit"
    loaded = load(path)
    assert_same_model(model, loaded, X)
    # and again: a loaded model saves to an equivalent file
    again = load(loaded.save(tmp_path / "again.mnlogit"))
    assert_same_model(model, again, X)


def test_load_accepts_str_path_and_module_function(tmp_path: Path) -> None:
    model, X = _arrays()
    mnlogit.io.save(model, str(tmp_path / "m.zip"))
    loaded = mnlogit.load(str(tmp_path / "m.zip"))
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_loaded_formula_model_keeps_working(tmp_path: Path) -> None:
    """After loading: unseen levels and missing columns are refused as before, the
    response column scores, term_tests and refits work."""
    model, frame = _formula("risk ~ age + income + C(region)")
    loaded = load(model.save(tmp_path / "m.zip"))
    bad = frame.iloc[:3].assign(region="mars")
    with pytest.raises(InvalidInputError, match=r"'region'.*mars"):
        loaded.predict(bad)
    with pytest.raises(InvalidInputError, match="income"):
        loaded.predict(frame.drop(columns="income"))
    assert loaded.score(frame) == model.score(frame)
    pd.testing.assert_frame_equal(loaded.term_tests(frame), model.term_tests(frame))
    refit = clone(loaded).fit(frame)
    assert np.array_equal(refit.coef_, model.coef_)
    new = customers(n=30, seed=99)
    assert np.array_equal(loaded.predict_proba(new), model.predict_proba(new))


def test_loaded_penalized_model_keeps_alpha(tmp_path: Path) -> None:
    model, _ = _arrays(penalty="l2", alpha=0.05)
    loaded = load(model.save(tmp_path / "m.zip"))
    assert loaded.alpha_ == 0.05
    assert loaded.get_params()["alpha"] == 0.05
    default, _ = _frame(penalty="l2")
    loaded = load(default.save(tmp_path / "d.zip"))
    assert loaded.alpha_ == default.alpha_ == pytest.approx(1 / 200)
    assert loaded.get_params()["alpha"] is None


def test_cov_none_file_has_no_cov_array(tmp_path: Path) -> None:
    model, X = _arrays(cov_type=None)
    path = model.save(tmp_path / "m.zip")
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["coef.npy", "intercept.npy", "model.json"]
    loaded = load(path)
    with pytest.raises(InferenceUnavailableError, match="cov_type=None"):
        loaded.cov_params()
    with pytest.raises(InferenceUnavailableError):
        loaded.summary()
    with pytest.raises(InferenceUnavailableError):
        loaded.term_tests()
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_from_coefficients_docs_example(tmp_path: Path) -> None:
    model, _ = _from_coefficients(reference="low", feature_names=["age", "income"])
    loaded = load(model.save(tmp_path / "m.zip"))
    proba = loaded.predict_proba(pd.DataFrame({"age": [25.0], "income": [30.0]}))
    np.testing.assert_allclose(proba.round(3), [[0.700, 0.055, 0.245]])
    with pytest.raises(InferenceUnavailableError):
        loaded.cov_params()


# --------------------------------------------------------------------------- the format
def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _strict_json(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_file_is_a_zip_of_json_and_npy(tmp_path: Path) -> None:
    model, _ = _formula("risk ~ scale(age) + C(region, contr.sum)")
    path = model.save(tmp_path / "m.zip")
    assert zipfile.is_zipfile(path)
    members = _members(path)
    assert sorted(members) == ["coef.npy", "cov.npy", "intercept.npy", "model.json"]
    meta = _strict_json(members["model.json"].decode("utf-8"))
    assert meta["format"] == FORMAT_NAME == "mnlogit-model"
    # a fit's fingerprint is of scheme 2, which a version-1 reader would misread
    assert meta["format_version"] == FORMAT_VERSION == 2
    assert meta["data_fingerprint"]["scheme"] == 2
    assert meta["mnlogit_version"] == mnlogit.__version__
    assert isinstance(meta["created"], str)
    for key in (
        "classes",
        "reference_index",
        "fit_intercept",
        "n_features",
        "feature_names",
        "formula",
        "params",
        "fit",
        "convergence",
        "arrays",
    ):
        assert key in meta, key
    assert meta["classes"] == {"type": "str", "values": ["high", "low", "medium"]}
    assert meta["reference_index"] == 0
    assert meta["n_features"] == 4
    assert meta["params"]["formula"] == "risk ~ scale(age) + C(region, contr.sum)"
    assert meta["formula"]["response"] == "risk"
    assert meta["formula"]["columns"] == model.design_.columns
    assert meta["fit"]["loglik_"] == model.loglik_
    K, p1 = 3, 5
    shapes = {"coef.npy": (K, p1 - 1), "intercept.npy": (K,), "cov.npy": (K * p1, K * p1)}
    assert set(meta["arrays"]) == set(shapes)
    for name, shape in shapes.items():
        assert meta["arrays"][name] == hashlib.sha256(members[name]).hexdigest()
        array = np.load(io.BytesIO(members[name]), allow_pickle=False)
        assert array.shape == shape
        assert array.dtype == np.dtype("<f8")
    coef = np.load(io.BytesIO(members["coef.npy"]), allow_pickle=False)
    assert np.array_equal(coef, model.coef_)
    cov = np.load(io.BytesIO(members["cov.npy"]), allow_pickle=False)
    assert np.array_equal(cov, model.fitted_.cov)


def test_model_json_is_standard_json_even_with_nan(tmp_path: Path) -> None:
    """The convergence history holds NaN (no change at iteration 0): still strict JSON."""
    model, _ = _arrays()
    assert math.isnan(model.convergence_.history[0].parameter)
    meta = _strict_json(_members(model.save(tmp_path / "m.zip"))["model.json"].decode())
    assert meta["convergence"]["history"][0][3] == "NaN"
    assert len(meta["convergence"]["history"]) == model.n_iter_ + 1


def test_labels_are_typed_in_json(tmp_path: Path) -> None:
    for labels, kind in (([3, 1, 2], "int"), ([1.0, -2.0], "float"), ([True, False], "bool")):
        model, _ = _labels(labels)
        meta = json.loads(_members(model.save(tmp_path / "m.zip"))["model.json"])
        assert meta["classes"] == {"type": kind, "values": sorted(labels)}


def test_saving_an_unfitted_model_raises(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not fitted"):
        MultinomialLogit().save(tmp_path / "m.zip")
    assert not (tmp_path / "m.zip").exists()


def test_model_file_error_is_a_value_error() -> None:
    assert issubclass(ModelFileError, ValueError)


# --------------------------------------------------------------------------- damaged files
@pytest.fixture
def saved(tmp_path: Path) -> Path:
    model, _ = _frame()
    return model.save(tmp_path / "good.zip")


def rewrite(
    src: Path,
    dst: Path,
    edit_meta: Callable[[dict[str, Any]], None] | None = None,
    members: dict[str, bytes] | None = None,
    drop: tuple[str, ...] = (),
    recompute: bool = True,
) -> Path:
    """Copy a model file, editing model.json and replacing or dropping members.

    Replaced arrays get fresh checksums unless ``recompute`` is False.
    """
    blobs = _members(src)
    meta = json.loads(blobs.pop("model.json"))
    for name, blob in (members or {}).items():
        blobs[name] = blob
        if recompute:
            meta["arrays"][name] = hashlib.sha256(blob).hexdigest()
    for name in drop:
        blobs.pop(name, None)
    if edit_meta is not None:
        edit_meta(meta)
    with zipfile.ZipFile(dst, "w") as zf:
        zf.writestr("model.json", json.dumps(meta))
        for name, blob in blobs.items():
            zf.writestr(name, blob)
    return dst


def npy(array: Any) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def test_rewrite_without_changes_loads(saved: Path, tmp_path: Path) -> None:
    """The helper itself produces a readable file (so the failures below are real)."""
    load(rewrite(saved, tmp_path / "same.zip"))


def test_nonexistent_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.zip")


@pytest.mark.parametrize(
    ("content", "label"),
    [
        (b"classes,coef\nlow,1.0\n", "text"),
        (b"", "empty"),
        (b"\x00\x01\x02garbage" * 10, "binary"),
    ],
)
def test_not_a_zip(tmp_path: Path, content: bytes, label: str) -> None:
    path = tmp_path / f"{label}.zip"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="not an mnlogit model file"):
        load(path)


def test_truncated_file(saved: Path, tmp_path: Path) -> None:
    data = saved.read_bytes()
    path = tmp_path / "half.zip"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"truncated|not an mnlogit"):
        load(path)


def test_zip_without_model_json(tmp_path: Path) -> None:
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("coef.npy", npy(np.zeros((3, 2))))
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ModelFileError, match=r"no model\.json"):
        load(path)


def test_model_json_not_json(saved: Path, tmp_path: Path) -> None:
    blobs = _members(saved)
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model.json", "{not json")
        for name, blob in blobs.items():
            if name != "model.json":
                zf.writestr(name, blob)
    with pytest.raises(ModelFileError, match=r"model\.json"):
        load(path)


@pytest.mark.parametrize("value", ["other", None, 1])
def test_foreign_format(saved: Path, tmp_path: Path, value: Any) -> None:
    path = rewrite(saved, tmp_path / "f.zip", edit_meta=lambda m: m.update(format=value))
    with pytest.raises(ModelFileError, match="format"):
        load(path)


def test_json_that_is_not_an_object(saved: Path, tmp_path: Path) -> None:
    path = tmp_path / "list.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model.json", "[1, 2, 3]")
    with pytest.raises(ModelFileError):
        load(path)


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, 99, "1", None])
def test_future_or_invalid_format_version(saved: Path, tmp_path: Path, version: Any) -> None:
    path = rewrite(saved, tmp_path / "v.zip", edit_meta=lambda m: m.update(format_version=version))
    with pytest.raises(ModelFileError, match=r"version.*upgrade mnlogit"):
        load(path)


def test_corrupted_array_fails_its_checksum(saved: Path, tmp_path: Path) -> None:
    blob = bytearray(_members(saved)["coef.npy"])
    blob[-3] ^= 0xFF  # a byte of the float data, past the header
    path = rewrite(saved, tmp_path / "c.zip", members={"coef.npy": bytes(blob)}, recompute=False)
    with pytest.raises(ModelFileError, match=r"corrupted.*checksum.*coef\.npy"):
        load(path)


def test_corrupted_header_with_valid_checksum(saved: Path, tmp_path: Path) -> None:
    """An array that is not a plain float array (here: not .npy at all)."""
    path = rewrite(saved, tmp_path / "h.zip", members={"coef.npy": b"\x80\x04not an npy"})
    with pytest.raises(ModelFileError, match=r"coef\.npy"):
        load(path)


def test_missing_array_member(saved: Path, tmp_path: Path) -> None:
    path = rewrite(saved, tmp_path / "m.zip", drop=("intercept.npy",))
    with pytest.raises(ModelFileError, match=r"intercept\.npy is missing"):
        load(path)


def test_missing_array_entry(saved: Path, tmp_path: Path) -> None:
    def forget(meta: dict[str, Any]) -> None:
        del meta["arrays"]["coef.npy"]

    path = rewrite(saved, tmp_path / "m.zip", edit_meta=forget, drop=("coef.npy",))
    with pytest.raises(ModelFileError, match="coef"):
        load(path)


@pytest.mark.parametrize(
    ("member", "shape"),
    [("coef.npy", (4, 4)), ("coef.npy", (3, 3)), ("coef.npy", (12,)), ("intercept.npy", (3,))],
)
def test_wrong_coefficient_shapes(saved: Path, tmp_path: Path, member: str, shape: tuple) -> None:
    path = rewrite(saved, tmp_path / "s.zip", members={member: npy(np.zeros(shape))})
    with pytest.raises(ModelFileError, match="shape"):
        load(path)


def test_wrong_feature_count(saved: Path, tmp_path: Path) -> None:
    path = rewrite(saved, tmp_path / "n.zip", edit_meta=lambda m: m.update(n_features=5))
    with pytest.raises(ModelFileError, match="shape"):
        load(path)


@pytest.mark.parametrize("shape", [(5, 5), (16,), (4, 20)])
def test_wrong_covariance_shape(saved: Path, tmp_path: Path, shape: tuple) -> None:
    """cov.npy must be (K(p+1), K(p+1)) = (16, 16) for 4 classes and 3 features."""
    path = rewrite(saved, tmp_path / "s.zip", members={"cov.npy": npy(np.zeros(shape))})
    with pytest.raises(ModelFileError, match="cov"):
        load(path)


def test_wrong_number_of_feature_names(saved: Path, tmp_path: Path) -> None:
    path = rewrite(
        saved, tmp_path / "s.zip", edit_meta=lambda m: m.update(feature_names=["a", "b"])
    )
    with pytest.raises(ModelFileError, match="feature"):
        load(path)


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.pop("classes"),
        lambda m: m.update(classes={"type": "complex", "values": [1, 2, 3, 4]}),
        lambda m: m.update(reference_index=9),
        lambda m: m.update(n_features="three"),
        lambda m: m["convergence"].update(history=[[1, 2]]),
    ],
    ids=["no-classes", "label-type", "reference-index", "n-features", "history-row"],
)
def test_malformed_metadata(saved: Path, tmp_path: Path, edit: Callable) -> None:
    path = rewrite(saved, tmp_path / "x.zip", edit_meta=edit)
    with pytest.raises(ModelFileError):
        load(path)


def test_unknown_contrasts_in_formula_state(tmp_path: Path) -> None:
    model, _ = _formula("risk ~ age + C(region, contr.sum)")
    path = model.save(tmp_path / "m.zip")

    def edit(meta: dict[str, Any]) -> None:
        text = json.dumps(meta["formula"]["encoder_state"]).replace("SumContrasts", "Evil")
        meta["formula"]["encoder_state"] = json.loads(text)

    with pytest.raises(ModelFileError, match="Evil"):
        load(rewrite(path, tmp_path / "e.zip", edit_meta=edit))


# --------------------------------------------------------------------------- security
def _payloads(marker: Path) -> dict[str, str]:
    """Formula terms that would create ``marker`` if evaluated as Python."""
    target = repr(str(marker))
    builtins = "age.__class__.__init__.__globals__['__builtins__']"
    return {
        "attribute-chain": (
            "I((age.__class__.__init__.__globals__['__builtins__']['open']"
            f"({target}, 'w').close(), age)[1])"
        ),
        "builtin-open": f"I(age + 0 * len(open({target}, 'w').name))",
        "import": f"I(age + 0 * __import__('os').system('touch ' + {target}))",
        "braces": "{(" + builtins + f"['open']({target}, 'w').close(), age)[1]" + "}",
        "numpy-save": f"I((np.save({target}, age), age)[1])",
        "lambda": f"I((lambda: open({target}, 'w'))() and age)",
    }


@pytest.mark.parametrize(
    "kind", ["attribute-chain", "builtin-open", "import", "braces", "numpy-save", "lambda"]
)
def test_crafted_formula_does_not_run_code(tmp_path: Path, kind: str) -> None:
    """A model file's formula is evaluated by formulaic as Python: a crafted one must be
    refused at load time, never run at predict time."""
    model, frame = _formula("risk ~ age + income")
    path = model.save(tmp_path / "m.zip")
    marker = tmp_path / "pwned"
    payload = _payloads(marker)[kind]

    def edit(meta: dict[str, Any]) -> None:
        meta["formula"]["rhs"] = f"1 + {payload} + income"
        meta["formula"]["formula"] = f"risk ~ {payload} + income"
        meta["params"]["formula"] = f"risk ~ {payload} + income"

    crafted = rewrite(path, tmp_path / "crafted.zip", edit_meta=edit)
    try:
        loaded = load(crafted)
        loaded.predict(frame)
    except (ModelFileError, InvalidInputError):
        pass
    ran = sorted(p.name for p in tmp_path.glob("pwned*"))
    assert not ran, "loading a model file and predicting ran code from the file"
    with pytest.raises(ModelFileError):
        load(crafted)


def test_crafted_estimator_formula_is_not_run_on_refit(tmp_path: Path) -> None:
    """``params.formula`` is code too: load must refuse an unsafe one (or at least not
    carry it into the estimator, where the next ``fit`` would evaluate it)."""
    model, frame = _formula("risk ~ age + income")
    path = model.save(tmp_path / "m.zip")
    marker = tmp_path / "pwned"
    payload = _payloads(marker)["attribute-chain"]

    def edit(meta: dict[str, Any]) -> None:
        meta["params"]["formula"] = f"risk ~ {payload} + income"

    crafted = rewrite(path, tmp_path / "crafted.zip", edit_meta=edit)
    try:
        loaded = load(crafted)
        loaded.predict(frame)
        clone(loaded).fit(frame)
    except (ModelFileError, InvalidInputError):
        pass
    assert not marker.exists(), "refitting a loaded model ran code from the model file"


def test_code_like_strings_in_params_are_just_data(tmp_path: Path) -> None:
    model, X = _arrays()
    path = model.save(tmp_path / "m.zip")
    marker = tmp_path / "pwned"
    text = f"__import__('pathlib').Path({str(marker)!r}).touch()"

    def edit(meta: dict[str, Any]) -> None:
        meta["params"]["solver"] = text
        meta["params"]["not_a_parameter"] = text
        meta["fit"]["solver_"] = text
        meta["convergence"]["message"] = text
        meta["mnlogit_version"] = text

    loaded = load(rewrite(path, tmp_path / "c.zip", edit_meta=edit))
    assert loaded.get_params()["solver"] == text
    assert "not_a_parameter" not in loaded.get_params()
    assert loaded.solver_ == text
    assert loaded.convergence_.message == text
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert not marker.exists()


def test_pickled_array_is_refused(saved: Path, tmp_path: Path) -> None:
    """An object array (which .npy can only hold pickled) is never unpickled."""
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    path = rewrite(saved, tmp_path / "p.zip", members={"coef.npy": buf.getvalue()})
    with pytest.raises(ModelFileError, match=r"coef\.npy"):
        load(path)


# --------------------------------------------------------------------------- formulas
def test_formula_over_a_column_named_like_a_builtin(tmp_path: Path) -> None:
    """Columns named ``type``, ``max``, ``id``... are common; in formulaic's evaluation the
    data column shadows the builtin, and predict requires the column in the data, so a
    model over ``C(type)`` is as safe as one over ``C(region)`` and must save and load."""
    frame = customers().rename(columns={"region": "type", "age": "max"})
    model = MultinomialLogit(formula="risk ~ scale(max) + C(type)").fit(frame)
    loaded = load(model.save(tmp_path / "m.zip"))
    assert np.array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
