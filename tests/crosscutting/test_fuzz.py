"""Fuzzing fit / predict / save / load with hypothesis.

Shapes (down to two rows), dtypes (float32, float64, int, bool), containers (ndarray,
DataFrame, CSR), label types (int, negative int, integral float, str, bool), weights (none,
positive, integer with zeros), penalties (none, ridge, Firth), duplicated / constant
columns and feature scales from 1e-150 to 1e150.

What must hold for every draw:

- ``fit`` either succeeds or raises a ``ValueError`` (``InvalidInputError`` and
  scikit-learn's validation errors are ValueErrors); every warning is one of mnlogit's
  (or scikit-learn's ``ConvergenceWarning``, which mnlogit's subclasses) — never a
  RuntimeWarning from overflow or division by zero;
- a fitted model gives finite probabilities in [0, 1] whose rows sum to one, predictions
  that are the most probable class, finite coefficients, a log-likelihood <= 0 (and, for
  converged unpenalized fits, at least the null model's);
- a model file round trip is exact: same classes, coefficients, probabilities and tables.

Bad inputs are fuzzed too: NaN/inf anywhere in X is refused with the column and the first
row named. Issue 16's adversarial draws: labels of mixed types (numbers, strings,
booleans, None/NaN/pd.NA), formulas with typos and number columns with stray strings,
weights at the float limits (5e-324 .. 1.7e308), hostile model files (any model.json
entry replaced by any JSON value, or a byte changed) and failing predictions (the fitted
state must be unchanged); nothing may escape but the documented exceptions.
"""

from __future__ import annotations

import json
import pickle
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import mnlogit
from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import ConvergenceWarning as MnlogitConvergenceWarning
from mnlogit.exceptions import (
    InferenceUnavailableError,
    InvalidInputError,
    MnlogitWarning,
    SeparationWarning,
)
from mnlogit.io import ModelFileError

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)

ALLOWED_WARNINGS = (MnlogitWarning, MnlogitConvergenceWarning)
SCALES = [1.0, 1.0, 1.0, 1e-150, 1e150, 1e-8, 1e8]


def relabel(codes: np.ndarray, kind: str) -> np.ndarray:
    if kind == "int":
        return codes
    if kind == "negative_int":
        return -10 - 3 * codes
    if kind == "float":
        return codes.astype(np.float64) * 2.0 + 0.0
    if kind == "str":
        return np.array(["alpha", "beta", "gamma", "delta"])[codes]
    return codes.astype(bool)  # "bool" (only drawn for two classes)


@st.composite
def problems(draw):
    """A fit problem: (X in some container, labels, sample_weight, estimator kwargs)."""
    n = draw(st.integers(2, 40))
    p = draw(st.integers(1, 4))
    K = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dtype = draw(st.sampled_from(["float64", "float32", "int", "bool"]))
    if dtype == "bool":
        X = rng.random((n, p)) < 0.5
    elif dtype == "int":
        X = rng.integers(-5, 6, size=(n, p))
    else:
        X = rng.standard_normal((n, p)).astype(dtype)
        if dtype == "float64":
            X = X * np.array([draw(st.sampled_from(SCALES)) for _ in range(p)])
    extra = draw(st.sampled_from(["none", "none", "duplicate", "constant"]))
    if extra == "duplicate":
        X = np.column_stack([X, X[:, 0]])
    elif extra == "constant":
        X = np.column_stack([X, np.ones(n, dtype=X.dtype)])
    # labels: loosely tied to the first column so that fits are not pure noise
    signal = np.asarray(X[:, 0], dtype=np.float64)
    signal = signal / (np.abs(signal).max() or 1.0)
    codes = np.clip((K * (0.5 + 0.5 * signal + 0.7 * rng.standard_normal(n))).astype(int), 0, K - 1)
    label_kind = draw(
        st.sampled_from(["int", "negative_int", "float", "str"] + (["bool"] if K == 2 else []))
    )
    y = relabel(codes, label_kind)
    weights = draw(st.sampled_from(["none", "none", "float", "int"]))
    sw = None
    if weights == "float":
        sw = rng.uniform(0.1, 3.0, size=n)
    elif weights == "int":
        sw = rng.integers(0, 4, size=n).astype(float)
    container = draw(st.sampled_from(["ndarray", "ndarray", "frame", "csr"]))
    if container == "frame":
        X = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    elif container == "csr" and dtype in ("float64", "float32"):
        X = sp.csr_matrix(X)
    penalty = draw(st.sampled_from([None, None, "l2", "firth"]))
    return X, y, sw, {"penalty": penalty}


def fit_checked(X, y, sw, kwargs):
    """Fit; only ValueErrors may escape and only mnlogit's warnings may be raised.
    Returns (model or None, warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = MultinomialLogit(**kwargs).fit(X, y, sample_weight=sw)
        except ValueError as exc:
            assert str(exc), "an exception without a message"
            model = None
    foreign = [w for w in caught if not issubclass(w.category, ALLOWED_WARNINGS)]
    assert not foreign, [f"{w.category.__name__}: {w.message}" for w in foreign]
    return model, caught


def tables_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@SETTINGS
@given(problem=problems())
def test_fit_predict_save_load(problem, tmp_path_factory) -> None:
    X, y, sw, kwargs = problem
    model, caught = fit_checked(X, y, sw, kwargs)
    if model is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        P = model.predict_proba(X)
        labels = model.predict(X)
        log_p = model.predict_log_proba(X)
    n = X.shape[0]
    K = model.classes_.size
    assert P.shape == (n, K)
    assert np.all(np.isfinite(P)) and np.all((P >= 0) & (P <= 1))
    assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert np.all(np.isfinite(log_p))
    # the predicted class is a most probable one (ties at rounding level aside)
    chosen = P[np.arange(n), np.searchsorted(model.classes_, labels)]
    assert np.all(chosen >= P.max(axis=1) - 1e-12)
    assert_array_equal(np.sort(model.classes_), model.classes_)
    assert set(model.classes_.tolist()) == set(np.asarray(y).tolist())
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
    assert model.loglik_ <= 1e-9
    separated = any(issubclass(w.category, SeparationWarning) for w in caught)
    if kwargs["penalty"] is None and model.converged_ and not separated:
        assert model.loglik_ >= model.loglik_null_ - 1e-8 * (1 + abs(model.loglik_null_))

    path = tmp_path_factory.mktemp("fuzz") / "model.mnlogit"
    model.save(path)
    loaded = mnlogit.load(path)
    assert_array_equal(loaded.classes_, model.classes_)
    assert loaded.classes_.dtype.kind == model.classes_.dtype.kind
    assert_array_equal(loaded.coef_, model.coef_)
    assert_array_equal(loaded.intercept_, model.intercept_)
    assert_array_equal(loaded.predict_proba(X), P)
    assert_array_equal(loaded.predict(X), labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MnlogitWarning)  # penalized-inference notes
        try:
            table = model.coef_table()
        except InferenceUnavailableError:
            with pytest.raises(InferenceUnavailableError):
                loaded.coef_table()
        else:
            tables_equal(loaded.coef_table(), table)


@st.composite
def clean_problems(draw):
    """Well-posed data (n >= 40, every class several times) for the equivalence checks."""
    n = draw(st.integers(40, 90))
    p = draw(st.integers(1, 3))
    K = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    X, y, _ = make_data(n=n, p=p, K=K, seed=seed, scale=0.5)
    assume(np.bincount(y, minlength=K).min() >= 4)
    scales = np.array([draw(st.sampled_from([1e-150, 1e150, 1e-40, 1e60])) for _ in range(p)])
    penalty = draw(st.sampled_from([None, "firth"]))
    return X, y, scales, penalty


def clean_fit(X, y, **kwargs):
    sample_weight = kwargs.pop("sample_weight", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = MultinomialLogit(tol=1e-10, **kwargs).fit(X, y, sample_weight=sample_weight)
    assume(not caught and model.converged_)
    return model


@SETTINGS
@given(problem=clean_problems())
def test_extreme_scales_and_frequency_weights_are_not_silently_wrong(problem) -> None:
    """Rescaling columns by 1e-150 .. 1e150 only rescales their coefficients, and integer
    weights equal repeated rows — for maximum likelihood and Firth alike."""
    X, y, scales, penalty = problem
    base = clean_fit(X, y, penalty=penalty)
    scaled = MultinomialLogit(tol=1e-10, penalty=penalty).fit(X * scales, y)
    assert scaled.converged_
    assert_allclose(scaled.predict_proba(X * scales), base.predict_proba(X), atol=1e-8)
    assert_allclose(scaled.coef_ * scales, base.coef_, rtol=1e-5, atol=1e-8)
    w = np.random.default_rng(int(y.sum())).integers(0, 3, size=y.size)
    assume(np.all(np.bincount(y[w > 0], minlength=y.max() + 1) >= 3))
    weighted = clean_fit(X, y, penalty=penalty, sample_weight=w)
    repeated = clean_fit(np.repeat(X, w, axis=0), np.repeat(y, w), penalty=penalty)
    assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6, atol=1e-8)
    assert_allclose(weighted.loglik_, repeated.loglik_, rtol=1e-9)


@SETTINGS
@given(
    n=st.integers(3, 30),
    p=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
    frame=st.booleans(),
)
def test_non_finite_values_are_named(n, p, seed, bad, frame) -> None:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = np.arange(n) % 2
    rows = rng.choice(n, size=rng.integers(1, n + 1), replace=False)
    col = int(rng.integers(p))
    X[rows, col] = bad
    names = [f"c{j}" for j in range(p)]
    data = pd.DataFrame(X, columns=names) if frame else X
    with pytest.raises(InvalidInputError) as info:
        MultinomialLogit().fit(data, y)
    msg = str(info.value)
    name = names[col] if frame else f"x{col}"
    kind = "NaN" if np.isnan(bad) else "inf"
    assert f"'{name}': {rows.size} {kind} (first at row {rows.min()})" in msg, msg


@SETTINGS
@given(
    seed=st.integers(0, 2**31 - 1),
    value=st.sampled_from([-1.0, -1e-300, np.nan, np.inf]),
)
def test_bad_weights_are_value_errors(seed, value) -> None:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((20, 2))
    y = np.arange(20) % 3
    w = np.ones(20)
    w[rng.integers(20)] = value
    with pytest.raises(ValueError, match="sample_weight"):
        MultinomialLogit().fit(X, y, sample_weight=w)


# ---------------------------------------------------------------- issue 16: adversarial draws
LABEL_ATOMS = [0, 1, 2, -3, 2.0, 0.5, "a", "b", "10", True, False, None, np.nan, pd.NA]


@SETTINGS
@given(
    seed=st.integers(0, 2**31 - 1),
    atoms=st.lists(st.sampled_from(LABEL_ATOMS), min_size=1, max_size=4),
    container=st.sampled_from(["object", "series", "string"]),
)
def test_mixed_type_labels_are_classes_or_clear_errors(seed, atoms, container) -> None:
    """Labels drawn from numbers, strings, booleans and missing values of every kind:
    a fit succeeds with the sorted distinct labels as classes, or raises an
    InvalidInputError that says what is wrong and where (never a TypeError)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((30, 2))
    y = np.empty(30, dtype=object)
    y[:] = [atoms[i % len(atoms)] for i in range(30)]
    labels: object = y
    if container == "series":
        labels = pd.Series(y)
    elif container == "string":
        try:
            labels = pd.Series(y).astype("string")
        except (TypeError, ValueError):
            return
    model, _ = fit_checked(X, labels, None, {"penalty": "l2"})
    if model is not None:
        assert model.classes_.size >= 2
        assert_array_equal(model.predict(X[:3]).shape, (3,))


TYPOS = ["?", "n/a", "1,5", "", " ", "abc", "1e", "--"]


@SETTINGS
@given(
    seed=st.integers(0, 2**31 - 1),
    n_typos=st.integers(0, 3),
    typo=st.sampled_from(TYPOS),
    formula=st.sampled_from(
        [
            "y ~ a + b",
            "y ~ a + C(g)",
            "y ~ a * b",
            "y ~ A + b",
            "y ~ a +",
            "y ~ log(a",
            "y ~ a + b + c",
            "y ~ C(a)",
            "Y ~ a",
            "y ~ scale(b) + g",
        ]
    ),
    penalty=st.sampled_from([None, "l2"]),
)
def test_formulas_with_typos(seed, n_typos, typo, formula, penalty) -> None:
    """Formulas with typos, and number columns holding a few strings: a fit either
    succeeds or raises InvalidInputError; a number column with stray text never turns
    into a factor silently; a failing prediction leaves the model unchanged."""
    rng = np.random.default_rng(seed)
    n = 60
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n).round(3),
            "b": rng.normal(size=n),
            "g": rng.choice(["u", "v", "w"], n),
            "y": rng.integers(0, 3, n),
        }
    )
    if n_typos:
        frame["a"] = frame["a"].astype(object)
        frame.loc[rng.choice(n, n_typos, replace=False), "a"] = typo
    model, _ = fit_checked(frame, None, None, {"formula": formula, "penalty": penalty})
    if model is None:
        return
    # a column of numbers with stray strings is never expanded into one dummy per number
    # (unless the formula asks for it: C(a))
    if "C(a)" not in formula:
        assert len(model.fitted_.feature_names) <= 8
    state = pickle.dumps(model.fitted_)
    bad = frame.assign(a=frame["a"].astype(str) + "x", b=frame["b"].astype(str) + "x")
    with pytest.raises(ValueError):
        model.predict(bad)
    assert pickle.dumps(model.fitted_) == state


WEIGHT_LIMITS = [0.0, 5e-324, 1e-300, 1e-200, 1e-150, 1.0, 1e150, 1e200, 1e300, 1.7e308]


@SETTINGS
@given(
    seed=st.integers(0, 2**31 - 1),
    values=st.lists(st.sampled_from(WEIGHT_LIMITS), min_size=1, max_size=3),
    penalty=st.sampled_from([None, "l2", "firth"]),
)
def test_weights_at_the_float_limits(seed, values, penalty) -> None:
    """Weights from 5e-324 to 1.7e308: a fit with finite coefficients and probabilities,
    or an InvalidInputError (sums outside [1e-250, 1e250] are refused)."""
    rng = np.random.default_rng(seed)
    X, y, _ = make_data(n=40, p=2, K=3, seed=seed % 1000)
    w = np.asarray([values[i % len(values)] for i in range(40)])
    rng.shuffle(w)
    model, _ = fit_checked(X, y, w, {"penalty": penalty})
    if model is None:
        return
    assert np.all(np.isfinite(model.coef_)) and np.isfinite(model.loglik_)
    P = model.predict_proba(X)
    assert np.all(np.isfinite(P))
    assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    X, y, _ = make_data(n=50, p=2, K=3, seed=4)
    path = tmp_path_factory.mktemp("hostile-fuzz") / "m.mnlogit"
    MultinomialLogit().fit(X, y).save(path)
    return path


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)


@SETTINGS
@given(data=st.data())
def test_hostile_model_files(saved_model, tmp_path_factory, data) -> None:
    """model.json with any entry replaced by any JSON value, or a member's bytes
    flipped: loading gives a model or a ModelFileError, never another exception."""
    with zipfile.ZipFile(saved_model) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    meta = json.loads(parts["model.json"])
    if data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(meta)))
        meta[key] = data.draw(JSON_VALUES)
        parts["model.json"] = json.dumps(meta, allow_nan=True).encode()
    else:
        name = data.draw(st.sampled_from(sorted(parts)))
        blob = bytearray(parts[name])
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
        parts[name] = bytes(blob)
    path = tmp_path_factory.mktemp("hostile") / "m.mnlogit"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, blob in parts.items():
            zf.writestr(name, blob)
    try:
        model = mnlogit.load(path)
    except ModelFileError as exc:
        assert str(exc)
        return
    assert model.coef_.dtype == np.float64


@SETTINGS
@given(
    seed=st.integers(0, 2**31 - 1),
    damage=st.sampled_from(
        ["text", "nan", "inf", "huge", "drop", "extra", "level", "shape", "empty", "object"]
    ),
    formula=st.booleans(),
)
def test_failing_predictions_change_nothing(seed, damage, formula) -> None:
    """Bad prediction inputs raise ValueError (or predict, for finite extreme values
    and extra columns), and never change the fitted state."""
    rng = np.random.default_rng(seed)
    n = 40
    frame = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "g": rng.choice(["u", "v"], n)}
    )
    y = rng.integers(0, 3, n)
    if formula:
        model = MultinomialLogit(formula="y ~ a + b + C(g)").fit(frame.assign(y=y))
        data = frame.copy()
    else:
        model = MultinomialLogit().fit(frame[["a", "b"]], y)
        data = frame[["a", "b"]].copy()
    state = pickle.dumps(model.fitted_)
    if damage == "text":
        data["a"] = data["a"].astype(str)
    elif damage == "nan":
        data.loc[3, "a"] = np.nan
    elif damage == "inf":
        data.loc[3, "b"] = np.inf
    elif damage == "huge":
        data.loc[3, "b"] = 1.7e308
    elif damage == "drop":
        data = data.drop(columns="b")
    elif damage == "extra":
        data["zz"] = 1.0
    elif damage == "level" and formula:
        data.loc[0, "g"] = "unseen"
    elif damage == "shape":
        data = data.to_numpy()[:, :1] if not formula else data.iloc[:, :1]
    elif damage == "empty":
        data = data.iloc[:0]
    elif damage == "object":
        data["b"] = data["b"].astype(object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scikit-learn's feature-name notes
        try:
            P = model.predict_proba(data)
        except ValueError as exc:
            assert str(exc)
        else:
            assert np.all(np.isfinite(P))
    assert pickle.dumps(model.fitted_) == state
