"""Every solver a user can pick converges on the bundled ANES data at the default
tolerance (issue 17, item 8), to statsmodels' maximum."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm

from mnlogit import MultinomialLogit
from mnlogit.datasets import load_anes96
from mnlogit.solvers import SOLVERS

FEATURES = ["logpopul", "selfLR", "age", "educ", "income"]


@pytest.fixture(scope="module")
def anes() -> tuple:
    data = load_anes96()
    exog = sm.add_constant(data[FEATURES], prepend=True)
    reference = sm.MNLogit(data["PID"], exog).fit(method="newton", tol=1e-12, disp=0)
    return data[FEATURES], data["PID"], reference


@pytest.mark.parametrize("solver", sorted(SOLVERS))
@pytest.mark.parametrize("tol", [None, 1e-10])
def test_every_solver_converges_on_anes(anes, solver, tol) -> None:
    X, y, reference = anes
    params = {"solver": solver} if tol is None else {"solver": solver, "tol": tol}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning (nor any other)
        model = MultinomialLogit(**params).fit(X, y)
    assert model.converged_, model.convergence_
    assert model.n_iter_ <= 200, model.convergence_
    assert model.loglik_ == pytest.approx(float(reference.llf), rel=1e-10)
    theirs = np.asarray(reference.params).T  # (K-1, p+1): const first
    np.testing.assert_allclose(model.intercept_[1:], theirs[:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.coef_[1:], theirs[:, 1:], rtol=1e-5, atol=1e-6)
