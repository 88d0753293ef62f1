"""Fits of device arrays equal the numpy fit (issue 19, items 1-4).

The numpy fit of the same numbers is the reference (its own tests compare it with
statsmodels, scikit-learn and R). Coefficients and standard errors must agree to 1e-10
relative to their largest entry; the array-API engine runs the same solvers on the same
objective, computed by other code (mnlogit.objective.xp_kernels).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from array_api_data import multinomial_data

from mnlogit import MultinomialLogit, load
from mnlogit.arrays import placement_of, to_host
from mnlogit.exceptions import (
    CollinearityWarning,
    InvalidInputError,
    PenalizedInferenceWarning,
    SeparationWarning,
)

RTOL = 1e-10


def rel(a: Any, b: Any) -> float:
    """Largest difference relative to the largest entry of ``b``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = float(np.max(np.abs(b)))
    return float(np.max(np.abs(a - b))) / (scale if scale > 0 else 1.0)


def assert_same_fit(device: MultinomialLogit, host: MultinomialLogit, tol: float = RTOL) -> None:
    assert np.array_equal(device.classes_, host.classes_)
    assert rel(device.fitted_.coef, host.coef_) < tol
    assert rel(device.fitted_.intercept, host.intercept_) < tol
    assert device.loglik_ == pytest.approx(host.loglik_, rel=1e-12)
    if host.fitted_.cov is not None:
        assert device.fitted_.cov is not None
        assert rel(device.fitted_.cov, host.fitted_.cov) < tol
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PenalizedInferenceWarning)
            se_d = device.coef_table()["std_err"].to_numpy()
            se_h = host.coef_table()["std_err"].to_numpy()
        assert np.allclose(se_d, se_h, rtol=tol, atol=0, equal_nan=True)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"reference": "last"},
        {"penalty": "l2", "alpha": 0.01},
        {"penalty": "l2", "reference": None},
        {"fit_intercept": False},
        {"cov_type": "robust"},
    ],
    ids=["mle", "last", "l2", "l2-symmetric", "no-intercept", "robust"],
)
def test_fit_equals_the_numpy_fit(to_device: Any, params: dict[str, Any]) -> None:
    X, y = multinomial_data(K=4)
    host = MultinomialLogit(**params).fit(X, y)
    device = MultinomialLogit(**params).fit(to_device(X), to_device(y))
    assert device.solver_ == "newton" == host.solver_
    assert device.converged_
    assert_same_fit(device, host)


def test_weights_and_class_weights_equal_the_numpy_fit(to_device: Any) -> None:
    X, y = multinomial_data(seed=1)
    w = np.random.default_rng(1).integers(0, 4, size=y.size).astype(np.float64)
    for params in ({}, {"class_weight": "balanced"}, {"class_weight": {0: 2.0, 2: 0.5}}):
        host = MultinomialLogit(**params).fit(X, y, sample_weight=w)
        device = MultinomialLogit(**params).fit(to_device(X), to_device(y), to_device(w))
        assert_same_fit(device, host)
    # frequency weights: weight 2 equals the row twice, on the device too
    twice = MultinomialLogit().fit(to_device(np.vstack([X, X[:50]])), to_device(np.r_[y, y[:50]]))
    w2 = np.ones(y.size)
    w2[:50] = 2.0
    weighted = MultinomialLogit().fit(to_device(X), to_device(y), sample_weight=w2)
    assert rel(weighted.fitted_.coef, twice.fitted_.coef) < 1e-9


@pytest.mark.parametrize(("solver", "tol"), [("newton-cg", 1e-8), ("lbfgs", 1e-6), ("gd", 1e-4)])
def test_other_solvers_reach_the_same_optimum(to_device: Any, solver: str, tol: float) -> None:
    X, y = multinomial_data(n=400, p=3)
    host = MultinomialLogit(solver="newton", tol=1e-12).fit(X, y)
    device = MultinomialLogit(solver=solver, tol=1e-10, max_iter=20000).fit(
        to_device(X), to_device(y)
    )
    assert device.solver_ == solver
    assert rel(device.fitted_.coef, host.coef_) < tol


def test_float32_input_equals_the_float64_fit_of_its_numbers(to_device: Any) -> None:
    X, y = multinomial_data(seed=2)
    X32 = X.astype(np.float32)
    host = MultinomialLogit(tol=1e-10).fit(X32, y)  # numpy: the same two phases
    Xd = to_device(X32)
    device = MultinomialLogit(tol=1e-10).fit(Xd, to_device(y))
    assert_same_fit(device, host)
    # the device attributes have X's dtype, so products with device data need no cast
    assert device.coef_.dtype == Xd.dtype == device.intercept_.dtype
    eta = Xd @ device.coef_.T + device.intercept_
    assert rel(to_host(eta), host.linear_predictor(X32)) < 1e-5
    # and equal to the float64 fit of the same (float32) numbers
    exact = MultinomialLogit(tol=1e-10).fit(X32.astype(np.float64), y)
    assert_same_fit(device, exact)


def test_fitted_attributes_and_predictions_follow_the_input(to_device: Any) -> None:
    X, y = multinomial_data(K=3)
    labels = np.array([10, 20, 30])[y]
    host = MultinomialLogit().fit(X, labels)
    Xd = to_device(X)
    model = MultinomialLogit().fit(Xd, to_device(labels))
    placement = placement_of(Xd)
    assert placement is not None
    # coef_ and intercept_ are device arrays; classes_, statistics and tables are host values
    for name in ("coef_", "intercept_"):
        attr = getattr(model, name)
        got = placement_of(attr)
        assert got is not None and got.device == placement.device, name
    assert isinstance(model.classes_, np.ndarray)
    assert rel(to_host(model.coef_), host.coef_) < RTOL
    for method in ("predict_proba", "predict_log_proba", "linear_predictor", "decision_function"):
        out = getattr(model, method)(Xd)
        got = placement_of(out)
        assert got is not None and got.device == placement.device, method
        assert rel(to_host(out), getattr(host, method)(X)) < 1e-9, method
    predicted = model.predict(Xd)
    assert placement_of(predicted) is not None
    assert np.array_equal(to_host(predicted), host.predict(X))
    # a numpy-fitted model predicts device arrays on their device, and the reverse
    assert rel(to_host(host.predict_proba(Xd)), host.predict_proba(X)) < 1e-12
    assert rel(model.predict_proba(X), host.predict_proba(X)) < 1e-9


def test_inference_works_on_a_device_fit(to_device: Any) -> None:
    X, y = multinomial_data(K=3)
    host = MultinomialLogit().fit(X, y)
    model = MultinomialLogit().fit(to_device(X), to_device(y))
    a, b = model.coef_table(), host.coef_table()
    assert list(a.index) == list(b.index)
    assert np.allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=0)
    assert model.wald_test("[1]x0 = 0").statistic == pytest.approx(
        host.wald_test("[1]x0 = 0").statistic, rel=1e-9
    )
    me_d = model.marginal_effects(X)
    me_h = host.marginal_effects(X)
    assert np.allclose(me_d.to_numpy(float), me_h.to_numpy(float), rtol=1e-9)
    assert "x0" in str(model.summary())


def test_save_and_load_a_device_fit(to_device: Any, tmp_path: Any) -> None:
    X, y = multinomial_data()
    model = MultinomialLogit().fit(to_device(X), to_device(y))
    path = model.save(tmp_path / "device.mnlogit")
    loaded = load(path)
    assert isinstance(loaded.coef_, np.ndarray)  # a model file holds host arrays
    assert np.array_equal(loaded.coef_, model.fitted_.coef)
    assert np.array_equal(loaded.fitted_.cov, model.fitted_.cov)
    Xd = to_device(X)
    assert rel(to_host(loaded.predict_proba(Xd)), to_host(model.predict_proba(Xd))) < 1e-15


def test_aliased_columns_are_found_on_the_device(to_device: Any) -> None:
    X, y = multinomial_data(p=4)
    Xc = np.column_stack([X, 2.0 * X[:, 0] - X[:, 2], np.full(y.size, 3.0)])
    with pytest.warns(CollinearityWarning) as caught_host:
        host = MultinomialLogit().fit(Xc, y)
    with pytest.warns(CollinearityWarning) as caught_device:
        device = MultinomialLogit().fit(to_device(Xc), to_device(y))
    assert device.aliased_ == host.aliased_ == ["x4", "x5"]
    assert str(caught_device[0].message) == str(caught_host[0].message)
    assert_same_fit(device, host)


def test_bad_input_gets_the_clear_errors(to_device: Any) -> None:
    X, y = multinomial_data(n=100, p=3)
    bad = X.copy()
    bad[17, 2] = np.nan
    with pytest.raises(InvalidInputError, match=r"row 17, column\(s\) \['x2'\]"):
        MultinomialLogit().fit(to_device(bad), to_device(y))
    with pytest.raises(InvalidInputError, match="must be numbers"):
        MultinomialLogit().fit(to_device(X), np.array(["a", "b"])[y % 2])
    with pytest.raises(InvalidInputError, match="single class"):
        MultinomialLogit().fit(to_device(X), to_device(np.zeros_like(y)))
    with pytest.raises(InvalidInputError, match="irls"):
        MultinomialLogit(solver="irls").fit(to_device(X), to_device(y))
    # (single observations and an aliased column are warned about first)
    with pytest.raises(InvalidInputError, match="no ma"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MultinomialLogit().fit(to_device(X[:3]), to_device(np.array([0, 1, 2])))
    model = MultinomialLogit().fit(to_device(X), to_device(y))
    with pytest.raises(InvalidInputError, match="NaN or infinity"):
        model.predict_proba(to_device(bad))


def test_x_never_comes_to_the_host(to_strict1: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only small results cross: every transfer is counted (and on array-api-strict's
    second device any other conversion to numpy raises)."""
    import mnlogit.device_fingerprint as dfp
    import mnlogit.device_preparation as prep
    import mnlogit.device_separation as ds
    import mnlogit.fingerprint as fp
    import mnlogit.objective.device as dev
    import mnlogit.prediction as pred

    sizes: list[int] = []

    def counted(a: Any) -> np.ndarray:
        out = to_host(a)
        sizes.append(int(out.size))
        return out

    for module in (prep, dev, pred, ds):  # (the separation certificate decides here)
        monkeypatch.setattr(module, "to_host", counted)
    # the data fingerprint hashes row blocks on the host (docs/gpu.md): counted apart
    hashed: list[tuple[int, ...]] = []
    hashed_1d: list[np.ndarray] = []

    def hashed_block(a: Any) -> np.ndarray:
        out = to_host(a)
        hashed.append(out.shape)
        if out.ndim == 1:
            hashed_1d.append(out)
        return out

    monkeypatch.setattr(dfp, "to_host", hashed_block)
    monkeypatch.setattr(dfp, "HASH_BLOCK_BYTES", 8 * 5 * 500)
    monkeypatch.setattr(fp, "SAMPLE_BYTES", 8 * 5 * 1000)  # X is "large": rows sampled
    X, y = multinomial_data(n=3000, p=5, K=4)
    model = MultinomialLogit(cov_type="robust").fit(to_strict1(X), to_strict1(y))
    model.predict_proba(to_strict1(X))
    m = 3 * 6
    assert sizes and max(sizes) <= m * m < X.shape[0]
    assert model.fitted_.cov is not None
    rows_of_x = sum(s[0] for s in hashed if len(s) == 2 and s[1] == 5)
    assert 900 <= rows_of_x <= 1000  # the sampled rows only, in blocks of at most 500
    assert max(s[0] for s in hashed if len(s) == 2) <= 500
    # the labels cross in full as one byte a row (K <= 256), in blocks of HASH_BLOCK_BYTES;
    # the unit weights do not cross (one boolean says they are all 1)
    assert all(a.dtype == np.uint8 and a.nbytes <= 8 * 5 * 500 for a in hashed_1d)
    assert sum(a.size for a in hashed_1d) == X.shape[0]
    assert sum(1 for s in hashed if s == ()) >= 1


def test_host_labels_and_weights_go_to_the_device(to_device: Any) -> None:
    X, y = multinomial_data(n=300, p=3, K=2)
    w = np.linspace(0.5, 2.0, y.size)
    host = MultinomialLogit().fit(X, y, sample_weight=w)
    Xd = to_device(X)
    device = MultinomialLogit().fit(Xd, y, sample_weight=w)  # numpy y and weights
    assert_same_fit(device, host)
    # two classes: decision_function is the (n,) log-odds, on the device
    d = device.decision_function(Xd)
    assert tuple(d.shape) == (y.size,)
    assert rel(to_host(d), host.decision_function(X)) < 1e-9


def test_warm_start_and_refit_tests_on_a_device_fit(to_device: Any) -> None:
    X, y = multinomial_data(n=400, p=3, K=3)
    model = MultinomialLogit(warm_start=True).fit(to_device(X), to_device(y))
    first = model.n_iter_
    model.fit(to_device(X), to_device(y))
    assert model.n_iter_ < first  # started at the solution
    host = MultinomialLogit().fit(X, y)
    # likelihood-ratio refits take numpy data
    a = model.term_tests(X, y)
    b = host.term_tests(X, y)
    assert np.allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-8, equal_nan=True)


def test_a_class_without_weight_is_reported(to_device: Any) -> None:
    X, y = multinomial_data(n=300, p=3, K=3)
    w = np.where(y == 2, 0.0, 1.0)
    with pytest.warns(SeparationWarning, match=r"no observations .* of class\(es\) \['2'\]"):
        MultinomialLogit().fit(to_device(X), to_device(y), sample_weight=w)


def test_auto_takes_a_subsample_hessian_on_many_rows(to_device: Any) -> None:
    """With rows for a subsample, ``auto`` is subsample-newton on a device as on numpy:
    a float32 copy of every s-th row on the device gives the initial curvature."""
    X, y = multinomial_data(n=33_000, p=3, K=3, seed=7)
    host = MultinomialLogit(solver="newton", tol=1e-10).fit(X, y)
    device = MultinomialLogit(tol=1e-10).fit(to_device(X), to_device(y))
    assert device.solver_ == "subsample-newton"
    assert_same_fit(device, host, tol=1e-8)


def test_a_tensor_that_requires_grad_is_fitted_without_a_graph() -> None:
    torch = pytest.importorskip("torch")
    X, y = multinomial_data(n=300, p=3, K=3)
    Xt = torch.asarray(X).requires_grad_(True)
    model = MultinomialLogit().fit(Xt, torch.asarray(y))
    P = model.predict_proba(Xt)
    assert not P.requires_grad
    assert rel(P.numpy(), MultinomialLogit().fit(X, y).predict_proba(X)) < 1e-9


def test_float32_subsample_newton_converges_as_on_numpy(to_device: Any) -> None:
    """The float32 phase stops at the float32 tolerance, then float64 finishes: on a
    device as quickly as on numpy (a fast-mode value that disagreed with its gradient at
    1e-8 once made this stall at a gradient of 2e-6)."""
    X, y = multinomial_data(n=33_000, p=20, K=5, seed=9, spread=1.0)
    X32 = X.astype(np.float32)
    params = {"solver": "subsample-newton", "penalty": "l2", "reference": None, "max_iter": 40}
    host = MultinomialLogit(**params).fit(X32, y)
    device = MultinomialLogit(**params).fit(to_device(X32), to_device(y))
    assert host.converged_ and device.converged_
    assert device.n_iter_ <= host.n_iter_ + 2
    assert rel(device.fitted_.coef, host.coef_) < 1e-7


def test_a_device_without_float64_fits_in_float32(
    to_device: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on Apple's MPS (simulated): everything in float32, tol raised, a warning; the
    coefficients and standard errors still agree with the float64 fit to float32's
    precision."""
    from mnlogit.arrays import Placement
    from mnlogit.exceptions import DataWarning

    monkeypatch.setattr(Placement, "float64", property(lambda self: False))
    X, y = multinomial_data(n=2000, p=4, K=3, spread=3.0)
    host = MultinomialLogit().fit(X, y)
    Xd = to_device(X.astype(np.float32))
    with pytest.warns(DataWarning, match="no float64"):
        device = MultinomialLogit().fit(Xd, to_device(y))
    assert device.converged_
    assert device.coef_.dtype == Xd.dtype
    assert rel(device.fitted_.coef, host.coef_) < 1e-4
    assert rel(device.fitted_.cov, host.fitted_.cov) < 1e-3
    P = device.predict_proba(Xd)
    assert P.dtype == Xd.dtype
    assert rel(to_host(P), host.predict_proba(X)) < 1e-4


def test_string_classes_predict_host_labels_for_device_rows(to_device: Any) -> None:
    X, y = multinomial_data(n=300, p=3, K=3)
    names = np.array(["low", "mid", "high"])[y]
    model = MultinomialLogit().fit(X, names)
    got = model.predict(to_device(X))
    assert isinstance(got, np.ndarray)  # strings cannot live on a device
    assert np.array_equal(got, model.predict(X))
