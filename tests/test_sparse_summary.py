"""The summary of a sparse fit: its nonzero terms per class, and no inference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import InferenceUnavailableError
from mnlogit.summary import SparseSummary


@pytest.fixture(scope="module")
def sparse_fit() -> MultinomialLogit:
    X, y, _ = make_data(n=300, p=6, K=4, seed=21, scale=0.6)
    X[:, 4:] = np.random.default_rng(0).standard_normal((300, 2))  # pure noise
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d", "noise_1", "noise_2"])
    return MultinomialLogit(penalty="l1", alpha=0.03).fit(frame, np.array(list("pqrs"))[y])


def test_table_holds_exactly_the_nonzero_coefficients(sparse_fit):
    summary = sparse_fit.summary()
    assert isinstance(summary, SparseSummary)
    names = list(sparse_fit.feature_names_in_)
    expected = []
    for k, cls in enumerate(sparse_fit.classes_):
        expected.append((cls, "Intercept", sparse_fit.intercept_[k]))
        expected += [
            (cls, names[j], sparse_fit.coef_[k, j])
            for j in range(len(names))
            if sparse_fit.coef_[k, j] != 0
        ]
    got = [(c, t, v) for (c, t), v in summary.table["coef"].items()]
    assert [(c, t) for c, t, _ in got] == [(c, t) for c, t, _ in expected]
    np.testing.assert_allclose([v for *_, v in got], [v for *_, v in expected], rtol=0, atol=0)
    # the data were built so that some but not all coefficients are zero
    assert 0 < np.count_nonzero(sparse_fit.coef_) < sparse_fit.coef_.size


def test_text_html_and_latex_say_what_was_selected(sparse_fit):
    summary = sparse_fit.summary()
    dropped = [
        n
        for n, col in zip(sparse_fit.feature_names_in_, sparse_fit.coef_.T, strict=True)
        if not col.any()
    ]
    assert summary.dropped == dropped
    text = str(summary)
    for k, cls in enumerate(sparse_fit.classes_):
        count = np.count_nonzero(sparse_fit.coef_[k])
        assert f"class = {cls}  (symmetric form; {count} nonzero term" in text
    assert "No standard errors, tests or intervals" in text
    assert "NOT adjusted for the selection" in text
    assert "std err" not in text and "P>|z|" not in text
    nonzero = int(np.any(sparse_fit.coef_ != 0, axis=0).sum())
    assert f"{nonzero} of 6" in text
    if dropped:
        assert "Zero in every class" in text and all(d in text for d in dropped)
    page = summary._repr_html_()
    latex = summary.as_latex()
    for (_cls, term), value in summary.table["coef"].items():
        assert f"{value:.4f}" in page and f"{value:.4f}" in latex
        assert str(term).replace("_", r"\_") in latex


def test_inference_is_refused_with_a_pointer_to_refit_selected(sparse_fit):
    with pytest.raises(InferenceUnavailableError, match="refit_selected"):
        sparse_fit.coef_table()
