"""Out-of-sample evaluation: accuracy, log loss, Brier score, per-class report, confusion.

The metrics are scikit-learn's; this module gathers them for a fitted model and
renders them (text and HTML).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
)

from mnlogit.arrays import Placement, placement_of, to_host
from mnlogit.exceptions import InvalidInputError
from mnlogit.formula import as_pandas
from mnlogit.identification.validation import label_codes
from mnlogit.prediction import device_codes

__all__ = ["EvaluationReport", "evaluate"]


@dataclass(frozen=True)
class EvaluationReport:
    """Classification metrics of a model on labelled data.

    Attributes
    ----------
    n : int
        Rows evaluated.
    accuracy : float
    log_loss : float
        Mean negative log-likelihood of the true labels (natural log).
    brier : float
        Multiclass Brier score, ``mean_i sum_k (P_ik - 1[y_i = k])^2`` (0 is perfect,
        2 the worst).
    per_class : DataFrame of shape (K + 2, 4)
        ``precision, recall, f1, support`` per class, then ``macro avg`` and
        ``weighted avg`` rows.
    confusion : DataFrame of shape (K, K)
        Counts; rows are true classes, columns predicted classes.
    n_skipped : int
        Rows left out for missing values (a formula model fitted with
        ``missing="drop"``; 0 otherwise).
    """

    n: int
    accuracy: float
    log_loss: float
    brier: float
    per_class: pd.DataFrame
    confusion: pd.DataFrame
    n_skipped: int = 0

    @property
    def _rows_note(self) -> str:
        if not self.n_skipped:
            return ""
        return f" ({self.n_skipped} rows with missing values skipped)"

    def __str__(self) -> str:
        with pd.option_context("display.width", 120, "display.float_format", "{:.4f}".format):
            return (
                f"Evaluation on {self.n} rows{self._rows_note}\n"
                f"  accuracy     {self.accuracy:.4f}\n"
                f"  log loss     {self.log_loss:.4f}\n"
                f"  Brier score  {self.brier:.4f}\n\n"
                f"Per class:\n{self.per_class.to_string()}\n\n"
                f"Confusion matrix (rows: true, columns: predicted):\n"
                f"{self.confusion.to_string()}"
            )

    def _repr_html_(self) -> str:
        skipped = (
            "<tr><th style='text-align:left'>skipped (missing values)</th>"
            f"<td>{self.n_skipped}</td></tr>"
            if self.n_skipped
            else ""
        )
        head = (
            "<table>"
            f"<tr><th style='text-align:left'>rows</th><td>{self.n}</td></tr>{skipped}"
            f"<tr><th style='text-align:left'>accuracy</th><td>{self.accuracy:.4f}</td></tr>"
            f"<tr><th style='text-align:left'>log loss</th><td>{self.log_loss:.4f}</td></tr>"
            f"<tr><th style='text-align:left'>Brier score</th><td>{self.brier:.4f}</td></tr>"
            "</table>"
        )
        per_class = self.per_class.to_html(float_format="{:.4f}".format, escape=True)
        confusion = self.confusion.to_html(escape=True)
        return (
            f"<div class='mnlogit-evaluation'>{head}<h5>Per class</h5>{per_class}"
            f"<h5>Confusion matrix (rows: true, columns: predicted)</h5>{confusion}</div>"
        )

    def to_dict(self) -> dict[str, Any]:
        """Scalars plus the tables as nested dicts."""
        return {
            "n": self.n,
            "n_skipped": self.n_skipped,
            "accuracy": self.accuracy,
            "log_loss": self.log_loss,
            "brier": self.brier,
            "per_class": self.per_class.to_dict(orient="index"),
            "confusion": self.confusion.to_dict(orient="index"),
        }


def evaluate(model: Any, X: Any, y: Any = None) -> EvaluationReport:
    """Evaluate a fitted model on ``(X, y)``.

    Parameters
    ----------
    model : MultinomialLogit
    X : array-like of shape (n, p), or a data frame for formula models
    y : array-like of shape (n,), optional
        True labels; with a formula model, taken from the data's response column when
        omitted.

    Returns
    -------
    EvaluationReport
        With a formula model fitted with ``missing="drop"``, rows with a missing value
        in the formula's columns or the response are skipped and counted
        (``n_skipped``).
    """
    design = getattr(model, "design_", None)
    n_skipped = 0
    if design is not None and y is None and model.get_params()["missing"] == "drop":
        complete = design.complete_rows(X, response=True)
        n_skipped = int((~complete).sum())
        if n_skipped:
            X = pd.DataFrame(as_pandas(X)).loc[complete]
    if y is None:
        if design is None:
            raise InvalidInputError("evaluate needs the true labels y")
        y = design.response_values(X)
    placement = placement_of(X)
    if placement is not None:  # the sums on X's device
        return _evaluate_on_device(model, placement, X, y)
    y = np.asarray(y)
    classes = model.classes_
    unknown = sorted(map(str, set(pd.unique(y).tolist()) - set(classes.tolist())))
    if unknown:
        raise InvalidInputError(
            f"y holds label(s) {unknown[:5]} that the model was not fitted on "
            f"(its classes: {[str(c) for c in classes]})"
        )
    proba = model.predict_proba(X)
    if proba.shape[0] != y.shape[0]:
        raise InvalidInputError(f"X has {proba.shape[0]} rows but y has {y.shape[0]}")
    codes = _codes(classes, y)
    pred_codes = np.argmax(proba, axis=1)
    onehot = np.zeros_like(proba)
    onehot[np.arange(y.shape[0]), codes] = 1.0
    K = classes.size
    labels = list(range(K))
    prec, rec, f1, support = precision_recall_fscore_support(
        codes, pred_codes, labels=labels, zero_division=0.0
    )
    names = [str(c) for c in classes]
    per_class = pd.DataFrame(
        {"precision": prec, "recall": rec, "f1": f1, "support": support}, index=names
    )
    for avg in ("macro", "weighted"):
        p_, r_, f_, _ = precision_recall_fscore_support(
            codes, pred_codes, labels=labels, average=avg, zero_division=0.0
        )
        per_class.loc[f"{avg} avg"] = [p_, r_, f_, int(support.sum())]
    per_class["support"] = per_class["support"].astype(int)
    confusion = pd.DataFrame(
        confusion_matrix(codes, pred_codes, labels=labels),
        index=pd.Index(names, name="true"),
        columns=pd.Index(names, name="predicted"),
    )
    return EvaluationReport(
        n=int(y.shape[0]),
        accuracy=float(accuracy_score(codes, pred_codes)),
        log_loss=float(log_loss(codes, proba, labels=labels)),
        brier=float(np.mean(np.sum((proba - onehot) ** 2, axis=1))),
        per_class=per_class,
        confusion=confusion,
        n_skipped=n_skipped,
    )


def _codes(classes: NDArray[Any], y: NDArray[Any]) -> NDArray[np.intp]:
    """Positions of the labels in the classes (in the model's order); labels were checked
    to be known."""
    return label_codes(classes, y)


def _evaluate_on_device(model: Any, placement: Placement, X: Any, y: Any) -> EvaluationReport:
    """:func:`evaluate` of device rows: the confusion matrix, the log loss and the Brier
    score summed on the device (``(K, K)`` and two scalars come back); the per-class
    table from the confusion matrix, as scikit-learn computes it (``zero_division=0``)."""
    xp = placement.xp
    classes = model.classes_
    K = classes.size
    P = model.predict_proba(X)
    n = int(P.shape[0])
    codes = device_codes(placement, classes, y, n)
    grid = xp.reshape(xp.arange(K, device=placement.device), (1, K))
    truth = xp.astype(xp.reshape(codes, (-1, 1)) == grid, P.dtype)
    guess = xp.astype(xp.reshape(xp.argmax(P, axis=1), (-1, 1)) == grid, P.dtype)
    counts = np.rint(to_host(truth.T @ guess)).astype(np.int64)
    eps = float(xp.finfo(P.dtype).eps)
    own = xp.sum(truth * xp.clip(P, eps, 1 - eps), axis=1)
    log_loss_ = -float(xp.sum(xp.log(own))) / n
    brier = float(xp.sum((P - truth) ** 2)) / n
    tp = np.diag(counts).astype(np.float64)
    support = counts.sum(axis=1)
    predicted = counts.sum(axis=0)

    def ratio(a: NDArray[Any], b: NDArray[Any]) -> NDArray[np.float64]:
        return np.divide(a, b, out=np.zeros(K), where=b > 0)

    prec, rec = ratio(tp, predicted), ratio(tp, support)
    f1 = ratio(2.0 * tp, (support + predicted).astype(np.float64))
    names = [str(c) for c in classes]
    per_class = pd.DataFrame(
        {"precision": prec, "recall": rec, "f1": f1, "support": support}, index=names
    )
    total = int(support.sum())
    per_class.loc["macro avg"] = [prec.mean(), rec.mean(), f1.mean(), total]
    per_class.loc["weighted avg"] = [
        float(np.average(v, weights=support)) for v in (prec, rec, f1)
    ] + [total]
    per_class["support"] = per_class["support"].astype(int)
    confusion = pd.DataFrame(
        counts, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted")
    )
    return EvaluationReport(
        n=n,
        accuracy=float(tp.sum()) / n,
        log_loss=log_loss_,
        brier=brier,
        per_class=per_class,
        confusion=confusion,
    )
