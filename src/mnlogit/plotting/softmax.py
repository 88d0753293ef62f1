"""The softmax link drawn on its own: :func:`plot_softmax`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Patch
from numpy.typing import ArrayLike

from mnlogit.exceptions import InvalidInputError
from mnlogit.plotting.grid import REFERENCE_LINE, FloatArray, class_colors, new_axes


def _softmax(eta: FloatArray) -> FloatArray:
    z = eta - eta.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=-1, keepdims=True)
    return out


def plot_softmax(
    eta: ArrayLike | None = None,
    ax: Axes | None = None,
    *,
    kind: Literal["curves", "bars"] = "curves",
    vary: int = 0,
    span: float = 5.0,
    n_points: int = 201,
    labels: Sequence[str] | None = None,
) -> Axes:
    """The softmax map from K linear predictors to K probabilities.

    ``P_k = exp(eta_k) / sum_j exp(eta_j)``.

    Parameters
    ----------
    eta : array-like of shape (K,), optional
        Linear predictors, ``K >= 2``; default ``(1, 0, -1)``.
    ax : Axes, optional
        Where to draw; a new figure when omitted.
    kind : {"curves", "bars"}, default="curves"
        ``"curves"``: vary ``eta[vary]`` over ``eta[vary] ± span`` with the others fixed
        and draw all K probabilities (one line each, in class order) and their sum, a
        dotted line at one; ``eta`` itself is marked by a vertical line and K points.
        ``"bars"``: for the vector ``eta``, K bars of ``eta`` on ``ax`` beside K bars of
        the probabilities on a twin y axis (``ax.twinx()``) whose zero is aligned with
        ``ax``'s.
    vary : int, default=0
        Which linear predictor varies (``kind="curves"``).
    span : float, default=5.0
        Half-width of its range.
    n_points : int, default=201
        Grid points (``kind="curves"``).
    labels : sequence of K str, optional
        Class names; default ``"1" .. "K"``.

    Returns
    -------
    Axes
        With ``kind="curves"``: K + 1 lines of ``n_points`` points (probabilities, then
        the sum) and K marker lines of one point. With ``kind="bars"``: K bars of ``eta``
        (the probability bars are on the twin Axes).
    """
    e = np.array([1.0, 0.0, -1.0]) if eta is None else np.asarray(eta, dtype=np.float64)
    if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)):
        raise InvalidInputError(f"eta must be a finite vector of length >= 2, got {eta!r}")
    K = e.size
    names = [str(k + 1) for k in range(K)] if labels is None else [str(s) for s in labels]
    if len(names) != K:
        raise InvalidInputError(f"labels must have {K} entries, got {len(names)}")
    ax = new_axes(ax)
    if kind == "curves":
        return _draw_curves(ax, e, names, vary, span, n_points)
    if kind != "bars":
        raise InvalidInputError(f"kind must be 'curves' or 'bars', got {kind!r}")
    return _draw_bars(ax, e, names)


def _draw_curves(
    ax: Axes, e: FloatArray, names: list[str], vary: int, span: float, n_points: int
) -> Axes:
    """All K probabilities as ``eta[vary]`` varies over ``eta[vary] ± span``."""
    K = e.size
    colors = class_colors(K)
    prob = _softmax(e)
    if not 0 <= vary < K:
        raise InvalidInputError(f"vary must be in 0..{K - 1}, got {vary}")
    if not span > 0 or n_points < 2:
        raise InvalidInputError("span must be positive and n_points at least 2")
    t = np.linspace(e[vary] - span, e[vary] + span, n_points)
    E = np.tile(e, (n_points, 1))
    E[:, vary] = t
    P = _softmax(E)
    for k in range(K):
        ax.plot(t, P[:, k], color=colors[k], label=f"P({names[k]})")
    ax.plot(t, P.sum(axis=1), color="k", linestyle=":", linewidth=1.2, label="sum")
    ax.axvline(e[vary], **REFERENCE_LINE)
    for k in range(K):
        ax.plot([e[vary]], [prob[k]], "o", color=colors[k])
    fixed = ", ".join(f"η{names[k]} = {e[k]:g}" for k in range(K) if k != vary)
    ax.set_xlabel(f"η{names[vary]}  (fixed: {fixed})")
    ax.set_ylabel("probability")
    ax.set_ylim(-0.02, 1.05)
    ax.legend(loc="best", fontsize="small")
    ax.set_title("softmax: probabilities sum to one")
    return ax


def _draw_bars(ax: Axes, e: FloatArray, names: list[str]) -> Axes:
    """K bars of ``eta`` beside K bars of the probabilities on a twin axis."""
    K = e.size
    colors = class_colors(K)
    prob = _softmax(e)
    x = np.arange(K, dtype=np.float64)
    width = 0.38
    ax.bar(x - width / 2, e, width, color="0.6", label="η (left axis)")
    ax.axhline(0.0, color="k", linewidth=0.8)
    ax.set_ylabel("linear predictor η")
    ax.set_xticks(x, names)
    ax.set_xlabel("class")
    twin = ax.twinx()
    twin.bar(x + width / 2, prob, width, color=colors, label="P (right axis)")
    for k in range(K):
        twin.annotate(
            f"{prob[k]:.3f}",
            (x[k] + width / 2, prob[k]),
            ha="center",
            va="bottom",
            fontsize="small",
        )
    # Both axes share their zero line, so every bar starts from the same baseline.
    lo, hi = min(float(e.min()), 0.0), max(float(e.max()), 0.0)
    extent = hi - lo
    lo, hi = lo - (0.08 * extent if lo < 0 else 0.0), hi + 0.2 * extent
    ax.set_ylim(lo, hi)
    below = -lo / (hi - lo)
    twin.set_ylim(-below * 1.15 / (1 - below), 1.15)
    twin.set_yticks(np.linspace(0.0, 1.0, 5))
    twin.set_ylabel("probability softmax(η)")
    handles = [Patch(color="0.6", label="η (left)"), Patch(color=colors[0], label="P (right)")]
    ax.legend(handles=handles, loc="upper right", fontsize="small")
    ax.set_title("softmax: η ↦ probabilities")
    return ax
