"""``MultinomialLogit`` with the lasso-family penalties: the same optimum as scikit-learn's
saga (run to a tight tolerance), ridge (``l1_ratio=0``) equal to ``penalty="l2"``, the fitted
attributes, refused inference and refused parameters."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from mnlogit import MultinomialLogit, regularization_path
from mnlogit.exceptions import InferenceUnavailableError, InvalidInputError


def _data(n=200, p=6, K=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    B = np.zeros((p, K))
    B[:3] = rng.standard_normal((3, K)) * 1.5
    y = np.array([rng.choice(K, p=q) for q in softmax(X @ B, axis=1)])
    return X, y


def _objective(X, y, coef, intercept, alpha, l1_ratio):
    P = softmax(X @ coef.T + intercept, axis=1)
    loss = -np.mean(np.log(P[np.arange(len(y)), y]))
    return loss + alpha * (l1_ratio * np.abs(coef).sum() + 0.5 * (1 - l1_ratio) * (coef**2).sum())


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_same_optimum_as_scikit_learn_saga(l1_ratio):
    X, y = _data()
    alpha = 0.02
    kind = "l1" if l1_ratio == 1 else "elasticnet"
    ours = MultinomialLogit(
        penalty=kind, alpha=alpha, l1_ratio=None if kind == "l1" else l1_ratio, tol=1e-10
    ).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = LogisticRegression(
            C=1 / (len(y) * alpha), l1_ratio=l1_ratio, solver="saga", tol=1e-12, max_iter=20000
        ).fit(X, y)
    f_ours = _objective(X, y, ours.coef_, ours.intercept_, alpha, l1_ratio)
    f_theirs = _objective(X, y, theirs.coef_, theirs.intercept_, alpha, l1_ratio)
    assert f_ours <= f_theirs + 1e-12
    assert f_theirs - f_ours < 1e-7
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-4)


def test_ridge_end_equals_penalty_l2():
    X, y = _data(seed=1)
    for alpha in (0.05, 0.002):
        enet = MultinomialLogit(penalty="elasticnet", l1_ratio=0.0, alpha=alpha, tol=1e-11)
        ridge = MultinomialLogit(penalty="l2", alpha=alpha, reference=None, tol=1e-11)
        enet.fit(X, y)
        ridge.fit(X, y)
        np.testing.assert_allclose(enet.coef_, ridge.coef_, atol=1e-8)
        np.testing.assert_allclose(enet.intercept_, ridge.intercept_, atol=1e-8)
        assert enet.loglik_ == pytest.approx(ridge.loglik_, abs=1e-8)


def test_estimator_equals_path_and_attributes():
    X, y = _data(seed=2, K=4)
    path = regularization_path(X, y, penalty="group", n_alphas=6, alpha_min_ratio=0.05, tol=1e-10)
    alpha = float(path.alphas[3])
    model = MultinomialLogit(penalty="group", alpha=alpha, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(model.coef_, path.coef[3], atol=1e-7)
    np.testing.assert_allclose(model.intercept_, path.intercept[3], atol=1e-7)
    assert model.n_nonzero_ == path.n_nonzero[3]
    assert model.alpha_ == alpha and model.l1_ratio_ == 1.0
    assert model.solver_ == "proximal-newton" and model.converged_
    assert model.convergence_.gradient <= 1e-10
    assert model.reference_ is None
    np.testing.assert_allclose(model.coef_.sum(axis=0), 0.0, atol=1e-10)  # group: centred
    # the default alpha is 1 / n (scikit-learn's C = 1)
    default = MultinomialLogit(penalty="l1").fit(X, y)
    assert default.alpha_ == pytest.approx(1 / len(y))
    # sparse X gives the same fit; a refit with another penalty drops the lasso attributes
    again = clone(model).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(again.coef_, model.coef_, atol=1e-7)
    model.set_params(penalty=None, alpha=None).fit(X, y)
    assert not hasattr(model, "n_nonzero_") and not hasattr(model, "l1_ratio_")


def test_inference_is_refused_after_selection():
    X, y = _data(seed=3)
    model = MultinomialLogit(penalty="l1", alpha=0.01).fit(X, y)
    assert "refit_selected" in model.cov_status_
    with pytest.raises(InferenceUnavailableError, match="refit_selected"):
        model.coef_table()
    with pytest.raises(InferenceUnavailableError, match="refit_selected"):
        model.compute_covariance(X, y)
    # prediction and the reference change (no refit) still work
    assert model.predict_proba(X).shape == (len(y), 3)
    moved = model.with_reference(model.classes_[0])
    np.testing.assert_allclose(moved.predict_proba(X), model.predict_proba(X), atol=1e-12)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"penalty": "l1", "reference": 0}, "reference"),
        ({"penalty": "l1", "solver": "newton"}, "solver"),
        ({"penalty": "elasticnet"}, "l1_ratio"),
        ({"penalty": "elasticnet", "l1_ratio": 1.5}, "l1_ratio"),
        ({"penalty": "l2", "l1_ratio": 0.5}, "l1_ratio"),
        ({"penalty": None, "penalty_factor": [1.0]}, "penalty_factor"),
        ({"penalty": "l1", "penalty_factor": [1.0, 2.0]}, "penalty_factor"),
        ({"penalty": "l1", "alpha": 0.0}, "alpha"),
    ],
)
def test_refused_parameters(params, match):
    X, y = _data(n=50)
    with pytest.raises(InvalidInputError, match=match):
        MultinomialLogit(**params).fit(X, y)


@parametrize_with_checks(
    [
        MultinomialLogit(penalty="l1", alpha=0.01),
        MultinomialLogit(penalty="group", alpha=0.01, l1_ratio=0.5),
    ]
)
def test_scikit_learn_checks(estimator, check):
    check(estimator)


def test_model_file_round_trip(tmp_path):
    import mnlogit

    X, y = _data(n=100, p=4, seed=4)
    model = MultinomialLogit(
        penalty="elasticnet", l1_ratio=0.5, alpha=0.05, penalty_factor=[0, 1, 1, 2]
    ).fit(X, y)
    model.save(tmp_path / "m.mnlogit")
    loaded = mnlogit.load(tmp_path / "m.mnlogit")
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    assert loaded.l1_ratio_ == 0.5 and loaded.n_nonzero_ == model.n_nonzero_
    assert loaded.get_params()["penalty_factor"] == [0, 1, 1, 2]
    with pytest.raises(InferenceUnavailableError, match="refit_selected"):
        loaded.coef_table()
