"""Regularization paths of the lasso-family penalties: :func:`regularization_path`.

The path solves the sparse penalties of :mod:`mnlogit.objective.sparse_penalties` over a
decreasing grid of ``alpha`` values, each solve warm-started from the one before, with
the proximal Newton solver of :mod:`mnlogit.solvers.proximal_newton` (strong rules, a KKT
check on every feature after every solve). glmnet's conventions: ``alpha`` is glmnet's
``lambda`` (on the mean weighted loss); the default grid runs from ``alpha_max`` (the
smallest ``alpha`` at which every penalized coefficient is 0, computed exactly from the
null model's gradient) down to ``alpha_min_ratio * alpha_max``, evenly on a log scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from mnlogit.exceptions import InvalidInputError
from mnlogit.objective.sparse_penalties import (
    SparsePenalty,
    resolve_l1_ratio,
    resolve_penalty_factor,
)
from mnlogit.solvers.proximal_newton import ColumnData, SparseSolution, null_model, solve_path

__all__ = [
    "DEFAULT_MAX_OUTER",
    "DEFAULT_TOL",
    "RegularizationPath",
    "alpha_grid",
    "regularization_path",
    "sparse_problem",
]

FloatArray = NDArray[np.float64]

#: Proximal Newton iterations allowed per ``alpha`` when ``max_iter=None``.
DEFAULT_MAX_OUTER = 100


@dataclass(frozen=True)
class RegularizationPath:
    """Solutions over a decreasing grid of penalty strengths.

    Attributes
    ----------
    alphas : ndarray of shape (L,)
        Decreasing.
    coef : ndarray of shape (L, K, p)
        All ``K`` class rows (the penalty identifies them; no reference class), original
        feature scale.
    intercept : ndarray of shape (L, K)
        Centred: ``sum_k intercept[l, k] = 0``.
    n_nonzero : ndarray of shape (L,) of int
        Features with a nonzero coefficient in any class (glmnet's ``df``).
    deviance_ratio : ndarray of shape (L,)
        ``1 - deviance / null deviance`` (glmnet's ``dev.ratio``); the null model has the
        intercepts only (none without ``fit_intercept``).
    objective : ndarray of shape (L,)
        Mean weighted NLL ``+ alpha * penalty`` at the solution.
    kkt_residual : ndarray of shape (L,)
        The largest KKT residual at the solution (standardized columns;
        :mod:`mnlogit.solvers.proximal_newton`), the stopping measure.
    converged : ndarray of shape (L,) of bool
        ``kkt_residual <= tol``.
    n_iter : ndarray of shape (L,) of int
        Proximal Newton iterations.
    classes : ndarray of shape (K,)
    feature_names : tuple of str
        ``p`` names (``"x0", "x1", ...`` when X has none).
    penalty : str
    l1_ratio : float
    penalty_factor : ndarray of shape (p,)
    """

    alphas: FloatArray
    coef: FloatArray
    intercept: FloatArray
    n_nonzero: NDArray[np.intp]
    deviance_ratio: FloatArray
    objective: FloatArray
    kkt_residual: FloatArray
    converged: NDArray[np.bool_]
    n_iter: NDArray[np.intp]
    classes: NDArray[Any]
    feature_names: tuple[str, ...]
    penalty: str
    l1_ratio: float
    penalty_factor: FloatArray


def alpha_grid(alpha_max: float, n_alphas: int, alpha_min_ratio: float) -> FloatArray:
    """``n_alphas`` values from ``alpha_max`` down to ``alpha_min_ratio * alpha_max``, evenly
    spaced on a log scale.

    Returns
    -------
    ndarray of shape (n_alphas,)
    """
    if alpha_max <= 0:
        raise InvalidInputError(
            "no feature is penalized (all penalty factors are 0, or X is empty): the "
            "path has no alpha_max; pass alphas= explicitly"
        )
    return np.asarray(
        alpha_max * np.logspace(0.0, np.log10(alpha_min_ratio), n_alphas), dtype=np.float64
    )


def _validated(
    X: Any, y: Any, sample_weight: Any
) -> tuple[Any, NDArray[Any], NDArray[np.intp], FloatArray, tuple[str, ...]]:
    """``(X, classes, codes, weights, names)`` after scikit-learn's and mnlogit's checks."""
    from sklearn.utils.validation import check_array, check_consistent_length

    from mnlogit.identification import check_sparse_structure, check_weights, encode_labels

    columns = getattr(X, "columns", None)
    if sp.issparse(X):  # (before check_array converts it: a valid matrix converts to one)
        check_sparse_structure(X)
    Xv = check_array(X, accept_sparse=("csr", "csc"), dtype=(np.float64, np.float32))
    yv = np.asarray(y)
    if yv.ndim != 1:
        raise InvalidInputError(f"y must be one-dimensional, got shape {yv.shape}")
    check_consistent_length(Xv, yv)
    classes, codes = encode_labels(yv)
    sw = check_weights(sample_weight, Xv, yv, classes, codes, None)
    p = int(Xv.shape[1])
    if columns is not None and len(columns) == p:
        names = tuple(str(c) for c in columns)
    else:
        names = tuple(f"x{j}" for j in range(p))
    return Xv, classes, codes, sw, names


def sparse_problem(
    X: Any,
    codes: NDArray[np.intp],
    n_classes: int,
    sample_weight: FloatArray | None,
    fit_intercept: bool,
    penalty: SparsePenalty,
    tol: float,
    max_iter: int,
) -> tuple[ColumnData, SparseSolution, float]:
    """The data in the solver's layout, the null model and ``alpha_max``.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, p), validated
    codes : ndarray of shape (n,)
    n_classes : int
    sample_weight : ndarray of shape (n,) or None
    fit_intercept : bool
    penalty : SparsePenalty
    tol : float
    max_iter : int

    Returns
    -------
    data : ColumnData
    null : SparseSolution
        Intercepts and unpenalized features fitted, the rest 0.
    alpha_max : float
    """
    data = ColumnData.from_arrays(X, codes, n_classes, sample_weight, fit_intercept)
    null = null_model(data, penalty, tol, max_iter)
    return data, null, penalty.alpha_max(null.G)


def _null_loss(data: ColumnData) -> float:
    """The mean loss of the intercept-only model (all-zero without intercepts)."""
    if not data.fit_intercept:
        return float(np.log(data.n_classes))
    totals = np.bincount(data.codes, weights=data.weights, minlength=data.n_classes)
    present = totals > 0
    return float(-(totals[present] @ np.log(totals[present])))


#: Default KKT tolerance of a path. Measured on issue 14's three benchmark problems
#: (``benchmarks/lasso_tol.py``; docs/penalties.md): at ``1e-6`` every alpha's objective is
#: within 2.3e-10 (dense) and 1.7e-9 (sparse, after the eleventh pass's looser first outer
#: step) of a tight reference, six times or more under the 1e-8 target; at ``1e-5`` the dense
#: 10k x 200 path is 4e-8 above it.
DEFAULT_TOL = 1e-6


def regularization_path(
    X: Any,
    y: Any,
    *,
    penalty: str = "l1",
    l1_ratio: float | None = None,
    alphas: Any = None,
    n_alphas: int = 100,
    alpha_min_ratio: float | None = None,
    penalty_factor: Any = None,
    sample_weight: Any = None,
    fit_intercept: bool = True,
    tol: float = DEFAULT_TOL,
    max_iter: int | None = None,
) -> RegularizationPath:
    """Lasso, elastic-net or grouped-lasso multinomial fits over a grid of ``alpha``.

    The objective at each ``alpha`` is the mean weighted negative log-likelihood plus
    ``alpha * penalty(W)`` on all ``K`` class rows (:mod:`mnlogit.objective.sparse_penalties`);
    glmnet's ``lambda`` is ``alpha``.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n, p)
        float32 or float64 (kept); sparse X is never densified.
    y : array-like of shape (n,)
    penalty : {"l1", "elasticnet", "group"}, default="l1"
    l1_ratio : float or None
        ``None``: 1 for ``"l1"`` and ``"group"``; required for ``"elasticnet"``.
    alphas : array-like of shape (L,), optional
        The grid (sorted decreasing here). Default: :func:`alpha_grid`.
    n_alphas : int, default=100
    alpha_min_ratio : float, optional
        Default glmnet's: ``1e-4`` if ``n > p`` else ``1e-2``.
    penalty_factor : array-like of shape (p,), optional
        Per-feature factors (0: unpenalized), used as given (glmnet rescales them to sum
        to ``p``; mnlogit does not).
    sample_weight : array-like of shape (n,), optional
        Frequency weights.
    fit_intercept : bool, default=True
    tol : float, default=DEFAULT_TOL (1e-6)
        KKT tolerance on standardized columns (:mod:`mnlogit.solvers.proximal_newton`).
    max_iter : int, optional
        Proximal Newton iterations per ``alpha`` (default :data:`DEFAULT_MAX_OUTER`).

    Returns
    -------
    RegularizationPath
    """
    from mnlogit.identification import check_positive_number

    Xv, classes, codes, sw, names = _validated(X, y, sample_weight)
    n, p = Xv.shape
    ratio = resolve_l1_ratio(penalty, l1_ratio)
    factor = resolve_penalty_factor(penalty_factor, p)
    tol = check_positive_number("tol", tol)
    outer = DEFAULT_MAX_OUTER if max_iter is None else int(max_iter)
    pen = SparsePenalty(penalty, ratio, factor)
    data, null, alpha_max = sparse_problem(
        Xv, codes, classes.size, sw, bool(fit_intercept), pen, tol, outer
    )
    if alphas is None:
        min_ratio = (1e-4 if n > p else 1e-2) if alpha_min_ratio is None else alpha_min_ratio
        min_ratio = check_positive_number("alpha_min_ratio", min_ratio)
        grid = alpha_grid(alpha_max, int(n_alphas), min_ratio)
    else:
        grid = -np.sort(-np.asarray(alphas, dtype=np.float64).reshape(-1))
        if grid.size == 0 or not np.all(np.isfinite(grid)) or grid[-1] < 0:
            raise InvalidInputError("alphas must be finite non-negative numbers")
    solutions = solve_path(data, pen, grid, tol, outer, null, max(alpha_max, float(grid[0])))
    return _assemble(data, pen, grid, solutions, classes, names)


def _assemble(
    data: ColumnData,
    pen: SparsePenalty,
    grid: FloatArray,
    solutions: list[SparseSolution],
    classes: NDArray[Any],
    names: tuple[str, ...],
) -> RegularizationPath:
    coef = np.stack([s.W.T for s in solutions])
    loss = np.array([s.loss for s in solutions])
    null = _null_loss(data)
    return RegularizationPath(
        alphas=grid,
        coef=coef,
        intercept=np.stack([s.b for s in solutions]),
        n_nonzero=np.count_nonzero(np.any(coef != 0, axis=1), axis=1).astype(np.intp),
        deviance_ratio=1.0 - loss / null if null > 0 else np.zeros_like(loss),
        objective=np.array([s.objective for s in solutions]),
        kkt_residual=np.array([s.kkt for s in solutions]),
        converged=np.array([s.converged for s in solutions], dtype=bool),
        n_iter=np.array([s.n_iter for s in solutions], dtype=np.intp),
        classes=classes,
        feature_names=names,
        penalty=pen.kind,
        l1_ratio=pen.l1_ratio,
        penalty_factor=pen.factor,
    )
