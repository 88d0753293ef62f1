"""refit_selected: the unpenalized fit on the columns a sparse fit selected."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import InvalidInputError
from mnlogit.refit_selected import selected_columns


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    X, y, _ = make_data(n=300, p=6, K=3, seed=8, scale=0.6)
    X[:, 3:] = np.random.default_rng(1).standard_normal((300, 3))  # noise columns
    return X, y


@pytest.fixture(scope="module")
def lasso(data) -> MultinomialLogit:
    X, y = data
    return MultinomialLogit(penalty="l1", alpha=0.02).fit(X, y)


def test_refit_is_maximum_likelihood_on_the_selected_columns(data, lasso):
    X, y = data
    keep = selected_columns(lasso)
    assert_allclose(keep, np.flatnonzero(np.any(lasso.coef_ != 0, axis=0)))
    assert 0 < keep.size < X.shape[1]
    refit = lasso.refit_selected(X, y)
    direct = MultinomialLogit().fit(X[:, keep], y)
    assert refit.get_params()["penalty"] is None
    assert_allclose(refit.coef_, direct.coef_, atol=1e-8)
    assert_allclose(refit.coef_table()["std_err"], direct.coef_table()["std_err"], rtol=1e-6)
    # named by the original columns, so its summary shows which ones were kept
    assert list(refit.feature_names_in_) == [f"x{j}" for j in keep]
    assert "std err" in str(refit.summary())


def test_weights_dataframes_and_sparse_input(data, lasso):
    X, y = data
    keep = selected_columns(lasso)
    w = np.random.default_rng(2).uniform(0.5, 2.0, y.size)
    weighted = MultinomialLogit(penalty="l1", alpha=0.02).fit(X, y, sample_weight=w)
    kw = selected_columns(weighted)
    direct = MultinomialLogit().fit(X[:, kw], y, sample_weight=w)
    assert_allclose(weighted.refit_selected(X, y, w).coef_, direct.coef_, atol=1e-8)
    frame = pd.DataFrame(X, columns=list("abcdef"))
    named = MultinomialLogit(penalty="l1", alpha=0.02).fit(frame, y)
    assert list(named.refit_selected(frame, y).feature_names_in_) == list(frame.columns[keep])
    sparse = lasso.refit_selected(sp.csr_array(X), y)
    # sparse X keeps its solver (Newton-CG): compare with the same fit of the same columns
    direct_sparse = MultinomialLogit().fit(sp.csr_array(X[:, keep]), y)
    assert_allclose(sparse.coef_, direct_sparse.coef_, atol=1e-10)


def test_formula_model_refits_design_columns():
    X, y, _ = make_data(n=200, p=3, K=3, seed=4)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(
        g=np.random.default_rng(0).choice(["u", "v", "w"], 200), y=np.array(list("LMN"))[y]
    )
    model = MultinomialLogit(formula="y ~ a + b + c + C(g)", penalty="l1", alpha=0.02).fit(frame)
    names = list(model.fitted_.feature_names)
    keep = selected_columns(model)
    refit = model.refit_selected(frame)
    assert list(refit.feature_names_in_) == [names[j] for j in keep]
    design = model.fitted_.design.transform(frame)
    direct = MultinomialLogit().fit(design[:, keep], frame["y"].to_numpy())
    assert_allclose(refit.coef_, direct.coef_, atol=1e-8)


def test_refused_for_dense_penalties_and_empty_selections(data):
    X, y = data
    with pytest.raises(InvalidInputError, match="sparse fit"):
        MultinomialLogit(penalty="l2").fit(X, y).refit_selected(X, y)
    empty = MultinomialLogit(penalty="l1", alpha=10.0).fit(X, y)
    assert not empty.coef_.any()
    with pytest.raises(InvalidInputError, match="nothing to refit"):
        empty.refit_selected(X, y)
