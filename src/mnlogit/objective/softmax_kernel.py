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

For narrow ``X`` the products go too: :func:`dense_sweep` walks a sweep's rows in tiles of
:data:`SWEEP_TILE_ROWS`, copies each tile of ``X`` transposed (float64 whatever ``X``'s
float dtype), forms the linear predictor and ``G Xᵀ`` by compiled loops with the rows
innermost, and runs the same softmax helpers between them (issue-sweep16; OpenBLAS runs the
``K``-wide products at 5-7 GFMA/s, the compiled loops at 13-20).

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

from mnlogit.objective.compiled import HAVE_NUMBA, compiled, inlined

__all__ = [
    "SWEEP_TILE_ROWS",
    "TILE_ROWS",
    "dense_sweep",
    "exp_nonpositive",
    "load_compiled_kernel",
    "log_at_least_one",
    "softmax_sums",
]

#: Rows of :func:`softmax_sums`' tiles: a tile's ``(K, rows)`` probabilities and its row
#: maxima and sums stay in the 48 KiB L1 cache for ``K`` up to about 10.
TILE_ROWS = 512
#: Rows of :func:`dense_sweep`'s tiles: the tile's rows of ``X`` transposed (``p`` of them)
#: and its ``(K, rows)`` arrays stay in the L1 cache for the narrow ``X`` it is used for.
SWEEP_TILE_ROWS = 128

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


@compiled
def dense_sweep(
    X: Any,
    WT: Any,
    b: Any,
    y: Any,
    w: Any,
    eta: Any,
    prob: Any,
    G: Any,
    colsum: Any,
    GX: Any,
    scratch: Any,
    Y: Any,
    prob_out: Any,
) -> tuple[float, float]:
    """A dense sweep's rows, products included: linear predictor, softmax, loss, smallest
    probability, class sums and gradient sums, in tiles of rows, without BLAS.

    Per tile of ``c`` rows (``c = scratch.shape[1]``): the rows of ``X`` copied transposed
    into ``Y`` (float64 whatever ``X``'s float dtype; :func:`_transposed_rows`), the linear
    predictor ``Wᵀ Y`` with the rows innermost and four features a pass
    (:func:`_forward_tile`), the softmax of :func:`softmax_sums` (its own
    :func:`_shifted_tile` and :func:`_normalised_tile`), and ``GX += G Yᵀ`` by ``4 x 4``
    register tiles of classes by features along the tile's rows
    (:func:`_gradient_tile`). For narrow ``X`` (few features and classes), where OpenBLAS
    runs these ``K``-wide products slowly; :mod:`mnlogit.objective.loss` decides where.

    Parameters
    ----------
    X : ndarray of shape (n, p), float64 or float32, C order
    WT : ndarray of shape (K, p), float64
        The coefficients, transposed.
    b : ndarray of shape (K,), float64
        Intercepts (zeros for none).
    y : ndarray of shape (n,), intp
        Class codes ``0 .. K-1``, not checked: the callers validate them.
    w : ndarray of shape (n,) or (0,), float64
        Row weights; an empty array for none.
    eta, prob, G : ndarray of shape (K, c2), float64, C order
        ``c2`` is ``n`` (``prob`` then holds every row's probabilities, class-major) or
        ``c`` (scratch, reused per tile). ``G`` is filled with ``w * prob`` with weights and
        is not touched without (pass ``prob``).
    colsum : ndarray of shape (K,), float64
        ``sum_i G_ki`` is added to it.
    GX : ndarray of shape (K, p) or (0, p), float64
        ``G X`` is added to it; ``(0, p)``: no gradient sums.
    scratch : ndarray of shape (K + 4, c), float64
        As for :func:`softmax_sums`; its columns are the tile's rows.
    Y : ndarray of shape (p, c), float64
        Scratch: the tile's rows, transposed.
    prob_out : ndarray of shape (n, K) or (0, K), float64
        Filled with the probabilities, row-major, unless empty.

    Returns
    -------
    nll : float
        ``sum_i w_i (log sum_k exp(eta_ik + b_k) - eta_i,y_i - b_y_i)``.
    min_prob : float
        As for :func:`softmax_sums`.
    """
    n, p = X.shape
    K = WT.shape[0]
    tile = scratch.shape[1]
    width = eta.shape[1]
    weighted = w.shape[0] > 0
    # numba checks no bounds: the operands' shapes, once per call
    if not _dense_sweep_shapes_agree(n, p, K, tile, width, WT, b, y, w, eta, prob, G, colsum, GX):
        raise ValueError("dense_sweep: operands of inconsistent shapes")
    if scratch.shape[0] < K + 4 or Y.shape[0] < p or Y.shape[1] < tile:
        raise ValueError("dense_sweep: scratch or Y too small")
    if prob_out.shape[0] != 0 and (prob_out.shape[0] != n or prob_out.shape[1] != K):
        raise ValueError("dense_sweep: prob_out must be (n, K) or (0, K)")
    lanes = scratch[K + 3, :8]  # eight running minima over rows
    lanes[:] = np.inf
    nll = 0.0
    for s in range(0, n, tile):
        t = min(tile, n - s)
        o = s % width  # the tile's first column in eta, prob and G
        _transposed_rows(X, s, t, Y)
        _forward_tile(WT, Y, t, eta, o, scratch[K + 1])  # free until the softmax
        ys = y[s - o :]  # so that ys[o + i] = y[s + i], as the softmax helpers index
        ws = w[s - o :] if weighted else w
        nll -= _shifted_tile(eta, b, ys, ws, o, t, scratch)
        nll += _normalised_tile(ws, o, t, prob, G, colsum, scratch)
        if GX.shape[0] > 0:
            _gradient_tile(G, o, t, Y, GX)
        if prob_out.shape[0] > 0:
            for i in range(t):
                for k in range(K):
                    prob_out[s + i, k] = prob[k, o + i]
    pmin = lanes[0]
    for j in range(1, 8):
        pmin = min(pmin, lanes[j])
    return nll, pmin


@compiled
def _dense_sweep_shapes_agree(
    n: int,
    p: int,
    K: int,
    tile: int,
    width: int,
    WT: Any,
    b: Any,
    y: Any,
    w: Any,
    eta: Any,
    prob: Any,
    G: Any,
    colsum: Any,
    GX: Any,
) -> bool:
    """Whether :func:`dense_sweep`'s operands have the shapes it documents, for ``n`` rows,
    ``p`` features, ``K`` classes, tiles of ``tile`` rows and ``eta`` ``width`` wide."""
    if WT.shape[1] != p or b.shape[0] != K or colsum.shape[0] != K or y.shape[0] < n:
        return False
    if (w.shape[0] != 0 and w.shape[0] != n) or (width != n and width != tile) or width == 0:
        return False
    if eta.shape[0] != K or prob.shape[0] != K or G.shape[0] != K:
        return False
    if eta.shape[1] != width or prob.shape[1] != width or G.shape[1] != width:
        return False
    return (GX.shape[0] == 0 or GX.shape[0] == K) and GX.shape[1] == p


@inlined
def _transposed_rows(X: Any, s: int, t: int, Y: Any) -> None:
    """Rows ``s .. s+t-1`` of ``X`` into ``Y[:p, :t]``, transposed, float64, eight rows at a
    time (as :func:`mnlogit.objective.hessian`'s ``_transposed_tile``, without its column
    scaling): each column's eight values go to eight consecutive entries of its row of
    ``Y``."""
    p = X.shape[1]
    t8 = t - t % 8
    for r0 in range(0, t8, 8):
        a = s + r0
        for j in range(p):
            Y[j, r0] = X[a, j]
            Y[j, r0 + 1] = X[a + 1, j]
            Y[j, r0 + 2] = X[a + 2, j]
            Y[j, r0 + 3] = X[a + 3, j]
            Y[j, r0 + 4] = X[a + 4, j]
            Y[j, r0 + 5] = X[a + 5, j]
            Y[j, r0 + 6] = X[a + 6, j]
            Y[j, r0 + 7] = X[a + 7, j]
    for r in range(t8, t):
        for j in range(p):
            Y[j, r] = X[s + r, j]


@inlined
def _forward_tile(WT: Any, Y: Any, t: int, eta: Any, o: int, spare: Any) -> None:
    """``eta[:, o:o+t] = WT Y[:, :t]``: the rows innermost (vectorized), two classes and four
    features a pass (six loads and two stores for eight multiply-adds a row); an odd last
    class paired with itself, its copy written to ``spare`` (a scratch row of ``t``)."""
    K, p = WT.shape
    full = p - p % 4
    for k in range(0, K, 2):
        pair = k + 1 < K
        k1 = k + 1 if pair else k
        e0 = eta[k, o : o + t]
        e1 = eta[k1, o : o + t] if pair else spare[:t]
        a, c = WT[k], WT[k1]
        for j in range(0, full, 4):
            a0, a1, a2, a3 = a[j], a[j + 1], a[j + 2], a[j + 3]
            c0, c1, c2, c3 = c[j], c[j + 1], c[j + 2], c[j + 3]
            y0, y1, y2, y3 = Y[j], Y[j + 1], Y[j + 2], Y[j + 3]
            if j == 0:
                for i in range(t):
                    v0, v1, v2, v3 = y0[i], y1[i], y2[i], y3[i]
                    e0[i] = a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3
                    e1[i] = c0 * v0 + c1 * v1 + c2 * v2 + c3 * v3
            else:
                for i in range(t):
                    v0, v1, v2, v3 = y0[i], y1[i], y2[i], y3[i]
                    e0[i] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3
                    e1[i] += c0 * v0 + c1 * v1 + c2 * v2 + c3 * v3
        if full == 0:
            e0[:] = 0.0
            e1[:] = 0.0
        for j in range(full, p):
            aj, cj = a[j], c[j]
            yj = Y[j]
            for i in range(t):
                v = yj[i]
                e0[i] += aj * v
                e1[i] += cj * v


@inlined
def _gradient_tile(G: Any, o: int, t: int, Y: Any, GX: Any) -> None:
    """``GX += G[:, o:o+t] Y[:, :t]ᵀ``: ``4 x 4`` register tiles of classes by features,
    summed along the rows (eight loads for sixteen multiply-adds a row); a last group of
    two or three classes padded to four, one last class (``K % 4 == 1``) by strips of
    four features; the last ``p % 4`` features one at a time."""
    K, p = GX.shape
    # classes in groups of four; a last group of two or three padded by repeating its
    # last class (its sums are not written): fewer loads than strips of one class
    kfull = K - K % 4 if K % 4 < 2 else K
    full = p - p % 4
    for k in range(0, kfull, 4):
        k1, k2, k3 = min(k + 1, K - 1), min(k + 2, K - 1), min(k + 3, K - 1)
        g0, g1, g2, g3 = G[k, o : o + t], G[k1, o : o + t], G[k2, o : o + t], G[k3, o : o + t]
        rows = min(4, K - k)
        for j in range(0, full, 4):
            y0, y1, y2, y3 = Y[j], Y[j + 1], Y[j + 2], Y[j + 3]
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = 0.0
            c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = 0.0
            for i in range(t):
                a0, a1, a2, a3 = g0[i], g1[i], g2[i], g3[i]
                v0, v1, v2, v3 = y0[i], y1[i], y2[i], y3[i]
                c00 += a0 * v0
                c01 += a0 * v1
                c02 += a0 * v2
                c03 += a0 * v3
                c10 += a1 * v0
                c11 += a1 * v1
                c12 += a1 * v2
                c13 += a1 * v3
                c20 += a2 * v0
                c21 += a2 * v1
                c22 += a2 * v2
                c23 += a2 * v3
                c30 += a3 * v0
                c31 += a3 * v1
                c32 += a3 * v2
                c33 += a3 * v3
            GX[k, j] += c00
            GX[k, j + 1] += c01
            GX[k, j + 2] += c02
            GX[k, j + 3] += c03
            GX[k + 1, j] += c10
            GX[k + 1, j + 1] += c11
            GX[k + 1, j + 2] += c12
            GX[k + 1, j + 3] += c13
            if rows > 2:
                GX[k + 2, j] += c20
                GX[k + 2, j + 1] += c21
                GX[k + 2, j + 2] += c22
                GX[k + 2, j + 3] += c23
            if rows > 3:
                GX[k + 3, j] += c30
                GX[k + 3, j + 1] += c31
                GX[k + 3, j + 2] += c32
                GX[k + 3, j + 3] += c33
        for j in range(full, p):
            yj = Y[j]
            c0 = c1 = c2 = c3 = 0.0
            for i in range(t):
                v = yj[i]
                c0 += g0[i] * v
                c1 += g1[i] * v
                c2 += g2[i] * v
                c3 += g3[i] * v
            GX[k, j] += c0
            GX[k + 1, j] += c1
            if rows > 2:
                GX[k + 2, j] += c2
            if rows > 3:
                GX[k + 3, j] += c3
    for k in range(kfull, K):
        gk = G[k, o : o + t]
        for j in range(0, full, 4):
            y0, y1, y2, y3 = Y[j], Y[j + 1], Y[j + 2], Y[j + 3]
            c0 = c1 = c2 = c3 = 0.0
            for i in range(t):
                a = gk[i]
                c0 += a * y0[i]
                c1 += a * y1[i]
                c2 += a * y2[i]
                c3 += a * y3[i]
            GX[k, j] += c0
            GX[k, j + 1] += c1
            GX[k, j + 2] += c2
            GX[k, j + 3] += c3
        for j in range(full, p):
            yj = Y[j]
            c = 0.0
            for i in range(t):
                c += gk[i] * yj[i]
            GX[k, j] += c


def load_compiled_kernel() -> bool:
    """Load :func:`softmax_sums`' machine code now (numba's on-disk cache; compiled the
    first time) for both layouts the sweep passes, and :func:`dense_sweep`'s for float64
    and float32 rows, rather than in the first sweep that takes them
    (:func:`mnlogit.objective.loss.compiled_sweep`): about 10 ms for ``softmax_sums`` and
    about 30 ms a variant for ``dense_sweep`` (measured under load) once per process where
    numba's runtime is up, about 0.2 s more where it is not.

    For timings of steady-state fits (the benchmarks' warm-up, beside
    :func:`mnlogit.objective.hessian.load_compiled_kernel`); fits never need it.

    Returns
    -------
    bool
        Whether the compiled kernel exists (numba installed).
    """
    if not HAVE_NUMBA:
        return False
    K, m, p = 2, 3, 2
    for dtype in (np.float64, np.float32):  # dense_sweep: float32 rows are read as they are
        prob = np.empty((K, m))
        dense_sweep(
            np.zeros((m, p), dtype=dtype), np.zeros((K, p)), np.zeros(K),
            np.zeros(m, dtype=np.intp), np.empty(0), np.empty((K, m)), prob, prob, np.zeros(K),
            np.zeros((K, p)), np.empty((K + 4, SWEEP_TILE_ROWS)),
            np.empty((p, SWEEP_TILE_ROWS)), np.empty((0, K)),
        )  # fmt: skip
    rows_first = np.zeros((m, K))
    for eta in (rows_first.T, np.zeros((K, m))):  # (X_s W)ᵀ, and Wᵀ X_sᵀ
        prob = np.empty((K, m))
        softmax_sums(
            eta, np.zeros(K), np.zeros(m, dtype=np.intp), np.empty(0), prob, prob,
            np.zeros(K), np.empty((K + 4, TILE_ROWS)),
        )  # fmt: skip
    return True
