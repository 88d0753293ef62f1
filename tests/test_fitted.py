"""The fitted state (:mod:`mnlogit.fitted`) and the pipeline that produces it.

- ``fit`` -> state -> model file -> state is bitwise the same record;
- ``from_coefficients`` and ``with_reference`` keep the probabilities, and
  ``with_reference`` moves the covariance as a refit at the other reference would give it
  (statsmodels' ``MNLogit`` as the oracle, and a Jacobian built here entry by entry);
- the reference is resolved by one method, for every accepted form;
- the model-file module does not import the estimator;
- a failing call leaves a fitted model as it was.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose, assert_array_equal

import mnlogit
from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import InvalidInputError
from mnlogit.fitted import FittedModel
from mnlogit.io import read, write
from mnlogit.parameterization import Parameterization


def _quiet_fit(model: MultinomialLogit, *args: Any, **kwargs: Any) -> MultinomialLogit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(*args, **kwargs)


def _collinear() -> MultinomialLogit:
    X, y, _ = make_data(n=300, p=3, K=3, seed=2)
    X = np.column_stack([X, X[:, 0] - 2 * X[:, 2]])
    frame = pd.DataFrame(X, columns=["a", "b", "c", "a_minus_2c"])
    return _quiet_fit(MultinomialLogit(), frame, y)


def _separated() -> MultinomialLogit:
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    return _quiet_fit(MultinomialLogit(), x[:, None], y)


def _formula_dropping_rows() -> MultinomialLogit:
    X, y, _ = make_data(n=200, p=2, K=3, seed=3)
    frame = pd.DataFrame({"u": X[:, 0], "v": X[:, 1], "y": np.asarray(["p", "q", "r"])[y]})
    frame.loc[[3, 17], "u"] = np.nan
    return _quiet_fit(MultinomialLogit(formula="y ~ u + v", missing="drop"), frame)


STATES = {
    "arrays": lambda: MultinomialLogit().fit(*make_data(n=200, p=3, K=3, seed=1)[:2]),
    "ridge-symmetric": lambda: MultinomialLogit(penalty="l2").fit(
        *make_data(n=200, p=3, K=4, seed=4)[:2]
    ),
    "collinear": _collinear,
    "separated": _separated,
    "formula-missing-dropped": _formula_dropping_rows,
    "from-coefficients": lambda: MultinomialLogit.from_coefficients(
        ["low", "medium", "high"], [0.5, 1.2], [[0.1, -0.05], [0.15, -0.08]], reference="low"
    ),
}


def _same(a: Any, b: Any) -> bool:
    """Bitwise equality of plain values, arrays and NaN."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and a.tobytes() == b.tobytes()
            and a.dtype.kind == b.dtype.kind
        )
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and bool(np.isnan(b))
    return bool(a == b)


def assert_same_state(a: FittedModel, b: FittedModel) -> None:
    """Every field a model file holds is identical, bit for bit (string labels come back
    as a unicode array whether they were held as objects or not)."""
    assert a.classes.tolist() == b.classes.tolist()
    if a.classes.dtype.kind not in "OU":
        assert a.classes.dtype == b.classes.dtype
    for name in (
        "reference",
        "reference_index",
        "coef",
        "intercept",
        "fit_intercept",
        "kept_columns",
        "aliased",
        "cov",
        "cov_type",
        "n_missing_dropped",
    ):
        x, y = getattr(a, name), getattr(b, name)
        if x is None or y is None:
            assert x is None and y is None, name
        else:
            assert _same(x, y), name
    if a.cov_status is None:  # never asked for one: the file says why it has none
        assert b.cov_status == "the model file holds no covariance"
    else:
        assert a.cov_status == b.cov_status
    if a.feature_names_in is None:
        assert b.feature_names_in is None
    else:
        assert b.feature_names_in is not None
        assert list(a.feature_names_in) == list(b.feature_names_in)
    assert (a.design is None) == (b.design is None)
    if a.design is not None and b.design is not None:
        assert a.design.to_dict() == b.design.to_dict()
    assert (a.outcome is None) == (b.outcome is None)
    if a.outcome is not None and b.outcome is not None:
        for name in ("solver", "alpha", "n_iter", "converged"):
            assert _same(getattr(a.outcome, name), getattr(b.outcome, name)), name
        sa, sb = a.outcome.statistics, b.outcome.statistics
        for name in ("loglik", "loglik_null", "n_params", "nobs", "aic", "bic", "pseudo_r2"):
            assert _same(getattr(sa, name), getattr(sb, name)), name
    assert (a.convergence is None) == (b.convergence is None)
    if a.convergence is not None and b.convergence is not None:
        pd.testing.assert_frame_equal(
            a.convergence.history_frame(), b.convergence.history_frame(), check_exact=True
        )
        assert a.convergence.message == b.convergence.message
    assert (a.separation is None) == (b.separation is None)
    if a.separation is not None and b.separation is not None:
        assert (a.separation.kind, a.separation.message) == (
            b.separation.kind,
            b.separation.message,
        )


# --------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("case", list(STATES))
def test_state_round_trips_through_the_model_file(case: str, tmp_path: Path) -> None:
    model = STATES[case]()
    state = model.fitted_
    write(tmp_path / "m.zip", model.get_params(), state)
    params, loaded = read(tmp_path / "m.zip")
    assert params == model.get_params()
    assert_same_state(state, loaded)
    # through the estimator's own save/load as well
    again = mnlogit.load(model.save(tmp_path / "again.zip"))
    assert_same_state(state, again.fitted_)


def test_the_cases_cover_the_optional_fields() -> None:
    """The round-trip cases exercise what they claim (kept columns, separation, ...)."""
    assert STATES["collinear"]().fitted_.kept_columns is not None
    assert STATES["collinear"]().fitted_.aliased == ("a_minus_2c",)
    assert STATES["separated"]().fitted_.separation is not None
    assert STATES["formula-missing-dropped"]().fitted_.n_missing_dropped == 2
    assert STATES["ridge-symmetric"]().fitted_.reference_index is None
    coef_only = STATES["from-coefficients"]().fitted_
    assert coef_only.outcome is None and coef_only.cov is None


def test_estimator_attributes_come_from_the_state() -> None:
    model = _collinear()
    state = model.fitted_
    assert model.coef_ is state.coef and model.classes_ is state.classes
    assert model.reference_ == state.reference == state.classes[state.reference_index]
    assert model.aliased_ == list(state.aliased)
    assert model.loglik_ == state.outcome.statistics.loglik
    assert model.cov_type_ == state.cov_type and model.cov_status_ == state.cov_status
    assert state.term_names == ("Intercept", "a", "b", "c", "a_minus_2c")
    assert list(state.feature_names_in) == ["a", "b", "c", "a_minus_2c"]
    assert state.aliased_mask.sum() == 3  # one column in each of the K = 3 classes


def test_state_is_immutable() -> None:
    state = STATES["arrays"]().fitted_
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.coef = np.zeros_like(state.coef)  # type: ignore[misc]


def test_model_from_coefficients_has_no_fit_attributes() -> None:
    model = STATES["from-coefficients"]()
    for attr in ("loglik_", "solver_", "n_iter_", "convergence_", "cov_type_", "cov_status_"):
        assert not hasattr(model, attr), attr
    assert model.fitted_.reference == "low"
    assert model.reference_ == "low"


# --------------------------------------------------------------------------- new states
@pytest.fixture(scope="module")
def fit3() -> tuple[np.ndarray, np.ndarray, MultinomialLogit]:
    X, y, _ = make_data(n=500, p=2, K=3, seed=12)
    return X, y, MultinomialLogit().fit(X, y)


def test_from_coefficients_state_predicts_like_the_fit(fit3) -> None:
    X, _, model = fit3
    state = FittedModel.from_coefficients(
        model.classes_[::-1], model.intercept_[::-1], model.coef_[::-1], reference=None
    )
    rebuilt = MultinomialLogit.from_fitted(state)
    assert_array_equal(rebuilt.classes_, model.classes_)
    assert_allclose(rebuilt.predict_proba(X), model.predict_proba(X), rtol=1e-13, atol=1e-15)
    assert_allclose(state.coefficient_matrix().sum(axis=1), 0.0, atol=1e-13)  # symmetric


@pytest.mark.parametrize("reference", [1, 2, None])
def test_with_reference_keeps_probabilities(fit3, reference: Any) -> None:
    X, _, model = fit3
    moved = model.fitted_.with_reference(reference)
    other = MultinomialLogit.from_fitted(moved)
    assert_allclose(other.predict_proba(X), model.predict_proba(X), rtol=1e-13, atol=1e-15)
    assert moved.reference == reference
    if reference is not None:
        assert moved.reference_index == reference  # labels 0, 1, 2 are their positions
        assert_array_equal(moved.coef[reference], 0.0)


def _jacobian(K: int, p1: int, reference: int | None) -> np.ndarray:
    """d vec(B_new) / d vec(B), class-major, written entry by entry."""
    J = np.zeros((K * p1, K * p1))
    for k in range(K):
        for j in range(p1):
            row = k * p1 + j
            J[row, row] += 1.0
            if reference is None:
                for m in range(K):
                    J[row, m * p1 + j] -= 1.0 / K
            else:
                J[row, reference * p1 + j] -= 1.0
    return J


@pytest.mark.parametrize("reference", [1, 2, None])
def test_with_reference_moves_covariance_by_the_jacobian(fit3, reference: Any) -> None:
    _, _, model = fit3
    state = model.fitted_
    moved = state.with_reference(reference)
    J = _jacobian(3, state.p1, reference)
    assert_allclose(moved.cov, J @ state.cov @ J.T, rtol=1e-12, atol=1e-15)
    back = moved.with_reference(0)
    assert_allclose(back.cov, state.cov, rtol=1e-10, atol=1e-14)
    assert_allclose(back.coef, state.coef, rtol=1e-12, atol=1e-14)


def test_with_reference_covariance_matches_a_statsmodels_refit(fit3) -> None:
    """statsmodels takes the first level as reference: relabel so that class 2 comes first."""
    X, y, model = fit3
    moved = model.with_reference(2)
    relabeled = (y + 1) % 3  # class 2 -> 0 (reference), 0 -> 1, 1 -> 2
    opts = {"method": "newton", "tol": 1e-12, "maxiter": 100, "disp": 0}
    res = sm.MNLogit(relabeled, sm.add_constant(X)).fit(**opts)
    assert_allclose(
        moved.coef_table()["coef"].to_numpy(), np.asarray(res.params).T.ravel(), atol=1e-6
    )
    assert_allclose(moved.cov_params().to_numpy(), res.cov_params(), rtol=1e-5, atol=1e-9)


# --------------------------------------------------------------------------- the reference
CLASSES = np.array(["a", "b", "c"])


@pytest.mark.parametrize(
    ("reference", "penalized", "expected"),
    [
        ("auto", False, 0),
        ("auto", True, None),
        ("first", False, 0),
        ("first", True, 0),
        ("last", False, 2),
        ("last", True, 2),
        ("b", False, 1),
        ("c", True, 2),
        (None, False, None),
        (None, True, None),
    ],
)
def test_resolve_reference_forms(reference: Any, penalized: bool, expected: Any) -> None:
    assert Parameterization.resolve_reference(reference, CLASSES, penalized) == expected


def test_auto_reference_with_two_classes_is_the_first_even_penalized() -> None:
    assert Parameterization.resolve_reference("auto", np.array([3, 7]), True) == 0


def test_keywords_come_before_labels_unless_labels_only() -> None:
    classes = np.array(["a", "first", "z"])
    assert Parameterization.resolve_reference("first", classes) == 0
    assert Parameterization.resolve_reference("first", classes, keywords=False) == 1
    with pytest.raises(InvalidInputError, match="not one of the classes"):
        Parameterization.resolve_reference("last", CLASSES, keywords=False)


def test_bad_reference_message_names_the_classes_and_the_choices() -> None:
    with pytest.raises(InvalidInputError) as info:
        Parameterization.resolve_reference("d", CLASSES)
    message = str(info.value)
    assert "reference='d' is not one of the classes ('a', 'b', 'c')" in message
    assert "'first', 'last', 'auto'" in message and "None" in message
    with pytest.raises(InvalidInputError) as info:
        Parameterization.resolve_reference(7, np.array([1, 2]), keywords=False)
    assert "'auto'" not in str(info.value)


def test_the_estimator_resolves_through_the_same_method() -> None:
    X, y, _ = make_data(n=200, p=2, K=3, seed=5)
    labels = np.asarray(["x", "y", "z"])[y]
    for reference, penalty, expected in [("auto", None, "x"), ("last", None, "z")]:
        model = MultinomialLogit(reference=reference, penalty=penalty).fit(X, labels)
        assert model.reference_ == expected
    assert MultinomialLogit(penalty="l2").fit(X, labels).reference_ is None
    with pytest.raises(InvalidInputError, match=r"reference='w' is not one of the classes"):
        MultinomialLogit(reference="w").fit(X, labels)


# --------------------------------------------------------------------------- structure
def test_importing_the_model_file_module_does_not_import_the_estimator() -> None:
    code = (
        "import sys, mnlogit.io, mnlogit.fitted; "
        "assert 'mnlogit.estimator' not in sys.modules, sorted(sys.modules)"
    )
    src = str(Path(mnlogit.__file__).parent.parent)
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": src})


def test_a_failing_fit_leaves_the_fitted_model_as_it_was() -> None:
    X, y, _ = make_data(n=200, p=3, K=3, seed=6)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = MultinomialLogit().fit(frame, y)
    before = (model.fitted_, model.coef_, model.n_features_in_, list(model.feature_names_in_))
    too_wide = np.random.default_rng(0).standard_normal((6, 8))
    with pytest.raises(InvalidInputError, match="no maximum-likelihood estimate"):
        model.fit(too_wide, np.arange(6) % 3)
    with pytest.raises(ValueError, match="feature names"):
        model.compute_covariance(frame.iloc[:, :2], y)
    after = (model.fitted_, model.coef_, model.n_features_in_, list(model.feature_names_in_))
    assert after[0] is before[0] and after[1] is before[1]
    assert after[2:] == before[2:]
