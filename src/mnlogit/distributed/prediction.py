"""Predictions and evaluation on Dask data: lazy results, partition sums.

``predict_proba``, ``predict_log_proba`` and ``predict`` on Dask input return lazy Dask
arrays (one block per partition of the input, computed by
:func:`mnlogit.prediction.predict_blocks`, the in-memory row-block code); nothing is
computed until the caller asks. ``evaluate`` computes one pass: per partition the
confusion counts, the summed log loss and Brier score, reduced; the per-class table then
comes from the confusion counts (scikit-learn's metrics weighted by them, which equals
the metrics on all rows).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from dask.delayed import delayed
from numpy.typing import NDArray
from sklearn.metrics import precision_recall_fscore_support

from mnlogit.distributed.partitions import (
    PassCounter,
    paired_parts,
    row_partitions,
    run_pass,
    shared,
)
from mnlogit.distributed.preparation import sorted_codes
from mnlogit.evaluation import EvaluationReport
from mnlogit.exceptions import InvalidInputError
from mnlogit.fitted import FittedModel
from mnlogit.prediction import predict_blocks

__all__ = ["dask_evaluate", "dask_predict", "design_rows"]

FloatArray = NDArray[np.float64]
Kind = Literal["proba", "log_proba", "argmax"]


def design_rows(part: Any, state: FittedModel, index: int) -> NDArray[Any]:
    """The design matrix of one partition (the formula applied, or the values)."""
    if state.design is not None:
        return state.design.transform(part)
    Xa = np.asarray(part)
    if Xa.ndim == 1:
        Xa = Xa[:, None]
    if Xa.shape[1] != state.n_features:
        raise InvalidInputError(
            f"partition {index} of X has {Xa.shape[1]} features, the model has {state.n_features}"
        )
    if Xa.dtype not in (np.float64, np.float32):
        Xa = Xa.astype(np.float64)
    return Xa


def _predict_part(part: Any, state: FittedModel, kind: Kind, index: int) -> NDArray[Any]:
    Xd = design_rows(part, state, index)

    def refuse() -> None:
        raise InvalidInputError(
            f"partition {index} of X holds NaN or infinite values: no prediction for those rows"
        )

    out = predict_blocks(Xd, state.coef, state.intercept, kind, refuse)
    return out


def dask_predict(state: FittedModel, X: Any, kind: Kind | Literal["labels"]) -> Any:
    """Lazy predictions: a Dask array ``(n, K)`` of (log) probabilities, or ``(n,)`` labels.

    Parameters
    ----------
    state : FittedModel
    X : dask array of shape (n, p) or dask DataFrame (formula models: the formula's columns)
    kind : {"proba", "log_proba", "argmax", "labels"}

    Returns
    -------
    dask.array.Array
        Row chunks as ``X``'s (unknown sizes for data frames).
    """
    import dask.array as da

    parts, chunks = row_partitions(X)
    key = shared(state)
    K = state.classes.size
    argmax = kind in ("argmax", "labels")
    blocks = []
    for i, (part, rows) in enumerate(zip(parts, chunks, strict=True)):
        task = delayed(_predict_part, pure=True)(part, key, "argmax" if argmax else kind, i)
        shape = (rows,) if argmax else (rows, K)
        blocks.append(da.from_delayed(task, shape=shape, dtype=np.intp if argmax else np.float64))
    out = da.concatenate(blocks, axis=0)
    if kind == "labels":
        classes = state.classes
        out = out.map_blocks(lambda codes: classes[codes], dtype=classes.dtype)
    return out


class Scores(NamedTuple):
    """One partition's evaluation sums."""

    confusion: NDArray[np.int64]  # (K, K), rows true, columns predicted
    log_loss: float
    brier: float
    n: int


def _score_part(piece: tuple[Any, Any, int], state: FittedModel) -> Scores:
    part, labels, index = piece
    K = state.classes.size
    if state.design is not None and labels is None:
        labels = state.design.response_values(part)
    proba = _predict_part(part, state, "proba", index)
    codes = sorted_codes(np.asarray(labels).ravel(), state.classes)
    if codes.size != proba.shape[0]:
        raise InvalidInputError(
            f"partition {index}: X has {proba.shape[0]} rows but y has {codes.size}"
        )
    pred = np.argmax(proba, axis=1)
    confusion = np.bincount(codes * K + pred, minlength=K * K).reshape(K, K).astype(np.int64)
    eps = np.finfo(np.float64).eps
    truth = np.clip(proba[np.arange(codes.size), codes], eps, 1 - eps)
    onehot = np.zeros_like(proba)
    onehot[np.arange(codes.size), codes] = 1.0
    return Scores(
        confusion,
        float(-np.log(truth).sum()),
        float(np.sum((proba - onehot) ** 2)),
        int(codes.size),
    )


def _add_scores(*parts: Scores) -> Scores:
    return Scores(
        sum((p.confusion for p in parts[1:]), parts[0].confusion.copy()),
        sum(p.log_loss for p in parts),
        sum(p.brier for p in parts),
        sum(p.n for p in parts),
    )


def _piece(part: Any, labels: Any, index: int) -> tuple[Any, Any, int]:
    return part, labels, index


def dask_evaluate(state: FittedModel, X: Any, y: Any = None) -> EvaluationReport:
    """:func:`mnlogit.evaluation.evaluate` on Dask data: one pass of partition sums."""
    if y is None and state.design is None:
        raise InvalidInputError("evaluate needs the true labels y")
    parts, labels = paired_parts(X, y, as_frames=state.design is not None)
    pieces = [
        delayed(_piece, pure=True)(p, lab, i)
        for i, (p, lab) in enumerate(zip(parts, labels, strict=True))
    ]
    scores: Scores = run_pass(
        PassCounter(), "evaluate", pieces, _score_part, _add_scores, shared(state)
    )
    return _report(state, scores)


def _report(state: FittedModel, scores: Scores) -> EvaluationReport:
    K = state.classes.size
    names = [str(c) for c in state.classes]
    C = scores.confusion
    true, pred = np.divmod(np.arange(K * K), K)
    weights = C.ravel().astype(np.float64)
    labels = list(range(K))
    prec, rec, f1, _ = precision_recall_fscore_support(
        true, pred, labels=labels, sample_weight=weights, zero_division=0.0
    )
    per_class = pd.DataFrame(
        {"precision": prec, "recall": rec, "f1": f1, "support": C.sum(axis=1)}, index=names
    )
    for avg in ("macro", "weighted"):
        p_, r_, f_, _ = precision_recall_fscore_support(
            true, pred, labels=labels, sample_weight=weights, average=avg, zero_division=0.0
        )
        per_class.loc[f"{avg} avg"] = [p_, r_, f_, int(C.sum())]
    per_class["support"] = per_class["support"].astype(int)
    confusion = pd.DataFrame(
        C, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted")
    )
    n = scores.n
    return EvaluationReport(
        n=n,
        accuracy=float(np.trace(C) / n),
        log_loss=scores.log_loss / n,
        brier=scores.brier / n,
        per_class=per_class,
        confusion=confusion,
    )
