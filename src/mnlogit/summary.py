"""Rendering of a fitted model's summary: text, HTML and LaTeX. No math here.

:class:`Summary` holds already-computed numbers (a header of fit statistics and the
coefficient table) and only formats them.
"""

from __future__ import annotations

import html
import re
import textwrap
from dataclasses import dataclass, field
from typing import cast

import pandas as pd

__all__ = ["SparseSummary", "Summary"]

_WIDTH = 78


def _fmt(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        if value != value:  # nan
            return "nan"
        if abs(value) >= 1e5 or (value != 0 and abs(value) < 1e-3):
            return f"{value:.4g}"
        return f"{value:.4f}"
    return str(value)


def _p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_PATTERN = re.compile(r"[\\&%$#_{}~^]")


def _latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in one pass."""
    return _LATEX_PATTERN.sub(lambda m: _LATEX_SPECIAL[m.group()], text)


@dataclass
class Summary:
    """A publication-ready summary of a fitted model.

    Attributes
    ----------
    title : str
    header : list of (label, value) pairs
        Fit statistics, shown two per line in text.
    table : DataFrame
        Indexed by ``(class, term)``; the first column is ``coef`` or ``rrr``, then
        ``std_err, z, p_value, ci_lower, ci_upper``.
    reference : str
        How the coefficients are to be read (e.g. "against Strong Democrat").
    alpha : float
    notes : list of str
    sections : list of (str, DataFrame)
        Further tables shown after the coefficients (the IIA tests of
        ``summary(iia=...)``, or any added with :meth:`add_section`): a title and a
        table of ``statistic, df, p_value`` (and ``note``) columns, or any numbers.
    """

    title: str
    header: list[tuple[str, object]]
    table: pd.DataFrame
    reference: str
    alpha: float
    notes: list[str]
    sections: list[tuple[str, pd.DataFrame]] = field(default_factory=list)

    def add_section(self, title: str, table: pd.DataFrame) -> Summary:
        """Append a table (e.g. ``model.combine_test()``) to the summary; returns it.

        Parameters
        ----------
        title : str
        table : DataFrame
            Its ``note`` column, if any, is shown as numbered footnotes.
        """
        self.sections.append((title, table))
        return self

    @staticmethod
    def _section_cells(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        """A section's table as strings, with its notes turned into numbered footnotes."""
        notes: list[str] = []
        cells = pd.DataFrame(
            index=[
                str(i) if not isinstance(i, tuple) else " vs ".join(map(str, i))
                for i in table.index
            ]
        )
        for col in table.columns:
            values = table[col].tolist()
            if col == "note":
                marks = []
                for note in values:
                    if isinstance(note, str) and note:
                        notes.append(note)
                        marks.append(f"[{len(notes)}]")
                    else:
                        marks.append("")
                cells["note"] = marks
            elif col == "p_value":
                cells["P>chi2"] = [_p(v) if v == v else "" for v in values]
            else:
                cells[str(col)] = [
                    _fmt(float(v)) if isinstance(v, int | float) else str(v) for v in values
                ]
        cells.index.name = (
            table.index.name
            if table.index.nlevels == 1
            else " / ".join(map(str, table.index.names))
        )
        return cells, notes

    def _sections_text(self) -> list[str]:
        lines: list[str] = []
        for title, table in self.sections:
            cells, notes = self._section_cells(table)
            lines.append(title)
            label = str(cells.index.name or "")
            width = max([len(label), *(len(i) for i in cells.index)]) + 2
            lines.append(f"{label:<{width}}" + "".join(f"{c:>12}" for c in cells.columns))
            lines.append("-" * _WIDTH)
            for name, row in cells.iterrows():
                lines.append(f"{name!s:<{width}}" + "".join(f"{v:>12}" for v in row))
            for i, note in enumerate(notes, 1):
                lines.extend(
                    textwrap.wrap(
                        note, _WIDTH, initial_indent=f"  [{i}] ", subsequent_indent="      "
                    )
                )
            lines.append("=" * _WIDTH)
        return lines

    def _columns(self) -> list[str]:
        level = 100 * (1 - self.alpha)
        ci = f"{level:g}%"
        return [self.table.columns[0], "std err", "z", "P>|z|", f"[{ci}", "CI]"]

    def _blocks(self) -> list[tuple[object, pd.DataFrame]]:
        blocks: list[tuple[object, pd.DataFrame]] = []
        for cls in self.table.index.get_level_values("class").unique():
            block = self.table.xs(cls, level="class")
            assert isinstance(block, pd.DataFrame)
            blocks.append((cls, block))
        return blocks

    def __str__(self) -> str:
        lines = [self.title.center(_WIDTH), "=" * _WIDTH]
        pairs = [f"{label + ':':<22}{_fmt(value):>16}" for label, value in self.header]
        for i in range(0, len(pairs), 2):
            lines.append("  ".join(pairs[i : i + 2]))
        lines.append("=" * _WIDTH)
        term_width = max([len(str(t)) for t in self.table.index.get_level_values("term")] + [12])
        cols = self._columns()
        head = f"{'':<{term_width}}" + "".join(f"{c:>11}" for c in cols)
        for cls, block in self._blocks():
            lines.append(f"class = {cls}  ({self.reference})")
            lines.append(head)
            lines.append("-" * max(_WIDTH, len(head)))
            for term, row in block.iterrows():
                vals = [
                    f"{row.iloc[0]:>11.4f}",
                    f"{row['std_err']:>11.4f}",
                    f"{row['z']:>11.3f}",
                    f"{_p(row['p_value']):>11}",
                    f"{row['ci_lower']:>11.4f}",
                    f"{row['ci_upper']:>11.4f}",
                ]
                lines.append(f"{term!s:<{term_width}}" + "".join(vals))
            lines.append("=" * max(_WIDTH, len(head)))
        lines.extend(self._sections_text())
        lines.extend(self.notes)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        esc = html.escape
        out = [f"<div class='mnlogit-summary'><h4>{esc(self.title)}</h4>", "<table>"]
        for label, value in self.header:
            out.append(f"<tr><th style='text-align:left'>{esc(label)}</th>")
            out.append(f"<td style='text-align:right'>{esc(_fmt(value))}</td></tr>")
        out.append("</table>")
        cols = self._columns()
        for cls, block in self._blocks():
            out.append(f"<table><caption>class = {esc(str(cls))} ({esc(self.reference)})</caption>")
            out.append("<tr><th></th>" + "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr>")
            for term, row in block.iterrows():
                vals = [
                    f"{row.iloc[0]:.4f}",
                    f"{row['std_err']:.4f}",
                    f"{row['z']:.3f}",
                    _p(row["p_value"]),
                    f"{row['ci_lower']:.4f}",
                    f"{row['ci_upper']:.4f}",
                ]
                out.append(
                    f"<tr><th style='text-align:left'>{esc(str(term))}</th>"
                    + "".join(f"<td style='text-align:right'>{esc(v)}</td>" for v in vals)
                    + "</tr>"
                )
            out.append("</table>")
        for title, table in self.sections:
            cells, notes = self._section_cells(table)
            out.append(f"<table><caption>{esc(title)}</caption>")
            out.append(
                f"<tr><th>{esc(str(cells.index.name or ''))}</th>"
                + "".join(f"<th>{esc(c)}</th>" for c in cells.columns)
                + "</tr>"
            )
            for name, row in cells.iterrows():
                out.append(
                    f"<tr><th style='text-align:left'>{esc(str(name))}</th>"
                    + "".join(f"<td style='text-align:right'>{esc(v)}</td>" for v in row)
                    + "</tr>"
                )
            out.append("</table>")
            out.extend(f"<p><small>[{i}] {esc(n)}</small></p>" for i, n in enumerate(notes, 1))
        out.extend(f"<p>{esc(n)}</p>" for n in self.notes)
        out.append("</div>")
        return "\n".join(out)

    def as_latex(self) -> str:
        """A LaTeX ``table`` (booktabs rules) with the header and one panel per class."""
        cols = [_latex_escape(str(c)) for c in self._columns()]
        out = [
            r"\begin{table}[htbp]",
            r"\centering",
            rf"\caption{{{_latex_escape(self.title)}}}",
            r"\begin{tabular}{l" + "r" * len(cols) + "}",
            r"\toprule",
        ]
        for label, value in self.header:
            out.append(
                rf"\multicolumn{{4}}{{l}}{{{_latex_escape(label)}}} & "
                rf"\multicolumn{{3}}{{r}}{{{_latex_escape(_fmt(value))}}} \\"
            )
        out.append(r"\midrule")
        out.append(" & " + " & ".join(cols) + r" \\")
        for cls, block in self._blocks():
            out.append(r"\midrule")
            caption = _latex_escape(f"class = {cls} ({self.reference})")
            out.append(rf"\multicolumn{{{len(cols) + 1}}}{{l}}{{\textit{{{caption}}}}} \\")
            for term, row in block.iterrows():
                vals = [
                    f"{row.iloc[0]:.4f}",
                    f"{row['std_err']:.4f}",
                    f"{row['z']:.3f}",
                    _p(row["p_value"]).replace("<", "$<$"),
                    f"{row['ci_lower']:.4f}",
                    f"{row['ci_upper']:.4f}",
                ]
                out.append(_latex_escape(str(term)) + " & " + " & ".join(vals) + r" \\")
        for title, table in self.sections:
            cells, notes = self._section_cells(table)
            out.append(r"\midrule")
            span = len(cols) + 1
            out.append(rf"\multicolumn{{{span}}}{{l}}{{\textit{{{_latex_escape(title)}}}}} \\")
            for name, row in cells.iterrows():
                vals = [_latex_escape(str(v)).replace("<", "$<$") for v in row]
                out.append(_latex_escape(str(name)) + " & " + " & ".join(vals) + r" \\")
            for i, note in enumerate(notes, 1):
                out.append(
                    rf"\multicolumn{{{span}}}{{l}}{{\footnotesize [{i}] {_latex_escape(note)}}} \\"
                )
        out.extend([r"\bottomrule", r"\end{tabular}"])
        for note in self.notes:
            out.append(rf"\par\small {_latex_escape(note)}")
        out.append(r"\end{table}")
        return "\n".join(out)


@dataclass
class SparseSummary:
    """The summary of a sparse (lasso-type) fit: its nonzero terms per class, no inference.

    After a penalty has selected the terms, classical standard errors, tests and
    intervals are not valid, so none are shown: the summary lists, for each class, the
    terms with a nonzero coefficient and their values, and says which terms are zero in
    every class.

    Attributes
    ----------
    title : str
    header : list of (label, value) pairs
        Fit statistics, shown two per line in text.
    table : DataFrame
        Indexed by ``(class, term)``, one ``coef`` column, only the nonzero coefficients
        (the intercept always), in ``classes`` and term order.
    reference : str
        How the coefficients are to be read (symmetric form, or against a class).
    classes : list
        Every class, also one without a nonzero term.
    dropped : list of str
        Terms whose coefficient is zero in every class.
    notes : list of str
    """

    title: str
    header: list[tuple[str, object]]
    table: pd.DataFrame
    reference: str
    classes: list[object]
    dropped: list[str]
    notes: list[str]

    def _blocks(self) -> list[tuple[object, pd.DataFrame]]:
        present = set(self.table.index.get_level_values("class"))
        blocks = []
        for cls in self.classes:
            block = (
                cast(pd.DataFrame, self.table.xs(cls, level="class"))
                if cls in present
                else pd.DataFrame({"coef": []}, dtype=float)
            )
            blocks.append((cls, block))
        return blocks

    def _counts(self, block: pd.DataFrame) -> str:
        terms = [t for t in block.index if t != "Intercept"]
        return f"{len(terms)} nonzero term{'s' if len(terms) != 1 else ''}"

    def _dropped_text(self) -> str:
        if not self.dropped:
            return "Every term has a nonzero coefficient in some class."
        return f"Zero in every class ({len(self.dropped)}): " + ", ".join(self.dropped) + "."

    def __str__(self) -> str:
        lines = [self.title.center(_WIDTH), "=" * _WIDTH]
        pairs = [f"{label + ':':<22}{_fmt(value):>16}" for label, value in self.header]
        for i in range(0, len(pairs), 2):
            lines.append("  ".join(pairs[i : i + 2]))
        lines.append("=" * _WIDTH)
        terms = [str(t) for t in self.table.index.get_level_values("term")]
        width = max([len(t) for t in terms] + [12]) + 2
        for cls, block in self._blocks():
            lines.append(f"class = {cls}  ({self.reference}; {self._counts(block)})")
            lines.append(f"{'':<{width}}{'coef':>11}")
            lines.append("-" * _WIDTH)
            for term, row in block.iterrows():
                lines.append(f"{term!s:<{width}}{row['coef']:>11.4f}")
            lines.append("=" * _WIDTH)
        lines.extend(textwrap.wrap(self._dropped_text(), _WIDTH))
        for note in self.notes:
            lines.extend(textwrap.wrap(note, _WIDTH))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        """The header, then one table of terms (rows) by classes (columns): the nonzero
        coefficients, a blank cell where a coefficient is zero."""
        esc = html.escape
        out = [f"<div class='mnlogit-summary'><h4>{esc(self.title)}</h4>", "<table>"]
        for label, value in self.header:
            out.append(f"<tr><th style='text-align:left'>{esc(label)}</th>")
            out.append(f"<td style='text-align:right'>{esc(_fmt(value))}</td></tr>")
        out.append("</table>")
        blocks = self._blocks()
        terms = list(dict.fromkeys(self.table.index.get_level_values("term")))
        caption = f"Nonzero coefficients ({self.reference}; blank: zero)"
        out.append(f"<table><caption>{esc(caption)}</caption><tr><th>term</th>")
        out.extend(f"<th>{esc(str(cls))}</th>" for cls, _ in blocks)
        out.append("</tr>")
        for term in terms:
            out.append(f"<tr><th style='text-align:left'>{esc(str(term))}</th>")
            for _, block in blocks:
                cell = f"{block.loc[term, 'coef']:.4f}" if term in block.index else ""
                out.append(f"<td style='text-align:right'>{cell}</td>")
            out.append("</tr>")
        out.append("<tr><th style='text-align:left'>nonzero terms</th>")
        for _, block in blocks:
            out.append(
                f"<td style='text-align:right'>{len(block) - int('Intercept' in block.index)}</td>"
            )
        out.append("</tr></table>")
        out.append(f"<p>{esc(self._dropped_text())}</p>")
        out.extend(f"<p>{esc(n)}</p>" for n in self.notes)
        out.append("</div>")
        return "\n".join(out)

    def as_latex(self) -> str:
        """A LaTeX ``table`` (booktabs rules): the header, then one panel per class."""
        out = [
            r"\begin{table}[htbp]",
            r"\centering",
            rf"\caption{{{_latex_escape(self.title)}}}",
            r"\begin{tabular}{lr}",
            r"\toprule",
        ]
        for label, value in self.header:
            out.append(rf"{_latex_escape(label)} & {_latex_escape(_fmt(value))} \\")
        for cls, block in self._blocks():
            out.append(r"\midrule")
            caption = _latex_escape(f"class = {cls} ({self.reference}; {self._counts(block)})")
            out.append(rf"\multicolumn{{2}}{{l}}{{\textit{{{caption}}}}} \\")
            for term, row in block.iterrows():
                out.append(rf"{_latex_escape(str(term))} & {row['coef']:.4f} \\")
        out.extend([r"\bottomrule", r"\end{tabular}"])
        for note in [self._dropped_text(), *self.notes]:
            out.append(rf"\par\small {_latex_escape(note)}")
        out.append(r"\end{table}")
        return "\n".join(out)
