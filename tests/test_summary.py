"""The printed summary: text, HTML and LaTeX show the model's numbers, correctly rounded."""

from __future__ import annotations

import re
import warnings
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.exceptions import (
    ConvergenceWarning,
    InferenceUnavailableError,
    PenalizedInferenceWarning,
)

LABELS = np.array(["apple", "banana", "cherry"])
FEATURES = ["my_var", "size", "x_2"]
HEADER_LABELS = [
    "Observations",
    "Classes (K)",
    "Log-likelihood",
    "Null log-likelihood",
    "LR chi2(6)",
    "Prob > chi2",
    "McFadden pseudo-R2",
    "AIC",
    "BIC",
    "Covariance",
    "Solver",
    "Converged",
]


@pytest.fixture(scope="module")
def data():
    X, y, _ = make_data(n=600, p=3, K=3, seed=0)
    return pd.DataFrame(X, columns=FEATURES), LABELS[y]


@pytest.fixture(scope="module")
def model(data):
    return MultinomialLogit().fit(*data)


def header_values(text):
    """``{label: shown value}`` from the header lines of the text summary."""
    rule = "=" * 78
    lines = text.splitlines()
    start = lines.index(rule) + 1
    stop = lines.index(rule, start)
    found = {}
    for line in lines[start:stop]:
        for label, value in re.findall(r"(\S[^:]*?):\s+(\S(?:.*?\S)?)(?=\s{2,}\S|$)", line):
            found[label] = value
    return found


def blocks(text):
    """``{class label: {term: [7 tokens]}}`` from the coefficient blocks."""
    out = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"class = (\S+)  \((.*)\)$", line)
        if m:
            current = out.setdefault(m.group(1), {})
            continue
        tokens = line.split()
        if current is not None and len(tokens) == 7 and not set(line) <= {"=", "-"}:
            if tokens[0] in ("coef", "rrr"):
                continue
            current[tokens[0]] = tokens[1:]
    return out


def check_row(tokens, row, first):
    """Every shown number equals the table's value at the shown precision."""
    assert float(tokens[0]) == pytest.approx(row[first], abs=5.01e-5)
    assert float(tokens[1]) == pytest.approx(row["std_err"], abs=5.01e-5)
    assert float(tokens[2]) == pytest.approx(row["z"], abs=5.01e-4)
    if row["p_value"] < 0.001:
        assert tokens[3] == "<0.001"
    else:
        assert float(tokens[3]) == pytest.approx(row["p_value"], abs=5.01e-4)
    assert float(tokens[4]) == pytest.approx(row["ci_lower"], abs=5.01e-5)
    assert float(tokens[5]) == pytest.approx(row["ci_upper"], abs=5.01e-5)


# ----------------------------------------------------------------------------- text


class TestText:
    def test_header_shows_fit_statistics(self, model):
        text = str(model.summary())
        shown = header_values(text)
        assert list(shown) == HEADER_LABELS
        lr = model.lr_test()
        assert lr.df == 6
        assert float(shown["Observations"]) == 600
        assert shown["Classes (K)"] == "3"
        assert shown["Log-likelihood"] == f"{model.loglik_:.4f}"
        assert shown["Null log-likelihood"] == f"{model.loglik_null_:.4f}"
        assert shown["LR chi2(6)"] == f"{lr.statistic:.4f}"
        assert float(shown["Prob > chi2"]) == pytest.approx(lr.p_value, rel=1e-3)
        assert shown["McFadden pseudo-R2"] == f"{model.pseudo_r2_:.4f}"
        assert shown["AIC"] == f"{model.aic_:.4f}"
        assert shown["BIC"] == f"{model.bic_:.4f}"
        assert shown["Covariance"] == "nonrobust"
        assert shown["Solver"] == model.solver_
        assert shown["Converged"] == f"yes ({model.n_iter_} it.)"
        assert text.splitlines()[0].strip() == "Multinomial logit regression results"

    def test_one_block_per_non_reference_class(self, model):
        text = str(model.summary())
        shown = blocks(text)
        assert list(shown) == ["banana", "cherry"]
        assert "class = apple" not in text
        assert text.count("(against reference apple)") == 2
        table = model.coef_table()
        for cls, rows in shown.items():
            assert list(rows) == ["Intercept", *FEATURES]
            for term, tokens in rows.items():
                check_row(tokens, table.loc[(cls, term)], "coef")

    def test_column_header_and_alpha(self, model):
        text = str(model.summary(alpha=0.1))
        assert "[90%" in text and "[95%" not in text
        table = model.coef_table(alpha=0.1)
        for term, tokens in blocks(text)["cherry"].items():
            check_row(tokens, table.loc[("cherry", term)], "coef")
        heads = [line.split() for line in text.splitlines() if line.split()[:1] == ["coef"]]
        assert heads == [["coef", "std", "err", "z", "P>|z|", "[90%", "CI]"]] * 2

    def test_exponentiate_shows_rrr(self, model):
        summary = model.summary(exponentiate=True)
        text = str(summary)
        assert "rrr" in text
        assert "Relative risk ratios" in text
        table = model.coef_table(exponentiate=True)
        coef = model.coef_table()
        for cls, rows in blocks(text).items():
            for term, tokens in rows.items():
                check_row(tokens, table.loc[(cls, term)], "rrr")
                assert float(tokens[0]) == pytest.approx(
                    np.exp(coef.loc[(cls, term), "coef"]), abs=5.01e-5
                )
        assert repr(summary) == text

    def test_robust_covariance_is_named(self, data):
        model = MultinomialLogit(cov_type="robust").fit(*data)
        assert header_values(str(model.summary()))["Covariance"] == "robust"

    def test_symmetric_form_shows_every_class(self, data):
        model = MultinomialLogit(reference=None).fit(*data)
        text = str(model.summary())
        assert list(blocks(text)) == list(LABELS)
        assert "symmetric form" in text

    def test_other_reference(self, model):
        text = str(model.with_reference("cherry").summary())
        assert list(blocks(text)) == ["apple", "banana"]
        assert "against reference cherry" in text

    def test_penalized_summary_mentions_penalty(self, data):
        model = MultinomialLogit(penalty="l2").fit(*data)
        with pytest.warns(PenalizedInferenceWarning):
            text = str(model.summary())
        shown = header_values(text)
        assert shown["Penalty"] == f"l2, alpha={model.alpha_:.4g}"
        assert not any(label.startswith("LR chi2") for label in shown)
        assert "Penalized fit" in text
        assert list(blocks(text)) == list(LABELS)

    def test_non_converged_fit_is_flagged(self, data):
        with pytest.warns(ConvergenceWarning):
            model = MultinomialLogit(max_iter=1).fit(*data)
        with pytest.raises(InferenceUnavailableError, match="did not converge"):
            model.summary()  # fit refuses standard errors of a non-converged fit (issue 18)
        model.compute_covariance(*data)  # asked for explicitly: computed, and flagged
        text = str(model.summary())
        assert header_values(text)["Converged"] == "NO (1 it.)"
        assert "WARNING: the solver did not converge" in text

    def test_without_covariance_raises(self, data):
        model = MultinomialLogit(cov_type=None).fit(*data)
        with pytest.raises(InferenceUnavailableError):
            model.summary()

    def test_array_input_uses_default_names(self):
        X, y, _ = make_data(n=300, p=2, K=4, seed=3)
        model = MultinomialLogit().fit(X, y)
        shown = blocks(str(model.summary()))
        assert list(shown) == ["1", "2", "3"]
        assert all(list(rows) == ["Intercept", "x0", "x1"] for rows in shown.values())
        assert "LR chi2(6)" in header_values(str(model.summary()))


# ----------------------------------------------------------------------------- HTML


class _Checker(HTMLParser):
    VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "col"})

    def __init__(self):
        super().__init__()
        self.stack = []
        self.errors = []
        self.tags = []
        self.captions = []
        self.cells = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)
        if tag in ("caption", "td", "th"):
            self._in = tag
            self._text = ""

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack}")
            return
        self.stack.pop()
        if tag == "caption":
            self.captions.append(self._text)
        elif tag in ("td", "th"):
            self.cells.append(self._text)
        self._in = None

    def handle_data(self, data):
        if self._in:
            self._text += data


def parse_html(markup):
    checker = _Checker()
    checker.feed(markup)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    return checker


class TestHTML:
    def test_well_formed_with_tables(self, model):
        markup = model.summary()._repr_html_()
        parsed = parse_html(markup)
        assert parsed.tags.count("table") == 3  # header + one per non-reference class
        assert parsed.captions == [
            "class = banana (against reference apple)",
            "class = cherry (against reference apple)",
        ]
        for label in ("Log-likelihood", "AIC", "BIC", "LR chi2(6)", "my_var", "x_2"):
            assert label in parsed.cells
        assert f"{model.loglik_:.4f}" in parsed.cells
        assert f"{model.aic_:.4f}" in parsed.cells
        table = model.coef_table()
        assert f"{table.loc[('cherry', 'x_2'), 'coef']:.4f}" in parsed.cells
        assert f"{table.loc[('banana', 'Intercept'), 'ci_upper']:.4f}" in parsed.cells

    def test_special_characters_are_escaped(self):
        X, y, _ = make_data(n=300, p=2, K=3, seed=4)
        frame = pd.DataFrame(X, columns=["a<b", "c&d"])
        labels = np.array(["lo", "mid & up", "<hi>"])[y]
        model = MultinomialLogit().fit(frame, labels)
        markup = model.summary()._repr_html_()
        parsed = parse_html(markup)
        assert "a<b" in parsed.cells and "c&d" in parsed.cells
        assert "a&lt;b" in markup and "c&amp;d" in markup
        assert any("<hi>" in c for c in parsed.captions)

    def test_notes_are_paragraphs(self, model):
        parsed = parse_html(model.summary(exponentiate=True)._repr_html_())
        assert "p" in parsed.tags
        assert "rrr" in parsed.cells


# ----------------------------------------------------------------------------- LaTeX


class TestLatex:
    def test_structure(self, model):
        latex = model.summary().as_latex()
        for command in (
            r"\begin{table}",
            r"\begin{tabular}{lrrrrrr}",
            r"\toprule",
            r"\midrule",
            r"\bottomrule",
            r"\end{tabular}",
            r"\end{table}",
        ):
            assert command in latex
        assert latex.index(r"\toprule") < latex.index(r"\midrule") < latex.index(r"\bottomrule")
        assert latex.count(r"\begin{") == latex.count(r"\end{")
        unescaped = re.sub(r"\\[{}]", "", latex)
        assert unescaped.count("{") == unescaped.count("}")

    def test_rows_and_escaping(self, model):
        latex = model.summary().as_latex()
        assert r"my\_var" in latex and r"x\_2" in latex
        assert re.search(r"(?<!\\)_", latex) is None  # no bare underscore anywhere
        assert r"95\%" in latex
        table = model.coef_table()
        rows = [line for line in latex.splitlines() if line.startswith(r"my\_var &")]
        assert len(rows) == 2
        for cls, line in zip(["banana", "cherry"], rows, strict=True):
            cells = line.removesuffix(r" \\").split(" & ")
            assert len(cells) == 7
            row = table.loc[(cls, "my_var")]
            assert float(cells[1]) == pytest.approx(row["coef"], abs=5.01e-5)
            assert float(cells[2]) == pytest.approx(row["std_err"], abs=5.01e-5)
        assert f"{model.loglik_:.4f}" in latex
        assert r"\textit{class = cherry (against reference apple)}" in latex

    def test_small_p_values_in_math_mode(self, model):
        latex = model.summary().as_latex()
        assert "$<$0.001" in latex
        assert re.search(r"(?<!\$)<0\.001", latex) is None

    def test_backslash_in_a_name(self):
        X, y, _ = make_data(n=300, p=2, K=3, seed=6)
        frame = pd.DataFrame(X, columns=["a\\b", "c{d}"])
        model = MultinomialLogit().fit(frame, y)
        latex = model.summary().as_latex()
        assert r"c\{d\} &" in latex
        assert r"a\textbackslash{}b &" in latex

    def test_exponentiated_and_penalized(self, data):
        model = MultinomialLogit(penalty="l2").fit(*data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PenalizedInferenceWarning)
            latex = model.summary(exponentiate=True).as_latex()
        assert " & rrr & " in latex
        assert "Penalty" in latex
        assert "Penalized fit" in latex


class TestSections:
    """Tables after the coefficients: ``summary(iia=...)`` and ``add_section``."""

    def test_iia_sections_show_the_tests(self, data, model):
        X, y = data
        summary = model.summary(iia=(X, y))
        text = str(summary)
        hm = model.iia_test(X, y)
        su = model.iia_test(X, y, method="suest")
        assert [title for title, _ in summary.sections] == [
            "IIA: Hausman-McFadden tests (H0: odds independent of the omitted class)",
            "IIA: generalized Hausman (suest) tests, stacked scores",
        ]
        plain = str(model.summary())
        assert text.startswith(plain)  # this model has no notes: sections follow the blocks
        parts = text[len(plain) :].split("IIA: generalized Hausman (suest)")
        for table, part in zip((hm, su), parts, strict=True):
            rows = {ln.split()[0]: ln.split() for ln in part.splitlines() if ln[:1].isalpha()}
            for label, row in table.iterrows():
                cells = rows[str(label)]
                assert cells[1] == f"{row['statistic']:.4f}"
                assert cells[2] == str(int(row["df"]))

    def test_notes_become_footnotes(self, data, model):
        X, y = data
        table = model.iia_test(X, y)
        summary = model.summary().add_section("IIA", table)
        text = str(summary)
        notes = [n for n in table["note"] if n]
        assert notes  # the reference class is omitted in one row at least
        assert "[1] " + notes[0][:40] in " ".join(text.split())
        markup = summary._repr_html_()
        assert "<caption>IIA</caption>" in markup and "[1]" in markup
        latex = summary.as_latex()
        assert r"\textit{IIA}" in latex and r"\footnotesize [1]" in latex

    def test_combine_table_as_a_section(self, model):
        table = model.combine_test()
        text = str(model.summary().add_section("Combine classes (Wald)", table))
        for (a, b), row in table.iterrows():
            assert f"{a} vs {b}" in text
            assert f"{row['statistic']:.4f}" in text
