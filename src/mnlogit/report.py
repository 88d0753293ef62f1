"""A self-contained HTML report of a fitted model on a dataset.

One file, no external resources: inline CSS, figures embedded as base64 PNG. It
holds the summary (fit statistics and coefficients), relative risk ratios, joint term
tests, specification tests (IIA, combining classes), the evaluation on the given data,
and the figures of :mod:`mnlogit.plotting`.
A figure that does not apply to the model (say, a decision-region plot for a model
with one predictor) is replaced by a note saying why. A figure that applies but fails
is a problem: it is marked as a warning at the top of the page and in its place, and a
:class:`~mnlogit.exceptions.ReportWarning` is emitted; with ``strict=True`` it is a
:class:`~mnlogit.exceptions.ReportError` and no report is written.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mnlogit.exceptions import (
    InferenceUnavailableError,
    InvalidInputError,
    ReportError,
    ReportWarning,
    warn,
)
from mnlogit.io import atomic_write

__all__ = ["render_report", "write_report"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: right; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figcaption { font-size: 0.85em; color: #555; max-width: 560px; }
img { max-width: 560px; border: 1px solid #ddd; }
.note { color: #8a5300; font-style: italic; }
.warning { color: #a00000; font-weight: bold; border-left: 4px solid #a00000;
           padding-left: 0.5em; }
"""


def _png(draw: Callable[..., Any], size: tuple[float, float] = (6.4, 4.4)) -> str:
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    ax = fig.add_subplot()
    draw(ax=ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _predictors(model: Any, data: Any) -> tuple[list[Any], list[str]]:
    """Up to two numeric predictors to plot along, and up to one categorical predictor.

    Raw data columns in the order the model names them; a column the formula encodes as
    categorical (``C(grade)``, strings, pandas categoricals) is categorical even when it
    holds numbers. Models without a formula have numeric features only.
    """
    design = model.fitted_.design
    if design is None:
        return list(model.fitted_.feature_names[:2]), []
    frame = pd.DataFrame(data)
    categorical = set(design.categorical_levels(frame))
    used = sorted(design.spec.required_variables, key=lambda v: (design.formula.find(v), v))
    used = [c for c in used if c in frame.columns and c != design.response]
    numeric = [
        c
        for c in used
        if c not in categorical
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]
    return numeric[:2], [c for c in used if c in categorical][:1]


Captioned = tuple[str, Callable[..., Any]]


def _tables(model: Any) -> list[str]:
    """The summary, relative risk ratios and term tests (or the bare coefficients)."""
    esc = html.escape
    state = model.fitted_
    parts = ["<h2>Summary</h2>"]
    if state.cov is None:
        status = state.cov_status or "no covariance"
        parts.append(f"<p class='note'>No standard errors: {esc(str(status))}</p>")
        coef = pd.DataFrame(
            np.column_stack([state.intercept, state.coef]),
            index=[str(c) for c in state.classes],
            columns=["Intercept", *state.feature_names],
        )
        parts.append(coef.to_html(float_format="{:.4f}".format, escape=True))
        return parts
    parts.append(model.summary()._repr_html_())
    parts.append("<h2>Relative risk ratios</h2>")
    parts.append(
        model.coef_table(exponentiate=True).to_html(float_format="{:.4g}".format, escape=True)
    )
    try:
        tests = model.term_tests()
        parts.append("<h2>Joint tests of each term (Wald)</h2>")
        parts.append(tests.to_html(float_format="{:.4g}".format, escape=True))
    except (InferenceUnavailableError, ValueError) as exc:
        parts.append(f"<p class='note'>Term tests unavailable: {esc(str(exc))}</p>")
    return parts


_IIA_READING = (
    "Each row omits one class (and its observations), refits, and compares the coefficients "
    "the two models share; a small p-value says the odds between the remaining classes "
    "changed, against the independence of irrelevant alternatives. These tests often "
    "disagree and have poor size in samples of usual size (Fry and Harris 1996; Cheng and "
    "Long 2007): read a rejection as a reason to ask whether some classes are close "
    "substitutes, not as proof. See docs/inference.md."
)


def _specification_tests(model: Any, data: Any, y: Any) -> list[str]:
    """IIA tests (Hausman-McFadden, suest) and the Wald tests for combining classes."""
    esc = html.escape
    parts = ["<h2>Specification tests</h2>"]
    if model.fitted_.cov is None or model.penalty is not None or len(model.classes_) < 3:
        parts.append(
            "<p class='note'>IIA and combination tests: not computed (they need an "
            "unpenalized fit with standard errors and at least three classes).</p>"
        )
        return parts
    parts.append("<h3>Can two classes be combined? (Wald; H0: all slopes equal)</h3>")
    parts.append(model.combine_test().to_html(float_format="{:.4g}".format, escape=True))
    X, labels = (data, None) if model.fitted_.design is not None else (data, y)
    try:
        for method, title in (("hausman", "Hausman-McFadden"), ("suest", "suest")):
            table = model.iia_test(X, labels, method=method)
            parts.append(f"<h3>IIA: {title} tests</h3>")
            parts.append(table.to_html(float_format="{:.4g}".format, escape=True))
    except (InvalidInputError, InferenceUnavailableError, ValueError) as exc:
        parts.append(f"<p class='note'>IIA tests: not computed ({esc(str(exc))})</p>")
        return parts
    parts.append(f"<p>{esc(_IIA_READING)}</p>")
    return parts


def _along(model: Any, data: Any, feature: Any, has_cov: bool) -> list[Captioned]:
    """Predicted probabilities and log-odds along one predictor."""
    from mnlogit import plotting

    return [
        (
            f"Predicted probabilities along {feature} (others at typical values)"
            + (", with 95% bands" if has_cov else ""),
            partial(plotting.plot_predicted_probabilities, model, data, feature, bands=has_cov),
        ),
        (
            f"Log-odds against the reference along {feature}",
            partial(plotting.plot_log_odds, model, data, feature),
        ),
    ]


def _feature_figures(model: Any, data: Any, y: Any, has_cov: bool) -> tuple[list[Captioned], str]:
    """Figures along the predictors, and a note when the surfaces cannot be drawn."""
    from mnlogit import plotting

    features, categorical = _predictors(model, data)
    figures = [c for f in [*features, *categorical] for c in _along(model, data, f, has_cov)]
    if len(features) < 2:
        note = (
            "<p class='note'>Decision regions and probability surface: not drawn (they need "
            f"two numeric predictors; this model has {len(features)}).</p>"
        )
        return figures, note
    pair = (features[0], features[1])
    last = model.classes_[-1]
    figures.append(
        (
            f"Decision regions over {pair[0]} and {pair[1]}",
            lambda ax: plotting.plot_decision_regions(model, data, pair, ax=ax, scatter_y=y),
        )
    )
    figures.append(
        (
            f"Probability of {last} over {pair[0]} and {pair[1]}",
            lambda ax: plotting.plot_probability_surface(model, data, pair, cls=last, ax=ax),
        )
    )
    return figures, ""


def _figures(model: Any, data: Any, y: Any) -> tuple[list[Captioned], str]:
    """Every figure of the report, in order, and the note on those not drawn."""
    from mnlogit import plotting

    has_cov = model.fitted_.cov is not None
    figures: list[Captioned] = []
    if has_cov:
        figures.append(
            (
                "Relative risk ratios with 95% intervals (log scale)",
                lambda ax: plotting.plot_coefficients(model, exponentiate=True, ax=ax),
            )
        )
    figures.append(
        ("Confusion matrix", lambda ax: plotting.plot_confusion_matrix(model, data, y, ax=ax))
    )
    figures.append(
        (
            "Calibration (reliability) per class",
            lambda ax: plotting.plot_calibration(model, data, y, ax=ax),
        )
    )
    along, note = _feature_figures(model, data, y, has_cov)
    figures.extend(along)
    figures.append(
        (
            "The softmax: linear predictors to probabilities",
            lambda ax: plotting.plot_softmax(ax=ax),
        )
    )
    return figures, note


def _draw_figures(figures: list[Captioned], strict: bool) -> tuple[list[str], list[str]]:
    """The HTML of each figure (or of a warning in its place), and the failures."""
    esc = html.escape
    parts: list[str] = []
    failures: list[str] = []
    for caption, draw in figures:
        try:
            encoded = _png(draw)
        except (ValueError, InvalidInputError, InferenceUnavailableError, KeyError) as exc:
            failure = f"{caption}: {exc}"
            if strict:
                raise ReportError(f"figure not drawn: {failure}") from exc
            warn(ReportWarning(f"figure not drawn: {failure}"))
            failures.append(caption)
            parts.append(
                f"<p class='warning'>{esc(caption)}: could not be drawn ({esc(str(exc))})</p>"
            )
            continue
        parts.append(
            f"<figure><img alt='{esc(caption)}' src='data:image/png;base64,{encoded}'>"
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )
    return parts, failures


def render_report(
    model: Any,
    data: Any,
    y: Any = None,
    title: str | None = None,
    iia: bool = True,
    *,
    strict: bool = False,
) -> str:
    """The report as an HTML string.

    Parameters
    ----------
    model : MultinomialLogit
        Fitted (or loaded from a model file).
    data : array-like of shape (n, p) or data frame
        Data to evaluate and plot on (for formula models, a frame with the response).
    y : array-like of shape (n,), optional
        True labels (formula models read them from ``data``).
    title : str, optional
    iia : bool, default=True
        Add the specification tests: IIA (Hausman-McFadden and suest; computed only
        when ``data`` are the training data, else a note says so) and the Wald tests
        that two classes can be combined. The IIA tests refit the model K + 1 times.
    strict : bool, default=False
        A figure that cannot be drawn raises :class:`~mnlogit.exceptions.ReportError`
        instead of a :class:`~mnlogit.exceptions.ReportWarning` and a warning on the page.
    """
    design = model.fitted_.design
    skipped = ""
    if design is not None and y is None and model.get_params()["missing"] == "drop":
        complete = design.complete_rows(data, response=True)
        if not complete.all():
            skipped = (
                f"<p class='note'>{int((~complete).sum())} of {complete.size} rows have "
                "missing values in the formula's columns and are skipped (the model was "
                "fitted with missing='drop').</p>"
            )
            data = pd.DataFrame(data).loc[complete]
    if y is None and design is not None:
        y = design.response_values(data)
    if y is None:
        raise InvalidInputError("the report needs true labels: pass y or use a formula model")
    esc = html.escape
    title = title or "Multinomial logit report"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>Generated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by mnlogit."
        + (f" Formula: <code>{esc(design.formula)}</code>." if design is not None else "")
        + "</p>",
        skipped,
        *_tables(model),
        *(_specification_tests(model, data, y) if iia else []),
        "<h2>Evaluation on the given data</h2>",
        model.evaluate(data, y)._repr_html_(),
    ]
    figures, note = _figures(model, data, y)
    if note:
        parts.append(note)
    parts.append("<h2>Figures</h2>")
    drawn, failures = _draw_figures(figures, strict)
    parts.extend(drawn)
    if failures:
        banner = (
            f"<p class='warning'>{len(failures)} of {len(figures)} figures could not be "
            f"drawn: {esc('; '.join(failures))}</p>"
        )
        parts.insert(parts.index("<h2>Summary</h2>"), banner)
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    model: Any,
    data: Any,
    path: str | Path,
    y: Any = None,
    title: str | None = None,
    iia: bool = True,
    *,
    strict: bool = False,
) -> Path:
    """Write :func:`render_report` to ``path``; returns the path."""
    target = Path(path)
    page = render_report(model, data, y=y, title=title, iia=iia, strict=strict).encode("utf-8")
    atomic_write(target, lambda fh: fh.write(page))  # an old report survives a failure
    return target
