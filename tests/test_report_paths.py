"""The HTML report of a cross-validated or sparse model: its path, CV curve and choices."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import html
import json
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from helpers import make_data
from mnlogit import MultinomialLogit, MultinomialLogitCV
from mnlogit.report import render_report
from test_report import CHECK_SCRIPT, FIGURE, decode_png, find_chromium, run_chromium

PATH_CV = "Coefficient path on all data (symmetric form) with the alphas chosen by cross-validation"
PATH_SPARSE = "Coefficient path on the report's data (symmetric form), the model's alpha marked"


@pytest.fixture(scope="module")
def cases() -> dict[str, dict[str, Any]]:
    X, codes, _ = make_data(n=240, p=5, K=3, seed=1)
    frame = pd.DataFrame(X, columns=["age", "income", "height", "weight", "width"])
    y = np.array(["low", "mid", "high"])[codes]
    cv_model = MultinomialLogitCV(n_alphas=10, cv=3).fit(frame, y)
    sparse = MultinomialLogit(penalty="elasticnet", l1_ratio=0.5, alpha=0.02).fit(frame, y)
    out = {}
    for name, model in (("cv", cv_model), ("sparse", sparse)):
        out[name] = {"model": model, "html": render_report(model, frame, y), "y": y}
    return out


def figures(page: str) -> dict[str, str]:
    return {html.unescape(caption): png for _, png, caption in FIGURE.findall(page)}


def test_cv_report_shows_the_path_the_curve_and_the_choice(cases) -> None:
    page, cv_model = cases["cv"]["html"], cases["cv"]["model"]
    drawn = figures(page)
    assert PATH_CV in drawn
    assert "3-fold cross-validated log loss (mean ± 1 SE)" in drawn
    for png in drawn.values():
        decode_png(png)
    assert "<h2>Cross-validation</h2>" in page
    assert f"{cv_model.alpha_:.4g}" in page and f"{cv_model.alpha_1se_:.4g}" in page
    # the summary is the refitted model's: its nonzero terms, no standard errors
    assert "Sparse multinomial logit regression" in page
    assert "No standard errors, tests or intervals" in page
    assert "Relative risk ratios with 95% intervals" not in page


def test_sparse_fit_report_draws_its_path(cases) -> None:
    page = cases["sparse"]["html"]
    drawn = figures(page)
    assert PATH_SPARSE in drawn
    decode_png(drawn[PATH_SPARSE])
    assert "<h2>Cross-validation</h2>" not in page
    assert "Zero in every class" in page or "Every term has a nonzero" in page


def test_plain_fit_report_has_no_path() -> None:
    X, codes, _ = make_data(n=120, p=2, K=3, seed=2)
    page = render_report(MultinomialLogit().fit(X, codes), X, codes, iia=False)
    assert "Coefficient path" not in page


def test_cv_report_renders_in_headless_chromium(cases, tmp_path) -> None:
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (/usr/bin/chromium or `chromium` on PATH)")
    page = cases["cv"]["html"]
    n_figures = len(FIGURE.findall(page))
    checked = tmp_path / "checked.html"
    checked.write_text(page.replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8")
    proc = run_chromium(binary, tmp_path, "dom", "--dump-dom", checked.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    match = re.search(r"<div id=\"img-check\">(.*?)</div>", proc.stdout, re.S)
    assert match, "the check did not run"
    result = json.loads(html.unescape(match.group(1)))
    assert result["controlWidth"] == 0
    assert result["total"] == n_figures == result["ok"]
    assert result["overlaps"] == [], result["overlaps"]
    assert "<h2>Cross-validation</h2>" in proc.stdout


def test_sparse_formula_report_names_the_lines_by_its_terms(monkeypatch) -> None:
    from mnlogit import plotting
    from test_report import formula_frame

    drawn = []
    original = plotting.plot_coefficient_path

    def spy(path, *args, **kwargs):
        drawn.append(path)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(plotting, "plot_coefficient_path", spy)
    data = formula_frame(n=200)
    model = MultinomialLogit(
        formula="risk ~ scale(age) + scale(income) + C(region)", penalty="l1", alpha=0.02
    ).fit(data)
    render_report(model, data, iia=False)
    assert len(drawn) == 1
    assert drawn[0].feature_names == model.fitted_.feature_names
