"""The cone of directions of recession, and the linear programs that explore it.

A *cell* (i, k) is the inequality ``x̃_i · (d_{y_i} − d_k) >= 0`` for a row i and a class
``k != y_i``; the directions ``D`` (free coefficients, reference column fixed at 0) that
satisfy every cell form the polyhedral cone ``C`` of :mod:`mnlogit.identification.separation`.
This module holds the steps that only look at the cell matrix ``A`` (one row per cell,
``A D >= 0`` on ``C``):

- :func:`cell_matrix` -- build ``A`` from the scaled design rows and their classes;
- :class:`ConeLP` -- ``maximize obj · D`` over ``C`` and the box ``|D| <= 1``, by
  constraint generation;
- :func:`separated_cells` -- Konis' LP, repeated: the cells that are strict somewhere on
  ``C`` (the separated set ``S``) and a direction strict on all of them;
- :func:`null_space` / :func:`free_coefficients` -- the span of ``C`` (the null space of
  the cells outside ``S``) and the coefficients that load on it;
- :func:`coefficient_signs` -- which free coefficients can be positive or negative on ``C``.

Directions are vectors of length ``q = (K - 1) r`` ordered class block by class block:
entries ``b r .. (b + 1) r - 1`` belong to the b-th class other than the reference.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

__all__ = [
    "NONZERO",
    "ConeLP",
    "cell_matrix",
    "coefficient_signs",
    "free_coefficients",
    "null_space",
    "separated_cells",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

#: A coefficient or cell value counts as nonzero above this (directions scaled to
#: max-abs 1, rows of the cell matrix to max-abs 1).
NONZERO = 1e-6
#: Cells violated by more than this are added to the working set (HiGHS' feasibility
#: tolerance).
_FEAS = 1e-7
#: Size of the first working set of cells (at least 20 per variable).
_INITIAL_CELLS = 2000
#: At most this many rounds of the search for the separated set.
MAX_ROUNDS = 100
#: Numbers of the cell matrix per chunk (16 MiB in float64) when reducing the equality
#: cells to a triangular factor.
_NULL_SPACE_CHUNK_ELEMENTS = 2**21


def cell_matrix(
    Z: FloatArray | sp.csr_array, codes: IntArray, K: int, reference: int
) -> tuple[sp.csr_array, IntArray, IntArray]:
    """Sparse matrix of the cell inequalities ``x̃_i · (d_{y_i} − d_k) >= 0``.

    Row of cell (i, k) holds ``+Z[i]`` in the block of class ``y_i`` and ``-Z[i]`` in the
    block of class k; the reference class has no block (its coefficients are 0). Cells
    are ordered class by class (all cells with ``k = 0``, then ``k = 1``, ...), and
    within a class by row.

    Parameters
    ----------
    Z : ndarray or csr_array of shape (n', r)
        Design rows (scaled; see :func:`mnlogit.identification.separation.scaled_rows`).
    codes : ndarray of int of shape (n',)
        Class code of each row, in ``0 .. K - 1``.
    K : int
        Number of classes.
    reference : int
        Class code without a block.

    Returns
    -------
    A : csr_array of shape (n' (K-1), (K-1) r)
        Variables ordered class block by class block.
    cell_row, cell_cls : ndarray of shape (n' (K-1),)
        The Z row and the other class k of each cell.
    """
    Zc = sp.csr_array(Z)
    r = Zc.shape[1]
    length = np.diff(Zc.indptr).astype(np.int64)  # stored values per Z row
    block = np.array([max(b - int(b > reference), 0) for b in range(K)], dtype=np.int64)
    own_part = (codes != reference).astype(np.int64)
    # per class k: its cells' rows, and each cell's stored values (own block + k's block)
    idx_k = [np.flatnonzero(codes != k) for k in range(K)]
    counts = [length[i] * (own_part[i] + int(k != reference)) for k, i in enumerate(idx_k)]
    m = sum(i.size for i in idx_k)
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.concatenate(counts), out=indptr[1:])
    nnz = int(indptr[-1])
    # filled in place, class by class: no COO triplets, no concatenated copies
    index: type[np.signedinteger[Any]] = np.int32 if max(nnz, (K - 1) * r) < 2**31 else np.int64
    indices: NDArray[np.signedinteger[Any]] = np.empty(nnz, dtype=index)
    data = np.empty(nnz)
    offset = 0
    for k, rows in enumerate(idx_k):
        sub = Zc[rows]
        start = indptr[offset : offset + rows.size]  # where each cell's values begin
        within = np.arange(sub.nnz, dtype=np.int64) - np.repeat(sub.indptr[:-1], length[rows])
        where = np.repeat(start, length[rows]) + within
        own = codes[rows] != reference
        if own.any():
            mask = np.repeat(own, length[rows])
            indices[where[mask]] = (
                sub.indices[mask] + np.repeat(block[codes[rows]], length[rows])[mask] * r
            )
            data[where[mask]] = sub.data[mask]
        if k != reference:  # after the own block's values (if any)
            shift = np.repeat(own_part[rows] * length[rows], length[rows])
            indices[where + shift] = sub.indices + block[k] * r
            data[where + shift] = -sub.data
        offset += rows.size
    A: sp.csr_array = sp.csr_array((data, indices, indptr.astype(index)), shape=(m, (K - 1) * r))
    A.sort_indices()
    cell_row = np.concatenate(idx_k).astype(np.intp)
    cell_cls = np.concatenate([np.full(i.size, k, dtype=np.intp) for k, i in enumerate(idx_k)])
    return A, cell_row, cell_cls


class ConeLP:
    """``maximize obj · D  subject to  A D >= 0, -1 <= D <= 1`` by constraint generation.

    Most cells are redundant, so each LP is solved on a working subset of them (at first
    a deterministic sample of ``max(2000, 20 q)`` cells); cells the solution violates by
    more than HiGHS' feasibility tolerance (1e-7) are added and the LP is solved again.
    The final solution satisfies every cell, and is optimal for the full problem because
    the subset problem is a relaxation. The working set is kept between calls.

    Parameters
    ----------
    A : csr_array of shape (m, q)
        Cell inequalities, rows scaled to largest absolute entry at most 1.
    deadline : float
        ``time.monotonic()`` value after which no LP is started.

    Attributes
    ----------
    A : csr_array of shape (m, q)
    last_message : str
        Why the last :meth:`maximize` returned None ("" before any failure).
    n_lps : int
        LPs solved so far (each round of constraint generation counts).
    """

    def __init__(self, A: sp.csr_array, deadline: float) -> None:
        self.A = A
        m = A.shape[0]
        self._active = np.zeros(m, dtype=bool)
        size = min(m, max(_INITIAL_CELLS, 20 * A.shape[1]))
        self._active[np.random.default_rng(0).choice(m, size=size, replace=False)] = True
        self._deadline = deadline
        self.last_message = ""
        self.n_lps = 0

    def maximize(self, obj: FloatArray) -> FloatArray | None:
        """An optimal direction for the objective ``obj``.

        Parameters
        ----------
        obj : ndarray of shape (q,)

        Returns
        -------
        ndarray of shape (q,) or None
            None when the solver failed or time ran out (:attr:`last_message` says which).
        """
        while True:
            left = self._deadline - time.monotonic()
            if left <= 0:
                self.last_message = "time limit reached"
                return None
            sub: Any = -self.A[np.flatnonzero(self._active)]  # HiGHS takes sparse A_ub
            res = linprog(
                -obj, A_ub=sub, b_ub=np.zeros(sub.shape[0]), bounds=(-1.0, 1.0),
                method="highs", options={"time_limit": left},
            )  # fmt: skip
            self.n_lps += 1
            if res.status != 0 or res.x is None:
                self.last_message = str(res.message)
                return None
            D = np.asarray(res.x, dtype=np.float64)
            violated = ~self._active & (self.A @ D < -_FEAS)
            if not violated.any():
                return D
            self._active |= violated


def separated_cells(cone: ConeLP) -> tuple[BoolArray, FloatArray, bool] | None:
    """The separated set S and a direction making every cell of S strict.

    Repeats Konis' LP, ``maximize Σ_{c not yet in S} (A D)_c`` over the cone and the box:
    its optimum is 0 exactly when no further cell can be strict, and otherwise the
    solution makes at least one new cell strict (value above :data:`NONZERO` once the
    solution is scaled to max-abs 1). The sum of the scaled solutions is strict on all of
    S (each is >= 0 on every cell).

    Parameters
    ----------
    cone : ConeLP
        Over the cell matrix ``A`` of shape (m, q).

    Returns
    -------
    strict : ndarray of bool, shape (m,)
        Membership of each cell in S.
    direction : ndarray of shape (q,)
        Zero when S is empty.
    complete_search : bool
        False when the rounds stopped at :data:`MAX_ROUNDS` or an LP failed after the
        first (S may then be too small).
    None
        When the first LP failed (nothing is known).
    """
    A = cone.A
    m, q = A.shape
    known = np.zeros(m, dtype=bool)
    total = np.zeros(q)
    for _ in range(MAX_ROUNDS):
        # Σ of the rows not yet known, as Aᵀ 1 (no copy of those rows of A)
        obj = np.asarray(A.T @ (~known).astype(np.float64), dtype=np.float64).ravel()
        D = cone.maximize(obj) if np.any(obj) else np.zeros(q)
        if D is None:
            return None if not known.any() else (known, total, False)
        size = np.abs(D).max()
        if size == 0:
            return known, total, True
        D = D / size
        new = ~known & (A @ D > NONZERO)
        if not new.any():
            return known, total, True
        known |= new
        total += D
    return known, total, False


def null_space(A0: sp.csr_array) -> FloatArray:
    """Orthonormal basis of the null space of ``A0``.

    The rows are reduced chunk by chunk to a (q, q) triangular factor, whose SVD gives
    the basis; singular values below ``max(m0, q) * eps * s_max`` count as zero.

    Parameters
    ----------
    A0 : csr_array of shape (m0, q)

    Returns
    -------
    ndarray of shape (q, q - rank)
        The identity when ``m0 = 0``.
    """
    m0, q = A0.shape
    if m0 == 0:
        return np.eye(q)
    R = np.zeros((0, q))
    step = max(1, _NULL_SPACE_CHUNK_ELEMENTS // max(q, 1))
    for lo in range(0, m0, step):
        stacked = np.vstack([R, A0[lo : lo + step].toarray()])
        R = sla.qr(stacked, mode="r", check_finite=False)[0][: min(stacked.shape)]
    _, s, Vt = sla.svd(R, full_matrices=True, check_finite=False)
    tol = max(m0, q) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    rank = int((s > tol).sum())
    return np.asarray(Vt[rank:].T, dtype=np.float64)


def free_coefficients(A: sp.csr_array, strict: BoolArray) -> BoolArray:
    """The coefficients that move somewhere on the cone: loading on its span.

    The cells outside S are zero on all of the cone, and their null space ``N`` is its
    span (a small move along ``N`` from an interior direction stays in the cone). A
    coefficient whose row of an orthonormal basis of ``N`` has norm at most
    :data:`NONZERO` is zero on the whole cone: it stays finite.

    Parameters
    ----------
    A : csr_array of shape (m, q)
        The cell matrix.
    strict : ndarray of bool, shape (m,)
        The separated set S, from :func:`separated_cells`.

    Returns
    -------
    ndarray of bool, shape (q,)
    """
    q = A.shape[1]
    N = null_space(A[~strict])
    return np.linalg.norm(N, axis=1) > NONZERO if N.shape[1] else np.zeros(q, dtype=bool)


def coefficient_signs(
    cone: ConeLP, d_star: FloatArray, free: BoolArray, max_lps: int
) -> tuple[tuple[BoolArray, BoolArray], bool]:
    """Which coefficients can be positive / negative over the cone of directions.

    ``max ± D_j`` over the cone and the box, for each free coefficient and sign not yet
    seen. Every LP solution (and ``d_star``) marks the signs of all the free coefficients
    it moves (beyond :data:`NONZERO` of its max-abs), so usually far fewer than two LPs
    per coefficient are needed.

    Parameters
    ----------
    cone : ConeLP
        Over the cell matrix of shape (m, q).
    d_star : ndarray of shape (q,)
        A direction on the cone (from :func:`separated_cells`).
    free : ndarray of bool, shape (q,)
        The coefficients to examine (:func:`free_coefficients`); the others stay False.
    max_lps : int
        At most this many LPs.

    Returns
    -------
    (can_pos, can_neg) : ndarrays of bool, shape (q,)
    resolved : bool
        False when ``max_lps``, the time limit or a solver failure stopped the search
        (unknown signs stay False, which the caller turns into nan together with the
        both-signs case).
    """
    q = d_star.size
    can_pos = np.zeros(q, dtype=bool)
    can_neg = np.zeros(q, dtype=bool)

    def mark(D: FloatArray) -> None:
        size = np.abs(D).max()
        if size > 0:
            can_pos[(D / size > NONZERO) & free] = True
            can_neg[(D / size < -NONZERO) & free] = True

    mark(d_star)
    n_lps = 0
    for j in np.flatnonzero(free):
        for sign, known in ((1.0, can_pos), (-1.0, can_neg)):
            if known[j]:
                continue
            if n_lps >= max_lps:
                return (can_pos, can_neg), False
            obj = np.zeros(q)
            obj[j] = sign
            D = cone.maximize(obj)
            n_lps += 1
            if D is None:
                return (can_pos, can_neg), False
            mark(D)
    return (can_pos, can_neg), True
