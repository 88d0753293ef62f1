"""Issue 16, reliability second pass: each numbered case of the adversarial review.

Every case ends as the right answer (checked against statsmodels, scikit-learn or an
exact computation) or a clear, documented error or warning; docs/robustness.md lists
them in its table ("Second pass"). The model-file cases are in ``tests/test_io_hostile.py``.
"""

from __future__ import annotations

import pickle
import sys
import threading
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LogisticRegression

import mnlogit
from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.cli import main as cli_main
from mnlogit.exceptions import (
    DataWarning,
    InvalidInputError,
    PenalizedInferenceWarning,
    SeparationError,
    SeparationWarning,
)


def quiet_fit(model: MultinomialLogit, *args, **kwargs) -> MultinomialLogit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(*args, **kwargs)


@pytest.fixture(scope="module")
def weighted():
    X, y, _ = make_data(n=150, p=2, K=3, seed=3)
    w = np.random.default_rng(3).integers(1, 4, X.shape[0]).astype(float)
    return X, y, w


# ---------------------------------------------------------------- 1. refits and fingerprints
class TestRefitsUseTheFitsData:
    def test_term_tests_reuse_the_fit_weights(self, weighted) -> None:
        """LR refits without sample_weight= use the fit's weights (statsmodels on the
        rows repeated as often as their weight is the oracle)."""
        X, y, w = weighted
        model = MultinomialLogit().fit(X, y, sample_weight=w)
        reps = w.astype(int)
        Xr, yr = np.repeat(X, reps, axis=0), np.repeat(y, reps)
        full = sm.MNLogit(yr, sm.add_constant(Xr)).fit(disp=0)
        for j, term in enumerate(["x0", "x1"]):
            reduced = sm.MNLogit(yr, sm.add_constant(np.delete(Xr, j, axis=1))).fit(disp=0)
            expected = 2 * (full.llf - reduced.llf)
            assert_allclose(model.term_tests(X, y).loc[term, "lr_chi2"], expected, rtol=1e-6)
            explicit = model.term_tests(X, y, sample_weight=w)
            assert_allclose(explicit.loc[term, "lr_chi2"], expected, rtol=1e-6)

    def test_lr_test_refuses_a_model_of_other_rows(self, weighted) -> None:
        X, y, w = weighted
        model = MultinomialLogit().fit(X, y, sample_weight=w)
        other_rows = np.random.default_rng(1).permutation(y)
        other = MultinomialLogit().fit(X[:, :1], other_rows, sample_weight=w)
        with pytest.raises(InvalidInputError, match="labels differ"):
            model.lr_test(other)
        unweighted = MultinomialLogit().fit(X[:, :1], y)
        with pytest.raises(InvalidInputError):
            model.lr_test(unweighted)  # other nobs, other weights
        nested = MultinomialLogit().fit(X[:, :1], y, sample_weight=w)
        assert model.lr_test(nested).df == 2

    def test_compute_covariance_refuses_other_data(self, weighted) -> None:
        X, y, w = weighted
        model = MultinomialLogit().fit(X, y, sample_weight=w)
        before = model.fitted_.cov.copy()
        with pytest.raises(InvalidInputError, match="features differ"):
            model.compute_covariance(X[::-1], y, sample_weight=w)
        with pytest.raises(InvalidInputError, match="weights differ"):
            model.compute_covariance(X, y, sample_weight=np.ones_like(w))
        model.compute_covariance(X, y, cov_type="robust")  # the fit's weights, reused
        assert model.cov_type_ == "robust"
        model.compute_covariance(X, y, cov_type="nonrobust")
        assert_allclose(model.fitted_.cov, before, rtol=1e-10, atol=1e-14)

    def test_fingerprint_in_model_files(self, weighted, tmp_path) -> None:
        X, y, w = weighted
        model = MultinomialLogit().fit(X, y, sample_weight=w)
        path = model.save(tmp_path / "m.mnlogit")
        loaded = mnlogit.load(path)
        assert loaded.fitted_.fingerprint == model.fitted_.fingerprint
        with pytest.raises(InvalidInputError, match="weights differ"):
            loaded.term_tests(X, y)  # the weights are not in the file: pass them
        assert_allclose(
            loaded.term_tests(X, y, sample_weight=w)["lr_chi2"],
            model.term_tests(X, y)["lr_chi2"],
        )


# ---------------------------------------------------------------- 2. scale limits
class TestScaleLimits:
    @pytest.mark.parametrize("factor", [1e200, 1e-155])
    def test_unrepresentable_variances_are_nan_with_a_warning(self, factor) -> None:
        X, y, _ = make_data(n=200, p=2, K=3, seed=5)
        clean = MultinomialLogit().fit(X, y).coef_table()
        Z = X.copy()
        Z[:, 0] *= factor
        with pytest.warns(DataWarning, match=r"x0.*outside float64's range"):
            model = MultinomialLogit().fit(Z, y)
        table = model.coef_table()
        col = table.index.get_level_values("term") == "x0"
        assert table.loc[col, ["std_err", "z", "p_value", "ci_lower"]].isna().all().all()
        assert_allclose(table.loc[col, "coef"] * factor, clean.loc[col, "coef"], rtol=1e-6)
        assert_allclose(table.loc[~col, "std_err"], clean.loc[~col, "std_err"], rtol=1e-6)
        assert "outside float64's range" in model.cov_status_
        # a test of the other coefficients is unaffected
        assert_allclose(
            model.wald_test("x1").statistic,
            MultinomialLogit().fit(X, y).wald_test("x1").statistic,
            rtol=1e-6,
        )

    def test_standard_errors_at_1e150_are_kept(self) -> None:
        X, y, _ = make_data(n=200, p=2, K=3, seed=5)
        clean = MultinomialLogit().fit(X, y).coef_table()
        Z = X * np.array([1e150, 1e-150])
        table = MultinomialLogit().fit(Z, y).coef_table()
        assert_allclose(table["std_err"].to_numpy()[[1, 4]] * 1e150, clean["std_err"].iloc[[1, 4]])

    @pytest.mark.parametrize("value", [1e-310, 1.7e308, 1e-301, 1e301])
    def test_columns_outside_the_float_range_are_refused(self, value) -> None:
        X, y, _ = make_data(n=100, p=2, K=3, seed=5)
        Z = X.copy()
        Z[:, 1] = Z[:, 1] / np.abs(Z[:, 1]).max() * value
        with pytest.raises(InvalidInputError, match=r"'x1' \(max \|x\| = .*Rescale"):
            MultinomialLogit().fit(Z, y)


# ---------------------------------------------------------------- 3. separation past the cliff
def rare_indicator(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The issue's example: an indicator equal to 1 in five rows, all of class 2."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    y = rng.integers(0, 3, n)
    ind = np.zeros(n)
    ind[np.flatnonzero(y == 2)[:5]] = 1.0
    return np.column_stack([x, ind]), y


@pytest.mark.parametrize("n", [10_000, 10_001, 30_000, 110_000])
def test_separation_is_found_past_the_size_cliff(n) -> None:
    X, y = rare_indicator(n)
    with pytest.warns(SeparationWarning, match="x1"):
        model = MultinomialLogit().fit(X, y)
    assert model.separation_ is not None and model.separation_.kind == "quasi-complete"
    with pytest.raises(SeparationError):
        model.coef_table()


def test_separation_with_run_off_coefficients_past_the_size_cliff() -> None:
    """A converged fit whose separated coefficients ran far off (probabilities exactly 0:
    "suspected", so the subset LP is not tried first) past the full LP's size caps: the
    full LP declines, and the subset LP must still decide (it was skipped once)."""
    from mnlogit.identification.separation_check import find_separation

    X, y = rare_indicator(110_000)
    B = np.zeros((3, 3))
    B[2, 2] = 9.0e5  # the indicator's class-2 coefficient run off, as a fit can leave it
    eta = np.column_stack([np.ones(len(y)), X]) @ B
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    with pytest.warns(SeparationWarning, match="x1"):
        found = find_separation(
            X, y, 3, np.ones(len(y)), True, ["x0", "x1"], np.array([0, 1, 2]), 0,
            probabilities=P, subset_first=False,
        )  # fmt: skip
    assert found is not None and found.kind == "quasi-complete"


def test_separation_is_found_past_the_size_cliff_when_the_fit_stops_early() -> None:
    """A fit stopped at max_iter (no converged probabilities, so no certificate) past the
    full LP's size caps: the subset LP, its rows ordered by the last iterate's
    probabilities, still finds the separation (it reported nothing before)."""
    X, y = rare_indicator(110_000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = MultinomialLogit(max_iter=1).fit(X, y)
    assert not model.converged_
    found = [w for w in caught if issubclass(w.category, SeparationWarning)]
    assert found and "x1" in str(found[0].message)
    assert model.separation_ is not None and model.separation_.kind == "quasi-complete"


def test_large_fits_without_separation_stay_quiet() -> None:
    X, y, _ = make_data(n=15_000, p=3, K=3, seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeparationWarning)
        model = MultinomialLogit().fit(X, y)
    assert model.separation_ is None
    assert np.isfinite(model.coef_table()["std_err"]).all()


# ---------------------------------------------------------------- 4. ridge of strength zero
class TestRidgeOfStrengthZero:
    def test_p_plus_one_at_least_n_is_refused(self) -> None:
        rng = np.random.default_rng(0)
        with pytest.raises(InvalidInputError, match="no maximum-likelihood estimate"):
            quiet_fit(
                MultinomialLogit(penalty="l2", alpha=0.0),
                rng.normal(size=(10, 50)),
                rng.integers(0, 3, 10),
            )

    def test_separation_is_checked(self) -> None:
        X = np.array([[25, 30], [30, 40], [35, 50], [40, 60], [45, 70], [50, 80]] * 2, float)
        X[6:] += [0, 5]
        y = np.array(["low"] * 3 + ["medium"] * 5 + ["high"] * 4)
        with pytest.warns(SeparationWarning):
            model = MultinomialLogit(penalty="l2", alpha=0.0).fit(X, y)
        assert model.separation_ is not None

    def test_same_probabilities_as_the_unpenalized_fit(self) -> None:
        X, y, _ = make_data(n=200, p=3, K=3, seed=2)
        ridge0 = MultinomialLogit(penalty="l2", alpha=0.0).fit(X, y)
        mle = MultinomialLogit().fit(X, y)
        assert_allclose(ridge0.predict_proba(X), mle.predict_proba(X), atol=1e-8)


# ---------------------------------------------------------------- 5. a typo in a number column
def typo_frame() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {"age": rng.normal(40, 10, 200).round(1), "y": rng.choice(["a", "b", "c"], 200)}
    )
    frame["age"] = frame["age"].astype(object)
    frame.loc[17, "age"] = "?"
    return frame


class TestTypoInANumberColumn:
    @pytest.mark.parametrize("penalty", [None, "l2"])
    def test_fit_names_column_value_and_row(self, penalty) -> None:
        with pytest.raises(InvalidInputError, match=r"'age'.*\['\?'\].*row\(s\) \[17\]"):
            MultinomialLogit(formula="y ~ age", penalty=penalty).fit(typo_frame())

    def test_an_explicit_factor_is_accepted(self) -> None:
        frame = typo_frame()
        frame["age"] = frame["age"].astype(str).str[:1]  # first digit as a level
        model = MultinomialLogit(formula="y ~ C(age)", penalty="l2").fit(frame)
        assert model.n_features_in_ >= 2

    def test_through_the_cli(self, tmp_path, capsys) -> None:
        path = tmp_path / "typo.csv"
        typo_frame().to_csv(path, index=False)
        assert cli_main(["fit", str(path), "--formula", "y ~ age", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "'age'" in err and "'?'" in err and "17" in err

    def test_text_at_prediction_names_the_column(self) -> None:
        frame = typo_frame().drop(index=17)
        frame["age"] = frame["age"].astype(float)
        model = MultinomialLogit(formula="y ~ age").fit(frame)
        with pytest.raises(InvalidInputError, match=r"'age'.*'\?'"):
            model.predict(typo_frame())


# ---------------------------------------------------------------- 6. ridge, robust, constant
@pytest.mark.parametrize("cov_type", ["robust", "cluster"])
def test_ridge_sandwich_of_a_constant_column_gives_no_p_value(cov_type) -> None:
    X, y, _ = make_data(n=120, p=2, K=3, seed=1)
    Z = np.column_stack([X, np.ones(len(y))])
    groups = np.arange(len(y)) % 7
    model = quiet_fit(MultinomialLogit(penalty="l2", cov_type=cov_type), Z, y, groups=groups)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PenalizedInferenceWarning)
        table = model.coef_table()
        plain_table = quiet_fit(
            MultinomialLogit(penalty="l2", cov_type=cov_type), X, y, groups=groups
        ).coef_table()
    const = table.index.get_level_values("term") == "x2"
    assert (table.loc[const, "std_err"] == 0).all()
    assert table.loc[const, ["z", "p_value"]].isna().all().all()
    assert table.loc[~const, "p_value"].between(0, 1).all()
    assert "zero to rounding" in model.cov_status_
    # the other coefficients' sandwich errors equal those of the fit without the column
    # (the ridge leaves the constant's coefficient at 0)
    assert_allclose(table.loc[~const, "coef"].to_numpy(), plain_table["coef"], atol=1e-6)


# ---------------------------------------------------------------- 7. overflowing predictors
def test_predict_log_proba_is_finite_where_the_linear_predictor_overflows() -> None:
    X, y, _ = make_data(n=120, p=2, K=3, seed=1)
    model = MultinomialLogit().fit(X, y)
    rows = np.array([[1e308, 1e308], [1e308, -1e308], [-1.7e308, 0.0], [1e307, 3e306]])
    got = model.predict_log_proba(rows)
    assert np.isfinite(got).all()
    # oracle: the same in extended precision (x87 long double reaches 1e4932)
    if np.finfo(np.longdouble).max > 1e400:
        eta = rows.astype(np.longdouble) @ model.coef_.T.astype(np.longdouble)
        eta += model.intercept_
        m = eta.max(axis=1, keepdims=True)
        lp = eta - m - np.log(np.exp(eta - m).sum(axis=1, keepdims=True))
        want = np.maximum(lp, np.finfo(np.float64).min).astype(np.float64)
        assert_allclose(got, want, rtol=1e-12)
    assert_array_equal(model.predict(rows), model.classes_[np.argmax(got, axis=1)])
    P = model.predict_proba(rows)
    assert_allclose(P.sum(axis=1), 1.0)


# ---------------------------------------------------------------- 8. failing calls change nothing
def fitted_bytes(model: MultinomialLogit) -> bytes:
    return pickle.dumps((model.fitted_, sorted(vars(model))))


def test_failing_calls_never_change_a_formula_model(tmp_path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=90),
            "b": rng.normal(size=90),
            "r": rng.choice(["n", "s"], 90),
            "y": rng.integers(0, 3, 90),
        }
    )
    model = MultinomialLogit(formula="y ~ a + b + C(r)").fit(frame)
    before, proba = fitted_bytes(model), model.predict_proba(frame)
    failing = [
        lambda: model.predict(frame.assign(a=frame.a.astype(str))),
        lambda: model.predict(frame.assign(a=frame.a.astype(object).where(frame.index != 3, "x"))),
        lambda: model.predict(frame.drop(columns="b")),
        lambda: model.predict(frame.assign(b=np.nan)),
        lambda: model.predict(frame.assign(r="w")),
        lambda: model.predict_proba(frame.assign(a=frame.a.astype(str))),
        lambda: model.evaluate(frame.assign(y=7)),
        lambda: model.compute_covariance(frame.iloc[::-1]),
        lambda: model.term_tests(frame.assign(y=frame.y[::-1].to_numpy())),
        lambda: model.save(tmp_path / "no-such-dir" / "m.mnlogit"),
        lambda: model.fit(frame.assign(y=1)),
    ]
    for call in failing:
        with pytest.raises((ValueError, OSError)):
            call()
        assert fitted_bytes(model) == before
    assert_array_equal(model.predict_proba(frame), proba)
    model.save(tmp_path / "m.mnlogit")
    assert_array_equal(mnlogit.load(tmp_path / "m.mnlogit").predict_proba(frame), proba)


# ---------------------------------------------------------------- 9. atomic writes
def test_a_failing_save_keeps_the_old_file(tmp_path, monkeypatch) -> None:
    X, y, _ = make_data(n=80, p=2, K=3, seed=1)
    old = MultinomialLogit().fit(X, y)
    path = old.save(tmp_path / "m.mnlogit")
    original = path.read_bytes()
    new = MultinomialLogit(penalty="l2").fit(X, y)
    import zipfile

    real = zipfile.ZipFile.writestr
    calls = {"n": 0}

    def failing_writestr(self, name, data, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing_writestr)
    with pytest.raises(OSError, match="No space"):
        new.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mnlogit"]  # no temp file left
    assert_array_equal(mnlogit.load(path).coef_, old.coef_)


def test_cli_outputs_are_written_atomically(tmp_path, monkeypatch) -> None:
    from mnlogit.cli import write_table

    path = tmp_path / "out.csv"
    path.write_text("old\n")

    def broken(self, target, *args, **kwargs):
        """Write part of the table, then fail (as a full disk would)."""
        if isinstance(target, str):
            with open(target, "w") as fh:
                fh.write("a\n1")
        else:
            target.write(b"a\n1")
        raise OSError(27, "File too large")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError):
        write_table(pd.DataFrame({"a": [1]}), str(path))
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


# ---------------------------------------------------------------- 11. concurrent fits
def test_concurrent_fits_publish_one_consistent_state() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    datasets = [(X, rng.integers(0, K, 40)) for K in (2, 3, 4, 5)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(40):
            model = MultinomialLogit(cov_type=None)
            barrier = threading.Barrier(len(datasets))

            def run(data, model=model, barrier=barrier):
                barrier.wait()
                model.fit(*data)

            threads = [threading.Thread(target=run, args=(d,)) for d in datasets]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            state = model.fitted_
            assert model.coef_ is state.coef and model.classes_ is state.classes
            assert model.n_iter_ == state.outcome.n_iter
            assert model.loglik_ == state.outcome.statistics.loglik
    finally:
        sys.setswitchinterval(interval)


# ---------------------------------------------------------------- 12. crashes -> clear errors
class TestCrashesBecomeClearErrors:
    @pytest.fixture()
    def Xy(self):
        X, y, _ = make_data(n=60, p=2, K=3, seed=0)
        return X, y

    def test_mixed_int_and_str_labels(self, Xy) -> None:
        X, _ = Xy
        y = np.array([1, "a", 2] * 20, dtype=object)
        with pytest.raises(InvalidInputError, match=r"mixes labels.*'a' \(str\) at row 1"):
            MultinomialLogit().fit(X, y)

    @pytest.mark.parametrize("missing", [pd.NA, None, np.nan])
    def test_missing_labels_in_a_pandas_string_column(self, Xy, missing) -> None:
        X, _ = Xy
        y = pd.Series(["a", "b", missing] * 20, dtype="string")
        with pytest.raises(InvalidInputError, match=r"20 missing label.*row 2"):
            MultinomialLogit().fit(X, y)
        with pytest.raises(InvalidInputError, match="missing label"):
            MultinomialLogit().fit(X, y.to_numpy())

    @pytest.mark.parametrize("bad", [np.nan, None])
    def test_cluster_groups_with_missing_values(self, Xy, bad, tmp_path, capsys) -> None:
        X, y = Xy
        groups = np.array([1.0, bad] * 30, dtype=object if bad is None else float)
        with pytest.raises(InvalidInputError, match=r"groups has 30 missing.*row 1"):
            MultinomialLogit(cov_type="cluster").fit(X, y, groups=groups)
        frame = pd.DataFrame({"a": X[:, 0], "g": [1.0, np.nan] * 30, "y": y})
        path = tmp_path / "g.csv"
        frame.to_csv(path, index=False)
        args = ["fit", str(path), "--formula", "y ~ a", "--cov-type", "cluster", "--groups", "g"]
        assert cli_main([*args, "--quiet"]) == 2
        assert "groups has 30 missing" in capsys.readouterr().err

    @pytest.mark.parametrize("weight", [1e307, 1e-307])
    def test_weights_at_the_float_limits(self, Xy, weight) -> None:
        X, y = Xy
        with pytest.raises(InvalidInputError, match=r"sum to .*Rescale the weights"):
            MultinomialLogit().fit(X, y, sample_weight=np.full(len(y), weight))

    def test_weights_scaled_within_the_range_give_the_same_coefficients(self, Xy) -> None:
        X, y = Xy
        base = MultinomialLogit().fit(X, y)
        for weight in (1e200, 1e-200):
            model = MultinomialLogit().fit(X, y, sample_weight=np.full(len(y), weight))
            assert_allclose(model.coef_, base.coef_, atol=1e-8)

    def test_firth_with_subsample_newton(self, Xy) -> None:
        with pytest.raises(InvalidInputError, match=r"subsample-newton.*does not support"):
            MultinomialLogit(penalty="firth", solver="subsample-newton").fit(*Xy)

    def test_firth_with_no_column_left(self, Xy) -> None:
        X, y = Xy
        with pytest.raises(InvalidInputError, match="no column is left"):
            quiet_fit(MultinomialLogit(penalty="firth", fit_intercept=False), X * 0, y)

    def test_uint64_labels_round_trip_exactly(self, Xy, tmp_path) -> None:
        X, y = Xy
        labels = np.array([2**64 - 1, 2**63 + 5, 7], dtype=np.uint64)[y]
        model = MultinomialLogit().fit(X, labels)
        loaded = mnlogit.load(model.save(tmp_path / "u.mnlogit"))
        assert loaded.classes_.dtype == np.uint64
        assert_array_equal(loaded.classes_, model.classes_)
        assert_array_equal(loaded.predict(X), model.predict(X))

    def test_non_integral_float_labels_are_refused_as_by_scikit_learn(self, Xy) -> None:
        X, y = Xy
        labels = np.array([0.5, 1.5, 2.5])[y]
        with pytest.raises(ValueError, match="Unknown label type"):
            LogisticRegression().fit(X, labels)
        with pytest.raises(InvalidInputError, match=r"Unknown label type.*0\.5|1\.5|2\.5"):
            MultinomialLogit().fit(X, labels)
        # integral floats are classes
        assert_array_equal(MultinomialLogit().fit(X, y * 2.0).classes_, [0.0, 2.0, 4.0])
