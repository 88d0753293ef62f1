"""The sparse penalties: lasso, elastic net and grouped lasso on all ``K`` class rows.

For the weights ``W`` of shape ``(p, K)`` (row ``j``: feature ``j``'s coefficients in every
class; intercepts are never penalized), with ``a = l1_ratio`` and per-feature factors
``f_j >= 0`` (0: unpenalized),

- ``"l1"`` / ``"elasticnet"``:  ``alpha * sum_j f_j (a ||W_j||_1 + (1 - a)/2 ||W_j||_2^2)``
- ``"group"``:                  ``alpha * sum_j f_j (a ||W_j||_2 + (1 - a)/2 ||W_j||_2^2)``

glmnet's ``type.multinomial="ungrouped"`` and ``"grouped"`` with its ``lambda = alpha``
and ``alpha = l1_ratio``. The penalty acts on all ``K`` rows (no reference class), as in
glmnet: the softmax loss does not change when a constant is added to a feature's ``K``
coefficients, and the penalty picks the one shift that minimizes it, so the solution does
not depend on which class would be called the reference (for the group and ridge
penalties that shift makes ``sum_k W_jk = 0``; for the lasso it is a median).

:class:`SparsePenalty` holds the parameters and computes the value, the KKT residual the
solver stops on (both by compiled loops, :mod:`mnlogit.objective.sparse_penalty_kernels`),
the strong-rule screen and ``alpha_max``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnlogit.exceptions import InvalidInputError

__all__ = [
    "SPARSE_PENALTIES",
    "SparsePenalty",
    "resolve_l1_ratio",
    "resolve_penalty_factor",
]

FloatArray = NDArray[np.float64]

#: The names of the penalties that act on all ``K`` rows and need the proximal solver.
SPARSE_PENALTIES = ("l1", "elasticnet", "group")


@dataclass(frozen=True)
class SparsePenalty:
    """A lasso-family penalty on ``W`` of shape ``(p, K)``.

    Attributes
    ----------
    kind : {"l1", "elasticnet", "group"}
    l1_ratio : float
        In ``[0, 1]``; ``"l1"`` and ``"group"`` default to 1.
    factor : ndarray of shape (p,)
        Per-feature penalty factors, ``>= 0``; used as given (glmnet rescales its
        ``penalty.factor`` to sum to ``p``; mnlogit does not).
    """

    kind: str
    l1_ratio: float
    factor: FloatArray

    @property
    def group(self) -> bool:
        """Whether a feature's ``K`` coefficients form one group."""
        return self.kind == "group"

    def strengths(self, alpha: float) -> tuple[FloatArray, FloatArray]:
        """``(lam1, lam2)`` of shape ``(p,)``: the L1 (or group) and ridge weights at ``alpha``."""
        base = alpha * self.factor
        return base * self.l1_ratio, base * (1.0 - self.l1_ratio)

    def value(self, W: FloatArray, alpha: float) -> float:
        """``alpha * penalty(W)`` (one compiled pass,
        :func:`~mnlogit.objective.sparse_penalty_kernels.penalty_value`).

        Parameters
        ----------
        W : ndarray of shape (p, K)

        Returns
        -------
        float
        """
        from mnlogit.objective.sparse_penalty_kernels import penalty_value

        lam1, lam2 = self.strengths(alpha)
        return float(penalty_value(np.asarray(W, dtype=np.float64), lam1, lam2, self.group))

    def dual_norms(self, G: FloatArray) -> FloatArray:
        """Per feature, the dual norm of the penalty's L1 part: ``max_k |G_jk|`` (lasso) or
        ``||G_j||_2`` (group).

        Parameters
        ----------
        G : ndarray of shape (m, K)

        Returns
        -------
        ndarray of shape (m,)
        """
        if self.group:
            return np.sqrt(np.einsum("jk,jk->j", G, G))
        return np.abs(G).max(axis=1) if G.shape[1] else np.zeros(G.shape[0])

    def alpha_max(self, G: FloatArray) -> float:
        """The smallest ``alpha`` at which ``W = 0`` (on the penalized features) is optimal.

        Parameters
        ----------
        G : ndarray of shape (p, K)
            Gradient of the mean loss at the null model (intercepts and unpenalized
            features fitted, the rest 0).

        Returns
        -------
        float
            ``max_j dual_norm(G_j) / (f_j * a)`` over features with ``f_j > 0``, with
            ``a = max(l1_ratio, 1e-3)`` (glmnet's convention for the ridge end, whose
            ``alpha_max`` is infinite); 0 when no feature is penalized.
        """
        penalized = self.factor > 0
        if not penalized.any():
            return 0.0
        ratio = max(self.l1_ratio, 1e-3)
        norms = self.dual_norms(G[penalized])
        return float(np.max(norms / (self.factor[penalized] * ratio)))

    def residuals(
        self,
        W: FloatArray,
        G: FloatArray,
        alpha: float,
        features: NDArray[np.intp] | None = None,
        scale: FloatArray | None = None,
    ) -> FloatArray:
        """Per feature, the distance from ``-G_j`` to ``alpha``'s subdifferential at ``W_j``.

        The optimality (KKT) condition is ``0 in G_j + alpha * d penalty_j(W_j)``; the
        residual is the smallest norm of ``G_j + alpha * s`` over subgradients ``s``
        (max-norm over the class coordinates for the lasso, 2-norm for the group). One
        compiled pass (:func:`~mnlogit.objective.sparse_penalty_kernels.kkt_residuals`);
        NaN in ``W`` or ``G`` gives NaN.

        Parameters
        ----------
        W, G : ndarray of shape (p, K)
            Coefficients and the mean loss's gradient of all ``p`` features.
        alpha : float
        features : ndarray of shape (m,) of int, optional
            The features whose residuals are wanted (default: all ``p``, ``m == p``).
        scale : ndarray of shape (p,), optional
            Each residual is divided by its feature's entry (the solver's standardized
            residuals: the columns' RMS); default 1.

        Returns
        -------
        ndarray of shape (m,)
        """
        from mnlogit.objective.sparse_penalty_kernels import kkt_residuals

        p = W.shape[0]
        lam1, lam2 = self.strengths(alpha)
        idx = np.arange(p, dtype=np.intp) if features is None else np.asarray(features, np.intp)
        rms = np.ones(p) if scale is None else np.asarray(scale, dtype=np.float64)
        out = np.empty(idx.size)
        W64 = np.asarray(W, dtype=np.float64)
        G64 = np.asarray(G, dtype=np.float64)
        kkt_residuals(idx, W64, G64, lam1, lam2, self.group, rms, out)
        return out


def resolve_l1_ratio(kind: str, l1_ratio: Any) -> float:
    """The ``l1_ratio`` a penalty uses: 1 by default for ``"l1"`` and ``"group"``.

    Raises
    ------
    InvalidInputError
        An unknown ``kind``; ``"elasticnet"`` without ``l1_ratio``; ``"l1"`` with
        ``l1_ratio`` other than 1; a ratio outside ``[0, 1]``.
    """
    if kind not in SPARSE_PENALTIES:
        raise InvalidInputError(f"penalty must be one of {SPARSE_PENALTIES}, got {kind!r}")
    if l1_ratio is None:
        if kind == "elasticnet":
            raise InvalidInputError(
                "penalty='elasticnet' needs l1_ratio in [0, 1] (1: lasso, 0: ridge)"
            )
        return 1.0
    ok = isinstance(l1_ratio, numbers.Real) and not isinstance(l1_ratio, bool)
    if not ok or not 0.0 <= float(l1_ratio) <= 1.0:
        raise InvalidInputError(f"l1_ratio must be a number in [0, 1], got {l1_ratio!r}")
    if kind == "l1" and float(l1_ratio) != 1.0:
        raise InvalidInputError(
            f"penalty='l1' is l1_ratio=1; got l1_ratio={l1_ratio!r} (use penalty='elasticnet')"
        )
    return float(l1_ratio)


def resolve_penalty_factor(penalty_factor: Any, n_features: int) -> FloatArray:
    """Per-feature penalty factors as a float array (all ones by default).

    Raises
    ------
    InvalidInputError
        Not ``n_features`` finite non-negative numbers.
    """
    if penalty_factor is None:
        return np.ones(n_features)
    try:
        f = np.asarray(penalty_factor, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"penalty_factor must be numbers, got {penalty_factor!r}") from exc
    if f.size != n_features:
        raise InvalidInputError(
            f"penalty_factor has {f.size} values, X has {n_features} feature(s)"
        )
    if not np.all(np.isfinite(f)) or np.any(f < 0):
        raise InvalidInputError("penalty_factor must be finite and non-negative")
    return f
