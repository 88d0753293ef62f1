"""IIA tests: Hausman-McFadden, suest (stacked scores) and Small-Hsiao.

Oracles, each computed here from the papers' formulas with statsmodels ``MNLogit`` as the
refitting engine (never mnlogit's own refits):

- Hausman & McFadden (1984): ``(b_r - b_f)' (V_r - V_f)^{-1} (b_r - b_f)`` from statsmodels
  fits of the full and the restricted data, both against the same base class;
- the generalized Hausman test of Stata's ``suest``: the stacked sandwich
  ``blockdiag(V_f, V_r) [sum_i u_i u_i'] blockdiag(V_f, V_r)`` with the per-row scores
  written out here;
- Small & Hsiao (1985): the same random halves, ``b_AB = b_A / sqrt 2 + (1 - 1 / sqrt 2) b_B``,
  ``-2 [L_r(b_AB) - L_r(b_r)]`` on half B without the omitted class.

Then behaviour: rejection under an IIA-violating process and not under a true MNL, and a
note (not a crash) for each way a row cannot be computed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.special
import scipy.stats
import statsmodels.api as sm
from numpy.testing import assert_allclose

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import DataWarning, InvalidInputError

# ----------------------------------------------------------------------------- oracles


def _sm_fit(X, y):
    """statsmodels fit: ``(classes, B (p1, K) with the base column zero, cov, llf)``.

    The base is the lowest label; ``cov`` is that of ``vec`` of the free columns
    (class-major, statsmodels' own order).
    """
    res = sm.MNLogit(y, sm.add_constant(X, has_constant="add")).fit(
        method="newton", tol=1e-12, maxiter=200, disp=0
    )
    classes = np.unique(y)
    params = np.asarray(res.params)
    B = np.column_stack([np.zeros(params.shape[0]), params])
    return classes, B, np.asarray(res.cov_params()), float(res.llf)


def _as_base(y, base):
    """Labels with ``base`` renamed to -1, so that statsmodels uses it as its base."""
    return np.where(y == base, -1, y)


def _common(classes_f, classes_r, p1):
    """Positions of the restricted fit's free coefficients in the full fit's free vector."""
    full = list(classes_f[1:])
    return [full.index(c) * p1 + t for c in classes_r[1:] for t in range(p1)]


def _hausman_reference(X, y, omitted, base):
    yb = _as_base(y, base)
    cf, Bf, Vf, _ = _sm_fit(X, yb)
    keep = y != omitted
    cr, Br, Vr, _ = _sm_fit(X[keep], yb[keep])
    idx = _common(cf, cr, Bf.shape[0])
    d = Br[:, 1:].T.ravel() - Bf[:, 1:].T.ravel()[idx]
    D = Vr - Vf[np.ix_(idx, idx)]
    return float(d @ np.linalg.solve(D, d)), d.size


def _scores(X, y, classes, B):
    """Per-row scores ``kron(onehot - P, [1, x])`` over the free classes, (n, (K-1) p1)."""
    Xt = np.column_stack([np.ones(len(X)), X])
    P = scipy.special.softmax(Xt @ B, axis=1)
    R = (y[:, None] == classes[None, :]).astype(float) - P
    return (R[:, 1:, None] * Xt[:, None, :]).reshape(len(X), -1)


def _suest_reference(X, y, omitted, base):
    yb = _as_base(y, base)
    keep = y != omitted
    cf, Bf, Vf, _ = _sm_fit(X, yb)
    cr, Br, Vr, _ = _sm_fit(X[keep], yb[keep])
    Uf = _scores(X, yb, cf, Bf)
    Ur = np.zeros((len(X), Vr.shape[0]))
    Ur[keep] = _scores(X[keep], yb[keep], cr, Br)
    U = np.hstack([Uf, Ur])
    A = scipy.linalg.block_diag(Vf, Vr)
    V = A @ (U.T @ U) @ A  # the stacked sandwich
    idx = _common(cf, cr, Bf.shape[0])
    mf = Vf.shape[0]
    C = np.zeros((len(idx), V.shape[0]))
    C[np.arange(len(idx)), idx] = -1.0
    C[np.arange(len(idx)), mf + np.arange(len(idx))] = 1.0
    d = Br[:, 1:].T.ravel() - Bf[:, 1:].T.ravel()[idx]
    return float(d @ np.linalg.solve(C @ V @ C.T, d)), d.size


def _small_hsiao_reference(X, y, omitted, seed):
    n = len(y)
    in_a = np.zeros(n, dtype=bool)
    in_a[np.random.default_rng(seed).permutation(n)[: n // 2]] = True
    classes, BA, _, _ = _sm_fit(X[in_a], y[in_a])
    _, BB, _, _ = _sm_fit(X[~in_a], y[~in_a])
    b_ab = BA / np.sqrt(2) + (1 - 1 / np.sqrt(2)) * BB
    part = ~in_a & (y != omitted)
    cr, _, _, llr = _sm_fit(X[part], y[part])
    Xt = np.column_stack([np.ones(part.sum()), X[part]])
    logp = scipy.special.log_softmax(Xt @ b_ab[:, classes != omitted], axis=1)
    codes = np.searchsorted(cr, y[part])
    l_ab = logp[np.arange(codes.size), codes].sum()
    return -2.0 * (l_ab - llr), (len(cr) - 1) * Xt.shape[1]


@pytest.fixture(scope="module")
def data4():
    X, y, _ = make_data(n=900, p=2, K=4, seed=3)
    return X, y


@pytest.fixture(scope="module")
def model4(data4):
    return MultinomialLogit().fit(*data4)


# ----------------------------------------------------------------------------- the statistics


class TestHausmanMcFadden:
    def test_equals_the_formula_on_statsmodels_refits(self, data4, model4):
        X, y = data4
        table = model4.iia_test(X, y)
        assert list(table.columns) == ["statistic", "df", "p_value", "note"]
        assert table.index.name == "omitted"
        assert table.index.tolist() == [0, 1, 2, 3]
        for omitted in table.index:
            base = 0 if omitted != 0 else 1
            expected, m = _hausman_reference(X, y, omitted, base)
            row = table.loc[omitted]
            assert_allclose(row["statistic"], expected, rtol=1e-5, atol=1e-6)
            assert row["df"] == m == 2 * 3
            if expected >= 0:
                assert_allclose(row["p_value"], scipy.stats.chi2.sf(expected, m), rtol=1e-4)
            else:
                assert np.isnan(row["p_value"])
                assert "negative statistic" in row["note"]
        assert "base class 1" in table.loc[0, "note"]  # the reference was omitted

    def test_non_positive_definite_difference_is_said(self, data4, model4):
        X, y = data4
        table = model4.iia_test(X, y)
        Vs = []
        for omitted in table.index:
            base = 0 if omitted != 0 else 1
            yb = _as_base(y, base)
            cf, _, Vf, _ = _sm_fit(X, yb)
            keep = y != omitted
            cr, _, Vr, _ = _sm_fit(X[keep], yb[keep])
            idx = _common(cf, cr, 3)
            Vs.append(np.linalg.eigvalsh(Vr - Vf[np.ix_(idx, idx)]).min() < 0)
        said = ["not positive semi-definite" in note for note in table["note"]]
        assert said == Vs
        assert any(Vs)  # this data set exercises the case

    def test_without_constants(self, data4, model4):
        X, y = data4
        table = model4.iia_test(X, y, omit=[2], constant=False)
        assert table["df"].tolist() == [2 * 2]

    def test_formula_model_and_weights(self):
        X, y, _ = make_data(n=500, p=2, K=3, seed=5)
        w = np.random.default_rng(0).integers(1, 4, size=y.size).astype(float)
        frame = pd.DataFrame({"y": y, "a": X[:, 0], "b": X[:, 1]})
        model = MultinomialLogit(formula="y ~ a + b").fit(frame, sample_weight=w)
        table = model.iia_test(frame, sample_weight=w, omit=2)
        Xd, yd = np.repeat(X, w.astype(int), axis=0), np.repeat(y, w.astype(int))
        expected, _ = _hausman_reference(Xd, yd, 2, 0)
        assert_allclose(table.loc[2, "statistic"], expected, rtol=1e-5)


class TestSuest:
    def test_equals_the_stacked_sandwich(self, data4, model4):
        X, y = data4
        table = model4.iia_test(X, y, method="suest")
        for omitted in table.index:
            base = 0 if omitted != 0 else 1
            expected, m = _suest_reference(X, y, omitted, base)
            assert_allclose(table.loc[omitted, "statistic"], expected, rtol=1e-5)
            assert table.loc[omitted, "df"] == m
            assert_allclose(table.loc[omitted, "p_value"], scipy.stats.chi2.sf(expected, m))
        assert table["statistic"].ge(0).all()
        assert table.attrs["method"] == "suest"

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_close_to_hausman_on_large_iia_data(self, seed):
        # Under IIA both estimate Var(b_r - b_f) consistently, so the statistics agree
        # as n grows, but only as fast as the variance's smallest eigenvalue is
        # estimated. With the intercepts the contrast has a direction ~300x smaller than
        # V_r and the two statistics were still 2-3% apart at n = 600000 (25% at 60000);
        # on the slopes alone (constant=False), with a dominant omitted class, the
        # measured gaps at n = 60000 were at most 3% (seeds 0-4): tolerance 5% + 0.01.
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((60000, 2))
        eta = X @ [[0, 0.5, -0.5], [0, 0.3, 0.6]] + [2.0, 0.0, 0.0]
        P = scipy.special.softmax(eta, axis=1)
        y = (rng.uniform(size=(60000, 1)) > np.cumsum(P, axis=1)).sum(axis=1)
        model = MultinomialLogit().fit(X, y)
        hm = model.iia_test(X, y, omit=0, constant=False)
        su = model.iia_test(X, y, method="suest", omit=0, constant=False)
        assert hm.loc[0, "note"] == "base class 1"  # positive definite difference
        assert_allclose(hm["statistic"], su["statistic"], rtol=0.05, atol=0.01)

    def test_weights_equal_duplicated_rows(self, data4):
        X, y = data4
        w = np.random.default_rng(6).integers(0, 3, size=y.size)
        dup = np.repeat(np.arange(y.size), w)
        weighted = MultinomialLogit().fit(X, y, sample_weight=w)
        got = weighted.iia_test(X, y, method="suest", sample_weight=w)
        plain = MultinomialLogit().fit(X[dup], y[dup])
        expected = plain.iia_test(X[dup], y[dup], method="suest")
        assert_allclose(got["statistic"], expected["statistic"], rtol=1e-6)

    def test_symmetric_form_uses_the_first_class_as_base(self, data4, model4):
        X, y = data4
        symmetric = MultinomialLogit(reference=None).fit(X, y)
        got = symmetric.iia_test(X, y, method="suest")
        assert_allclose(
            got["statistic"], model4.iia_test(X, y, method="suest")["statistic"], rtol=1e-6
        )
        assert got.loc[1, "note"] == "base class 0"


class TestSmallHsiao:
    def test_equals_the_papers_formula(self, data4, model4):
        X, y = data4
        table = model4.iia_test(X, y, method="small-hsiao", random_state=7)
        for omitted in table.index:
            expected, df = _small_hsiao_reference(X, y, omitted, 7)
            assert_allclose(table.loc[omitted, "statistic"], expected, rtol=1e-5, atol=1e-6)
            assert table.loc[omitted, "df"] == df
        assert table["statistic"].ge(0).all()

    def test_reproducible_for_a_seed(self, data4, model4):
        X, y = data4
        a = model4.iia_test(X, y, method="small-hsiao", random_state=1, omit=[1])
        b = model4.iia_test(X, y, method="small-hsiao", random_state=1, omit=[1])
        c = model4.iia_test(X, y, method="small-hsiao", random_state=2, omit=[1])
        pd.testing.assert_frame_equal(a, b)
        assert a.loc[1, "statistic"] != c.loc[1, "statistic"]


# ----------------------------------------------------------------------------- size and power


def _nested_data(n, rng, nest_scale):
    """Choices from a nested logit: classes 1 and 2 share a nest with scale ``nest_scale``
    (1 is the MNL; smaller makes them closer substitutes than IIA allows)."""
    x = rng.standard_normal((n, 2))
    V = np.column_stack([np.zeros(n), 0.5 + x @ [1.0, -0.5], 0.3 + x @ [0.8, 0.6]])
    lam = nest_scale
    inclusive = lam * np.logaddexp(V[:, 1] / lam, V[:, 2] / lam)
    p_nest = scipy.special.expit(inclusive - V[:, 0])
    p2_in = scipy.special.expit((V[:, 2] - V[:, 1]) / lam)
    u = rng.uniform(size=(n, 2))
    y = np.where(u[:, 0] < p_nest, np.where(u[:, 1] < p2_in, 2, 1), 0)
    return x, y


@pytest.mark.parametrize(("nest_scale", "expect_reject"), [(1.0, False), (0.3, True)])
def test_rejects_iia_violations_and_not_a_true_mnl(nest_scale, expect_reject):
    rng = np.random.default_rng(2024)
    rejections = 0
    reps = 8
    for _ in range(reps):
        X, y = _nested_data(1500, rng, nest_scale)
        model = MultinomialLogit().fit(X, y)
        p = model.iia_test(X, y, method="suest", omit=[0]).loc[0, "p_value"]
        rejections += p < 0.05
    if expect_reject:
        assert rejections >= 6
    else:
        assert rejections <= 2


# ----------------------------------------------------------------------------- notes, not crashes


class TestNotes:
    def test_two_classes(self):
        X, y, _ = make_data(n=200, p=2, K=2, seed=1)
        table = MultinomialLogit().fit(X, y).iia_test(X, y, method="suest")
        assert table["statistic"].isna().all()
        assert table["note"].str.contains("at least three classes").all()

    def test_half_without_a_class(self):
        X, y, _ = make_data(n=300, p=1, K=3, seed=2)
        rare = np.flatnonzero(y == 2)
        y = y.copy()
        y[rare[1:]] = 1  # class 2 has one row: one of the halves lacks it
        with pytest.warns(DataWarning, match="single observation"):
            model = MultinomialLogit().fit(X, y)
        table = model.iia_test(X, y, method="small-hsiao", random_state=0)
        assert table["statistic"].isna().all()
        assert table["note"].str.contains("no observations of class").all()

    def test_separation_in_the_restricted_model(self):
        rng = np.random.default_rng(3)
        x = rng.standard_normal(300)
        y = np.where(rng.uniform(size=300) < 0.4, 0, np.where(x > 0, 2, 1))
        X = x[:, None]
        model = MultinomialLogit().fit(X, y)  # classes 1, 2 separated only without 0
        assert model.separation_ is None
        table = model.iia_test(X, y)
        assert np.isnan(table.loc[0, "statistic"])
        assert "separated" in table.loc[0, "note"]
        assert np.isfinite(table.loc[[1, 2], "statistic"]).all()

    def test_collinearity_after_dropping_rows(self):
        X, y, _ = make_data(n=600, p=2, K=3, seed=4)
        z = X[:, 0] + np.where(y == 0, np.random.default_rng(0).standard_normal(600), 0.0)
        Xz = pd.DataFrame(np.column_stack([X, z]), columns=["a", "b", "z"])
        model = MultinomialLogit().fit(Xz, y)  # z == a on the rows of classes 1 and 2
        assert not model.aliased_
        table = model.iia_test(Xz, y, omit=[0, 1])
        assert "column(s) z collinear after dropping rows" in table.loc[0, "note"]
        assert table.loc[0, "df"] == 1 * 3  # intercept, x0, x1 of class 2 against 1
        assert np.isfinite(table.loc[0, "statistic"])
        assert "collinear" not in table.loc[1, "note"]

    def test_refusals(self, data4, model4):
        X, y = data4
        with pytest.raises(InvalidInputError, match="training data"):
            model4.iia_test(X[:-5], y[:-5])
        with pytest.raises(InvalidInputError, match="method"):
            model4.iia_test(X, y, method="bogus")
        with pytest.raises(InvalidInputError, match="not classes"):
            model4.iia_test(X, y, omit=[9])
        ridge = MultinomialLogit(penalty="l2").fit(X, y)
        with pytest.raises(InvalidInputError, match="penalized"):
            ridge.iia_test(X, y)
