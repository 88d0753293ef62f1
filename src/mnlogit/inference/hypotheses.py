"""Linear hypotheses ``R beta = q`` on the coefficients, written readably, and Wald tests.

Coefficients are addressed as ``[class]term``, Stata's notation: ``[2]age`` is the
coefficient of ``age`` for class ``2``; ``[high]Intercept`` an intercept. A hypothesis
is a comma-separated list of linear equations, e.g.::

    "[2]age = 0, [3]age = 0"
    "[medium]income - [high]income = 0"
    "2*[b]x1 = [c]x1 + 0.5"

A bare term name as a whole constraint, e.g. ``"age"``, means *all* its coefficients
across classes are zero (a joint test of the term). Class labels are matched by their
``str()``; term names are matched literally, so names containing brackets or spaces
(as formula terms do) work too.

``beta`` here is ``vec(B)``: the full coefficient matrix in class-major order,
``K * p1`` entries, classes in ``classes_`` order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats
from numpy.typing import NDArray

from mnlogit.exceptions import InvalidInputError

__all__ = ["TestResult", "parse_hypothesis", "wald_statistic"]

FloatArray = NDArray[np.float64]
_NUMBER = re.compile(r"(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)")


@dataclass(frozen=True)
class TestResult:
    """A chi-squared test.

    Attributes
    ----------
    statistic : float
    df : int
    p_value : float
    description : str
    """

    statistic: float
    df: int
    p_value: float
    description: str = ""

    def __str__(self) -> str:
        head = f"{self.description}: " if self.description else ""
        return f"{head}chi2({self.df}) = {self.statistic:.4f}, p = {self.p_value:.4g}"


class _Parser:
    """Recursive-descent parser over one hypothesis string."""

    def __init__(
        self,
        text: str,
        class_names: Sequence[str],
        term_names: Sequence[str],
        free_classes: Sequence[int],
    ) -> None:
        self.text = text
        self.pos = 0
        self.classes = list(class_names)
        self.terms = sorted(term_names, key=len, reverse=True)
        self.term_index = {t: i for i, t in enumerate(term_names)}
        self.p1 = len(term_names)
        self.free_classes = list(free_classes)

    def error(self, what: str) -> InvalidInputError:
        return InvalidInputError(
            f"cannot parse hypothesis {self.text!r} at position {self.pos}: {what}. "
            "Write constraints like '[class]term = 0', separated by commas"
        )

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def match_term(self) -> str | None:
        for term in self.terms:
            if self.text.startswith(term, self.pos):
                end = self.pos + len(term)
                nxt = self.text[end] if end < len(self.text) else ""
                if not (nxt.isalnum() or nxt == "_"):
                    self.pos = end
                    return term
        return None

    def coef_ref(self) -> int:
        """Parse ``[class]term`` and return its index in vec(B)."""
        self.pos += 1
        close = self.text.find("]", self.pos)
        if close < 0:
            raise self.error("missing ']'")
        label = self.text[self.pos : close].strip()
        if label not in self.classes:
            raise InvalidInputError(
                f"hypothesis {self.text!r}: class {label!r} is not one of {self.classes}"
            )
        self.pos = close + 1
        term = self.match_term()
        if term is None:
            raise InvalidInputError(
                f"hypothesis {self.text!r}: no term after [{label}] at position {self.pos}; "
                f"terms are {sorted(self.term_index)}"
            )
        return self.classes.index(label) * self.p1 + self.term_index[term]

    def number(self) -> float:
        m = _NUMBER.match(self.text, self.pos)
        if not m:
            raise self.error("expected a number or [class]term")
        self.pos = m.end()
        return float(m.group(0))

    def product(self, row: FloatArray, sign: float) -> float:
        """One signed product; adds coefficients to ``row``, returns the constant part."""
        c = self.peek()
        if c == "[":
            idx = self.coef_ref()
            factor = 1.0
            if self.peek() == "*":
                self.pos += 1
                self.skip()
                factor = self.number()
            row[idx] += sign * factor
            return 0.0
        value = self.number()
        if self.peek() == "*":
            self.pos += 1
            if self.peek() != "[":
                raise self.error("expected [class]term after '*'")
            row[self.coef_ref()] += sign * value
            return 0.0
        return sign * value

    def side(self, row: FloatArray, sign: float) -> float:
        """A signed sum of products; returns its constant part (times ``sign``)."""
        s = 1.0
        if self.peek() in ("+", "-"):
            s = -1.0 if self.peek() == "-" else 1.0
            self.pos += 1
        const = self.product(row, sign * s)
        while self.peek() in ("+", "-"):
            s = -1.0 if self.peek() == "-" else 1.0
            self.pos += 1
            const += self.product(row, sign * s)
        return const

    def constraint(self, n_coef: int) -> list[tuple[FloatArray, float]]:
        self.skip()
        start = self.pos
        term = self.match_term()
        if term is not None and self.peek() in (",", ""):
            rows = []
            for k in self.free_classes:
                row = np.zeros(n_coef)
                row[k * self.p1 + self.term_index[term]] = 1.0
                rows.append((row, 0.0))
            return rows
        self.pos = start
        row = np.zeros(n_coef)
        left = self.side(row, 1.0)
        if self.peek() != "=":
            raise self.error("expected '='")
        self.pos += 1
        right = self.side(row, -1.0)
        # row . beta + left = -right ... moved: row . beta = -(left + right)
        return [(row, -(left + right))]

    def parse(self) -> tuple[FloatArray, FloatArray]:
        n_coef = len(self.classes) * self.p1
        rows: list[tuple[FloatArray, float]] = []
        while True:
            rows.extend(self.constraint(n_coef))
            c = self.peek()
            if c == ",":
                self.pos += 1
                continue
            if c == "":
                break
            raise self.error(f"unexpected {c!r}")
        R = np.vstack([r for r, _ in rows])
        q = np.array([v for _, v in rows])
        return R, q


def parse_hypothesis(
    text: str,
    class_names: Sequence[str],
    term_names: Sequence[str],
    free_classes: Sequence[int],
) -> tuple[FloatArray, FloatArray]:
    """Turn a hypothesis string into ``(R, q)`` over ``vec(B)``.

    Parameters
    ----------
    text : str
    class_names : sequence of str, length K
        ``str()`` of each class, in ``classes_`` order.
    term_names : sequence of str, length p1
    free_classes : sequence of int
        Class positions a bare term name expands over (the non-reference classes).

    Returns
    -------
    R : ndarray of shape (r, K * p1)
    q : ndarray of shape (r,)
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("hypothesis must be a non-empty string")
    return _Parser(text, class_names, term_names, free_classes).parse()


def wald_statistic(
    beta: FloatArray, cov: FloatArray, R: FloatArray, q: FloatArray, description: str = ""
) -> TestResult:
    """Wald chi-squared test of ``R beta = q``.

    Uses a generalized inverse of ``R cov R^T`` and its numerical rank as the degrees of
    freedom, so redundant constraints (e.g. all K coefficients of a term in the
    symmetric form, which sum to zero) are counted once.

    Parameters
    ----------
    beta : ndarray of shape (m,)
    cov : ndarray of shape (m, m)
    R : ndarray of shape (r, m)
    q : ndarray of shape (r,)
    """
    diff = R @ beta - q
    # only the coefficients the restrictions touch: another coefficient's variance may be
    # NaN (not representable) without concerning this test
    used = np.flatnonzero(np.any(R != 0, axis=0))
    V = R[:, used] @ cov[np.ix_(used, used)] @ R[:, used].T
    if not np.all(np.isfinite(V)):
        raise InvalidInputError(
            "the hypothesis involves coefficients whose variance is not representable "
            "in float64 (see cov_status_): rescale the column(s) and refit"
        )
    # Rank from the correlation matrix, so that a coefficient's units (a feature in
    # dollars rather than in 100k dollars) do not decide which restrictions count.
    d = np.sqrt(np.maximum(np.diag(V), 0.0))
    fixed = d <= 0
    if np.any(fixed & (np.abs(diff) > 1e-12 * (1.0 + np.abs(q)))):
        raise InvalidInputError(
            "the hypothesis has a restriction on coefficients with zero variance (for example "
            "the reference class's, fixed at zero) that the estimates do not satisfy; such a "
            "restriction is false by construction, not testable"
        )
    s = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)
    Vs = V * np.outer(s, s)
    w, U = np.linalg.eigh(0.5 * (Vs + Vs.T))
    keep = w > max(float(w.max(initial=0.0)), 0.0) * 1e-10
    df = int(keep.sum())
    if df == 0:
        raise InvalidInputError(
            "the hypothesis involves only coefficients with zero variance (for example "
            "the reference class's, which are fixed at zero)"
        )
    z = U[:, keep].T @ (diff * s)
    stat = float(np.sum(z * z / w[keep]))
    return TestResult(stat, df, float(scipy.stats.chi2.sf(stat, df)), description)


def as_matrix_hypothesis(R: Any, q: Any, n_displayed: int) -> tuple[FloatArray, FloatArray]:
    """Validate a user-given ``R`` (columns = displayed coefficients) and ``q``."""
    Rm = np.atleast_2d(np.asarray(R, dtype=np.float64))
    if Rm.shape[1] != n_displayed:
        raise InvalidInputError(
            f"R must have {n_displayed} columns (one per row of cov_params()), got {Rm.shape[1]}"
        )
    qv = np.zeros(Rm.shape[0]) if q is None else np.atleast_1d(np.asarray(q, dtype=np.float64))
    if qv.shape != (Rm.shape[0],):
        raise InvalidInputError(f"q must have {Rm.shape[0]} entries, got shape {qv.shape}")
    return Rm, qv
