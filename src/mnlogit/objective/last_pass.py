"""The last pass: loss, gradient sums and the loss Hessian from one probability evaluation.

A fit that reports standard errors evaluates the gradient at its final coefficients (to
confirm convergence) and then forms the loss Hessian at the same coefficients (the
covariance). Done apart, these are two reads of ``X`` and two probability evaluations.
:func:`loss_and_hessian` does both in one pass over dense ``X``: the Hessian kernel
(:func:`mnlogit.objective.hessian.loss_hessian`, pairwise or wide, any coordinates)
asks for each sub-block's probabilities through its row-range seam
(:data:`~mnlogit.objective.hessian.ProbabilityRows`), and the function that answers
forms them with :class:`~mnlogit.objective.loss.SweepSums` -- the sweep's own
operations -- adding that sub-block's loss and gradient sums while its rows of ``X`` are
in cache. The Hessian then reads the same probabilities the gradient was formed from.

Where the Hessian kernel splits its rows over Python threads
(:func:`~mnlogit.objective.threads.map_row_ranges`), each thread keeps its own sums;
they are added in row order, so the result does not depend on thread timing.

The loss and gradient sums equal :func:`~mnlogit.objective.loss.sweep_loss`'s up to
the summation order (the Hessian's sub-blocks are not the sweep's), and the Hessian
equals the one formed afterwards from freshly computed probabilities up to rounding
(about 1e-15 relative: the same products, the softmax taken class-major).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnlogit.objective.hessian import loss_hessian
from mnlogit.objective.loss import BlockLoss, SweepSums, combined, compiled_sweep

__all__ = ["loss_and_hessian"]

FloatArray = NDArray[np.float64]


def loss_and_hessian(
    X_b: NDArray[Any],
    y_b: NDArray[np.intp],
    w_b: FloatArray | None,
    hessian_weights: FloatArray,
    W: FloatArray,
    b: FloatArray | None,
    *,
    column_factor: FloatArray | None = None,
    T: FloatArray | None = None,
) -> tuple[BlockLoss, FloatArray]:
    """Loss, gradient sums and loss Hessian of a dense block of rows, ``X_b`` read once.

    Parameters
    ----------
    X_b : ndarray of shape (m, p), float64 or float32
        float32 rows are converted to float64 a sub-block at a time (float64 sums).
    y_b : ndarray of shape (m,)
        Class codes ``0 .. K-1``.
    w_b : ndarray of shape (m,), optional
        The loss's row weights (``None``: 1), as for
        :func:`~mnlogit.objective.loss.sweep_loss`.
    hessian_weights : ndarray of shape (m,)
        The Hessian's row weights, as ``w_b`` of
        :func:`~mnlogit.objective.hessian.loss_hessian`.
    W : ndarray of shape (p, K), float64
        Coefficients on ``X``'s scale.
    b : ndarray of shape (K,), optional
        Intercepts (``None``: no intercept).
    column_factor : ndarray of shape (p,), optional
        The Hessian's column scaling of ``X_b`` (the loss and gradient sums stay on
        ``X``'s scale, as the sweep's).
    T : ndarray of shape (K-1, K-1), optional
        The Hessian's coordinates, as for :func:`~mnlogit.objective.hessian.loss_hessian`.

    Returns
    -------
    loss : BlockLoss
        ``nll``, ``min_prob`` and ``gradient_sums`` (shape ``(p1, K)``), as
        :func:`~mnlogit.objective.loss.sweep_loss` with ``gradient=True`` returns them.
    hessian : ndarray of shape ((K-1) * p1, (K-1) * p1)
        The loss Hessian's partial sum, float64.
    """
    K = W.shape[1]
    local = threading.local()
    lock = threading.Lock()
    made: list[tuple[int, SweepSums]] = []  # (first row, sums) of each thread
    all_positive = w_b is None or bool(np.all(w_b > 0))
    compiled = compiled_sweep(X_b.shape[0], K)

    def rows(start: int, stop: int) -> FloatArray:
        sums: SweepSums | None = getattr(local, "sums", None)
        if sums is None:
            sums = local.sums = SweepSums(
                W, b, X_b.shape[1], X_b.dtype, gradient=True, fast=False, compiled=compiled,
                all_positive=all_positive, rows=stop - start,
            )  # fmt: skip
            with lock:
                made.append((start, sums))
        probT = sums.add(X_b[start:stop], y_b[start:stop], None if w_b is None else w_b[start:stop])
        return probT[1:].T  # (rows, K-1): column a is a contiguous row of probT

    H = loss_hessian(
        X_b,
        rows,
        hessian_weights,
        intercept=b is not None,
        column_factor=column_factor,
        T=T,
        free_classes=K - 1,
    )
    if not made:  # no rows: the sums of nothing
        empty = SweepSums(
            W, b, X_b.shape[1], X_b.dtype,
            gradient=True, fast=False, compiled=False, all_positive=True, rows=1,
        )  # fmt: skip
        return empty.result(), H
    made.sort(key=lambda item: item[0])
    return combined([sums.result() for _, sums in made]), H
