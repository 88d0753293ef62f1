"""Discrete-change effects, weighted marginal effects and log-odds standard errors.

Oracles: discrete changes are the differences of ``predict_proba`` at the two values,
computed here; their standard errors a numerical delta method (central differences of
that function of the coefficients, models rebuilt by ``from_coefficients``, times
``cov_params()``); weighted margins the unweighted margins on duplicated rows; the
log-odds standard errors the delta method on ``linear_predictor``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import InvalidInputError


def _perturbed(model, k, t, h):
    intercept, coef = model.intercept_.copy(), model.coef_.copy()
    if t == 0:
        intercept[k] += h
    else:
        coef[k, t - 1] += h
    return MultinomialLogit.from_coefficients(
        model.classes_, intercept, coef, reference=model.reference_
    )


def _delta_se(model, func, h=1e-5):
    """``sqrt(diag(J V J'))`` with ``J`` the central-difference Jacobian of ``func(model)``
    over the free coefficients (the rows of ``cov_params()``)."""
    classes = list(model.classes_)
    terms = list(model.fitted_.term_names)
    cols = []
    for cls, term in model.cov_params().index:
        k, t = classes.index(cls), terms.index(term)
        up = np.ravel(func(_perturbed(model, k, t, h)))
        down = np.ravel(func(_perturbed(model, k, t, -h)))
        cols.append((up - down) / (2 * h))
    J = np.column_stack(cols)
    return np.sqrt(np.diag(J @ model.cov_params().to_numpy() @ J.T))


@pytest.fixture(scope="module")
def dummy_data():
    X, y, _ = make_data(n=700, p=2, K=3, seed=6)
    d = (np.random.default_rng(1).uniform(size=700) < 0.4 + 0.2 * (y == 1)).astype(float)
    return np.column_stack([X, d]), y


@pytest.fixture(scope="module")
def dummy_model(dummy_data):
    return MultinomialLogit().fit(*dummy_data)


def _change(model, X, j, log=False):
    hi, lo = X.copy(), X.copy()
    hi[:, j], lo[:, j] = 1.0, 0.0
    f = model.predict_log_proba if log else model.predict_proba
    return (f(hi) - f(lo)).mean(axis=0)


class TestIndicatorColumns:
    def test_change_is_the_difference_of_predicted_probabilities(self, dummy_data, dummy_model):
        X, _ = dummy_data
        me = dummy_model.marginal_effects(X, dummy=True)
        assert me.attrs["discrete"] == ["x2"]
        got = me.xs("x2", level="term")
        assert_allclose(got["effect"], _change(dummy_model, X, 2), rtol=1e-10, atol=1e-13)
        assert_allclose(got["effect"].sum(), 0.0, atol=1e-12)
        se = _delta_se(dummy_model, lambda m: _change(m, X, 2))
        assert_allclose(got["std_err"], se, rtol=1e-5)
        # continuous columns keep their derivatives
        plain = dummy_model.marginal_effects(X)
        for term in ("x0", "x1"):
            pd.testing.assert_frame_equal(me.xs(term, level="term"), plain.xs(term, level="term"))
        assert not np.allclose(plain.xs("x2", level="term")["effect"], got["effect"])

    def test_at_mean_and_eydx(self, dummy_data, dummy_model):
        X, _ = dummy_data
        me = dummy_model.marginal_effects(X, at="mean", dummy=True).xs("x2", level="term")
        row = X.mean(axis=0, keepdims=True)
        assert_allclose(me["effect"], _change(dummy_model, row, 2), rtol=1e-10)
        assert_allclose(
            me["std_err"], _delta_se(dummy_model, lambda m: _change(m, row, 2)), rtol=1e-5
        )
        ey = dummy_model.marginal_effects(X, method="eydx", dummy=True).xs("x2", level="term")
        assert_allclose(ey["effect"], _change(dummy_model, X, 2, log=True), rtol=1e-10)
        se = _delta_se(dummy_model, lambda m: _change(m, X, 2, log=True))
        assert_allclose(ey["std_err"], se, rtol=1e-5)

    def test_at_dict_holds_other_features(self, dummy_data, dummy_model):
        X, _ = dummy_data
        me = dummy_model.marginal_effects(X, at={"x0": 0.5}, dummy=True).xs("x2", level="term")
        Xa = X.copy()
        Xa[:, 0] = 0.5
        assert_allclose(me["effect"], _change(dummy_model, Xa, 2), rtol=1e-10)

    def test_elasticity_of_an_indicator_refused(self, dummy_data, dummy_model):
        with pytest.raises(InvalidInputError, match="undefined"):
            dummy_model.marginal_effects(dummy_data[0], method="eyex", dummy=True)


@pytest.fixture(scope="module")
def frame_model():
    X, y, _ = make_data(n=900, p=1, K=3, seed=9)
    rng = np.random.default_rng(3)
    region = rng.choice(["north", "south", "west"], size=900)
    shift = {"north": 0.0, "south": 0.8, "west": -0.6}
    y = np.where((y == 2) & (rng.uniform(size=900) < 0.5), 1, y)
    x = X[:, 0] + np.vectorize(shift.get)(region)
    frame = pd.DataFrame({"y": y, "x": x, "region": region})
    model = MultinomialLogit(formula="y ~ x + C(region, contr.treatment('south'))")
    return frame, model.fit(frame)


class TestCategoricalTerms:
    def _level_change(self, model, frame, level, base, at_mean=False):
        hi, lo = frame.assign(region=level), frame.assign(region=base)
        if at_mean:
            return (
                model.predict_proba(hi.assign(x=frame["x"].mean()).iloc[:1])
                - model.predict_proba(lo.assign(x=frame["x"].mean()).iloc[:1])
            )[0]
        return (model.predict_proba(hi) - model.predict_proba(lo)).mean(axis=0)

    def test_levels_against_the_base_level(self, frame_model):
        frame, model = frame_model
        me = model.marginal_effects(frame)
        name = "C(region, contr.treatment('south'))"
        terms = me.index.get_level_values("term").unique().tolist()
        assert terms == ["x", f"{name}[T.north]", f"{name}[T.west]"]
        assert me.attrs["discrete"] == terms[1:]
        for level in ("north", "west"):
            got = me.xs(f"{name}[T.{level}]", level="term")
            expected = self._level_change(model, frame, level, "south")
            assert_allclose(got["effect"], expected, rtol=1e-9, atol=1e-12)

    def test_at_mean_holds_numeric_features_at_their_means(self, frame_model):
        frame, model = frame_model
        me = model.marginal_effects(frame, at="mean")
        name = "C(region, contr.treatment('south'))[T.west]"
        got = me.xs(name, level="term")["effect"]
        assert_allclose(got, self._level_change(model, frame, "west", "south", True), rtol=1e-9)

    def test_standard_errors_by_numerical_delta_method(self, frame_model):
        frame, model = frame_model
        me = model.marginal_effects(frame).xs(
            "C(region, contr.treatment('south'))[T.north]", level="term"
        )
        names = list(model.fitted_.feature_names)
        design = model.fitted_.design
        hi = design.transform(frame.assign(region="north"))
        lo = design.transform(frame.assign(region="south"))

        def change(m):
            return (m.predict_proba(hi) - m.predict_proba(lo)).mean(axis=0)

        assert len(names) == 3
        assert_allclose(me["std_err"], _delta_se(model, change), rtol=1e-5)


class TestWeights:
    @pytest.mark.parametrize("at", ["overall", "mean", "median"])
    def test_weighted_equals_duplicated_rows(self, dummy_data, dummy_model, at):
        X, y = dummy_data
        w = np.random.default_rng(5).integers(0, 4, size=y.size)
        dup = np.repeat(np.arange(y.size), w)
        got = dummy_model.marginal_effects(X, at=at, dummy=True, sample_weight=w)
        expected = dummy_model.marginal_effects(X[dup], at=at, dummy=True)
        assert_allclose(got["effect"], expected["effect"], rtol=1e-10, atol=1e-13)
        assert_allclose(got["std_err"], expected["std_err"], rtol=1e-10, atol=1e-13)
        unweighted = dummy_model.marginal_effects(X, at=at, dummy=True)
        assert not np.allclose(got["effect"], unweighted["effect"])

    def test_bad_weights(self, dummy_data, dummy_model):
        with pytest.raises(InvalidInputError, match="sample_weight"):
            dummy_model.marginal_effects(dummy_data[0], sample_weight=np.ones(3))


class TestLogOddsStandardErrors:
    @pytest.mark.parametrize("reference", [None, 2])
    def test_delta_method(self, dummy_data, dummy_model, reference):
        X, _ = dummy_data
        rows = X[:5]
        r = 0 if reference is None else reference
        se = dummy_model.log_odds_se(rows, reference=reference)
        assert_allclose(se[:, r], 0.0)
        for k in range(3):
            if k == r:
                continue
            for i in range(rows.shape[0]):

                def odds(m, k=k, i=i):
                    eta = m.linear_predictor(rows[i : i + 1])[0]
                    return eta[k] - eta[r]

                assert_allclose(se[i, k], _delta_se(dummy_model, odds)[0], rtol=1e-6)
