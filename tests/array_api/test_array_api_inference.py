"""Second pass of issue 19: what device fits do as on numpy (Firth, cluster covariances,
the data fingerprint and the refits it checks, inference methods that take data,
separation, overflowing predictions).

The numpy fit or computation on the same numbers is the reference, to 1e-10 relative as
in test_array_api_fit.py.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from array_api_data import multinomial_data
from test_array_api_fit import assert_same_fit, rel

from mnlogit import MultinomialLogit


@pytest.mark.parametrize(
    "params",
    [
        {"penalty": "firth"},
        {"penalty": "firth", "reference": "last", "cov_type": "robust"},
        {"penalty": "firth", "fit_intercept": False},
    ],
    ids=["firth", "firth-last-robust", "firth-no-intercept"],
)
def test_firth_equals_the_numpy_fit(to_device: Any, params: dict[str, Any]) -> None:
    X, y = multinomial_data(n=300, p=3, K=3)
    host = MultinomialLogit(**params).fit(X, y)
    device = MultinomialLogit(**params).fit(to_device(X), to_device(y))
    assert device.solver_ == host.solver_ == "newton"
    assert device.converged_
    assert_same_fit(device, host)


def test_firth_keeps_separated_classes_finite_as_on_numpy(to_device: Any) -> None:
    """Firth's reason to be: complete separation, finite estimates (equal to numpy's)."""
    X, y = multinomial_data(n=120, p=2, K=3, seed=3)
    y = np.where(X[:, 0] > 0.5, 2, y % 2)  # class 2 exactly where x0 > 0.5
    host = MultinomialLogit(penalty="firth").fit(X, y)
    device = MultinomialLogit(penalty="firth").fit(to_device(X), to_device(y))
    assert np.all(np.isfinite(device.fitted_.coef))
    assert_same_fit(device, host)


def test_firth_float32_and_lbfgs(to_device: Any) -> None:
    X, y = multinomial_data(n=400, p=3, K=3, seed=2, spread=3.0)
    X32 = X.astype(np.float32)
    host = MultinomialLogit(penalty="firth").fit(X32, y)
    device = MultinomialLogit(penalty="firth").fit(to_device(X32), to_device(y))
    assert_same_fit(device, host, tol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lb = MultinomialLogit(penalty="firth", solver="lbfgs", tol=1e-10).fit(
            to_device(X), to_device(y)
        )
    assert rel(lb.fitted_.coef, MultinomialLogit(penalty="firth").fit(X, y).coef_) < 1e-6


@pytest.mark.parametrize("params", [{}, {"penalty": "l2", "reference": None}])
def test_cluster_covariance_equals_the_numpy_fit(to_device: Any, params: dict[str, Any]) -> None:
    X, y = multinomial_data(n=400, p=3, K=3, seed=4)
    rng = np.random.default_rng(4)
    groups = rng.integers(0, 23, size=y.size)
    w = rng.integers(1, 4, size=y.size).astype(np.float64)
    kw = {"cov_type": "cluster", **params}
    host = MultinomialLogit(**kw).fit(X, y, sample_weight=w, groups=groups)
    # cluster labels on the device
    device = MultinomialLogit(**kw).fit(
        to_device(X), to_device(y), to_device(w), groups=to_device(groups)
    )
    assert_same_fit(device, host)
    # string labels on the host, in another order: the same partition
    names = np.array([f"g{(7 * g) % 23:02d}" for g in groups])
    again = MultinomialLogit(**kw).fit(to_device(X), to_device(y), to_device(w), groups=names)
    assert_same_fit(again, host)
    # the sandwich differs from the model-based covariance (the test can fail)
    assert rel(MultinomialLogit(**params).fit(X, y, w).fitted_.cov, host.fitted_.cov) > 1e-3


def test_cluster_needs_groups_on_a_device(to_device: Any) -> None:
    from mnlogit.exceptions import InvalidInputError

    X, y = multinomial_data(n=100, p=2, K=3)
    with pytest.raises(InvalidInputError, match="needs groups"):
        MultinomialLogit(cov_type="cluster").fit(to_device(X), to_device(y))
    with pytest.raises(InvalidInputError, match="one cluster label per row"):
        MultinomialLogit(cov_type="cluster").fit(to_device(X), to_device(y), groups=y[:50])
