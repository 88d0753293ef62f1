"""The loss kernels: weighted negative log-likelihood, probabilities and gradient sums.

Two kernels with one contract (see :mod:`mnlogit.objective.kernels` for the vocabulary):

:func:`sweep_loss`
    Dense ``X_b`` read once. Per row sub-block of :func:`sweep_rows` rows it forms the
    linear predictor, the softmax and its share of the loss, and ``G_sᵀ X_s`` while
    ``X_s`` is still in cache -- one read of ``X`` per gradient instead of two, and the
    ``m x K`` work done on cache-resident sub-blocks. The sub-block's linear predictor
    and probabilities are ``(K, rows)`` arrays, so the softmax reductions run over
    contiguous rows and ``G_sᵀ`` is contiguous for the gradient product. The first
    product is ``Wᵀ X_sᵀ`` straight into that layout for float64 products with
    ``p >= TRANSPOSED_MIN_FEATURES`` and ``K >= 5`` (faster there than ``X_s @ W``), else
    ``X_s @ W`` copied transposed (OpenBLAS is slower with few output rows, and in
    float32); docs/solvers.md has the timings. The per-sub-block work is
    :class:`SweepSums`, which :mod:`mnlogit.objective.last_pass` also runs on the Hessian's
    sub-blocks (the fit's last pass). Between the two products, the softmax, the loss, the
    smallest probability and the class sums are one compiled call
    (:func:`mnlogit.objective.softmax_kernel.softmax_sums`) where numba is installed, the
    products are float64 and the sweep's ``n K`` reaches :data:`COMPILED_MIN_ENTRIES`;
    elsewhere about a dozen numpy operations over the ``(K, rows)`` arrays (the same
    numbers to rounding; docs/benchmarks.md, issue-sweep12). For narrow ``X``
    (:data:`NARROW_MAX_FEATURES`, :data:`NARROW_MAX_CLASSES`, C-ordered) a compiled sweep
    forms both products by compiled loops as well
    (:func:`mnlogit.objective.softmax_kernel.dense_sweep`, issue-sweep16): one call for
    all of a thread's rows in tiles of ``SWEEP_TILE_ROWS`` (or one a sub-block where a
    visitor or the last pass needs each sub-block's probabilities), float32 rows read as
    they are; OpenBLAS runs these ``K``-wide products at a fraction of its speed.
:func:`softmax_loss`
    Any ``X_b`` (sparse, or dense when the probabilities are wanted whole): the linear
    predictor formed by one product into a ``(m, K)`` buffer and turned into the
    probabilities in place (no second ``m x K`` buffer).

Both shift ``eta`` by its row maximum before exponentiating (it cancels in
``log sum_k exp(eta_k) - eta_y``), so any finite ``eta`` gives finite results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from mnlogit.objective.blocks import block_rows
from mnlogit.objective.compiled import HAVE_NUMBA
from mnlogit.objective.kernels import linear_predictor, row_max
from mnlogit.objective.softmax_kernel import SWEEP_TILE_ROWS, TILE_ROWS, dense_sweep, softmax_sums
from mnlogit.objective.threads import map_row_ranges, row_threads

__all__ = [
    "COMPILED_MIN_ENTRIES",
    "NARROW_MAX_CLASSES",
    "NARROW_MAX_FEATURES",
    "SWEEP_SPLIT_MIN_BLOCKS",
    "TRANSPOSED_MIN_FEATURES",
    "BlockLoss",
    "ProbabilityVisitor",
    "SweepSums",
    "combined",
    "compiled_sweep",
    "softmax_loss",
    "sweep_loss",
    "sweep_rows",
]

FloatArray = NDArray[np.float64]
#: ``visit(prob_block, rows)``: a read-only ``(rows, K)`` block of probabilities (valid
#: during the call only) and its row slice within the block of ``X``.
ProbabilityVisitor = Callable[[FloatArray, slice], None]

# Fewest features for which the first product is formed as Wᵀ X_sᵀ.
TRANSPOSED_MIN_FEATURES = 64
#: :func:`sweep_loss` splits its rows over :func:`~mnlogit.objective.threads.row_threads`
#: Python threads only when each gets at least this many sub-blocks: 32 of
#: :func:`sweep_rows`, the 8 blocks of 2¹⁸ numbers of the rule before the sweep's blocks
#: shrank (issue-speed10), so the same sweeps are split where ``max(p, K) <= 1024`` (wider,
#: the 64-row floor makes the sub-blocks larger and the split starts at 2,048 rows).
SWEEP_SPLIT_MIN_BLOCKS = 32
# Fewest rows of a sweep's sub-block.
_SWEEP_MIN_ROWS = 64
#: The sub-blocks' softmax is the compiled :func:`~mnlogit.objective.softmax_kernel.softmax_sums`
#: (when numba is installed, for float64 products) where the sweep's ``n K`` is at least this.
#: Its first call in a process loads machine code: about 10 ms where numba's other kernels
#: are already loaded (the narrow :func:`~mnlogit.objective.softmax_kernel.dense_sweep`
#: about 30 ms more, measured under load), about 0.2 s where it is the first (numba's
#: runtime), against about
#: 2 ns per ``n K`` saved per sweep; below this a sweep's whole softmax costs under 1 ms.
COMPILED_MIN_ENTRIES = 2**16
#: A compiled sweep (:func:`compiled_sweep`) with at most this many features and
#: :data:`NARROW_MAX_CLASSES` classes forms its products by compiled loops too
#: (:func:`~mnlogit.objective.softmax_kernel.dense_sweep`), C-ordered native float64 or
#: float32 ``X`` only: the sweep alone, one thread, about 0.66-0.94x of the BLAS products'
#: time for p = 4 to 20 and K = 2 to 100; at p = 24 with K = 2 it lost in one measurement
#: (1.05-1.15x) and won in another (0.74-0.92x over the p = 24 grid), at p = 32 and 40 it
#: lost with K <= 3 (docs/solvers.md, "Sixteenth pass").
NARROW_MAX_FEATURES = 20
#: The most classes measured (:data:`NARROW_MAX_FEATURES`): 0.68-0.86x at K = 60 and 100.
NARROW_MAX_CLASSES = 100
# The dtypes dense_sweep reads (native byte order).
_NARROW_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


class BlockLoss(NamedTuple):
    """What :func:`sweep_loss` returns for a block of rows.

    Attributes
    ----------
    nll : float
        ``sum_i w_i (log sum_k exp(eta_ik) - eta_i,y_i)`` (``w_i = 1`` for ``w_b=None``).
    min_prob : float
        The smallest probability over rows of positive weight (``inf`` if none).
    gradient_sums : ndarray of shape (p1, K) or None
        ``[colsum(G); X_bᵀ G]`` with ``G = w * P`` (``P`` for ``w_b=None``), on ``X``'s
        scale, when the gradient was asked for.
    """

    nll: float
    min_prob: float
    gradient_sums: FloatArray | None


def sweep_rows(n_features: int, n_classes: int) -> int:
    """Rows per sub-block of :func:`sweep_loss` for ``p`` features and ``K`` classes.

    Blocks of ``blocks.READ_ELEMENTS`` (2¹⁶) numbers, ``max(p, K)`` wide, a quarter of the
    other kernels' blocks, so that a sub-block of ``X`` with its ``(K, rows)`` linear
    predictor and probabilities stays in a 2 MiB L2 cache through the sub-block's dozen
    passes over them (the sweep alone: 17-24% faster on 100k x 20, 1M x 50 and 2M x 10
    than at 2¹⁸; issue-speed10, docs/solvers.md "The gradient sweep"); at least 64 rows.
    """
    return block_rows(max(n_features, n_classes), _SWEEP_MIN_ROWS, read=True)


def compiled_sweep(n_rows: int, n_classes: int) -> bool:
    """Whether a sweep over ``n_rows`` rows and ``n_classes`` classes takes the compiled
    softmax (:data:`COMPILED_MIN_ENTRIES`; numba installed)."""
    return HAVE_NUMBA and n_rows * n_classes >= COMPILED_MIN_ENTRIES


def sweep_loss(
    X_b: NDArray[Any],
    y_b: NDArray[np.intp],
    w_b: FloatArray | None,
    W: FloatArray,
    b: FloatArray | None,
    *,
    gradient: bool,
    fast: bool = False,
    prob_out: FloatArray | None = None,
    visit: ProbabilityVisitor | None = None,
) -> BlockLoss:
    """Loss, smallest probability and (optionally) gradient sums of a dense block, one read.

    Parameters
    ----------
    X_b : ndarray of shape (m, p), float64 or float32
    y_b : ndarray of shape (m,)
    w_b : ndarray of shape (m,), optional
    W : ndarray of shape (p, K), float64
    b : ndarray of shape (K,), optional
    gradient : bool
        Also form the gradient sums.
    fast : bool, default=False
        float32 ``X_b``: float32 products.
    prob_out : ndarray of shape (m, K), optional
        Filled with the probabilities.
    visit : callable, optional
        ``visit(prob, rows)`` sees each sub-block's probabilities as a ``(rows, K)`` view.

    Returns
    -------
    BlockLoss
        ``nll`` and ``gradient_sums`` are additive over row blocks; ``min_prob`` combines
        by ``min``.
    """
    n = X_b.shape[0]
    compiled = compiled_sweep(n, W.shape[1])
    threads = row_threads()
    if threads > 1 and visit is None:
        step = sweep_rows(X_b.shape[1], W.shape[1])

        def part(lo: int, hi: int) -> BlockLoss:
            return _sweep_range(
                X_b[lo:hi], y_b[lo:hi], None if w_b is None else w_b[lo:hi], W, b,
                gradient=gradient, fast=fast, compiled=compiled,
                prob_out=None if prob_out is None else prob_out[lo:hi], visit=None,
            )  # fmt: skip

        parts = map_row_ranges(part, n, threads, SWEEP_SPLIT_MIN_BLOCKS * step)
        if len(parts) > 1:
            return combined(parts)
        return parts[0]
    return _sweep_range(
        X_b, y_b, w_b, W, b,
        gradient=gradient, fast=fast, compiled=compiled, prob_out=prob_out, visit=visit,
    )  # fmt: skip


def combined(parts: list[BlockLoss]) -> BlockLoss:
    """The :class:`BlockLoss` of consecutive row ranges (sums added, minimum taken)."""
    nll = sum(part.nll for part in parts)
    pmin = min(part.min_prob for part in parts)
    first = parts[0].gradient_sums
    if first is None:
        return BlockLoss(nll, pmin, None)
    sums = first.copy()
    for part in parts[1:]:
        assert part.gradient_sums is not None
        sums += part.gradient_sums
    return BlockLoss(nll, pmin, sums)


def _sweep_range(
    X_b: NDArray[Any],
    y_b: NDArray[np.intp],
    w_b: FloatArray | None,
    W: FloatArray,
    b: FloatArray | None,
    *,
    gradient: bool,
    fast: bool,
    compiled: bool,
    prob_out: FloatArray | None,
    visit: ProbabilityVisitor | None,
) -> BlockLoss:
    """:func:`sweep_loss` over all of ``X_b`` in this thread (same parameters; ``compiled``:
    :func:`compiled_sweep` of the whole sweep)."""
    n, p = X_b.shape
    step = sweep_rows(p, W.shape[1])
    sums = SweepSums(
        W, b, p, X_b.dtype, gradient=gradient, fast=fast, compiled=compiled,
        all_positive=w_b is None or bool(np.all(w_b > 0)), rows=min(step, n),
    )  # fmt: skip
    if sums.narrow and visit is None and sums.whole_range(X_b, y_b, w_b, prob_out):
        return sums.result()
    for a in range(0, n, step):
        sl = slice(a, min(a + step, n))
        probT = sums.add(X_b[sl], y_b[sl], None if w_b is None else w_b[sl])
        if prob_out is not None:
            prob_out[sl] = probT.T
        if visit is not None:
            visit(probT.T, sl)
    return sums.result()


def _kernel_array(a: NDArray[Any], dtype: Any) -> NDArray[Any]:
    """``a`` as a contiguous writable array of ``dtype`` for :func:`softmax_sums` (``a``
    itself for the objective's codes and weights): numba compiles a variant per layout,
    dtype and read-only flag. Flag checks, not ``np.require``, which costs about 1 µs a
    call on the sweep's hot path."""
    if a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable:
        return a
    return np.array(a, dtype=dtype)


class SweepSums:
    """The running sums of :func:`sweep_loss` over consecutive row sub-blocks of dense X.

    :meth:`add` forms one sub-block's linear predictor and probabilities (class-major,
    ``(K, rows)``) and adds its loss, smallest probability and gradient sums (by the
    compiled :func:`~mnlogit.objective.softmax_kernel.softmax_sums` when ``compiled``);
    :meth:`result` gives the :class:`BlockLoss` of all rows added. The sweep calls it on
    its own sub-blocks; :mod:`mnlogit.objective.last_pass` on the Hessian's, so the
    Hessian reads the probabilities the gradient was formed from. Where :attr:`narrow`
    (a compiled sweep within :data:`NARROW_MAX_FEATURES` and :data:`NARROW_MAX_CLASSES`),
    C-ordered rows take :func:`~mnlogit.objective.softmax_kernel.dense_sweep` instead of
    the BLAS products, and :meth:`whole_range` adds all of a sweep's rows in one call.

    Parameters
    ----------
    W : ndarray of shape (p, K), float64
    b : ndarray of shape (K,), optional
    n_features : int
        ``p``.
    dtype : numpy dtype
        ``X``'s dtype (float32 rows are converted to float64 unless ``fast``).
    gradient : bool
        Also form the gradient sums.
    fast : bool
        float32 ``X``: float32 products.
    compiled : bool
        The softmax by :func:`~mnlogit.objective.softmax_kernel.softmax_sums` (see
        :func:`compiled_sweep`; not for float32 products), else by numpy operations.
    all_positive : bool
        Whether every row's weight is positive (or there are no weights).
    rows : int
        The most rows a sub-block has (scratch grows if a larger one comes).
    """

    def __init__(
        self,
        W: FloatArray,
        b: FloatArray | None,
        n_features: int,
        dtype: Any,
        *,
        gradient: bool,
        fast: bool,
        compiled: bool,
        all_positive: bool,
        rows: int,
    ) -> None:
        K = W.shape[1]
        self.fast32 = fast and dtype == np.float32
        self.convert = dtype != np.float64 and not self.fast32
        Wc = W.astype(np.float32) if self.fast32 else W
        self.transposed = not self.fast32 and n_features >= TRANSPOSED_MIN_FEATURES and K >= 5
        self.Wf = np.ascontiguousarray(Wc.T) if self.transposed else Wc  # (K, p), else (p, K)
        self.GX = np.zeros((K, n_features)) if gradient else None
        self.colsum = np.zeros(K)
        self.intercept = b is not None
        self.b0 = None if b is None else b[:, None]
        self.all_positive = all_positive
        self.pmin = float("inf")
        self.nll = 0.0
        self.compiled = compiled and HAVE_NUMBA and not self.fast32
        # native float64 / float32 rows only: the kernel reads X as it is (another byte
        # order would not type, an integer X would compile a variant of its own)
        self.narrow = (
            self.compiled
            and n_features <= NARROW_MAX_FEATURES
            and K <= NARROW_MAX_CLASSES
            and np.dtype(dtype) in _NARROW_DTYPES
        )
        if self.compiled:
            # a writable copy: numba compiles a variant per read-only flag
            self.b_vec = np.zeros(K) if b is None else np.array(b, dtype=np.float64)
            self.tile = np.empty((K + 4, TILE_ROWS))
            self.no_weights = np.empty(0)
            self.gx_part = np.empty((K, n_features))
        if self.narrow:  # dense_sweep's operands (F-ordered rows take the products above)
            self.WT = np.ascontiguousarray(W.T, dtype=np.float64)
            self.sweep_tile = np.empty((K + 4, SWEEP_TILE_ROWS))
            self.Y = np.empty((n_features, SWEEP_TILE_ROWS))
            self.no_rows = np.empty((0, K))
            # the kernel adds G X to GX; (0, p): no gradient sums
            self.gx_target = self.GX if self.GX is not None else np.empty((0, n_features))
        self._grow(max(rows, 1))

    def _grow(self, rows: int) -> None:
        K = self.colsum.size
        self.eta_scratch = np.empty(K * rows)
        self.prob_scratch = np.empty_like(self.eta_scratch)
        self.arange = np.arange(rows)
        self.g_scratch: FloatArray | None = None  # the weighted G of the compiled pass

    def add(self, Xs: NDArray[Any], ys: NDArray[np.intp], ws: FloatArray | None) -> FloatArray:
        """Add rows ``Xs`` (``(m, p)``) with codes ``ys`` and weights ``ws`` (``(m,)``).

        Returns
        -------
        ndarray of shape (K, m)
            Their probabilities, class-major: a view of scratch, valid until the next call.
        """
        m = Xs.shape[0]
        K = self.colsum.size
        if m > self.arange.size:
            self._grow(m)
        if self.narrow and Xs.flags.c_contiguous:
            return self._add_narrow(Xs, ys, ws)
        if self.convert:
            Xs = Xs.astype(np.float64)
        if self.compiled:
            return self._add_compiled(Xs, ys, ws)
        etaT = self.eta_scratch[: K * m].reshape(K, m)
        probT = self.prob_scratch[: K * m].reshape(K, m)
        if self.transposed:
            np.matmul(self.Wf, Xs.T, out=etaT)
        else:
            etaT[...] = (Xs @ self.Wf).T
        if self.b0 is not None:
            etaT += self.b0
        etaT -= etaT.max(axis=0)
        np.exp(etaT, out=probT)
        total = probT.sum(axis=0)
        probT *= 1.0 / total
        # eta[y_i, i] through flat indices y_i * m + i (take_along_axis costs 5x more)
        hit = etaT.ravel().take(ys * m + self.arange[:m])
        if ws is None:
            self.nll += float(np.log(total).sum() - hit.sum())
        else:
            self.nll += float(ws @ np.log(total) - ws @ hit)
        block = probT if self.all_positive or ws is None else probT[:, ws > 0]
        if block.size:
            self.pmin = min(self.pmin, float(block.min()))
        if self.GX is not None:
            G = probT if ws is None else probT * ws
            self.colsum += G.sum(axis=1)
            self.GX += (G.astype(np.float32) if self.fast32 else G) @ Xs
        return probT

    def _add_narrow(
        self, Xs: NDArray[Any], ys: NDArray[np.intp], ws: FloatArray | None
    ) -> FloatArray:
        """:meth:`add` by one :func:`~mnlogit.objective.softmax_kernel.dense_sweep` call
        (float32 rows read as they are)."""
        m = Xs.shape[0]
        K = self.colsum.size
        eta = self.eta_scratch[: K * m].reshape(K, m)
        probT = self.prob_scratch[: K * m].reshape(K, m)
        G, w = self._weighted(probT, ws, m)
        nll, pmin = dense_sweep(
            Xs, self.WT, self.b_vec, _kernel_array(ys, np.intp), w, eta, probT, G,
            self.colsum, self.gx_target, self.sweep_tile, self.Y, self.no_rows,
        )  # fmt: skip
        self.nll += nll
        self.pmin = min(self.pmin, pmin)
        return probT

    def whole_range(
        self,
        X_b: NDArray[Any],
        y_b: NDArray[np.intp],
        w_b: FloatArray | None,
        prob_out: FloatArray | None,
    ) -> bool:
        """Add all rows of ``X_b`` by one :func:`~mnlogit.objective.softmax_kernel.dense_sweep`
        call over tile-sized scratch (no Python per sub-block), ``prob_out`` filled, when
        the arrays allow it (:attr:`narrow`, C-ordered ``X_b`` and ``prob_out``).

        Returns
        -------
        bool
            Whether the rows were added (else nothing was done).
        """
        K = self.colsum.size
        out = self.no_rows if prob_out is None else prob_out
        if not X_b.flags.c_contiguous or not (
            out.dtype == np.float64 and out.flags.c_contiguous and out.flags.writeable
        ):
            return False
        # the kernel writes every row's probabilities into a non-empty out and checks no
        # bounds: a prob_out of another shape is refused here, as the sub-block path's
        # assignment refuses it
        n = X_b.shape[0]
        if prob_out is not None and prob_out.shape != (n, K):
            raise ValueError(f"prob_out has shape {prob_out.shape}, expected {(n, K)}")
        if y_b.shape != (n,) or (w_b is not None and w_b.shape != (n,)):
            raise ValueError("y_b and w_b must have one entry per row of X_b")
        if self.arange.size < SWEEP_TILE_ROWS:
            self._grow(SWEEP_TILE_ROWS)
        eta = self.eta_scratch[: K * SWEEP_TILE_ROWS].reshape(K, SWEEP_TILE_ROWS)
        prob = self.prob_scratch[: K * SWEEP_TILE_ROWS].reshape(K, SWEEP_TILE_ROWS)
        G, w = self._weighted(prob, w_b, SWEEP_TILE_ROWS)
        nll, pmin = dense_sweep(
            X_b, self.WT, self.b_vec, _kernel_array(y_b, np.intp), w, eta, prob, G,
            self.colsum, self.gx_target, self.sweep_tile, self.Y, out,
        )  # fmt: skip
        self.nll += nll
        self.pmin = min(self.pmin, pmin)
        return True

    def _weighted(
        self, probT: FloatArray, ws: FloatArray | None, m: int
    ) -> tuple[FloatArray, FloatArray]:
        """The compiled kernels' ``G`` (``probT`` itself without weights, else scratch for
        ``w * P``) and weights (an empty array for none)."""
        if ws is None:
            return probT, self.no_weights
        if self.g_scratch is None:
            self.g_scratch = np.empty_like(self.prob_scratch)
        K = probT.shape[0]
        return self.g_scratch[: K * m].reshape(K, m), _kernel_array(ws, np.float64)

    def _add_compiled(
        self, Xs: FloatArray, ys: NDArray[np.intp], ws: FloatArray | None
    ) -> FloatArray:
        """:meth:`add` by the products and one :func:`softmax_sums` call."""
        m = Xs.shape[0]
        K = self.colsum.size
        if self.transposed:
            eta = self.eta_scratch[: K * m].reshape(K, m)
            np.matmul(self.Wf, Xs.T, out=eta)
        else:
            eta_rows = self.eta_scratch[: K * m].reshape(m, K)
            np.matmul(Xs, self.Wf, out=eta_rows)
            eta = eta_rows.T
        probT = self.prob_scratch[: K * m].reshape(K, m)
        G, w = self._weighted(probT, ws, m)
        # codes are not checked here (the callers validate them: 0 .. K-1)
        codes = _kernel_array(ys, np.intp)
        nll, pmin = softmax_sums(eta, self.b_vec, codes, w, probT, G, self.colsum, self.tile)
        self.nll += nll
        self.pmin = min(self.pmin, pmin)
        if self.GX is not None:
            np.matmul(G, Xs, out=self.gx_part)
            self.GX += self.gx_part
        return probT

    def result(self) -> BlockLoss:
        """The :class:`BlockLoss` of the rows added so far."""
        if self.GX is None:
            return BlockLoss(self.nll, self.pmin, None)
        XtG = np.ascontiguousarray(self.GX.T)
        sums = XtG if not self.intercept else np.vstack([self.colsum[None, :], XtG])
        return BlockLoss(self.nll, self.pmin, sums)


def softmax_loss(
    X_b: Any,
    y_b: NDArray[np.intp],
    w_b: FloatArray | None,
    W: FloatArray,
    b: FloatArray | None,
    *,
    fast: bool = False,
    prob_out: FloatArray | None = None,
) -> tuple[float, FloatArray]:
    """Loss and probabilities of a block by whole-block products (any ``X_b``).

    Parameters
    ----------
    X_b : ndarray or sparse matrix of shape (m, p)
    y_b : ndarray of shape (m,)
    w_b : ndarray of shape (m,), optional
    W : ndarray of shape (p, K), float64
    b : ndarray of shape (K,), optional
    fast : bool, default=False
    prob_out : ndarray of shape (m, K), float64, optional
        The buffer the linear predictor is formed in and turned into the probabilities.

    Returns
    -------
    nll : float
        ``sum_i w_i (log sum_k exp(eta_ik) - eta_i,y_i)``; additive over row blocks.
    prob : ndarray of shape (m, K)
        The probabilities (``prob_out`` when given).
    """
    prob = linear_predictor(X_b, W, b, fast=fast, out=prob_out)
    prob -= row_max(prob)[:, None]
    hit = np.take_along_axis(prob, y_b[:, None], axis=1)[:, 0]
    np.exp(prob, out=prob)
    total = prob @ np.ones(prob.shape[1])
    prob *= (1.0 / total)[:, None]
    if w_b is None:
        return float(np.log(total).sum() - hit.sum()), prob
    return float(w_b @ np.log(total) - w_b @ hit), prob
