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
from test_array_api_fit import RTOL, assert_same_fit, rel

from mnlogit import MultinomialLogit
from mnlogit.arrays import to_host


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


def test_the_fingerprint_equals_the_numpy_fits(
    to_device: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digests are the numpy path's for the same numbers, so each accepts the other's
    data; a large X is hashed on the same sampled rows (monkeypatched budgets), in both
    schemes, with unit and other weights, and with codes of one byte (K <= 256) or more."""
    import mnlogit.device_fingerprint as dfp
    import mnlogit.fingerprint as fp
    from mnlogit.arrays import placement_of

    X, y = multinomial_data(n=300, p=3, K=3)
    w = np.linspace(0.5, 2.0, y.size)
    host = MultinomialLogit(class_weight={1: 2.0}).fit(X, y, w)
    device = MultinomialLogit(class_weight={1: 2.0}).fit(to_device(X), to_device(y), to_device(w))
    assert device.fitted_.fingerprint == host.fitted_.fingerprint
    assert host.fitted_.fingerprint.scheme == fp.SCHEME == 2
    other = X.copy()
    other[150, 1] += 1e-9
    differs = MultinomialLogit().fit(to_device(other), to_device(y)).fitted_.fingerprint
    assert differs.features != MultinomialLogit().fit(X, y).fitted_.fingerprint.features
    # sampled rows (X above the budgets): the same rows on both paths
    monkeypatch.setattr(fp, "FULL_HASH_BYTES", 1000)
    monkeypatch.setattr(fp, "SAMPLE_BYTES", 600)
    monkeypatch.setattr(dfp, "HASH_BLOCK_BYTES", 200)  # several blocks
    Xd = to_device(X)
    pl = placement_of(Xd)
    assert pl is not None
    ones, many = np.ones(300), np.arange(300) % 300  # K = 300: two-byte codes
    for scheme in (1, 2):
        budget = fp.hashed_bytes(scheme)
        rows = fp.sampled_rows(300, 3 * 8, budget)
        assert rows is not None and rows.size == budget // 24
        for classes, codes, weights in ((np.arange(3), y, ones), (np.arange(300), many, w)):
            a = fp.DataFingerprint.of(X, classes, codes, weights, scheme=scheme)
            b = dfp.device_fingerprint(
                pl, Xd, classes, to_device(codes), to_device(weights), scheme
            )
            assert a == b and b.scheme == scheme
        a = fp.DataFingerprint.of(X, np.arange(3), y, ones, scheme=scheme)
        X2 = X.copy()
        X2[rows[3], 0] += 1.0  # a sampled row
        X3 = X.copy()
        X3[np.setdiff1d(np.arange(300), rows)[0], 0] += 1.0  # a skipped row: unseen
        c = dfp.device_fingerprint(
            pl, to_device(X2), np.arange(3), to_device(y), to_device(ones), scheme
        )
        d = dfp.device_fingerprint(
            pl, to_device(X3), np.arange(3), to_device(y), to_device(ones), scheme
        )
        assert c.features != a.features and d.features == a.features


def test_refits_of_a_device_fit_take_device_data(to_device: Any) -> None:
    from mnlogit.exceptions import InvalidInputError

    X, y = multinomial_data(n=400, p=3, K=3, seed=5)
    groups = np.arange(y.size) % 17
    host = MultinomialLogit(cov_type=None).fit(X, y)
    model = MultinomialLogit(cov_type=None).fit(to_device(X), to_device(y))
    assert model.fitted_.cov is None
    for kind in ("nonrobust", "robust", "cluster"):
        host.compute_covariance(X, y, groups=groups, cov_type=kind)
        model.compute_covariance(
            to_device(X), to_device(y), groups=to_device(groups), cov_type=kind
        )
        assert rel(model.fitted_.cov, host.fitted_.cov) < RTOL
    with pytest.raises(InvalidInputError, match="features differ"):
        model.compute_covariance(to_device(X + 1.0), to_device(y))
    with pytest.raises(InvalidInputError, match="labels"):
        model.compute_covariance(to_device(X), to_device(y[::-1].copy()))
    # numpy data are the same data (the same digests)
    model.compute_covariance(X, y, cov_type="nonrobust")
    host.compute_covariance(X, y, cov_type="nonrobust")
    # term tests: likelihood-ratio refits on the device
    a = model.term_tests(to_device(X), to_device(y))
    b = host.term_tests(X, y)
    assert list(a.columns) == list(b.columns) and "lr_chi2" in a.columns
    assert np.allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-8, equal_nan=True)
    with pytest.raises(InvalidInputError, match="differ"):
        model.term_tests(to_device(X * 2.0), to_device(y))
    # lr_test of a nested device fit: the rows, labels and weights are compared
    small = MultinomialLogit().fit(to_device(X[:, :2].copy()), to_device(y))
    assert model.lr_test(small).statistic == pytest.approx(
        host.lr_test(MultinomialLogit().fit(X[:, :2], y)).statistic, rel=1e-9
    )
    shuffled = MultinomialLogit().fit(to_device(X[:, :2].copy()), to_device(np.roll(y, 1)))
    with pytest.raises(InvalidInputError, match="labels"):
        model.lr_test(shuffled)


def test_overflowing_linear_predictors_are_rescaled_as_on_numpy(to_device: Any) -> None:
    X, y = multinomial_data(n=200, p=3, K=3)
    model = MultinomialLogit().fit(X, y)
    huge = X[:6].copy()
    huge[1, 0] = 1e308
    huge[3, :] = [-1.7e308, 3e307, 1e300]
    huge[5, 2] = 5e307
    for method in ("predict_proba", "predict_log_proba"):
        want = getattr(model, method)(huge)
        got = np.asarray(to_host(getattr(model, method)(to_device(huge))))
        assert np.all(np.isfinite(got))
        assert np.array_equal(got, want) or rel(got, want) < 1e-15
        assert not np.array_equal(want[1], getattr(model, method)(X[1:2])[0])
    assert np.array_equal(to_host(model.predict(to_device(huge))), model.predict(huge))
    eta = to_host(model.linear_predictor(to_device(huge)))
    assert np.array_equal(np.isinf(eta), np.isinf(model.linear_predictor(huge)))


def _separated(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 0] > 1.0).astype(np.int64)
    return X, y


@pytest.mark.parametrize("n", [200, 30_000], ids=["small", "large"])
def test_separation_is_decided_as_on_numpy(to_device: Any, n: int) -> None:
    """Separated data: the subset LP (rows moved to the host) finds what the numpy
    path's LP finds; the fit then reports no standard errors, as on numpy."""
    from mnlogit.exceptions import SeparationWarning

    X, y = _separated(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        host = MultinomialLogit().fit(X, y)
    assert host.separation_ is not None
    with pytest.warns(SeparationWarning) as caught, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, message=".*converge.*")
        device = MultinomialLogit().fit(to_device(X), to_device(y))
    assert device.separation_ is not None
    assert device.separation_.kind == host.separation_.kind
    assert device.separation_.involved == host.separation_.involved
    assert str(caught[0].message) == host.separation_.message
    assert device.fitted_.cov is None and host.fitted_.cov is None


@pytest.mark.parametrize("n", [300, 30_000], ids=["small", "large"])
def test_data_that_are_not_separated_pass_the_check(to_device: Any, n: int) -> None:
    """No warning and standard errors, as on numpy (the certificate or the subset LP
    decides); near-separated data too (one row keeps class 2 from being separated)."""
    X, y = multinomial_data(n=n, p=3, K=3, seed=11)
    Xs, ys = _separated(n)
    ys[np.argmax(Xs[:, 0])] = 0  # the largest x0 is not of class 2: not separated
    for A, b in ((X, y), (Xs, ys)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            host = MultinomialLogit().fit(A, b)
        assert host.separation_ is None
        with warnings.catch_warnings():
            warnings.simplefilter("error", SeparationWarningType())
            device = MultinomialLogit(max_iter=200).fit(to_device(A), to_device(b))
        assert device.separation_ is None
    # a fit that stopped early has no certificate: the subset LP decides
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        early = MultinomialLogit(solver="gd", max_iter=2).fit(to_device(Xs), to_device(ys))
    assert not early.converged_ and early.separation_ is None


def SeparationWarningType() -> type[Warning]:
    from mnlogit.exceptions import SeparationWarning

    return SeparationWarning


@pytest.mark.parametrize("method", ["dydx", "eyex", "dyex", "eydx"])
def test_marginal_effects_of_device_rows_equal_numpys(to_device: Any, method: str) -> None:
    X, y = multinomial_data(n=300, p=3, K=3, seed=8, spread=3.0)
    X = X + 4.0  # positive features for the elasticities
    w = np.random.default_rng(8).integers(1, 4, size=y.size).astype(np.float64)
    model = MultinomialLogit().fit(to_device(X), to_device(y))
    host = MultinomialLogit().fit(X, y)
    for at, sw in (
        ("overall", None),
        ("overall", w),
        ("mean", w),
        ("median", None),
        ({"x1": 4.5}, w),
    ):
        got = model.marginal_effects(
            to_device(X), at=at, method=method, sample_weight=None if sw is None else to_device(sw)
        )
        want = host.marginal_effects(X, at=at, method=method, sample_weight=sw)
        assert list(got.index) == list(want.index)
        assert rel(got.to_numpy(float), want.to_numpy(float)) < 1e-10, (at, sw is None)


def test_evaluate_device_rows_equals_numpy(to_device: Any) -> None:
    from mnlogit.exceptions import InvalidInputError

    X, y = multinomial_data(n=400, p=3, K=4, seed=12)
    model = MultinomialLogit().fit(X[:300], y[:300])
    test_X, test_y = X[300:], y[300:]
    want = model.evaluate(test_X, test_y)
    for labels in (to_device(test_y), test_y):
        got = model.evaluate(to_device(test_X), labels)
        assert got.n == want.n and got.accuracy == want.accuracy
        assert got.log_loss == pytest.approx(want.log_loss, rel=1e-12)
        assert got.brier == pytest.approx(want.brier, rel=1e-12)
        assert got.confusion.equals(want.confusion)
        assert np.allclose(
            got.per_class.to_numpy(float), want.per_class.to_numpy(float), rtol=1e-14
        )
        assert list(got.per_class.index) == list(want.per_class.index)
    # a class never predicted (zero division) and an unknown label
    dumb = MultinomialLogit.from_coefficients([0, 1, 2, 3], [5.0, 0, 0, 0], np.zeros((4, 3)))
    a, b = dumb.evaluate(to_device(test_X), to_device(test_y)), dumb.evaluate(test_X, test_y)
    assert np.allclose(a.per_class.to_numpy(float), b.per_class.to_numpy(float), rtol=1e-14)
    with pytest.raises(InvalidInputError, match="not fitted on"):
        model.evaluate(to_device(test_X), to_device(np.where(test_y == 3, 7, test_y)))


def test_results_with_device_rows(to_device: Any) -> None:
    X, y = multinomial_data(n=300, p=3, K=3, seed=13)
    host = MultinomialLogit().fit(X, y).results(X, y)
    device = MultinomialLogit().fit(to_device(X), to_device(y)).results(to_device(X), to_device(y))
    resid = device.resid_response
    assert tuple(resid.shape) == (300, 3) and not isinstance(resid, np.ndarray)
    assert rel(to_host(resid), host.resid_response) < 1e-9
    assert rel(device.get_margeff().to_numpy(float), host.get_margeff().to_numpy(float)) < 1e-9
    assert rel(device.params, host.params) < 1e-9 and rel(device.bse, host.bse) < 1e-9


def test_a_numpy_fit_accepts_its_data_on_a_device(to_device: Any) -> None:
    X, y = multinomial_data(n=300, p=3, K=3, seed=14)
    host = MultinomialLogit(cov_type=None).fit(X, y)
    want = MultinomialLogit(cov_type="robust").fit(X, y).fitted_.cov
    host.compute_covariance(to_device(X), to_device(y), cov_type="robust")
    assert rel(host.fitted_.cov, want) < RTOL


def test_per_row_intervals_on_the_device(to_device: Any) -> None:
    from mnlogit.exceptions import InvalidInputError

    X, y = multinomial_data(n=300, p=3, K=3, seed=15)
    host = MultinomialLogit().fit(X, y)
    model = MultinomialLogit().fit(to_device(X), to_device(y))
    Xd = to_device(X)
    se = model.log_odds_se(Xd, reference=2)
    assert not isinstance(se, np.ndarray)
    assert rel(to_host(se), host.log_odds_se(X, reference=2)) < 1e-9
    lower, upper = model.predict_interval(Xd, alpha=0.1)
    want_lower, want_upper = host.predict_interval(X, alpha=0.1)
    assert rel(to_host(lower), want_lower) < 1e-9 and rel(to_host(upper), want_upper) < 1e-9
    assert np.all(to_host(lower) < to_host(model.predict_proba(Xd)))
    # the refits of the IIA tests need host rows: a clear error, never a silent copy
    with pytest.raises(InvalidInputError, match="takes numpy arrays"):
        model.iia_test(Xd, to_device(y))
    with pytest.raises(InvalidInputError, match="takes numpy arrays"):
        model.combine_test("lr", X=Xd, y=to_device(y))


def test_the_second_pass_brings_back_no_n_sized_array(
    to_strict1: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Firth, cluster covariances, margins, evaluate and the separation certificate on
    array-api-strict's second device (which refuses every other conversion to numpy):
    each transfer is counted, and none is n-sized (the fingerprint's are counted in
    test_array_api_fit.py)."""
    import mnlogit.device_preparation as prep
    import mnlogit.device_separation as ds
    import mnlogit.evaluation as ev
    import mnlogit.inference.device_margins as dm
    import mnlogit.objective.device as dev
    import mnlogit.prediction as pred

    sizes: list[int] = []

    def counted(a: Any) -> np.ndarray:
        out = to_host(a)
        sizes.append(int(out.size))
        return out

    for module in (prep, dev, pred, ds, ev, dm):
        monkeypatch.setattr(module, "to_host", counted)
    X, y = multinomial_data(n=3000, p=3, K=3, seed=16)
    groups = np.arange(y.size) % 40
    Xd, yd = to_strict1(X), to_strict1(y)
    firth = MultinomialLogit(penalty="firth", cov_type="cluster").fit(
        Xd, yd, groups=to_strict1(groups)
    )
    model = MultinomialLogit().fit(Xd, yd)
    model.marginal_effects(Xd)
    model.evaluate(Xd, yd)
    K, p1 = 3, 4
    assert firth.fitted_.cov is not None and model.fitted_.cov is not None
    assert sizes and max(sizes) <= (K * 3) * (K * p1) < X.shape[0]


def test_firth_with_weights_and_separation_without_intercept(to_device: Any) -> None:
    X, y = multinomial_data(n=300, p=3, K=3, seed=17)
    w = np.random.default_rng(17).integers(0, 4, size=y.size).astype(np.float64)
    params = {"penalty": "firth", "class_weight": {1: 2.0}}
    host = MultinomialLogit(**params).fit(X, y, sample_weight=w)
    device = MultinomialLogit(**params).fit(to_device(X), to_device(y), to_device(w))
    assert_same_fit(device, host)
    Xs, ys = _separated(300, seed=5)
    Xs = np.column_stack([np.ones(300), Xs])  # the intercept as a column
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = MultinomialLogit(fit_intercept=False).fit(Xs, ys, sample_weight=w)
        d = MultinomialLogit(fit_intercept=False).fit(to_device(Xs), to_device(ys), to_device(w))
    assert h.separation_ is not None and d.separation_ is not None
    assert d.separation_.kind == h.separation_.kind
