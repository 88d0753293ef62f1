"""subsample-newton with zero weights in a pattern of its subsample's stride.

The warm start keeps every ``s``-th row; weights of zero on exactly those rows left a
subsample of total weight zero, whose objective divided by it (NaN: the fit failed with
"the objective became nan"). Such a subsample, or one in which a class has no weight, is
now passed over for the full data. The fits are checked against exact Newton on the full
data (no subsample), and no warning may be raised on the way.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mnlogit import MultinomialLogit
from mnlogit.solvers.subsample_newton import subsample_rows


def _data(n: int = 40_000, p: int = 20, K: int = 5, seed: int = 40025):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    Z = X @ rng.normal(0, 0.4, (p, K))
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    y = (rng.random(n)[:, None] > P.cumsum(1)).sum(1)
    w = np.random.default_rng(1).uniform(0.2, 3.0, n)
    return X, y, w


@pytest.mark.parametrize("pattern", ["every_row_kept", "one_class_kept"])
def test_zero_weights_on_the_subsample_rows(pattern: str) -> None:
    X, y, w = _data()
    n, p = X.shape
    m = (len(np.unique(y)) - 1) * (p + 1)
    stride = n // subsample_rows(n, m)
    assert stride > 1  # the warm start takes a subsample here
    if pattern == "every_row_kept":
        w[::stride] = 0.0
    else:  # the subsample's rows of class 2 only
        kept = np.zeros(n, dtype=bool)
        kept[::stride] = True
        w[kept & (y == 2)] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = MultinomialLogit(solver="subsample-newton").fit(X, y, sample_weight=w)
    exact = MultinomialLogit(solver="newton").fit(X, y, sample_weight=w)
    assert fit.converged_
    np.testing.assert_allclose(fit.coef_, exact.coef_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.results().bse, exact.results().bse, rtol=1e-6)
