"""The dense sweep's softmax pass, compiled: one call per row sub-block instead of a dozen.

:class:`mnlogit.objective.loss.SweepSums` forms a sub-block's linear predictor by BLAS and
its gradient product ``G_sᵀ X_s`` by BLAS; between them lies the ``(K, rows)`` work -- the
intercepts, the row maxima, the exponentials, their row sums and logarithms, the
normalisation, the loss's ``eta_y`` terms, the smallest probability and the class sums.
As numpy operations that is about a dozen passes over the ``(K, rows)`` arrays and as
many calls; :func:`softmax_sums` does it in one call, in tiles of :data:`TILE_ROWS` rows
that stay in the L1 cache, each loop vectorized by the compiler.

numba (without Intel's SVML) calls the C library's scalar ``exp`` and ``log``, which
cost several times numpy's SIMD ones (issue-speed10's compiled sweep lost for that
reason), so the kernel has its own, written in operations the compiler vectorizes:

:func:`exp_nonpositive`
    ``exp(z)`` for ``z <= 0`` (and NaN): ``z = n ln 2 + r`` (``|r| <= ln 2 / 2``, ``ln 2`` in two
    parts), a degree-13 Taylor polynomial for ``exp(r)`` (truncation below 5e-18
    relative) and ``2^n`` built in the exponent bits. Within about one ulp of numpy's
    ``exp`` over ``[-708, 0]``; below ``-708`` it returns 0 (numpy: a number below
    3.3e-308, or 0), which no sum, loss or smallest probability can tell apart.
:func:`log_at_least_one`
    ``log(s)`` for ``s >= 1`` (a softmax denominator, whose largest term is 1):
    ``s = 2^k f`` with ``f`` in ``[sqrt(2)/2, sqrt(2))``, ``log f = 2 atanh(u)``,
    ``u = (f - 1) / (f + 1)``, by its series to ``u^23`` (``|u| <= 0.172``: truncation
    below 1e-18), summed in fdlibm's form (``f - 1 - hfsq + u (hfsq + R)``, so that the
    rounding of ``u`` touches only the small terms). Within about one ulp of numpy's
    ``log`` (measured and tested in ulps of the result).

numba checks every float division for a zero divisor (``ZeroDivisionError``), and the
check stops the compiler from vectorizing the loop; a divisor written ``max(d, 1.0)``
where ``d >= 1`` anyway lets it prove the check away.

The intercepts are added, the row maximum subtracted and the exponentials summed in the
same order as :class:`~mnlogit.objective.loss.SweepSums`' numpy operations; the sums over
rows (loss, class sums) are vectorized, so they differ from numpy's pairwise sums in
rounding only. Compiled by :func:`mnlogit.objective.compiled.compiled` (cached on disk,
the GIL released); callers check :data:`~mnlogit.objective.compiled.HAVE_NUMBA` first.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mnlogit.objective.compiled import HAVE_NUMBA, compiled

__all__ = [
    "TILE_ROWS",
    "exp_nonpositive",
    "load_compiled_kernel",
    "log_at_least_one",
    "softmax_sums",
]

#: Rows of :func:`softmax_sums`' tiles: a tile's ``(K, rows)`` probabilities and its row
#: maxima and sums stay in the 48 KiB L1 cache for ``K`` up to about 10.
TILE_ROWS = 512

_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453
# ln 2 in two parts (Cody and Waite): n * _LN2_HI is exact for |n| < 2**11
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
# below this exp(z) is under 3.3e-308 (subnormal below -708.4): returned as 0
_EXP_MIN = -708.0
# the bits of sqrt(2)/2: subtracted from a positive double's bits, the exponent field
# of the difference is k with s / 2^k in [sqrt(2)/2, sqrt(2))
_HALF_SQRT2_BITS = 0x3FE6A09E667F3BCD
_INV_FACTORIALS = tuple(1.0 / math.factorial(j) for j in range(14))

_as_float: Any  # the double whose bits are an int64
_as_int: Any  # the int64 whose bits are a double
if HAVE_NUMBA:  # pragma: no branch - exercised by whichever is installed
    from numba import types
    from numba.extending import intrinsic

    def _bitcast(target: Any) -> Any:
        """A numba intrinsic: its one argument's bits as ``target`` (compiled code only)."""

        def typer(typingctx: Any, value: Any) -> Any:
            def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
                return builder.bitcast(args[0], context.get_value_type(target))

            source = types.int64 if target == types.float64 else types.float64
            return target(source), codegen

        return intrinsic(typer)

    _as_float = _bitcast(types.float64)
    _as_int = _bitcast(types.int64)
else:  # pragma: no cover - the same casts in Python, for the uncompiled functions

    def _as_float(bits: int) -> float:
        return float(np.int64(bits).view(np.float64))

    def _as_int(value: float) -> int:
        return int(np.float64(value).view(np.int64))


@compiled
def exp_nonpositive(z: float) -> float:
    """``exp(z)`` for ``z <= 0``, in operations the compiler vectorizes.

    Parameters
    ----------
    z : float
        At most 0, ``-inf`` or NaN.

    Returns
    -------
    float
        ``exp(z)`` within about one ulp over ``[-708, 0]``; 0 below ``-708`` (and for
        ``-inf``), NaN for NaN.
    """
    zc = z if z >= _EXP_MIN else _EXP_MIN  # NaN too: no NaN reaches floor()
    k = math.floor(zc * _LOG2E + 0.5)
    n = float(k)
    r = zc - n * _LN2_HI - n * _LN2_LO
    c = _INV_FACTORIALS
    q = c[13]
    q = q * r + c[12]
    q = q * r + c[11]
    q = q * r + c[10]
    q = q * r + c[9]
    q = q * r + c[8]
    q = q * r + c[7]
    q = q * r + c[6]
    q = q * r + c[5]
    q = q * r + c[4]
    q = q * r + c[3]
    q = q * r + c[2]
    q = q * r + 1.0
    q = q * r + 1.0
    value: float = q * _as_float((k + 1023) << 52)
    # as numpy: 0 for -inf, NaN for NaN (neither comparison holds)
    return value if z >= _EXP_MIN else (0.0 if z < _EXP_MIN else z)


@compiled
def log_at_least_one(s: float) -> float:
    """``log(s)`` for ``s >= 1`` (or NaN), in operations the compiler vectorizes.

    Parameters
    ----------
    s : float
        At least 1 (a softmax denominator), or NaN.

    Returns
    -------
    float
        ``log(s)`` within about one ulp (NaN for NaN).
    """
    bits = _as_int(s)
    k = (bits - _HALF_SQRT2_BITS) >> 52
    f = _as_float(bits - (k << 52)) - 1.0  # exact: f + 1 in [sqrt(2)/2, sqrt(2))
    # fdlibm's form: log(1 + f) = f - hfsq + u (hfsq + R) with u = f / (2 + f) and
    # 2 atanh(u) = 2 u + u R; the rounding of u then only touches the small terms
    u = f / max(2.0 + f, 1.0)  # 2 + f > 1.7: max() only lets the compiler drop its check
    z = u * u
    q = 2.0 / 23.0
    q = q * z + 2.0 / 21.0
    q = q * z + 2.0 / 19.0
    q = q * z + 2.0 / 17.0
    q = q * z + 2.0 / 15.0
    q = q * z + 2.0 / 13.0
    q = q * z + 2.0 / 11.0
    q = q * z + 2.0 / 9.0
    q = q * z + 2.0 / 7.0
    q = q * z + 2.0 / 5.0
    q = q * z + 2.0 / 3.0
    R = z * q
    hfsq = 0.5 * f * f
    n = float(k)
    value: float = n * _LN2_HI - ((hfsq - (u * (hfsq + R) + n * _LN2_LO)) - f)
    return value if s == s else s  # NaN stays NaN


@compiled
def softmax_sums(
    eta: Any,
    b: Any,
    y: Any,
    w: Any,
    prob: Any,
    G: Any,
    colsum: Any,
    scratch: Any,
) -> tuple[float, float]:
    """One sub-block's softmax, loss, smallest probability and class sums.

    Parameters
    ----------
    eta : ndarray of shape (K, m), float64
        The linear predictor without intercepts: C order, or the Fortran-ordered view
        ``(X_s W)ᵀ``.
    b : ndarray of shape (K,), float64
        Intercepts (zeros for none).
    y : ndarray of shape (m,), intp
        Class codes ``0 .. K-1``, not checked (a code out of range reads outside
        ``eta``): the callers validate them.
    w : ndarray of shape (m,) or (0,), float64
        Row weights; an empty array for none.
    prob : ndarray of shape (K, m), float64, C order
        Filled with the probabilities.
    G : ndarray of shape (K, m), float64, C order
        With weights, filled with ``w * prob``; not touched without.
    colsum : ndarray of shape (K,), float64
        ``sum_i G_ki`` (``prob`` without weights) is added to it.
    scratch : ndarray of shape (K + 4, TILE_ROWS), float64
        Scratch: a tile's ``eta + b``, its rows' maxima, sums and minima, eight minima.

    Returns
    -------
    nll : float
        ``sum_i w_i (log sum_k exp(eta_ik + b_k) - eta_i,y_i - b_y_i)``.
    min_prob : float
        The smallest probability over rows of positive weight (``inf`` if none); rows
        whose probabilities are NaN are passed over (the loss is then NaN).
    """
    K, m = eta.shape
    tile = scratch.shape[1]
    lanes = scratch[K + 3, :8]  # eight running minima over rows
    lanes[:] = np.inf
    nll = 0.0
    for t0 in range(0, m, tile):
        t = min(tile, m - t0)
        nll -= _shifted_tile(eta, b, y, w, t0, t, scratch)
        nll += _normalised_tile(w, t0, t, prob, G, colsum, scratch)
    pmin = lanes[0]
    for j in range(1, 8):
        pmin = min(pmin, lanes[j])
    return nll, pmin


@compiled
def _shifted_tile(eta: Any, b: Any, y: Any, w: Any, t0: int, t: int, scratch: Any) -> float:
    """:func:`softmax_sums`' rows ``t0 .. t0+t-1``: ``eta + b`` into a contiguous tile
    ``scratch[:K, :t]`` and the row maxima into ``scratch[K]`` (the shift:
    ``exp(eta - max) <= 1``, no overflow); returns ``sum_i w_i (eta + b - max)_i,y_i``."""
    K = eta.shape[0]
    t1 = t0 + t
    z = scratch[:K]
    mx = scratch[K]
    # two loops (the copy reads (X_s W)ᵀ with strided loads): one was slower
    for k in range(K):
        ek = eta[k, t0:t1]
        zk = z[k]
        bk = b[k]
        for i in range(t):
            zk[i] = ek[i] + bk
    mx[:t] = z[0, :t]
    for k in range(1, K):
        zk = z[k]
        for i in range(t):
            mx[i] = max(mx[i], zk[i])
    part = 0.0
    if w.shape[0] > 0:
        for i in range(t):
            part += w[t0 + i] * (z[y[t0 + i], i] - mx[i])
    else:
        for i in range(t):
            part += z[y[t0 + i], i] - mx[i]
    return part


@compiled
def _normalised_tile(
    w: Any, t0: int, t: int, prob: Any, G: Any, colsum: Any, scratch: Any
) -> float:
    """:func:`softmax_sums`' rows ``t0 .. t0+t-1`` after :func:`_shifted_tile`: the
    probabilities into ``prob`` (and ``G``), the class sums added to ``colsum``, the rows'
    smallest probabilities into the running minima ``scratch[K+3, :8]``; returns
    ``sum_i w_i log sum_k exp(eta + b - max)_ik``."""
    K = prob.shape[0]
    weighted = w.shape[0] > 0
    t1 = t0 + t
    z = scratch[:K]
    mx = scratch[K]
    s = scratch[K + 1]  # row sums of the exponentials, then their inverses
    mn = scratch[K + 2]  # row minima of the exponentials, then of the probabilities
    lanes = scratch[K + 3, :8]
    s[:t] = 0.0
    mn[:t] = np.inf
    for k in range(K):
        zk = z[k]
        pk = prob[k, t0:t1]
        for i in range(t):
            v = exp_nonpositive(zk[i] - mx[i])
            pk[i] = v
            s[i] += v
            mn[i] = min(mn[i], v)
    # log of the row sums (>= 1: the largest term is exp(0)), their inverses, and each
    # row's smallest probability (min_k(v_k) / s = min_k(v_k / s): the same number)
    part = 0.0
    if weighted:
        for i in range(t):
            total = s[i]
            wi = w[t0 + i]
            part += wi * log_at_least_one(total)
            inv = 1.0 / max(total, 1.0)  # >= 1: max() only lets the compiler drop its check
            s[i] = inv
            mn[i] = mn[i] * inv if wi > 0 else np.inf
    else:
        for i in range(t):
            total = s[i]
            part += log_at_least_one(total)
            inv = 1.0 / max(total, 1.0)
            s[i] = inv
            mn[i] = mn[i] * inv
    full = t - t % 8
    for i in range(0, full, 8):
        for j in range(8):
            lanes[j] = min(lanes[j], mn[i + j])
    for i in range(full, t):
        lanes[0] = min(lanes[0], mn[i])
    # normalise; class sums
    for k in range(K):
        pk = prob[k, t0:t1]
        acc = 0.0
        if weighted:
            gk = G[k, t0:t1]
            wk = w[t0:t1]
            for i in range(t):
                v = pk[i] * s[i]
                pk[i] = v
                g = v * wk[i]
                gk[i] = g
                acc += g
        else:
            for i in range(t):
                v = pk[i] * s[i]
                pk[i] = v
                acc += v
        colsum[k] += acc
    return part


def load_compiled_kernel() -> bool:
    """Load :func:`softmax_sums`' machine code now (numba's on-disk cache; compiled the
    first time) for both layouts the sweep passes, rather than in the first sweep that
    takes it (:func:`mnlogit.objective.loss.compiled_sweep`): about 10 ms once per process
    where numba's runtime is up, about 0.2 s where it is not.

    For timings of steady-state fits (the benchmarks' warm-up, beside
    :func:`mnlogit.objective.hessian.load_compiled_kernel`); fits never need it.

    Returns
    -------
    bool
        Whether the compiled kernel exists (numba installed).
    """
    if not HAVE_NUMBA:
        return False
    K, m = 2, 3
    rows_first = np.zeros((m, K))
    for eta in (rows_first.T, np.zeros((K, m))):  # (X_s W)ᵀ, and Wᵀ X_sᵀ
        prob = np.empty((K, m))
        softmax_sums(
            eta, np.zeros(K), np.zeros(m, dtype=np.intp), np.empty(0), prob, prob,
            np.zeros(K), np.empty((K + 4, TILE_ROWS)),
        )  # fmt: skip
    return True
