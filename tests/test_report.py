"""mnlogit.report: a self-contained HTML report, checked as text and in a real browser."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import base64
import html
import io
import itertools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import InvalidInputError
from mnlogit.report import render_report, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMG_SRC = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*(['\"])(.*?)\1", re.S)
FIGURE = re.compile(
    r"<figure><img alt='([^']*)' src='data:image/png;base64,([A-Za-z0-9+/=]+)'>"
    r"<figcaption>(.*?)</figcaption></figure>",
    re.S,
)


# ---------------------------------------------------------------------- models and reports
def formula_frame(n: int = 400, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n).round(1),
            "income": rng.normal(50, 15, n).round(1),
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


def grade_frame(n: int = 500, seed: int = 3) -> pd.DataFrame:
    """A numeric column (grade, 1..4) that the formula encodes as categorical."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "grade": rng.integers(1, 5, n),
            "score": rng.normal(50, 10, n).round(1),
            "hours": rng.normal(10, 3, n).round(1),
        }
    )
    eta = np.column_stack(
        [
            np.zeros(n),
            -2 + 0.04 * frame["score"] + 0.2 * frame["grade"],
            1 - 0.1 * frame["hours"] + 0.3 * (frame["grade"] == 3),
        ]
    )
    prob = np.exp(eta)
    prob /= prob.sum(axis=1, keepdims=True)
    u = rng.uniform(size=(n, 1))
    frame["track"] = np.array(["arts", "science", "trade"])[(u > prob.cumsum(axis=1)).sum(axis=1)]
    return frame


def build_case(kind: str) -> dict[str, Any]:
    """A fitted model, the data and labels to report on, and the expected plotted features
    (numeric ones, then the categorical one drawn as points)."""
    if kind == "formula":
        data = formula_frame()
        model = MultinomialLogit(formula="risk ~ age + income + C(region)").fit(data)
        return {
            "model": model,
            "data": data,
            "y": None,
            "labels": data["risk"],
            "features": ["age", "income"],
            "categorical": ["region"],
        }
    if kind == "grade":
        data = grade_frame()
        model = MultinomialLogit(formula="track ~ C(grade) + score + hours").fit(data)
        return {
            "model": model,
            "data": data,
            "y": None,
            "labels": data["track"],
            "features": ["score", "hours"],
            "categorical": ["grade"],
        }
    X, codes, _ = make_data(n=240, p=3, K=3, seed=1)
    if kind == "array":
        model = MultinomialLogit().fit(X, codes)
        return {"model": model, "data": X, "y": codes, "labels": codes, "features": ["x0", "x1"]}
    if kind == "dataframe":
        frame = pd.DataFrame(X, columns=["height", "weight", "width"])
        y = np.array(["cat", "dog", "emu"])[codes]
        model = MultinomialLogit().fit(frame, y)
        return {
            "model": model,
            "data": frame,
            "y": y,
            "labels": y,
            "features": ["height", "weight"],
        }
    if kind == "nocov":
        model = MultinomialLogit(cov_type=None).fit(X, codes)
        return {"model": model, "data": X, "y": codes, "labels": codes, "features": ["x0", "x1"]}
    if kind == "one_feature":
        model = MultinomialLogit().fit(X[:, :1], codes)
        return {"model": model, "data": X[:, :1], "y": codes, "labels": codes, "features": ["x0"]}
    raise AssertionError(kind)


KINDS = ["array", "dataframe", "formula", "grade", "nocov", "one_feature"]


@pytest.fixture(scope="module")
def reports() -> dict[str, dict[str, Any]]:
    """Each case, with its report rendered once (rendering draws ~10 figures)."""
    out = {}
    for kind in KINDS:
        case = build_case(kind)
        case["html"] = render_report(case["model"], case["data"], case["y"])
        out[kind] = case
    return out


def expected_captions(case: dict[str, Any]) -> list[str]:
    """The figures the report should hold for this model, in order."""
    model, features = case["model"], case["features"]
    has_cov = model.fitted_.cov is not None
    captions = []
    if has_cov:
        captions.append("Relative risk ratios with 95% intervals (log scale)")
    captions += ["Confusion matrix", "Calibration (reliability) per class"]
    for f in [*features, *case.get("categorical", [])]:
        captions.append(
            f"Predicted probabilities along {f} (others at typical values)"
            + (", with 95% bands" if has_cov else "")
        )
        captions.append(f"Log-odds against the reference along {f}")
    if len(features) == 2:
        a, b = features
        captions.append(f"Decision regions over {a} and {b}")
        captions.append(f"Probability of {model.classes_[-1]} over {a} and {b}")
    captions.append("The softmax: the classes' average linear predictors and their probabilities")
    return captions


def decode_png(encoded: str) -> np.ndarray:
    blob = base64.b64decode(encoded, validate=True)
    assert blob[:8] == PNG_SIGNATURE
    image = mpimg.imread(io.BytesIO(blob), format="png")
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
    assert float(image[..., :3].var()) > 0.0, "blank figure"
    return image


# ---------------------------------------------------------------------- self-contained
@pytest.mark.parametrize("kind", KINDS)
def test_report_is_self_contained(reports, kind) -> None:
    page = reports[kind]["html"]
    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</body></html>")
    assert "<meta charset='utf-8'>" in page
    # no external resource of any kind
    assert not re.search(r"\b(?:src|href)\s*=\s*['\"]?\s*(?:https?:)?//", page, re.I)
    assert not re.search(r"<(?:script|link|iframe|object|embed)\b", page, re.I)
    assert "@import" not in page and "url(" not in page
    # every image is an embedded, valid, non-blank PNG
    sources = IMG_SRC.findall(page)
    assert sources, "no images"
    for _, src in sources:
        assert src.startswith("data:image/png;base64,"), src[:60]
        decode_png(src.removeprefix("data:image/png;base64,"))


# ---------------------------------------------------------------------- contents
@pytest.mark.parametrize("kind", ["array", "dataframe", "formula"])
def test_summary_rrr_and_term_tests(reports, kind) -> None:
    case = reports[kind]
    model, page = case["model"], case["html"]
    assert "<h2>Summary</h2>" in page
    assert model.summary()._repr_html_() in page
    assert f"{model.loglik_:.4f}" in page and f"{model.aic_:.4f}" in page

    assert "<h2>Relative risk ratios</h2>" in page
    rrr = model.coef_table(exponentiate=True)
    np.testing.assert_allclose(rrr["rrr"], np.exp(model.coef_table()["coef"]))
    # formatted as the summary: four decimals, p-values to three or "<0.001"
    for value in (*rrr["rrr"].iloc[:4], *rrr["ci_upper"].iloc[-3:]):
        assert f"<td>{value:.4f}</td>" in page, value
    for p in rrr["p_value"]:
        assert ("<td>&lt;0.001</td>" if p < 0.001 else f"<td>{p:.3f}</td>") in page

    assert "<h2>Joint tests of each term (Wald)</h2>" in page
    tests = model.term_tests()
    for term, row in tests.iterrows():
        assert f"<td class='label'>{html.escape(str(term))}</td>" in page
        assert f"<td>{row['wald_chi2']:.4f}</td><td>{int(row['wald_df'])}</td>" in page
    assert "class='note'" not in page


def test_formula_report_names_terms_and_formula(reports) -> None:
    case = reports["formula"]
    page, model = case["html"], case["model"]
    assert "Formula: <code>risk ~ age + income + C(region)</code>" in page
    assert set(model.term_tests().index) == {"age", "income", "C(region)"}
    assert "<td class='label'>C(region)</td>" in page
    assert "C(region)[T.north]" in page
    # the model's reference class and its evaluation on the frame's own response column
    assert "against reference high" in page


@pytest.mark.parametrize("kind", KINDS)
def test_evaluation_numbers(reports, kind) -> None:
    case = reports[kind]
    model, page = case["model"], case["html"]
    report = model.evaluate(case["data"], case["y"])
    assert "<h2>Evaluation on the report&#x27;s data (in-sample)</h2>" in page or (
        "<h2>Evaluation on the report's data (in-sample)</h2>" in page
    )
    assert f"<p>{report.n} rows. In-sample measures flatter the model" in page
    assert f"<td>{report.accuracy:.4f}</td>" in page
    assert f"<td>{report.log_loss:.4f}</td>" in page
    assert f"<td>{report.brier:.4f}</td>" in page
    # and those are the model's own numbers
    y = np.asarray(case["labels"])
    assert report.accuracy == pytest.approx(np.mean(model.predict(case["data"]) == y))
    proba = model.predict_proba(case["data"])
    codes = np.searchsorted(model.classes_, y)
    assert report.log_loss == pytest.approx(-np.mean(np.log(proba[np.arange(y.size), codes])))


@pytest.mark.parametrize("kind", KINDS)
def test_one_figure_per_expected_plot(reports, kind) -> None:
    case = reports[kind]
    page = case["html"]
    figures = FIGURE.findall(page)
    assert page.count("<figure>") == len(figures) == page.count("<img ")
    expected = expected_captions(case)
    captions = [html.unescape(caption) for _, _, caption in figures]
    # same number of figures and same kinds, whatever the feature labels
    assert len(captions) == len(expected), captions
    for ours, theirs in zip(captions, expected, strict=True):
        assert (
            ours.split(" along ")[0].split(" over ")[0]
            == (theirs.split(" along ")[0].split(" over ")[0])
        )
    for alt, encoded, caption in figures:
        assert alt == caption
        decode_png(encoded)
    assert "<h2>Figures</h2>" in page
    # every figure drawn; only the one-predictor model notes the plane plots it cannot draw
    notes = re.findall(r"<p class='note'>([^<]*not drawn[^<]*)</p>", page)
    if kind == "one_feature":
        assert len(notes) == 1 and notes[0].startswith("Decision regions"), notes
    else:
        assert notes == []
    assert "class='warning'" not in page and "could not be drawn" not in page


def test_categorical_predictor_is_drawn_as_points_at_its_levels(reports) -> None:
    """C(grade) on an integer column: every figure is drawn (grade held at its most frequent
    level, never at its mean), and the figures along grade show its four levels."""
    case = reports["grade"]
    figures = FIGURE.findall(case["html"])
    captions = [html.unescape(c) for _, _, c in figures]
    assert captions == expected_captions(case)
    assert "Predicted probabilities along grade (others at typical values), with 95% bands" in (
        captions
    )
    assert "Decision regions over score and hours" in captions


def failing_calibration(*args: Any, **kwargs: Any) -> Any:
    raise ValueError("calibration exploded")


def test_a_figure_that_fails_is_a_visible_warning_or_an_error(reports, monkeypatch) -> None:
    from mnlogit import plotting
    from mnlogit.exceptions import ReportError, ReportWarning

    case = reports["dataframe"]
    monkeypatch.setattr(plotting, "plot_calibration", failing_calibration)
    with pytest.warns(ReportWarning, match="Calibration.*calibration exploded"):
        page = render_report(case["model"], case["data"], case["y"], iia=False)
    banner = re.search(r"<p class='warning'>(.*?)</p>", page, re.S)
    assert banner is not None
    assert banner.start() < page.index("<h2>Summary</h2>")  # at the top of the page
    assert f"1 of {len(expected_captions(case))} figures could not be drawn" in banner.group(1)
    assert "Calibration (reliability) per class: could not be drawn (calibration exploded)" in page
    assert len(FIGURE.findall(page)) == len(expected_captions(case)) - 1
    with pytest.raises(ReportError, match="calibration exploded"):
        render_report(case["model"], case["data"], case["y"], iia=False, strict=True)


@pytest.mark.parametrize("kind", ["dataframe", "formula", "nocov", "array"])
def test_figure_captions_name_the_features(reports, kind) -> None:
    """Captions name features as the coefficient tables do: column names, or x0, x1, …
    for bare arrays (docs/inference.md)."""
    case = reports[kind]
    captions = [html.unescape(c) for _, _, c in FIGURE.findall(case["html"])]
    assert captions == expected_captions(case)


def test_model_without_covariance_gets_notes(reports) -> None:
    case = reports["nocov"]
    model, page = case["model"], case["html"]
    assert f"<p class='note'>No standard errors: {html.escape(model.cov_status_)}</p>" in page
    assert "cov_type=None" in page
    assert "Relative risk ratios" not in page
    assert "Joint tests" not in page
    assert "std err" not in page and "std_err" not in page
    # the coefficients are still there, intercept first
    for k in range(model.classes_.size):
        assert f"<td>{model.intercept_[k]:.4f}</td>" in page
        for value in model.coef_[k]:
            assert f"<td>{value:.4f}</td>" in page
    assert "<th>Intercept</th>" in page and "<th>x0</th>" in page
    assert expected_captions(case)[0] == "Confusion matrix"


def test_one_feature_model_explains_the_missing_plane_plots(reports) -> None:
    """The module promises that a figure that cannot be drawn for the model -- its example:
    a decision-region plot for a model with one predictor -- is replaced by a visible note
    saying why."""
    page = reports["one_feature"]["html"]
    notes = re.findall(r"<p class='note'>(.*?)</p>", page, re.S)
    assert any("Decision regions" in note for note in notes), notes


def test_text_is_html_escaped(reports) -> None:
    """Every '<' in the document opens a tag, comment or doctype: text such as a p-value
    below 0.001 is written as '&lt;0.001'."""
    page = reports["formula"]["html"]
    stray = [
        page[max(m.start() - 40, 0) : m.start() + 20] for m in re.finditer(r"<(?![A-Za-z/!])", page)
    ]
    assert not stray, stray[:3]


# ---------------------------------------------------------------------- API details
STAMP = re.compile(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d UTC")


def test_write_report_writes_what_render_report_returns(reports, tmp_path) -> None:
    case = reports["dataframe"]
    target = tmp_path / "sub.html"
    returned = write_report(case["model"], case["data"], target, y=case["y"])
    assert returned == target and isinstance(returned, Path)
    page = target.read_text(encoding="utf-8")
    assert "<title>Multinomial logit report</title>" in page
    # apart from its time stamp, the file is the string render_report returned
    assert STAMP.search(page)
    assert STAMP.sub("", page) == STAMP.sub("", case["html"])


def test_report_needs_labels_for_array_models(reports) -> None:
    case = reports["array"]
    with pytest.raises(InvalidInputError, match="labels"):
        render_report(case["model"], case["data"])


def test_title_and_class_labels_are_escaped() -> None:
    X, codes, _ = make_data(n=150, p=1, K=3, seed=2)
    y = np.array(["<a>", "b&c", "d"])[codes]
    model = MultinomialLogit(cov_type=None).fit(X, y)
    page = render_report(model, X, y, title="Pets <&> co")
    assert "<title>Pets &lt;&amp;&gt; co</title>" in page
    assert "<h1>Pets &lt;&amp;&gt; co</h1>" in page
    assert "Pets <&> co" not in page
    assert "&lt;a&gt;" in page and "b&amp;c" in page
    assert "<a>" not in page and "b&c" not in page


# ---------------------------------------------------------------------- a real browser
def find_chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


CHECK_SCRIPT = """
<img id='control-broken' alt='control' src='data:image/png;base64,AAAAAAAA'>
<script>
function overlaps() {
  // pairs of text boxes (cells, headings, paragraphs, captions, images) that overlap
  var els = Array.prototype.slice.call(
    document.querySelectorAll('th, td, h1, h2, h3, p, figcaption, img'));
  var boxes = els.map(function (e) { return [e, e.getBoundingClientRect()]; })
    .filter(function (b) { return b[1].width > 0 && b[1].height > 0; });
  var found = [];
  for (var i = 0; i < boxes.length; i++) {
    for (var j = i + 1; j < boxes.length; j++) {
      var a = boxes[i][1], b = boxes[j][1];
      if (boxes[i][0].contains(boxes[j][0]) || boxes[j][0].contains(boxes[i][0])) continue;
      var dx = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      var dy = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (dx > 1 && dy > 1) found.push(boxes[i][0].textContent.slice(0, 30) + ' / ' +
                                       boxes[j][0].textContent.slice(0, 30));
    }
  }
  return found.slice(0, 10);
}
window.addEventListener('load', function () {
  var all = Array.prototype.slice.call(document.images);
  var control = document.getElementById('control-broken');
  var imgs = all.filter(function (im) { return im !== control; });
  var ok = imgs.filter(function (im) { return im.complete === true && im.naturalWidth > 0; });
  var div = document.createElement('div');
  div.id = 'img-check';
  div.textContent = JSON.stringify({
    total: imgs.length,
    ok: ok.length,
    widths: imgs.map(function (im) { return im.naturalWidth; }),
    controlWidth: control.naturalWidth,
    figures: document.querySelectorAll('figure img').length,
    overlaps: overlaps()
  });
  document.body.appendChild(div);
});
</script>
"""

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
]


def run_chromium(binary: str, tmp_path: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{name}"
    profile.mkdir()
    env = {**os.environ, "HOME": str(tmp_path)}
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def test_report_renders_in_headless_chromium(reports, tmp_path) -> None:
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (/usr/bin/chromium or `chromium` on PATH)")
    case = reports["formula"]
    page = case["html"]
    n_figures = len(expected_captions(case))
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")

    # our copy only: a script that reports, after 'load', whether every image decoded
    checked = tmp_path / "checked.html"
    assert page.count("</body>") == 1
    checked.write_text(page.replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8")
    proc = run_chromium(binary, tmp_path, "dom", "--dump-dom", checked.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    match = re.search(r"<div id=\"img-check\">(.*?)</div>", dom, re.S)
    assert match, f"the check did not run; DOM tail: {dom[-500:]!r}"
    result = json.loads(html.unescape(match.group(1)))
    assert result["controlWidth"] == 0, "the check cannot see a broken image"
    assert result["total"] == n_figures == result["figures"]
    assert result["ok"] == result["total"], result
    assert result["overlaps"] == [], result["overlaps"]  # no text or image over another
    assert all(w > 0 for w in result["widths"])
    # the browser parsed the document's sections and figures
    assert dom.count("<figure>") == n_figures
    assert dom.count("<figcaption>") == n_figures
    for heading in ("Summary", "Relative risk ratios", "Figures"):
        assert f"<h2>{heading}</h2>" in dom
    assert "<h2>Evaluation on the report's data (in-sample)</h2>" in dom

    # a screenshot of the unmodified report is a real, non-blank picture
    shot = tmp_path / "shot.png"
    proc = run_chromium(
        binary, tmp_path, "shot", f"--screenshot={shot}", "--window-size=1200,2000", report.as_uri()
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == PNG_SIGNATURE
    image = mpimg.imread(shot)
    assert image.shape[:2] == (2000, 1200)
    assert float(image[..., :3].var()) > 0.0
    # mostly white page with dark text
    assert float(image[..., :3].mean()) > 0.5 and float(image[..., :3].min()) < 0.3


# ---------------------------------------------------------------------- specification tests
@pytest.mark.parametrize("kind", ["array", "dataframe", "formula"])
def test_specification_tests_section(reports, kind) -> None:
    case = reports[kind]
    model, page = case["model"], case["html"]
    assert "<h2>Specification tests</h2>" in page
    X = case["data"]
    y = None if model.fitted_.design is not None else case["y"]
    for method in ("hausman", "suest"):
        table = model.iia_test(X, y, method=method)
        for value in table["statistic"]:
            assert f"<td>{value:.4f}</td>" in page
    for value in model.combine_test()["statistic"]:
        assert f"<td>{value:.4f}</td>" in page
    assert "Cheng and Long 2007" in page


def test_specification_tests_notes_and_switch(reports) -> None:
    assert "IIA and combination tests: not computed" in reports["nocov"]["html"]
    case = reports["array"]
    other = render_report(case["model"], case["data"][:120], case["y"][:120])
    assert "IIA tests: not computed (these tests need the training data" in other
    assert "Can two classes be combined?" in other  # Wald needs no data
    bare = render_report(case["model"], case["data"], case["y"], iia=False)
    assert "Specification tests" not in bare


# ---------------------------------------------------------------------- layout (issue 17, item 2)
def test_tables_are_formatted_like_the_summary(reports) -> None:
    from mnlogit.report import table_html

    case = reports["formula"]
    page, model = case["html"], case["model"]
    assert 'class="dataframe"' not in page  # no pandas tables, no index-name rows
    table = table_html(model.coef_table(exponentiate=True))
    assert table.count("<tr>") == len(model.coef_table()) + 1  # one header row
    header = re.search(r"<thead>(.*?)</thead>", table).group(1)
    assert re.findall(r"<th[^>]*>([^<]*)</th>", header) == [
        "class", "term", "RRR", "std. err.", "z", "P&gt;|z|", "[95% lower", "upper]"
    ]  # fmt: skip
    # each class named once, at the first of its rows
    for cls in model.classes_[1:]:
        assert table.count(f"<td class='label'>{cls}</td>") == 1
    assert "<div class='figures'>" in page


def test_forest_plot_is_sized_to_its_terms_without_overlapping_labels(reports) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from mnlogit import plotting

    data = load_anes96_frame()
    model = MultinomialLogit().fit(
        data[["logpopul", "selfLR", "age", "educ", "income"]], data["PID"]
    )
    page = render_report(
        model, data[["logpopul", "selfLR", "age", "educ", "income"]], data["PID"], iia=False
    )
    rows = len(model.coef_table()) + 2 * len(model.classes_)
    height = max(4.4, 1.4 + 0.2 * rows)
    _, encoded, caption = FIGURE.findall(page)[0]
    assert caption.startswith("Relative risk ratios")
    assert decode_png(encoded).shape[0] == round(100 * height)
    # drawn at that size, no two labels overlap and the title stays inside the figure
    fig = Figure(figsize=(6.4, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = plotting.plot_coefficients(model, exponentiate=True, ax=fig.add_subplot())
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = sorted(
        (t.get_window_extent(renderer) for t in ax.get_yticklabels() if t.get_text()),
        key=lambda b: b.y0,
    )
    assert len(boxes) >= rows - 2 * len(model.classes_)
    for lower, upper in itertools.pairwise(boxes):
        assert lower.y1 <= upper.y0 + 0.5, (lower, upper)
    title = ax.title.get_window_extent(renderer)
    assert title.x0 >= 0 and title.x1 <= fig.bbox.x1 + 0.5


def load_anes96_frame() -> pd.DataFrame:
    from mnlogit.datasets import load_anes96

    return load_anes96()


def test_held_out_evaluation_is_labelled_and_used(reports) -> None:
    data = formula_frame(n=600, seed=3)
    train, test = data.iloc[:400], data.iloc[400:]
    model = MultinomialLogit(formula="risk ~ age + income + C(region)").fit(train)
    page = render_report(model, train, iia=False, test_data=test)
    held = model.evaluate(test)
    assert "<h2>Evaluation on held-out data</h2>" in page
    assert f"<p>{held.n} rows.</p>" in page and held.n == 200
    assert f"<td>{held.accuracy:.4f}</td>" in page and f"<td>{held.log_loss:.4f}</td>" in page
    assert "in-sample" not in page
    in_sample = render_report(model, train, iia=False)
    assert "<h2>Evaluation on the report's data (in-sample)</h2>" in in_sample


def test_chi2_tables_name_their_p_values(reports) -> None:
    from mnlogit.report import table_html

    model = reports["formula"]["model"]
    table = table_html(model.combine_test())
    header = re.search(r"<thead>(.*?)</thead>", table).group(1)
    assert re.findall(r"<th[^>]*>([^<]*)</th>", header)[:5] == [
        "class a", "class b", "chi2", "df", "P&gt;chi2"
    ]  # fmt: skip
