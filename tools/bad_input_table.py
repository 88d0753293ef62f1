"""Run bad inputs through mnlogit, statsmodels and scikit-learn; print a Markdown table.

Usage (from the repository root)::

    .venv/bin/python tools/bad_input_table.py > /tmp/table.md

Each row is one bad input; each cell says what the library answered:

- ``ExceptionType: first ~80 characters of the message``, or
- ``fit: <summary>`` — whether the coefficients are NaN / all zero / finite (largest
  absolute value), for scaled or padded data the largest difference of the fitted
  probabilities from the same library's fit on the clean data (``max|ΔP|``), standard
  errors (``SE``: finite, NaN, or refused), and the warnings raised (class names).

The libraries are called as a user would call them by default: ``MultinomialLogit()``
(maximum likelihood), statsmodels ``MNLogit(y, add_constant(X)).fit(disp=0)`` and
scikit-learn ``LogisticRegression()`` (ridge, ``C=1``; scikit-learn has no unpenalized
default). statsmodels' ``MNLogit`` takes no sample weights; those cells say ``n/a``.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression

from mnlogit import MultinomialLogit

NA = "n/a"


# ----------------------------------------------------------------------------- data


def clean_data(n: int = 120, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Three informative features, three classes (low < medium < high by a softmax)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    B = np.array([[0.0, 0.4, -0.3], [0.0, 1.2, -0.8], [0.0, -0.6, 0.9], [0.0, 0.5, 0.7]])
    eta = B[0] + X @ B[1:]
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    codes = (rng.uniform(size=(n, 1)) > np.cumsum(P, axis=1)).sum(axis=1)
    labels = np.array(["low", "medium", "high"])[np.minimum(codes, 2)]
    return pd.DataFrame(X, columns=["age", "income", "tenure"]), labels


def customer_risk() -> tuple[pd.DataFrame, np.ndarray]:
    """The issue's 12-row example: completely separated."""
    frame = pd.DataFrame(
        {
            "age": [25, 30, 35, 40, 45, 50, 25, 30, 35, 40, 45, 50],
            "income": [30, 40, 50, 60, 70, 80, 35, 45, 55, 65, 75, 85],
        },
        dtype=float,
    )
    risk = ["low"] * 3 + ["medium"] * 5 + ["high"] * 4
    return frame, np.array(risk)


@dataclass
class Case:
    name: str
    X: Any
    y: Any
    weight: Any = None
    class_weight: Any = None
    # prediction-time cases: fit on clean data, then call the library's step on these
    predict_X: Any = None
    predict_y: Any = None
    # the clean problem whose fit the result should reproduce (probabilities compared)
    reference: tuple[Any, Any] | None = None


def cases() -> list[Case]:
    X, y = clean_data()
    n = len(y)
    rng = np.random.default_rng(1)
    out: list[Case] = []

    bad = X.copy()
    bad.loc[[4, 9], "income"] = np.nan
    out.append(Case("NaN in X (2 in `income`, first row 4)", bad, y))
    bad = X.copy()
    bad.loc[7, "tenure"] = np.inf
    out.append(Case("inf in X (`tenure`, row 7)", bad, y))
    out.append(Case("empty data (0 rows)", X.iloc[:0], y[:0]))
    out.append(Case("y has one class only", X, np.full(n, "low")))
    out.append(Case("y shorter than X", X, y[:-5]))
    out.append(Case("missing label (None) in y", X, np.where(np.arange(n) == 3, None, y)))
    out.append(
        Case(
            "non-numeric column, no formula",
            X.assign(region=np.where(X["age"] > 0, "north", "south")),
            y,
        )
    )
    w = np.ones(n)
    w[11] = -1.0
    out.append(Case("negative sample weight (row 11)", X, y, weight=w))
    w = np.ones(n)
    w[11] = np.nan
    out.append(Case("NaN sample weight (row 11)", X, y, weight=w))
    out.append(Case("all sample weights zero", X, y, weight=np.zeros(n)))
    out.append(
        Case(
            "negative class_weight {'low': -0.5}",
            X,
            y,
            class_weight={"low": -0.5, "medium": 1.0, "high": 1.0},
        )
    )
    bad = X.iloc[:10].copy()
    bad.loc[6, "tenure"] = np.nan
    out.append(Case("NaN in X at predict time", X, y, predict_X=bad))
    out.append(
        Case(
            "labels unseen at fit, at evaluation",
            X,
            y,
            predict_X=X,
            predict_y=np.where(y == "low", "very low", y),
        )
    )
    wide = pd.DataFrame(rng.standard_normal((8, 12)), columns=[f"f{j}" for j in range(12)])
    out.append(Case("p > n (8 rows, 12 features)", wide, y[:8]))
    single = y.copy().astype(object)
    single[5] = "extreme"
    out.append(Case("a class with one observation", X, single.astype(str)))

    Xc, yc = customer_risk()
    out.append(Case("complete separation (customer risk, 12 rows)", Xc, yc))
    vip = np.where((y == "high") & (np.arange(n) % 2 == 0), 1.0, 0.0)
    out.append(Case("quasi-complete separation (`vip`=1 only in 'high')", X.assign(vip=vip), y))

    ref = (X, y)
    out.append(Case("duplicated column", X.assign(age2=X["age"]), y, reference=ref))
    out.append(
        Case(
            "linear combination `c = 2 age - tenure + 5`",
            X.assign(c=2 * X["age"] - X["tenure"] + 5),
            y,
            reference=ref,
        )
    )
    region = rng.choice(["east", "north", "south"], n)
    dummies = pd.get_dummies(pd.Series(region), dtype=float)
    out.append(
        Case(
            "dummy trap (all 3 region dummies + intercept)",
            pd.concat([X, dummies], axis=1),
            y,
            reference=(pd.concat([X, dummies.iloc[:, 1:]], axis=1), y),
        )
    )
    out.append(Case("constant column", X.assign(const=3.5), y, reference=ref))
    out.append(Case("all-zero column", X.assign(zero=0.0), y, reference=ref))
    out.append(
        Case(
            "nearly collinear (`age` + 1e-10 noise)",
            X.assign(age_noisy=X["age"] + 1e-10 * rng.standard_normal(n)),
            y,
            reference=ref,
        )
    )
    for label, scale in [
        ("`income` x 1e150", [1.0, 1e150, 1.0]),
        ("`income` x 1e-150", [1.0, 1e-150, 1.0]),
        ("`age` x 1e-150, `tenure` x 1e150", [1e-150, 1.0, 1e150]),
    ]:
        out.append(Case(label, X * np.array(scale), y, reference=ref))
    dup = pd.concat([X, X.iloc[:20]], ignore_index=True)
    ydup = np.concatenate([y, np.roll(y[:20], 1)])
    wdup = np.r_[np.ones(n), np.zeros(20)]
    out.append(
        Case(
            "20 duplicated rows, other labels, weight 0",
            dup,
            ydup,
            weight=wdup,
            reference=ref,
        )
    )
    yz = y.copy().astype(object)
    yz[:3] = "ghost"
    wz = np.r_[np.zeros(3), np.ones(n - 3)]
    out.append(Case("class present only on weight-0 rows", X, yz.astype(str), weight=wz))
    return out


# ----------------------------------------------------------------------------- summaries


def short(text: str, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    text = text.replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def exception_cell(exc: BaseException) -> str:
    return f"**{type(exc).__name__}**: {short(str(exc))}"


def warning_names(caught: list[warnings.WarningMessage]) -> str:
    names = sorted({w.category.__name__ for w in caught})
    return f"; warns {', '.join(names)}" if names else ""


def coef_summary(coef: np.ndarray) -> str:
    coef = np.asarray(coef, dtype=np.float64)
    if np.isnan(coef).any():
        return "NaN params"
    if not np.isfinite(coef).all():
        return "infinite params"
    if np.all(coef == 0):
        return "coefficients all 0"
    big = np.abs(coef).max()
    return f"max\\|coef\\|={big:.3g}"


def prob_summary(P: np.ndarray, P_ref: np.ndarray | None) -> str:
    if not np.all(np.isfinite(P)):
        return ", NaN probabilities"
    if P_ref is None or P.shape != P_ref.shape:
        return ""
    return f", max\\|ΔP\\|={np.abs(P - P_ref).max():.1e}"


@contextlib.contextmanager
def quiet():
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(io.StringIO()),
        np.errstate(all="warn"),
    ):
        warnings.simplefilter("always")
        yield caught


# ----------------------------------------------------------------------------- libraries


class Library:
    name = ""

    def fit(self, case: Case, X: Any, y: Any) -> Any:
        raise NotImplementedError

    def proba(self, model: Any, X: Any) -> np.ndarray:
        raise NotImplementedError

    def describe(self, model: Any) -> str:
        raise NotImplementedError

    def after_fit(self, case: Case, model: Any) -> str:
        """The prediction-time step of a case."""
        return NA

    def run(self, case: Case, reference_cache: dict[Any, Any]) -> str:
        try:
            with quiet() as caught:
                model = self.fit(case, case.X, case.y)
                if case.predict_X is not None:
                    cell = self.after_fit(case, model)
                    return cell + warning_names(caught)
                P = self.proba(model, case.X)
                text = "fit: " + self.describe(model)
        except NotImplementedError as exc:
            return str(exc) or NA
        except Exception as exc:
            return exception_cell(exc)
        P_ref = None
        if case.reference is not None:
            key = (self.name, id(case.reference[0]))
            if key not in reference_cache:
                with quiet():
                    ref_model = self.fit(Case("ref", *case.reference), *case.reference)
                reference_cache[key] = ref_model
            ref_model = reference_cache[key]
            P_ref = self.proba(ref_model, case.reference[0])
            P = P[: P_ref.shape[0]]  # extra (zero-weight) rows come last
        return text + prob_summary(P, P_ref) + warning_names(caught)


class Mnlogit(Library):
    name = "mnlogit"

    def fit(self, case: Case, X: Any, y: Any) -> Any:
        model = MultinomialLogit(class_weight=case.class_weight)
        return model.fit(X, y, sample_weight=case.weight)

    def proba(self, model: Any, X: Any) -> np.ndarray:
        return np.asarray(model.predict_proba(X))

    def describe(self, model: Any) -> str:
        text = coef_summary(np.r_[model.coef_.ravel(), model.intercept_])
        if getattr(model, "separation_", None) is not None:
            return text + f", {model.separation_.kind} separation, SE refused"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                se = model.coef_table()["std_err"].to_numpy()
        except Exception as exc:
            return text + f", SE: {type(exc).__name__}"
        collinear = getattr(model, "collinearity_", None)
        other = ""
        if collinear is not None and collinear.collinear:
            text += f", dropped {list(collinear.aliased)} (NaN in tables)"
            other = "other "
        if np.isnan(se).all():
            return text + ", SE NaN"
        finite = np.isfinite(se[~np.isnan(se)]).all()
        return text + (f", {other}SE finite (max {np.nanmax(se):.2g})" if finite else ", SE inf")

    def after_fit(self, case: Case, model: Any) -> str:
        if case.predict_y is None:
            P = model.predict_proba(case.predict_X)
            return "predict: " + ("finite" if np.isfinite(P).all() else "NaN probabilities")
        try:
            model.evaluate(case.predict_X, case.predict_y)
            text = "evaluate: report"
        except Exception as exc:
            text = "evaluate: " + exception_cell(exc)
        return text + f"; score: {model.score(case.predict_X, case.predict_y):.2f}"


class Statsmodels(Library):
    name = "statsmodels"

    def fit(self, case: Case, X: Any, y: Any) -> Any:
        if case.weight is not None or case.class_weight is not None:
            raise NotImplementedError("n/a (MNLogit takes no weights)")
        exog = sm.add_constant(X, has_constant="add")
        return sm.MNLogit(np.asarray(y), exog).fit(disp=0)

    def proba(self, model: Any, X: Any) -> np.ndarray:
        return np.asarray(model.predict(sm.add_constant(X, has_constant="add")))

    def describe(self, model: Any) -> str:
        text = coef_summary(np.asarray(model.params))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            se = np.asarray(model.bse, dtype=np.float64)
        if np.isnan(se).all():
            se_text = "SE NaN"
        elif np.isnan(se).any():
            se_text = "some SE NaN"
        else:
            se_text = f"SE finite (max {se.max():.2g})"
        converged = model.mle_retvals.get("converged", True)
        return text + f", {se_text}" + ("" if converged else ", not converged")

    def after_fit(self, case: Case, model: Any) -> str:
        if case.predict_y is not None:
            return "n/a (no score/evaluate)"
        P = self.proba(model, case.predict_X)
        n_nan = int(np.isnan(P).any(axis=1).sum())
        return "predict: " + (f"{n_nan} row(s) of NaN probabilities" if n_nan else "finite")


class Sklearn(Library):
    name = "scikit-learn"

    def fit(self, case: Case, X: Any, y: Any) -> Any:
        model = LogisticRegression(class_weight=case.class_weight)
        return model.fit(X, y, sample_weight=case.weight)

    def proba(self, model: Any, X: Any) -> np.ndarray:
        return np.asarray(model.predict_proba(X))

    def describe(self, model: Any) -> str:
        return coef_summary(model.coef_)

    def after_fit(self, case: Case, model: Any) -> str:
        if case.predict_y is None:
            P = model.predict_proba(case.predict_X)
            return "predict: " + ("finite" if np.isfinite(P).all() else "NaN probabilities")
        return f"score: {model.score(case.predict_X, case.predict_y):.2f}"


def table(rows: list[Case]) -> str:
    libraries: list[Library] = [Mnlogit(), Statsmodels(), Sklearn()]
    cache: dict[Any, Any] = {}
    lines = [
        "| bad input | mnlogit `MultinomialLogit()` | statsmodels `MNLogit` | "
        "scikit-learn `LogisticRegression()` |",
        "|---|---|---|---|",
    ]
    for case in rows:
        cells = [lib.run(case, cache) for lib in libraries]
        lines.append(f"| {case.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    print(table(cases()))


if __name__ == "__main__":
    main()
