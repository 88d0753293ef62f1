"""``mnlogit fit --penalty l1|elasticnet|group --alpha`` and ``--cv N``: the command line
gives the Python API's numbers, lists the nonzero terms, and refuses contradictory flags."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from mnlogit import MultinomialLogit, MultinomialLogitCV, load
from mnlogit.cli import main

FORMULA = "risk ~ age + income + noise1 + noise2 + C(region)"


def make_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n).round(1),
            "income": rng.normal(50, 15, n).round(1),
            "noise1": rng.normal(0, 1, n).round(3),
            "noise2": rng.normal(0, 1, n).round(3),
            "region": rng.choice(["east", "north", "south"], n),
        }
    )
    eta = np.column_stack(
        [np.zeros(n), -4 + 0.1 * frame["age"], 2 - 0.05 * frame["income"]]
    ).astype(float)
    prob = np.exp(eta)
    prob /= prob.sum(axis=1, keepdims=True)
    u = rng.uniform(size=(n, 1))
    frame["risk"] = np.array(["low", "medium", "high"])[(u > prob.cumsum(axis=1)).sum(axis=1)]
    return frame


@pytest.fixture(scope="module")
def csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli_penalties") / "data.csv"
    make_frame().to_csv(path, index=False)
    return path


def nonzero_terms(text: str) -> dict[str, dict[str, float]]:
    """The per-class blocks of a sparse summary's text: class -> term -> coef."""
    blocks: dict[str, dict[str, float]] = {}
    current = None
    for line in text.splitlines():
        head = re.match(r"class = (\S+)\s+\(", line)
        if head:
            current = head.group(1)
            blocks[current] = {}
            continue
        row = re.match(r"^(\S+)\s+(-?\d+\.\d{4})$", line)
        if current is not None and row:
            blocks[current][row.group(1)] = float(row.group(2))
    return blocks


def test_elasticnet_fit_equals_the_api_and_lists_nonzero_terms(csv, tmp_path, capsys):
    out = tmp_path / "enet.mnlogit"
    argv = ["fit", str(csv), "--formula", FORMULA, "-q", "-o", str(out)]
    argv += ["--penalty", "elasticnet", "--l1-ratio", "0.5", "--alpha", "0.05"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    api = MultinomialLogit(formula=FORMULA, penalty="elasticnet", l1_ratio=0.5, alpha=0.05).fit(
        pd.read_csv(csv)
    )
    blocks = nonzero_terms(text)
    assert list(blocks) == [str(c) for c in api.classes_]
    names = list(api.fitted_.feature_names)
    for k, cls in enumerate(api.classes_):
        expected = {names[j]: api.coef_[k, j] for j in np.flatnonzero(api.coef_[k])}
        shown = {t: v for t, v in blocks[str(cls)].items() if t != "Intercept"}
        assert set(shown) == set(expected)  # exactly the nonzero terms
        for term, value in expected.items():
            assert shown[term] == pytest.approx(value, abs=6e-5)
    assert "No standard errors" in text
    assert "refit_selected" in text
    assert "std err" not in text
    # the model file keeps the penalty; `summary` shows the same blocks
    model = load(out)
    assert model.get_params()["penalty"] == "elasticnet"
    assert_allclose(model.coef_, api.coef_, atol=1e-8)
    assert main(["summary", str(out)]) == 0
    assert nonzero_terms(capsys.readouterr().out) == blocks


def test_cv_chooses_alpha_as_the_api_does(csv, capsys):
    argv = ["fit", str(csv), "--formula", FORMULA, "-q", "--cv", "3", "--n-alphas", "8"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    api = MultinomialLogitCV(formula=FORMULA, cv=3, n_alphas=8).fit(pd.read_csv(csv))
    alpha = float(re.search(r"alpha_ \(best mean score\)\s+= (\S+)", text).group(1))
    alpha_1se = float(re.search(r"alpha_1se_ \(one-SE rule\) = (\S+)", text).group(1))
    assert alpha == pytest.approx(api.alpha_, rel=1e-5)
    assert alpha_1se == pytest.approx(api.alpha_1se_, rel=1e-5)
    assert "3 folds, 8 alphas" in text
    assert f"refitted on all rows at alpha_ = {api.alpha_:.6g}" in text
    blocks = nonzero_terms(text)
    for k, cls in enumerate(api.classes_):
        assert len(blocks[str(cls)]) - 1 == np.count_nonzero(api.coef_[k])


def test_cv_select_1se_and_group_penalty(csv, tmp_path, capsys):
    out = tmp_path / "group.mnlogit"
    argv = ["fit", str(csv), "--formula", FORMULA, "-q", "--cv", "3", "--n-alphas", "6"]
    argv += ["--penalty", "group", "--select", "1se", "-o", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    api = MultinomialLogitCV(formula=FORMULA, penalty="group", cv=3, n_alphas=6, select="1se").fit(
        pd.read_csv(csv)
    )
    assert f"refitted on all rows at alpha_1se_ = {api.alpha_1se_:.6g}" in text
    model = load(out)
    assert model.alpha_ == pytest.approx(api.alpha_1se_)
    # grouped: a feature is in or out of all classes together
    zero = model.coef_ == 0
    assert np.all(zero.all(axis=0) | ~zero.any(axis=0))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--cv", "3", "--alpha", "0.1"], "not both"),
        (["--cv", "3", "--penalty", "l2"], "--cv chooses the strength"),
        (["--cv", "1"], "at least 2"),
        (["--penalty", "l1"], "needs --alpha"),
        (["--penalty", "elasticnet", "--alpha", "0.1"], "needs --l1-ratio"),
        (["--l1-ratio", "0.5", "--penalty", "l2"], "--l1-ratio applies"),
        (["--select", "1se"], "--select applies to --cv"),
    ],
)
def test_contradictory_flags_are_one_line_errors(csv, capsys, extra, message):
    assert main(["fit", str(csv), "--formula", FORMULA, "-q", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mnlogit: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_report_of_a_saved_sparse_model_draws_its_path(csv, tmp_path, capsys):
    model_file = tmp_path / "l1.mnlogit"
    argv = ["fit", str(csv), "--formula", FORMULA, "-q", "-o", str(model_file)]
    assert main([*argv, "--penalty", "l1", "--alpha", "0.02"]) == 0
    page = tmp_path / "report.html"
    assert main(["report", str(model_file), str(csv), "-o", str(page), "--strict"]) == 0
    capsys.readouterr()
    text = page.read_text(encoding="utf-8")
    assert "Coefficient path on the report&#x27;s data" in text
    assert "Sparse multinomial logit regression" in text


def test_cv_report_from_the_command_line(csv, tmp_path, capsys):
    page = tmp_path / "cv.html"
    argv = ["fit", str(csv), "--formula", FORMULA, "-q", "--cv", "3", "--n-alphas", "6"]
    assert main([*argv, "--report", str(page)]) == 0
    assert f"report written to {page}" in capsys.readouterr().out
    text = page.read_text(encoding="utf-8")
    assert "<h2>Cross-validation</h2>" in text
    assert "3-fold cross-validated log loss (mean ± 1 SE)" in text
    assert "with the alphas chosen by cross-validation" in text
