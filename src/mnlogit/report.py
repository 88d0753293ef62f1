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
from mnlogit.refit_selected import SPARSE_PENALTIES

__all__ = ["render_report", "write_report"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222;
       padding: 0 1.5em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em;
        font-variant-numeric: tabular-nums; }
th, td { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: right; }
th { border-bottom: 1px solid #999; }
td.label, th.label { text-align: left; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(600px, 1fr));
           gap: 1.5em; align-items: start; }
figure { margin: 0; }
figcaption { font-size: 0.85em; color: #555; }
img { width: 100%; height: auto; border: 1px solid #ddd; }
.note { color: #8a5300; font-style: italic; }
.warning { color: #a00000; font-weight: bold; border-left: 4px solid #a00000;
           padding-left: 0.5em; }
"""

#: readable headers for the columns of mnlogit's tables
_HEADERS = {
    "coef": "coef",
    "rrr": "RRR",
    "std_err": "std. err.",
    "z": "z",
    "p_value": "P>|z|",
    "ci_lower": "[95% lower",
    "ci_upper": "upper]",
    "wald_chi2": "Wald chi2",
    "wald_df": "df",
    "wald_p": "P>chi2",
    "lr_chi2": "LR chi2",
    "lr_df": "df",
    "lr_p": "P>chi2",
    "statistic": "chi2",
    "df": "df",
    "note": "note",
}
_P_COLUMNS = {"p_value", "wald_p", "lr_p"}


def _cell(column: str, value: Any) -> str:
    """One table cell, formatted as the summary formats it."""
    if isinstance(value, str) or value is None:
        return f"<td class='label'>{html.escape(str(value or ''))}</td>"
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return f"<td>{int(value)}</td>"
    number = float(value)
    if not np.isfinite(number):
        return "<td></td>" if np.isnan(number) else f"<td>{number}</td>"
    if column in _P_COLUMNS:
        return "<td>&lt;0.001</td>" if number < 0.001 else f"<td>{number:.3f}</td>"
    if column.endswith("df") and number == int(number):
        return f"<td>{int(number)}</td>"
    return f"<td>{number:.4f}</td>"


def table_html(frame: pd.DataFrame, level: float = 0.95) -> str:
    """An mnlogit table (coefficients, tests) as HTML formatted like the summary.

    The index becomes leading label columns (one header row, no pandas index row),
    numbers get four decimals, p-values three (``<0.001`` below), degrees of freedom
    none, and headers are readable (``P>|z|``, ``std. err.``).
    """
    index_names = [str(n).replace("_", " ") if n is not None else "" for n in frame.index.names]
    pct = f"{100 * level:g}%"
    chi2_test = "statistic" in frame.columns  # its p-value is P>chi2, not P>|z|
    headers = [f"<th class='label'>{html.escape(n)}</th>" for n in index_names]
    for col in frame.columns:
        text = _HEADERS.get(str(col), str(col).replace("_", " "))
        if chi2_test and col == "p_value":
            text = "P>chi2"
        headers.append(f"<th>{html.escape(text.replace('95%', pct))}</th>")
    rows = []
    previous: tuple[Any, ...] = ()
    for key, values in zip(frame.index, frame.itertuples(index=False), strict=True):
        keys = key if isinstance(key, tuple) else (key,)
        # a repeated leading label (the class of a (class, term) row) is shown once
        shown = [
            "" if i < len(previous) and keys[: i + 1] == previous[: i + 1] else str(k)
            for i, k in enumerate(keys)
        ]
        previous = keys
        cells = [f"<td class='label'>{html.escape(k)}</td>" for k in shown]
        cells += [_cell(str(c), v) for c, v in zip(frame.columns, values, strict=True)]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        "<table><thead><tr>"
        + "".join(headers)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _evaluation(model: Any, data: Any, y: Any, held_out: bool) -> list[str]:
    """The evaluation section, its tables formatted as the others, labelled in-sample or
    held-out."""
    report = model.evaluate(data, y)
    where = "held-out data" if held_out else "the report's data (in-sample)"
    skipped = f", {report.n_skipped} with missing values skipped" if report.n_skipped else ""
    scores = pd.DataFrame(
        {"value": [report.accuracy, report.log_loss, report.brier]},
        index=pd.Index(["accuracy", "log loss", "Brier score"], name="measure"),
    )
    per_class = report.per_class.copy()
    per_class.index.name = "class"
    confusion = report.confusion.copy()
    confusion.index.name = "true \\ predicted"
    return [
        f"<h2>Evaluation on {where}</h2>",
        f"<p>{report.n} rows{skipped}."
        + (
            ""
            if held_out
            else " In-sample measures flatter the model: pass held-out data "
            "(<code>test_data=</code>, <code>mnlogit report --test-data FILE</code>) to "
            "measure how it predicts new rows."
        )
        + "</p>",
        table_html(scores),
        "<h3>Per class</h3>",
        table_html(per_class),
        "<h3>Confusion matrix (rows: true, columns: predicted)</h3>",
        table_html(confusion),
    ]


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


#: (caption, draw) or (caption, draw, figure size in inches)
Captioned = tuple[Any, ...]


def _tables(model: Any) -> list[str]:
    """The summary, relative risk ratios and term tests (or the bare coefficients)."""
    esc = html.escape
    state = model.fitted_
    parts = ["<h2>Summary</h2>"]
    if model.get_params()["penalty"] in SPARSE_PENALTIES:
        parts.append(model.summary()._repr_html_())  # nonzero terms; no inference
        return parts
    if state.cov is None:
        status = state.cov_status or "no covariance"
        parts.append(f"<p class='note'>No standard errors: {esc(str(status))}</p>")
        coef = pd.DataFrame(
            np.column_stack([state.intercept, state.coef]),
            index=[str(c) for c in state.classes],
            columns=["Intercept", *state.feature_names],
        )
        coef.index.name = "class"
        parts.append(table_html(coef))
        return parts
    parts.append(model.summary()._repr_html_())
    parts.append("<h2>Relative risk ratios</h2>")
    parts.append(table_html(model.coef_table(exponentiate=True)))
    try:
        tests = model.term_tests()
        parts.append("<h2>Joint tests of each term (Wald)</h2>")
        tests.index.name = "term"
        parts.append(table_html(tests))
    except (InferenceUnavailableError, ValueError) as exc:
        parts.append(f"<p class='note'>Term tests unavailable: {esc(str(exc))}</p>")
    return parts


def _cross_validation(cv_model: Any) -> list[str]:
    """How the CV model chose alpha: the two alphas, their scores, the one refitted."""
    alphas = cv_model.alphas_
    rows = []
    for name in ("alpha_", "alpha_1se_"):
        value = getattr(cv_model, name)
        i = int(np.flatnonzero(alphas == value)[0])
        rows.append(
            {
                "alpha": name,
                "value": f"{value:.4g}",
                "mean score": float(cv_model.cv_mean_[i]),
                "SE": float(cv_model.cv_se_[i]),
                "nonzero features": int(cv_model.path_.n_nonzero[i]),
            }
        )
    table = pd.DataFrame(rows).set_index("alpha")
    n_folds = cv_model.cv_scores_.shape[0]
    chosen = "alpha_" if cv_model.select == "min" else "alpha_1se_"
    return [
        "<h2>Cross-validation</h2>",
        f"<p>{n_folds} folds, {alphas.size} alphas from {alphas[0]:.4g} to {alphas[-1]:.4g}, "
        f"score: {html.escape(cv_model.score_name_)}. alpha_ has the best mean score; "
        "alpha_1se_ is the largest alpha within one standard error of it (cv.glmnet's "
        f"lambda.1se). The model above was refitted on all rows at {chosen}.</p>",
        table_html(table),
    ]


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
    parts.append(table_html(model.combine_test()))
    X, labels = (data, None) if model.fitted_.design is not None else (data, y)
    try:
        for method, title in (("hausman", "Hausman-McFadden"), ("suest", "suest")):
            table = model.iia_test(X, labels, method=method)
            parts.append(f"<h3>IIA: {title} tests</h3>")
            parts.append(table_html(table))
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


def _path_figures(model: Any, cv_model: Any, data: Any, y: Any) -> list[Captioned]:
    """The regularization path (and the CV curve) of a CV model or a sparse fit.

    A CV model shows its full-data path with both chosen alphas marked, and its CV
    curve. A sparse fit shows the path computed on the report's data over the default
    grid, with the model's alpha marked.
    """
    from mnlogit import plotting

    if cv_model is not None:
        marks = {"alpha_": cv_model.alpha_, "alpha_1se_": cv_model.alpha_1se_}
        n_folds = cv_model.cv_scores_.shape[0]
        return [
            (
                "Coefficient path on all data (symmetric form) with the alphas chosen by "
                "cross-validation",
                partial(plotting.plot_coefficient_path, cv_model.path_, mark=marks),
                (8.0, 5.0),
            ),
            (
                f"{n_folds}-fold cross-validated {cv_model.score_name_} (mean ± 1 SE)",
                partial(plotting.plot_cv_curve, cv_model),
                (8.0, 5.0),
            ),
        ]
    if model.get_params()["penalty"] not in SPARSE_PENALTIES:
        return []
    return [
        (
            "Coefficient path on the report's data (symmetric form), the model's alpha marked",
            partial(_sparse_path, model, data, y),
            (8.0, 5.0),
        )
    ]


def _sparse_path(model: Any, data: Any, y: Any, ax: Any) -> Any:
    """The path of a sparse fit's penalty on the report's data (its design matrix)."""
    from mnlogit import plotting
    from mnlogit.path import regularization_path

    state = model.fitted_
    params = model.get_params()
    if state.design is not None:
        X, labels, _ = state.design.training_arrays(data, params["missing"])
    else:
        X, labels = data, y
    if isinstance(X, np.ndarray):  # the path names the lines by the model's terms
        X = pd.DataFrame(X, columns=list(state.feature_names))
    path = regularization_path(
        X,
        labels,
        penalty=params["penalty"],
        l1_ratio=params["l1_ratio"],
        penalty_factor=params["penalty_factor"],
        fit_intercept=state.fit_intercept,
    )
    return plotting.plot_coefficient_path(path, ax=ax, mark={"alpha": model.alpha_})


def _figures(
    model: Any, data: Any, y: Any, evaluated: tuple[Any, Any], cv_model: Any = None
) -> tuple[list[Captioned], str]:
    """Every figure of the report, in order, and the note on those not drawn.

    The confusion matrix and the calibration plot use the evaluation's data
    (``evaluated``: held-out, or ``(data, y)``); the others ``data``.
    """
    eval_data, eval_y = evaluated
    from mnlogit import plotting

    has_cov = model.fitted_.cov is not None
    figures: list[Captioned] = _path_figures(model, cv_model, data, y)
    if has_cov:
        # one row per coefficient and class heading: tall enough that labels never overlap
        rows = len(model.coef_table()) + 2 * len(model.classes_)
        figures.append(
            (
                "Relative risk ratios with 95% intervals (log scale)",
                lambda ax: plotting.plot_coefficients(model, exponentiate=True, ax=ax),
                (6.4, max(4.4, 1.4 + 0.2 * rows)),
            )
        )
    figures.append(
        (
            "Confusion matrix",
            lambda ax: plotting.plot_confusion_matrix(model, eval_data, eval_y, ax=ax),
        )
    )
    figures.append(
        (
            "Calibration (reliability) per class",
            lambda ax: plotting.plot_calibration(model, eval_data, eval_y, ax=ax),
            (8.0, 5.0),  # the square plot and its legend beside it
        )
    )
    along, note = _feature_figures(model, data, y, has_cov)
    figures.extend(along)
    labels = [str(c) for c in model.classes_]
    figures.append(
        (
            "The softmax: the classes' average linear predictors and their probabilities",
            partial(_softmax_bars, model, data, labels),
        )
    )
    return figures, note


def _softmax_bars(model: Any, data: Any, labels: list[str], ax: Any) -> Any:
    """The softmax at the average linear predictor, labelled with the model's classes."""
    from mnlogit import plotting

    eta = np.nanmean(model.linear_predictor(data), axis=0)
    ax = plotting.plot_softmax(eta, ax=ax, kind="bars", labels=labels)
    for tick in ax.get_xticklabels():  # class names side by side would overlap
        tick.set_rotation(30)
        tick.set_horizontalalignment("right")
    return ax


def _draw_figures(figures: list[Captioned], strict: bool) -> tuple[list[str], list[str]]:
    """The HTML of each figure (or of a warning in its place), and the failures."""
    esc = html.escape
    parts: list[str] = []
    failures: list[str] = []
    for caption, draw, *size in figures:
        try:
            encoded = _png(draw, *size)
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
    test_data: Any = None,
    test_y: Any = None,
) -> str:
    """The report as an HTML string.

    Parameters
    ----------
    model : MultinomialLogit or MultinomialLogitCV
        Fitted (or loaded from a model file). A ``MultinomialLogitCV`` reports its
        ``best_estimator_`` and adds the cross-validation (chosen alphas, the path and the
        CV curve); a sparse fit (``penalty="l1"``, ``"elasticnet"``, ``"group"``) shows
        its nonzero terms and its coefficient path on ``data``.
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
    test_data : array-like or data frame, optional
        Held-out data: the evaluation, the confusion matrix and the calibration plot use
        them (labelled "held-out"); without them they use ``data``, labelled in-sample.
    test_y : array-like, optional
        Labels of ``test_data`` (formula models read them from it).
    """
    from mnlogit.selection import MultinomialLogitCV

    cv_model = None
    if isinstance(model, MultinomialLogitCV):
        cv_model, model = model, model.best_estimator_
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
        *(_cross_validation(cv_model) if cv_model is not None else []),
        *(_specification_tests(model, data, y) if iia else []),
    ]
    held_out = test_data is not None
    eval_data, eval_y = (test_data, test_y) if held_out else (data, y)
    if eval_y is None and design is not None:
        eval_data = eval_data.loc[design.complete_rows(eval_data, response=True)]
        eval_y = design.response_values(eval_data)
    if eval_y is None:
        raise InvalidInputError("the held-out evaluation needs test_y (labels of test_data)")
    parts += _evaluation(model, eval_data, eval_y, held_out=held_out)
    figures, note = _figures(model, data, y, (eval_data, eval_y), cv_model)
    if note:
        parts.append(note)
    parts.append("<h2>Figures</h2><div class='figures'>")
    drawn, failures = _draw_figures(figures, strict)
    parts.extend(drawn)
    if failures:
        banner = (
            f"<p class='warning'>{len(failures)} of {len(figures)} figures could not be "
            f"drawn: {esc('; '.join(failures))}</p>"
        )
        parts.insert(parts.index("<h2>Summary</h2>"), banner)
    parts.append("</div></body></html>")
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
    test_data: Any = None,
    test_y: Any = None,
) -> Path:
    """Write :func:`render_report` to ``path``; returns the path."""
    target = Path(path)
    page = render_report(
        model, data, y=y, title=title, iia=iia, strict=strict, test_data=test_data, test_y=test_y
    ).encode("utf-8")
    atomic_write(target, lambda fh: fh.write(page))  # an old report survives a failure
    return target
