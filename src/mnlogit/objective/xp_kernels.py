"""The block kernels on any array-API namespace (PyTorch, CuPy, array-api-strict, ...).

The same products as :mod:`mnlogit.objective.kernels`, :mod:`~mnlogit.objective.loss` and
:mod:`~mnlogit.objective.hessian`, with the same contract -- pure functions of explicit
arrays whose sums over rows are *additive partial sums* -- written against the array API
standard only, so that they run on the device that holds ``X``. They sit beside the numpy
kernels rather than replacing them: the numpy kernels use what the standard lacks
(``out=`` buffers, BLAS ``syrk``, flat ``take``, scipy.sparse), and the numpy path keeps its
speed unchanged (docs/gpu.md, "Decisions").

Vocabulary (as in :mod:`mnlogit.objective.kernels`):

``xp``
    The namespace (array-api-compat's wrapper for PyTorch and CuPy).
``X``
    ``(n, p)`` dense device array, float32 or float64; read in row blocks of
    :func:`device_rows` rows, never copied whole (a float32 block is converted only in
    exact mode, one block at a time).
``codes``
    ``(n,)`` integer class codes on the device.
``w``
    ``(n,)`` weights on the device, normalized by their total (``None``: equal weights,
    whose common value the caller multiplies in).
``W``, ``b``
    ``(p, K)`` coefficients on ``X``'s own scale and ``(K,)`` intercepts (``None``: no
    intercept), device arrays of the *work* dtype.
``compute``
    The dtype of the products with ``X``: ``X``'s own float32 in fast mode, the work dtype
    (float64 where the device has it) otherwise.

Sums come back as device arrays of the work dtype; the caller moves them to the host
(they are ``(p1, K)``, ``(p1, p1)`` or ``(m, m)``, never ``n``-sized).
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "DEVICE_BLOCK_ELEMENTS",
    "XpLoss",
    "backproject",
    "backproject_rows",
    "class_sums",
    "cluster_scores",
    "column_maxabs",
    "curvature_sums",
    "device_rows",
    "first_nonfinite",
    "firth_scores",
    "linear_predictor",
    "loss_hessian",
    "loss_sweep",
    "weighted_gram",
]

#: Numbers per row block on a device: large blocks keep the number of kernel launches
#: small (a GPU runs a (rows, p) product at full speed only for many rows); the
#: per-block temporaries stay at a few hundred MB.
DEVICE_BLOCK_ELEMENTS = 2**25


def device_rows(row_width: int) -> int:
    """Rows per device block for temporaries ``row_width`` numbers wide (at least 1)."""
    return max(1, DEVICE_BLOCK_ELEMENTS // max(row_width, 1))


def _slices(n: int, row_width: int) -> list[slice]:
    step = device_rows(row_width)
    return [slice(a, min(a + step, n)) for a in range(0, n, step)]


def _rows(xp: Any, X: Any, sl: slice, dtype: Any) -> Any:
    """Rows ``sl`` of ``X`` in ``dtype`` (a view when ``X`` has that dtype)."""
    block = X[sl, :]
    return block if block.dtype == dtype else xp.astype(block, dtype)


def _stack(xp: Any, colsum: Any, XtU: Any, intercept: bool) -> Any:
    """``[colsum; XtU]`` of shape ``(p + 1, K')`` with intercept, else ``XtU``."""
    if not intercept:
        return XtU
    return xp.concat([xp.reshape(colsum, (1, -1)), XtU], axis=0)


def linear_predictor(xp: Any, X_b: Any, W: Any, b: Any, compute: Any, work: Any) -> Any:
    """``X_b @ W + b`` of one block, shape ``(m, K)``, in the work dtype.

    Parameters
    ----------
    X_b : device array of shape (m, p)
    W : device array of shape (p, K), work dtype
    b : device array of shape (K,) or None
    compute, work : dtypes of xp
    """
    Xc = X_b if X_b.dtype == compute else xp.astype(X_b, compute)
    Wc = W if W.dtype == compute else xp.astype(W, compute)
    eta = Xc @ Wc
    if eta.dtype != work:
        eta = xp.astype(eta, work)
    return eta if b is None else eta + b


def backproject(xp: Any, X_b: Any, U: Any, compute: Any, work: Any, intercept: bool) -> Any:
    """``[colsum(U); X_bᵀ U]`` of one block, ``(p1, K')``, in the work dtype."""
    Xc = X_b if X_b.dtype == compute else xp.astype(X_b, compute)
    Uc = U if U.dtype == compute else xp.astype(U, compute)
    XtU = Xc.T @ Uc
    if XtU.dtype != work:
        XtU = xp.astype(XtU, work)
    return _stack(xp, xp.sum(U, axis=0), XtU, intercept)


def backproject_rows(xp: Any, X: Any, U: Any, compute: Any, work: Any, intercept: bool) -> Any:
    """:func:`backproject` of all rows, block by block (``X`` is never converted whole).

    Parameters
    ----------
    X : device array of shape (n, p)
    U : device array of shape (n, K')

    Returns
    -------
    device array of shape (p1, K'), work dtype
    """
    n, p = X.shape
    out = None
    for sl in _slices(n, max(p, U.shape[1])):
        part = backproject(xp, X[sl, :], U[sl, :], compute, work, intercept)
        out = part if out is None else out + part
    return out


class XpLoss(NamedTuple):
    """What :func:`loss_sweep` returns (device arrays of the work dtype).

    Attributes
    ----------
    nll : array of shape ()
        ``sum_i w_i (logsumexp(eta_i) - eta_{i, y_i})``.
    gradient_sums : array of shape (p1, K) or None
        ``[colsum(G); Xᵀ G]`` with ``G = w * P``.
    prob : array of shape (n, K) or None
        The probabilities, when asked for.
    """

    nll: Any
    gradient_sums: Any
    prob: Any


def loss_sweep(
    xp: Any,
    X: Any,
    codes: Any,
    w: Any,
    W: Any,
    b: Any,
    *,
    compute: Any,
    work: Any,
    gradient: bool,
    keep_prob: bool,
) -> XpLoss:
    """Loss, gradient sums and probabilities of ``X``, one read of each block.

    ``eta_{i, y_i}`` is read from the same linear predictor as the log-sum-exp (a mask of
    the class codes: the standard has no ``take_along_axis`` in older versions), so the
    rounding of float32 products cancels between the two as it does in the gradient;
    a value computed otherwise disagreed with its gradient by 1e-8 and stalled solvers.

    Parameters
    ----------
    xp : namespace
    X : device array of shape (n, p)
    codes : device array of shape (n,)
        Class codes.
    w : device array of shape (n,) or None
    W : device array of shape (p, K), work dtype
    b : device array of shape (K,) or None
    compute, work : dtypes of xp
    gradient : bool
    keep_prob : bool

    Returns
    -------
    XpLoss
        Additive over row blocks (``prob`` per row).
    """
    n, p = X.shape
    K = W.shape[1]
    nll = xp.zeros((), dtype=work, device=W.device)
    sums = None
    probs = []
    for sl in _slices(n, max(p, K)):
        X_b = X[sl, :]
        eta = linear_predictor(xp, X_b, W, b, compute, work)
        top = xp.max(eta, axis=1, keepdims=True)
        shifted = eta - top
        P = xp.exp(shifted)
        total = xp.sum(P, axis=1, keepdims=True)
        P = P / total
        hit = xp.sum(xp.where(_onehot(xp, codes[sl], K, None), shifted, 0.0), axis=1)
        row = xp.reshape(xp.log(total), (-1,)) - hit
        nll = nll + (xp.sum(row) if w is None else xp.sum(w[sl] * row))
        if keep_prob:
            probs.append(P)
        if gradient:
            G = P if w is None else P * xp.reshape(w[sl], (-1, 1))
            part = backproject(xp, X_b, G, compute, work, b is not None)
            sums = part if sums is None else sums + part
    prob = None
    if keep_prob:
        prob = probs[0] if len(probs) == 1 else xp.concat(probs, axis=0)
    return XpLoss(nll, sums, prob)


def curvature_sums(
    xp: Any, X: Any, P: Any, w: Any, D_W: Any, d_b: Any, *, compute: Any, work: Any
) -> Any:
    """The loss Hessian times a direction as ``[colsum(R); Xᵀ R]`` (``hessp``'s kernel).

    ``R = w * P * (D - rowsum(P * D))`` with ``D = X D_W + d_b``, as
    :func:`mnlogit.objective.kernels.curvature_sums`.

    Parameters
    ----------
    X : device array of shape (n, p)
    P : device array of shape (n, K), work dtype
    w : device array of shape (n,) or None
    D_W : device array of shape (p, K); d_b : (K,) or None
    compute, work : dtypes of xp

    Returns
    -------
    device array of shape (p1, K)
    """
    n, p = X.shape
    out = None
    for sl in _slices(n, max(p, D_W.shape[1])):
        X_b = X[sl, :]
        P_b = P[sl, :]
        D = linear_predictor(xp, X_b, D_W, d_b, compute, work)
        R = P_b * (D - xp.sum(P_b * D, axis=1, keepdims=True))
        if w is not None:
            R = R * xp.reshape(w[sl], (-1, 1))
        part = backproject(xp, X_b, R, compute, work, d_b is not None)
        out = part if out is None else out + part
    return out


def _onehot(xp: Any, codes: Any, K: int, dtype: Any) -> Any:
    """``(m, K)`` indicator matrix of class codes (bool for ``dtype=None``)."""
    classes = xp.reshape(xp.arange(K, device=codes.device), (1, K))
    mask = xp.reshape(codes, (-1, 1)) == classes
    return mask if dtype is None else xp.astype(mask, dtype)


def class_sums(xp: Any, X: Any, codes: Any, w: Any, K: int, *, intercept: bool, work: Any) -> Any:
    """``sum_i w_i onehot(y_i) [1, x_i]``: the constant part of the gradient, ``(p1, K)``.

    Exact (work dtype) products; ``w=None`` means weight 1.
    """
    n, p = X.shape
    out = None
    for sl in _slices(n, max(p, K)):
        Y = _onehot(xp, codes[sl], K, work)
        if w is not None:
            Y = Y * xp.reshape(w[sl], (-1, 1))
        part = backproject(xp, X[sl, :], Y, work, work, intercept)
        out = part if out is None else out + part
    return out


def weighted_gram(
    xp: Any, X: Any, h: Any, *, intercept: bool, column_factor: Any, work: Any
) -> Any:
    """``Yᵀ diag(h) Y`` with ``Y = [1, X diag(column_factor)]``, ``(p1, p1)``, exact.

    Parameters
    ----------
    X : device array of shape (n, p)
    h : device array of shape (n,), work dtype
    column_factor : device array of shape (p,) or None
    """
    n, p = X.shape
    out = None
    for sl in _slices(n, p):
        Xc = _rows(xp, X, sl, work)
        if column_factor is not None:
            Xc = Xc * column_factor
        hc = xp.reshape(h[sl], (-1, 1))
        XtHX = Xc.T @ (Xc * hc)
        if intercept:
            border = xp.sum(Xc * hc, axis=0)
            top = xp.concat([xp.reshape(xp.sum(hc), (1, 1)), xp.reshape(border, (1, -1))], axis=1)
            XtHX = xp.concat([top, xp.concat([xp.reshape(border, (-1, 1)), XtHX], axis=1)])
        out = XtHX if out is None else out + XtHX
    return out


def loss_hessian(
    xp: Any,
    X: Any,
    P1: Any,
    w: Any,
    *,
    intercept: bool,
    column_factor: Any,
    T: Any,
    compute: Any,
    work: Any,
) -> tuple[Any, Any]:
    """The loss Hessian's two parts, as :func:`mnlogit.objective.hessian.loss_hessian`.

    ``H = blockdiag_a(Yᵀ diag(w P_a) Y) - ZᵀZ`` with ``Y = [1, X diag(column_factor)]`` and
    ``Z = [P_a √w Y]_a`` (rows of ``Z`` in the free coordinates when ``T`` is given: block
    ``b`` is ``sum_a T[b, a] Z_a``). ``ZᵀZ`` is one rank-``rows`` update per row block (a
    GEMM on the device: the standard has no ``syrk``).

    Parameters
    ----------
    X : device array of shape (n, p)
    P1 : device array of shape (n, K-1), work dtype
        Probabilities of classes ``1 .. K-1``.
    w : device array of shape (n,)
        Normalized weights (all of them: no ``None`` here).
    column_factor : device array of shape (p,) or None
    T : device array of shape (K-1, K-1) or None
    compute, work : dtypes of xp

    Returns
    -------
    ZtZ : device array of shape ((K-1) p1, (K-1) p1), work dtype
    D : device array of shape (p1, (K-1) p1), work dtype
        ``Yᵀ [w P_a Y]_a``: the block diagonal's parts, spread by the caller.
    """
    n, p = X.shape
    k1 = P1.shape[1]
    p1 = p + int(intercept)
    m = k1 * p1
    ZtZ = None
    D = None
    for sl in _slices(n, m):
        sw = xp.reshape(xp.sqrt(w[sl]), (-1, 1))
        Xc = _rows(xp, X, sl, work)
        if column_factor is not None:
            Xc = Xc * column_factor
        Y = xp.concat([sw, Xc * sw], axis=1) if intercept else Xc * sw
        r = Y.shape[0]
        Z3 = xp.reshape(Y, (r, 1, p1)) * xp.reshape(P1[sl, :], (r, k1, 1))
        Zf = Z3 if T is None else T @ Z3
        Z = xp.reshape(Zf, (r, m))
        Y2 = Y.T @ xp.reshape(Z3, (r, m))
        if compute != work:
            Z = xp.astype(Z, compute)
        part = Z.T @ Z
        if part.dtype != work:
            part = xp.astype(part, work)
        ZtZ = part if ZtZ is None else ZtZ + part
        D = Y2 if D is None else D + Y2
    return ZtZ, D


def column_maxabs(xp: Any, X: Any) -> Any:
    """Each column's largest absolute value, ``(p,)`` (X's dtype)."""
    n, p = X.shape
    out = None
    for sl in _slices(n, p):
        part = xp.max(xp.abs(X[sl, :]), axis=0)
        out = part if out is None else xp.maximum(out, part)
    return out


def first_nonfinite(xp: Any, X: Any) -> tuple[int, Any] | None:
    """The first row holding NaN or inf and that row's bad-column mask, or None.

    One reduction per block; only a block with a bad value looks closer.

    Returns
    -------
    (row, mask) or None
        ``row`` an int, ``mask`` a device bool array of shape (p,).
    """
    n, p = X.shape
    for sl in _slices(n, p):
        finite = xp.isfinite(X[sl, :])
        if bool(xp.all(finite)):
            continue
        bad_rows = xp.logical_not(xp.all(finite, axis=1))
        first = int(xp.argmax(xp.astype(bad_rows, xp.int32)))
        return sl.start + first, xp.logical_not(finite[first, :])
    return None


def firth_scores(
    xp: Any, X: Any, P: Any, s: Any, inv: Any, row_factor: Any, *, intercept: bool, work: Any
) -> Any:
    """``d (1/2 log det I) / d eta`` per row, ``(n, K)``: Firth's leverage scores.

    As :meth:`mnlogit.objective.firth.FirthObjective._leverage_scores`: with the scaled
    design rows ``x_i = [1, X_i] * row_factor``, ``Q_i[a, b] = x_iᵀ inv[a, :, b, :] x_i``
    and ``v_ia = p_ia (Q_i[a, a] - 2 (Q_i p_i)_a)`` (classes ``1 .. K-1``), the score is
    ``1/2 s_i (v_ic [c >= 1] - p_ic sum_a v_ia)``. ``K - 1`` GEMMs per row block.

    Parameters
    ----------
    X : device array of shape (n, p)
    P : device array of shape (n, K), work dtype
    s : device array of shape (n,)
        Frequency weights (not normalized).
    inv : device array of shape (K-1, p1, K-1, p1), work dtype
        The inverse Fisher information (sum scale) in reference-class-0 coordinates.
    row_factor : device array of shape (p1,)
        ``d`` with scaled design columns ``d_j [1, X]_j``.

    Returns
    -------
    device array of shape (n, K), work dtype
    """
    n = X.shape[0]
    k1, p1 = inv.shape[0], inv.shape[1]
    rows = []
    for sl in _slices(n, k1 * p1):
        Xc = _rows(xp, X, sl, work)
        if intercept:
            Xc = xp.concat([xp.ones((Xc.shape[0], 1), dtype=work, device=Xc.device), Xc], axis=1)
        Xc = Xc * row_factor
        r = Xc.shape[0]
        Q = []  # Q[:, a, :] = (Xc @ inv[a] as (p1, k1 p1)) contracted with Xc
        for a in range(k1):
            M = xp.reshape(Xc @ xp.reshape(inv[a, ...], (p1, k1 * p1)), (r, k1, p1))
            Q.append(xp.sum(M * xp.reshape(Xc, (r, 1, p1)), axis=2))
        Qs = xp.stack(Q, axis=1)  # (r, k1, k1)
        p_b = P[sl, 1:]
        diag = xp.stack([Qs[:, a, a] for a in range(k1)], axis=1)
        Qp = xp.sum(Qs * xp.reshape(p_b, (r, 1, k1)), axis=2)
        v = p_b * (diag - 2.0 * Qp)
        half = 0.5 * xp.reshape(s[sl], (-1, 1))
        U = xp.concat([xp.zeros((r, 1), dtype=work, device=Xc.device), half * v], axis=1)
        rows.append(U - half * P[sl, :] * xp.sum(v, axis=1, keepdims=True))
    return rows[0] if len(rows) == 1 else xp.concat(rows, axis=0)


def cluster_scores(
    xp: Any,
    X: Any,
    R: Any,
    s: Any,
    groups: Any,
    n_groups: int,
    *,
    intercept: bool,
    column_factor: Any,
    work: Any,
) -> Any:
    """Each cluster's summed scores ``U_g = sum_{i in g} s_i R_i ⊗ [1, x̃_i]``, ``(G, m)``.

    ``x̃ = X diag(column_factor)``; entry ``(g, a p1 + j)`` is class ``a``'s score of design
    column ``j``. The standard has no scatter-add, so each row block adds its rows to
    their clusters by a product with the block's one-hot cluster matrix (``(rows, G)``;
    a GEMM of ``rows G m`` flops).

    Parameters
    ----------
    X : device array of shape (n, p)
    R : device array of shape (n, K-1), work dtype
        Per-row scores in ``eta`` in free coordinates.
    s : device array of shape (n,)
        Frequency weights (not normalized).
    groups : device integer array of shape (n,)
        Cluster codes ``0 .. G-1``.
    n_groups : int
    column_factor : device array of shape (p,) or None

    Returns
    -------
    device array of shape (G, (K-1) p1), work dtype
    """
    n, p = X.shape
    k1 = R.shape[1]
    p1 = p + int(intercept)
    out = None
    for sl in _slices(n, max(n_groups, k1 * p1)):
        Xc = _rows(xp, X, sl, work)
        if column_factor is not None:
            Xc = Xc * column_factor
        r = Xc.shape[0]
        if intercept:
            Xc = xp.concat([xp.ones((r, 1), dtype=work, device=Xc.device), Xc], axis=1)
        S = R[sl, :] * xp.reshape(s[sl], (-1, 1))
        Z = xp.reshape(xp.reshape(S, (r, k1, 1)) * xp.reshape(Xc, (r, 1, p1)), (r, k1 * p1))
        part = _onehot(xp, groups[sl], n_groups, work).T @ Z
        out = part if out is None else out + part
    return out
