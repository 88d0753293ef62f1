"""Formulas: from a data frame and ``"y ~ x1 + C(x2)"`` to a design matrix and labels.

Formula parsing and encoding are formulaic's. This module adds what a fitted model
needs around it:

- the response is the left-hand side's single column, taken as raw labels (not
  one-hot encoded);
- the intercept is the model's own (``fit_intercept``): formulaic's ``Intercept``
  column is removed from the matrix and only recorded; ``"~ 0 + x"`` or ``"- 1"`` fits
  without one;
- missing values are counted per column and refused, or their rows dropped;
- at prediction time a categorical level not seen in training is an error naming the
  column and the level (formulaic would only warn and produce NaN), and so is text in a
  column fitted as numeric; a column fitted bare (``y ~ a``) whose values are numbers
  except for a few strings (a typo such as ``"?"``) is refused at fit time, naming the
  values and rows, instead of becoming a factor with a level per number;
- prediction never changes the fitted encoding (formulaic's spec is copied first);
- the encoding state (levels, contrasts, centring constants) is exported to and
  rebuilt from plain JSON-able data for model files, without pickle.

pandas and polars frames are accepted (polars is converted column by column, without
requiring pyarrow).
"""

from __future__ import annotations

import ast
import copy
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, ModelSpec
from formulaic.errors import FormulaicError
from formulaic.parser.types.factor import Factor
from formulaic.transforms import contrasts as _contrasts
from formulaic.utils.sentinels import UNSET
from numpy.typing import NDArray

from mnlogit.exceptions import InvalidInputError, MnlogitWarning, warn

__all__ = ["FormulaDesign", "as_pandas", "check_formula_safe", "missing_report"]

FloatArray = NDArray[np.float64]

_CONTRASTS = {
    name: getattr(_contrasts, name)
    for name in (
        "TreatmentContrasts",
        "SumContrasts",
        "HelmertContrasts",
        "DiffContrasts",
        "PolyContrasts",
        "SASContrasts",
    )
}


#: Functions a formula read from a model file may call. formulaic evaluates formula
#: terms as Python, so a model file's formula is code: only these names (and data
#: columns) are allowed in it, with literal arguments.
SAFE_FUNCTIONS = frozenset(
    {
        "C",
        "I",
        "scale",
        "center",
        "standardize",
        "lag",
        "bs",
        "cs",
        "cc",
        "cr",
        "poly",
        "hashed",
        "log",
        "log1p",
        "log2",
        "log10",
        "exp",
        "sqrt",
        "abs",
        "np.log",
        "np.log1p",
        "np.log2",
        "np.log10",
        "np.exp",
        "np.sqrt",
        "np.abs",
        "np.square",
        "contr.treatment",
        "contr.sum",
        "contr.helmert",
        "contr.diff",
        "contr.poly",
        "contr.SAS",
    }
)
_SAFE_NODES = (
    ast.Expression,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.BinOp,
    ast.UnaryOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.USub,
    ast.UAdd,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.List,
    ast.Tuple,
    ast.keyword,
)


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def check_formula_safe(rhs: str) -> None:
    """Refuse a formula whose terms could run arbitrary code when evaluated.

    Each term must be a column name, or an expression of column names, literals,
    arithmetic and calls of :data:`SAFE_FUNCTIONS` -- no other calls (``open(...)``,
    ``__import__(...)``, ``eval(...)``), attribute access, subscripts, lambdas or dunder
    names. A bare name is a data column (formulaic looks it up in the data first); even
    where it falls through to a Python builtin it is a value, never called.

    Raises
    ------
    InvalidInputError
    """
    try:
        parsed = Formula(rhs)
    except (FormulaicError, ValueError, SyntaxError) as exc:
        raise InvalidInputError(f"cannot parse formula {rhs!r}: {exc}") from exc
    sides = [parsed.lhs, parsed.rhs] if hasattr(parsed, "rhs") else [parsed]
    for term in (t for side in sides for t in side):
        for factor in term.factors:
            method = getattr(factor.eval_method, "value", str(factor.eval_method))
            if method != "python":
                continue
            expr = str(factor.expr)
            try:
                tree = ast.parse(expr, mode="eval")
            except SyntaxError as exc:
                raise InvalidInputError(f"formula term {expr!r} is not an expression") from exc
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    name = _dotted(node.func)
                    if name not in SAFE_FUNCTIONS:
                        raise InvalidInputError(
                            f"formula term {expr!r} calls {name or 'an expression'}, which "
                            "mnlogit does not allow in a model file's formula"
                        )
                    continue
                if isinstance(node, ast.Attribute):
                    if _dotted(node) not in SAFE_FUNCTIONS:
                        raise InvalidInputError(
                            f"formula term {expr!r} uses attribute access, which mnlogit does "
                            "not allow in a model file's formula"
                        )
                    continue
                if isinstance(node, ast.Name) and node.id.startswith("__"):
                    raise InvalidInputError(
                        f"formula term {expr!r} uses the name {node.id!r}, which mnlogit does "
                        "not allow in a model file's formula"
                    )
                if not isinstance(node, _SAFE_NODES):
                    raise InvalidInputError(
                        f"formula term {expr!r} uses {type(node).__name__}, which mnlogit "
                        "does not allow in a model file's formula"
                    )


class MissingValuesDropped(MnlogitWarning):
    """Rows with missing values were dropped (``missing="drop"``)."""


def as_pandas(data: Any) -> pd.DataFrame:
    """A pandas DataFrame from a pandas or polars frame (or a dict of columns)."""
    if isinstance(data, pd.DataFrame):
        return data
    module = type(data).__module__
    if module.startswith("polars"):
        return pd.DataFrame({name: data[name].to_numpy() for name in data.columns})
    if isinstance(data, dict):
        return pd.DataFrame(data)
    raise InvalidInputError(
        f"with a formula, X must be a pandas or polars DataFrame, got {type(data).__name__}"
    )


def missing_report(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.Series, NDArray[np.bool_]]:
    """Missing-value counts per column and the rows that have any.

    Returns
    -------
    counts : Series
        Non-zero counts, indexed by column.
    rows : ndarray of shape (n,)
        True for rows with a missing value in any of ``columns``.
    """
    na = frame[columns].isna()
    counts = na.sum()
    return counts[counts > 0], na.any(axis=1).to_numpy()


def _missing_message(frame: pd.DataFrame, counts: pd.Series, rows: NDArray[np.bool_]) -> str:
    parts = ", ".join(f"{col!r}: {int(n)}" for col, n in counts.items())
    first = frame.index[int(np.flatnonzero(rows)[0])]
    return (
        f"missing values in {int(rows.sum())} of {rows.size} rows ({parts}; first at row "
        f"{first!r}); pass missing='drop' to drop those rows, or impute them first"
    )


def _non_numeric(column: pd.Series) -> pd.Series:
    """The non-missing values of ``column`` that are not numbers (empty for a numeric
    column)."""
    if pd.api.types.is_numeric_dtype(column.dtype) or isinstance(column.dtype, pd.CategoricalDtype):
        return column.iloc[:0]
    present = column.dropna()
    parsed = pd.to_numeric(present.astype(object), errors="coerce")
    return present[parsed.isna().to_numpy()]


def _typo_message(name: str, column: pd.Series, bad: pd.Series, fitted: bool) -> str:
    """The message for a number column holding a few strings: values and rows."""
    values = [str(v) for v in pd.unique(bad.astype(object))[:5]]
    rows = [int(r) for r in np.flatnonzero(column.index.isin(bad.index))[:5]]
    what = "was fitted as numeric" if fitted else "holds numbers"
    return (
        f"column {name!r} {what} but has {len(bad)} value(s) that are not numbers: "
        f"{values} (first at row(s) {rows}); fix them or mark them missing (NaN; "
        "missing='drop' drops such rows)"
        + ("" if fitted else f", or write C({name}) to use the column as categorical")
    )


def _check_numeric_typos(frame: pd.DataFrame, spec: Any) -> None:
    """Refuse a bare column fitted as a factor whose values are mostly numbers.

    ``y ~ a`` with one ``"?"`` among numbers would otherwise become a factor with a level
    per distinct number. A column counts as mostly numeric when at least half its
    non-missing values parse as numbers; ``C(a)`` states a factor and is not checked.
    """
    for factor, (kind, _state) in spec.encoder_state.items():
        name = str(factor)
        if getattr(kind, "value", kind) != "categorical" or name not in frame.columns:
            continue
        column = frame[name]
        bad = _non_numeric(column)
        present = int(column.notna().sum())
        if 0 < len(bad) <= present / 2:
            raise InvalidInputError(_typo_message(name, column, bad, fitted=False))


def _encode_value(value: Any) -> Any:
    """JSON-able form of a piece of formulaic encoder/transform state."""
    if value is UNSET:
        return {"__unset__": True}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist()}
    if isinstance(value, list | tuple):
        return [_encode_value(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _encode_value(v) for k, v in value.items()}
        return {"__items__": [[_encode_value(k), _encode_value(v)] for k, v in value.items()]}
    if isinstance(value, _contrasts.ContrastsState):
        return {
            "__contrasts_state__": {
                "contrasts": _encode_value(value.contrasts),
                "levels": _encode_value(list(value.levels)),
            }
        }
    if type(value).__name__ in _CONTRASTS and isinstance(value, _contrasts.Contrasts):
        fields = {k: _encode_value(v) for k, v in vars(value).items()}
        return {"__contrasts__": type(value).__name__, "fields": fields}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise InvalidInputError(
        f"the formula's encoding holds a {type(value).__name__}, which mnlogit cannot save "
        "in a model file; use built-in contrasts and transforms"
    )


def _decode_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("__unset__"):
        return UNSET
    if "__items__" in value:
        return {_decode_value(k): _decode_value(v) for k, v in value["__items__"]}
    if "__array__" in value:
        return np.asarray(value["__array__"])
    if "__contrasts_state__" in value:
        inner = value["__contrasts_state__"]
        return _contrasts.ContrastsState(
            contrasts=_decode_value(inner["contrasts"]), levels=_decode_value(inner["levels"])
        )
    if "__contrasts__" in value:
        cls = _CONTRASTS.get(value["__contrasts__"])
        if cls is None:
            raise InvalidInputError(f"unknown contrasts {value['__contrasts__']!r} in model file")
        return cls(**{k: _decode_value(v) for k, v in value["fields"].items()})
    return {k: _decode_value(v) for k, v in value.items()}


@dataclass
class FormulaDesign:
    """A fitted formula: how to turn new data into the model's design matrix.

    Attributes
    ----------
    formula : str
        As given, e.g. ``"risk ~ age + income + C(region)"``.
    response : str
        The left-hand side's column.
    spec : formulaic.ModelSpec
        The right-hand side's fitted encoding.
    columns : list of str
        Design-matrix columns (the model's terms), without ``Intercept``.
    has_intercept : bool
        Whether the formula asks for an intercept.
    factor_variables : dict of str to list of str
        The data columns each encoded factor reads (to name a column with an unseen
        level).
    terms : dict of str to list of str
        The design columns of each formula term (``Intercept`` excluded), for joint
        term tests.
    """

    formula: str
    response: str
    spec: ModelSpec
    columns: list[str]
    has_intercept: bool
    factor_variables: dict[str, list[str]]
    terms: dict[str, list[str]]

    @classmethod
    def response_of(cls, formula: str) -> str:
        """The data column a formula's left-hand side reads (``C(risk)`` -> ``risk``)."""
        return cls._split(formula)[0]

    @staticmethod
    def _split(formula: str) -> tuple[str, Any]:
        try:
            parsed = Formula(formula)
        except (FormulaicError, ValueError, SyntaxError) as exc:
            raise InvalidInputError(f"cannot parse formula {formula!r}: {exc}") from exc
        if not hasattr(parsed, "lhs"):
            raise InvalidInputError(
                f"formula {formula!r} has no left-hand side; write 'outcome ~ predictors'"
            )
        lhs_vars = sorted(parsed.lhs.required_variables)
        if len(lhs_vars) != 1 or len(parsed.lhs) != 1:
            raise InvalidInputError(
                f"the left-hand side of {formula!r} must be one column of class labels"
            )
        # The parsed right-hand side itself, not its text: printing loses "0 +"/"- 1",
        # {...} quoting and backticks.
        return lhs_vars[0], parsed.rhs

    @classmethod
    def fit(
        cls, formula: str, data: Any, missing: str = "error"
    ) -> tuple[FormulaDesign, FloatArray, Any, NDArray[np.bool_]]:
        """Learn the encoding from training data.

        Parameters
        ----------
        formula : str
        data : pandas or polars DataFrame
        missing : {"error", "drop"}

        Returns
        -------
        design : FormulaDesign
        X : ndarray of shape (m, p)
            Design matrix without the intercept column, ``m`` rows kept.
        y : ndarray or pandas Categorical of shape (m,)
            Labels from the left-hand side (a Categorical when the column is one, so
            that its category order orders the classes).
        kept : ndarray of shape (n,)
            Boolean mask of the rows used (all True unless ``missing="drop"``).
        """
        if missing not in ("error", "drop"):
            raise InvalidInputError(f"missing must be 'error' or 'drop', got {missing!r}")
        frame = as_pandas(data)
        response, rhs_formula = cls._split(formula)
        needed = [response, *sorted(rhs_formula.required_variables)]
        absent = [c for c in needed if c not in frame.columns]
        if absent:
            raise InvalidInputError(
                f"formula {formula!r} uses columns not in the data: {absent}; the data has "
                f"{list(frame.columns)[:20]}"
            )
        counts, rows = missing_report(frame, needed)
        if rows.any():
            if missing == "error":
                raise InvalidInputError(_missing_message(frame, counts, rows))
            warn(
                MissingValuesDropped(
                    f"dropped {int(rows.sum())} of {rows.size} rows with missing values "
                    f"({', '.join(f'{c}: {int(n)}' for c, n in counts.items())})"
                )
            )
            frame = frame.loc[~rows]
        kept = ~rows
        try:
            matrix = rhs_formula.get_model_matrix(frame, output="pandas", na_action="raise")
        except (FormulaicError, ValueError, TypeError, KeyError, NameError) as exc:
            raise InvalidInputError(f"cannot build the design of {formula!r}: {exc}") from exc
        spec = matrix.model_spec
        _check_numeric_typos(frame, spec)
        names = [str(c) for c in matrix.columns]
        has_intercept = "Intercept" in names
        columns = [c for c in names if c != "Intercept"]
        X = np.asarray(matrix[columns].to_numpy(dtype=np.float64))
        factor_variables = {
            str(f): sorted(str(v) for v in vs) for f, vs in spec.factor_variables.items()
        }
        terms = {
            str(term): [names[i] for i in range(sl.start, sl.stop) if names[i] != "Intercept"]
            for term, sl in spec.term_slices.items()
        }
        terms = {t: cols for t, cols in terms.items() if cols}
        design = cls(formula, response, spec, columns, has_intercept, factor_variables, terms)
        y: Any = frame[response].to_numpy()
        if isinstance(frame[response].dtype, pd.CategoricalDtype):
            y = frame[response].array  # a Categorical: its category order orders the classes
        return design, X, y, kept

    def _check_levels(self, frame: pd.DataFrame) -> None:
        """Refuse categorical levels not seen in training (naming column and level) and
        text in a column fitted as numeric (naming values and rows)."""
        for factor, (kind, state) in self.spec.encoder_state.items():
            name = str(factor)
            if getattr(kind, "value", kind) == "numerical" and name in frame.columns:
                numbers = frame[name]
                bad = _non_numeric(numbers)
                if len(bad):
                    raise InvalidInputError(_typo_message(name, numbers, bad, fitted=True))
                if not pd.api.types.is_numeric_dtype(numbers.dtype) and numbers.notna().any():
                    raise InvalidInputError(
                        f"column {name!r} was fitted as numeric but holds numbers as text "
                        f"(dtype {numbers.dtype}); convert it with pandas.to_numeric"
                    )
                continue
            if getattr(kind, "value", kind) != "categorical" or "categories" not in state:
                continue
            variables = [
                v for v in self.factor_variables.get(str(factor), []) if v in frame.columns
            ] or ([str(factor)] if str(factor) in frame.columns else [])
            if len(variables) != 1:
                continue
            column = variables[0]
            seen = set(state["categories"])
            values = pd.unique(frame[column].dropna())
            unseen = [v.item() if isinstance(v, np.generic) else v for v in values]
            unseen = [v for v in unseen if v not in seen]
            if unseen:
                raise InvalidInputError(
                    f"column {column!r} has level(s) {unseen[:5]} not seen in training "
                    f"(known levels: {sorted(map(str, seen))[:20]})"
                )

    def categorical_levels(self, data: Any) -> dict[str, list[Any]]:
        """The data columns the formula encodes as categorical, with their training levels.

        Parameters
        ----------
        data : pandas or polars DataFrame
            Names the columns (a factor's variables that are not data columns, such as
            ``C`` in ``C(region)``, are not columns).

        Returns
        -------
        dict of str to list
            ``{column: levels}`` in the order the formula's factors appear; a column
            encoded by several factors (``C(r)`` and ``r:x``) appears once.
        """
        frame = as_pandas(data)
        out: dict[str, list[Any]] = {}
        for factor, (kind, state) in self.spec.encoder_state.items():
            if getattr(kind, "value", kind) != "categorical" or "categories" not in state:
                continue
            variables = [
                v for v in self.factor_variables.get(str(factor), []) if v in frame.columns
            ] or ([str(factor)] if str(factor) in frame.columns else [])
            if len(variables) == 1 and variables[0] != self.response:
                out.setdefault(variables[0], list(state["categories"]))
        return out

    def complete_rows(self, data: Any, response: bool = False) -> NDArray[np.bool_]:
        """Which rows have a value in every column the formula reads.

        Parameters
        ----------
        data : pandas or polars DataFrame
        response : bool, default=False
            Also require the response column (for evaluation on labelled data).

        Returns
        -------
        ndarray of bool, shape (n,)
        """
        frame = as_pandas(data)
        needed = sorted(self.spec.required_variables)
        if response:
            needed = [self.response, *needed]
        absent = [c for c in needed if c not in frame.columns]
        if absent:
            raise InvalidInputError(
                f"the data lack column(s) {absent} that the formula {self.formula!r} uses"
            )
        return ~missing_report(frame, needed)[1]

    def transform(self, data: Any) -> FloatArray:
        """Design matrix for new data (intercept column removed).

        Parameters
        ----------
        data : pandas or polars DataFrame
            Must hold the right-hand side's columns; the response is not needed.

        Returns
        -------
        ndarray of shape (n, p)
        """
        frame = as_pandas(data)
        needed = sorted(self.spec.required_variables)
        absent = [c for c in needed if c not in frame.columns]
        if absent:
            raise InvalidInputError(
                f"the data lacks column(s) {absent} that the formula {self.formula!r} uses"
            )
        counts, rows = missing_report(frame, needed)
        if rows.any():
            raise InvalidInputError(_missing_message(frame, counts, rows))
        self._check_levels(frame)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                # on a copy: formulaic may update the spec's encoder state it is given
                spec = copy.deepcopy(self.spec)
                matrix = spec.get_model_matrix(frame, output="pandas", na_action="raise")
            except Warning as exc:
                raise InvalidInputError(f"the data do not fit the model's formula: {exc}") from exc
            except (FormulaicError, ValueError, TypeError, KeyError) as exc:
                raise InvalidInputError(
                    f"cannot build the design matrix: {str(exc)[:300]}"
                ) from exc
        return np.asarray(matrix[self.columns].to_numpy(dtype=np.float64))

    def training_arrays(
        self, data: Any, missing: str = "error"
    ) -> tuple[FloatArray, NDArray[Any], NDArray[np.bool_]]:
        """Design matrix, labels and kept-row mask for labelled data, as at fit time.

        With ``missing="drop"`` rows with a missing value in the formula's columns (or
        the response) are dropped, as ``fit`` did; otherwise they are refused.

        Returns
        -------
        X : ndarray of shape (m, p)
        y : ndarray of shape (m,)
        kept : ndarray of shape (n,)
        """
        frame = as_pandas(data)
        needed = [self.response, *sorted(self.spec.required_variables)]
        absent = [c for c in needed if c not in frame.columns]
        if absent:
            raise InvalidInputError(f"the data lack column(s) {absent} of {self.formula!r}")
        _, rows = missing_report(frame, needed)
        if missing == "drop" and rows.any():
            frame = frame.loc[~rows]
        return (
            self.transform(frame),
            self.response_values(frame),
            ~rows if missing == "drop" else np.ones(rows.size, dtype=bool),
        )

    def response_values(self, data: Any) -> NDArray[Any]:
        """The response column of ``data`` as raw labels."""
        frame = as_pandas(data)
        if self.response not in frame.columns:
            raise InvalidInputError(f"the data lack the response column {self.response!r}")
        col = frame[self.response]
        if isinstance(col.dtype, pd.CategoricalDtype):
            return np.asarray(col.astype(object).to_numpy())
        return np.asarray(col.to_numpy())

    # ------------------------------------------------------------------ model files
    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-able description of the fitted formula.

        Raises
        ------
        InvalidInputError
            When the formula calls functions outside :data:`SAFE_FUNCTIONS` (it could
            not be loaded back safely).
        """
        check_formula_safe(self.formula)
        return {
            "formula": self.formula,
            "response": self.response,
            "rhs": str(self.spec.formula),
            "columns": list(self.columns),
            "has_intercept": self.has_intercept,
            "factor_variables": self.factor_variables,
            "terms": self.terms,
            "ensure_full_rank": bool(self.spec.ensure_full_rank),
            "encoder_state": {
                str(factor): [getattr(kind, "value", str(kind)), _encode_value(state)]
                for factor, (kind, state) in self.spec.encoder_state.items()
            },
            "transform_state": _encode_value(self.spec.transform_state),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> FormulaDesign:
        """Rebuild a :class:`FormulaDesign` written by :meth:`to_dict`.

        The formula is checked with :func:`check_formula_safe` before anything else, since
        formulaic evaluates formula terms as Python.
        """
        check_formula_safe(str(payload["formula"]))
        kinds = Factor.Kind
        encoder_state = {
            factor: (kinds(kind), _decode_value(state))
            for factor, (kind, state) in payload["encoder_state"].items()
        }
        spec = ModelSpec(
            formula=cls._split(str(payload["formula"]))[1],
            ensure_full_rank=bool(payload.get("ensure_full_rank", True)),
            encoder_state=encoder_state,
            transform_state=_decode_value(payload["transform_state"]),
        )
        return cls(
            formula=payload["formula"],
            response=payload["response"],
            spec=spec,
            columns=list(payload["columns"]),
            has_intercept=bool(payload["has_intercept"]),
            factor_variables={
                str(k): [str(v) for v in vs]
                for k, vs in payload.get("factor_variables", {}).items()
            },
            terms={str(k): [str(v) for v in vs] for k, vs in payload.get("terms", {}).items()},
        )
