"""Class order: a categorical response keeps its category order (R's factor levels, Stata's
value order) for ``classes_``, the default reference, tables and colours; plain labels are
sorted, as scikit-learn sorts them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import mnlogit
from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import InvalidInputError

SCALE = ["low", "medium", "high", "extreme"]  # not alphabetical: high, extreme, low, medium


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    X, codes, _ = make_data(n=400, p=2, K=4, seed=5)
    frame = pd.DataFrame(X, columns=["a", "b"])
    frame["risk"] = pd.Categorical(np.asarray(SCALE)[codes], categories=SCALE, ordered=True)
    return frame, codes


def test_categorical_y_keeps_its_category_order(data) -> None:
    frame, _ = data
    ordered = MultinomialLogit().fit(frame[["a", "b"]], frame["risk"])
    plain = MultinomialLogit().fit(frame[["a", "b"]], frame["risk"].astype(str))
    assert ordered.classes_.tolist() == SCALE
    assert plain.classes_.tolist() == sorted(SCALE)
    # the default reference is the first category, as in R and Stata
    assert ordered.reference_ == "low"
    assert ordered.coef_table().index.get_level_values(0).unique().tolist() == SCALE[1:]
    # the same model: the probabilities are those of the sorted fit, columns permuted
    perm = [plain.classes_.tolist().index(c) for c in SCALE]
    np.testing.assert_allclose(
        ordered.predict_proba(frame[["a", "b"]]),
        plain.predict_proba(frame[["a", "b"]])[:, perm],
        rtol=1e-8,
        atol=1e-12,
    )
    assert np.array_equal(ordered.predict(frame[["a", "b"]]), plain.predict(frame[["a", "b"]]))
    assert ordered.loglik_ == pytest.approx(plain.loglik_, rel=1e-12)
    # an unordered categorical's categories order the classes too
    unordered = frame["risk"].cat.as_unordered()
    assert MultinomialLogit().fit(frame[["a", "b"]], unordered).classes_.tolist() == SCALE


def test_formula_response_and_evaluation_and_files(data, tmp_path) -> None:
    frame, codes = data
    model = MultinomialLogit(formula="risk ~ a + b").fit(frame)
    assert model.classes_.tolist() == SCALE
    report = model.evaluate(frame)
    assert report.per_class.index.tolist()[:4] == SCALE
    assert report.confusion.index.tolist() == SCALE
    proba = model.predict_proba(frame)
    assert report.log_loss == pytest.approx(-np.mean(np.log(proba[np.arange(codes.size), codes])))
    assert report.accuracy == pytest.approx(np.mean(model.predict(frame) == frame["risk"]))
    # term tests and LR tests refit against the same order
    assert model.term_tests().shape[0] == 2
    path = model.save(tmp_path / "m.mnlogit")
    loaded = mnlogit.load(path)
    assert loaded.classes_.tolist() == SCALE
    np.testing.assert_array_equal(loaded.predict_proba(frame), proba)
    # labels the model does not know are refused by name
    bad = frame.assign(risk=frame["risk"].astype(str).replace("low", "none"))
    with pytest.raises(InvalidInputError, match="none"):
        model.evaluate(bad)


def test_colours_follow_the_class_order(data) -> None:
    from mnlogit import plotting

    frame, _ = data
    model = MultinomialLogit(formula="risk ~ a + b").fit(frame)
    ax = plotting.plot_predicted_probabilities(model, frame, "a", n_points=5)
    labelled = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
    assert [ln.get_label() for ln in labelled] == SCALE
    colours = plotting.class_colors(4)
    for k, line in enumerate(labelled):
        assert matplotlib.colors.to_rgba(line.get_color()) == colours[k]
    ax = plotting.plot_decision_regions(model, frame, ("a", "b"), scatter_y=frame["risk"])
    image = ax.get_images()[0].get_array()
    np.testing.assert_array_equal(
        np.unique(image.compressed()),
        np.unique([SCALE.index(c) for c in model.predict(frame)]),
    )
