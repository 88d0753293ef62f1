"""Row-block predictions (mnlogit.prediction) against plain numpy softmax, over several blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from mnlogit import MultinomialLogit
from mnlogit.exceptions import InvalidInputError
from mnlogit.objective.blocks import block_rows

P, K = 40, 6
N = 3 * block_rows(P) + 17  # three full row blocks and a short one


@pytest.fixture(scope="module")
def model_and_x() -> tuple[MultinomialLogit, np.ndarray]:
    rng = np.random.default_rng(3)
    coef = rng.normal(0, 0.4, (K, P))
    coef[:, 5] = 0.0  # a feature every class ignores
    model = MultinomialLogit.from_coefficients(np.arange(K), rng.normal(0, 1, K), coef)
    return model, rng.standard_normal((N, P))


def _reference(model: MultinomialLogit, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    eta = X.astype(np.float64) @ model.coef_.T + model.intercept_
    eta -= eta.max(axis=1, keepdims=True)
    P_ = np.exp(eta)
    P_ /= P_.sum(axis=1, keepdims=True)
    return P_, eta - np.log(np.exp(eta).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("layout", ["dense", "float32", "csr", "csc", "frame", "fortran"])
def test_blocks_equal_plain_softmax(model_and_x, layout):
    model, X = model_and_x
    ref_x = X.astype(np.float32) if layout == "float32" else X
    given = {
        "dense": X,
        "float32": ref_x,
        "csr": sp.csr_matrix(np.where(np.abs(X) > 1, X, 0.0)),
        "csc": sp.csc_matrix(np.where(np.abs(X) > 1, X, 0.0)),
        "frame": pd.DataFrame(X),  # unnamed columns, as the model was made
        "fortran": np.asfortranarray(X),
    }[layout]
    if layout in ("csr", "csc"):
        ref_x = np.where(np.abs(X) > 1, X, 0.0)
    P_ref, logp_ref = _reference(model, ref_x)
    proba = model.predict_proba(given)
    assert proba.shape == (N, K) and proba.dtype == np.float64
    assert_allclose(proba, P_ref, rtol=1e-13, atol=1e-300)
    assert_allclose(model.predict_log_proba(given), logp_ref, rtol=1e-13)
    assert_array_equal(model.predict(given), np.arange(K)[P_ref.argmax(axis=1)])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("column", [5, 7])  # 5: all coefficients zero (0 * inf is NaN)
@pytest.mark.parametrize("method", ["predict_proba", "predict_log_proba", "predict"])
def test_nonfinite_feature_in_a_late_block_is_refused(model_and_x, bad, column, method):
    model, X = model_and_x
    X = X.copy()
    X[N - 5, column] = bad
    with pytest.raises(InvalidInputError, match=f"x{column}"):
        getattr(model, method)(X)
    with pytest.raises(ValueError):
        getattr(model, method)(sp.csr_matrix(X))


def test_overflowing_rows_in_a_late_block_stay_finite(model_and_x):
    model, X = model_and_x
    X = X.copy()
    rows = [N - 3, 2 * block_rows(P) + 1]
    X[rows] *= 1e307  # finite features whose products overflow float64
    P_ = model.predict_proba(X)
    assert np.isfinite(P_).all()
    assert_allclose(P_.sum(axis=1), 1.0, atol=1e-12)
    logp = model.predict_log_proba(X)
    assert np.isfinite(logp).all() and (logp <= 0).all()
    # the overflowing rows predict the class with the largest x . w (scale-free)
    assert_array_equal(model.predict(X)[rows], (X[rows] / 1e307 @ model.coef_.T).argmax(axis=1))
    others = np.setdiff1d(np.arange(N), rows)
    assert_allclose(P_[others], _reference(model, X[others])[0], rtol=1e-13, atol=1e-300)


def test_empty_input_gives_empty_output(model_and_x):
    model, X = model_and_x
    with pytest.raises(ValueError):  # scikit-learn's rule: at least one sample
        model.predict_proba(X[:0])
