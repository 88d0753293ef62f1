"""``model.results_`` / ``model.results(X, y)``: statsmodels' names, statsmodels' numbers
(issue 17, item 5). The oracle is statsmodels' ``MNLogit`` on the ANES 1996 data, the
example of its own documentation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from mnlogit import MultinomialLogit
from mnlogit.datasets import load_anes96
from mnlogit.exceptions import InvalidInputError

FEATURES = ["logpopul", "selfLR", "age", "educ", "income"]


@pytest.fixture(scope="module")
def fits() -> tuple[pd.DataFrame, MultinomialLogit, object]:
    data = load_anes96()
    model = MultinomialLogit(tol=1e-10).fit(data[FEATURES], data["PID"])
    exog = sm.add_constant(data[FEATURES], prepend=True)
    reference = sm.MNLogit(data["PID"], exog).fit(method="newton", tol=1e-12, disp=0)
    return data, model, reference


def test_coefficient_names_equal_statsmodels(fits) -> None:
    _, model, sm_res = fits
    res = model.results_
    for name in ("params", "bse", "tvalues", "pvalues"):
        ours, theirs = getattr(res, name), np.asarray(getattr(sm_res, name))
        assert ours.shape == theirs.shape == (6, 6)
        assert list(ours.index) == ["Intercept", *FEATURES]
        assert list(ours.columns) == [1, 2, 3, 4, 5, 6]
        np.testing.assert_allclose(ours.to_numpy(), theirs, rtol=1e-5, atol=1e-12)
    # the native API holds the same numbers
    table = model.coef_table()
    assert res.params.loc["selfLR", 6] == table.loc[(6, "selfLR"), "coef"]
    np.testing.assert_array_equal(res.params.to_numpy().T, np.c_[model.intercept_, model.coef_][1:])
    ci = res.conf_int(alpha=0.1)
    theirs = np.asarray(sm_res.conf_int(alpha=0.1))
    np.testing.assert_allclose(ci.to_numpy(), theirs, rtol=1e-5)
    assert list(ci.columns) == ["lower", "upper"]
    np.testing.assert_allclose(
        res.cov_params().to_numpy(), np.asarray(sm_res.cov_params()), rtol=1e-5, atol=1e-12
    )


def test_fit_statistics_equal_statsmodels(fits) -> None:
    _, model, sm_res = fits
    res = model.results_
    for name in ("llf", "aic", "bic", "nobs", "df_model"):
        assert getattr(res, name) == pytest.approx(float(getattr(sm_res, name)), rel=1e-9)
    # statsmodels fits its null model iteratively (llnull to about 1e-6); the exact value
    # is sum_k n_k log(n_k / n)
    counts = np.bincount(fits[0]["PID"])
    exact_null = float(np.sum(counts * np.log(counts / counts.sum())))
    assert res.llnull == pytest.approx(exact_null, rel=1e-12)
    assert res.llnull == pytest.approx(float(sm_res.llnull), rel=1e-8)
    assert res.llr == pytest.approx(2 * (res.llf - exact_null), rel=1e-12)
    assert res.llr == pytest.approx(float(sm_res.llr), rel=1e-8)
    assert res.prsquared == pytest.approx(1 - res.llf / exact_null, rel=1e-12)
    assert res.prsquared == pytest.approx(float(sm_res.prsquared), rel=1e-8)
    assert res.llr_pvalue == pytest.approx(float(sm_res.llr_pvalue), rel=1e-5)
    assert res.llf == model.loglik_ and res.aic == model.aic_ and res.nobs == model.nobs_


def test_data_names_equal_statsmodels(fits) -> None:
    data, model, sm_res = fits
    res = model.results(data[FEATURES], data["PID"])
    np.testing.assert_allclose(res.resid_response, sm_res.resid_response, rtol=1e-6, atol=1e-9)
    margeff = res.get_margeff()
    theirs = sm_res.get_margeff(at="overall")
    # statsmodels: (p, K) arrays; ours: rows by (class, term)
    effect = margeff["effect"].unstack(level=0).reindex(index=FEATURES)
    np.testing.assert_allclose(effect.to_numpy(), theirs.margeff, rtol=1e-5, atol=1e-10)
    se = margeff["std_err"].unstack(level=0).reindex(index=FEATURES)
    np.testing.assert_allclose(se.to_numpy(), theirs.margeff_se, rtol=1e-4, atol=1e-10)
    with pytest.raises(InvalidInputError, match="needs the training data"):
        _ = model.results_.resid_response
    with pytest.raises(InvalidInputError, match="needs the training data"):
        model.results_.get_margeff()
