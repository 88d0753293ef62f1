"""Conjugate gradients on the lasso's identified support: the second-order inner step.

The inner solver (:func:`mnlogit.solvers.coordinate_descent.cd_quadratic`) minimizes the
proximal Newton model of the loss plus the penalty,

    q(Delta) + sum_jk lam1_j |W_jk| + lam2_j / 2 W_jk^2,

by coordinate descent, which converges only linearly (0.90-0.96 per sweep on the sparse
benchmark problem, docs/penalties.md). Once the sweeps have settled which coordinates are
nonzero and their signs, the penalty is *linear* there (``lam1_j s_jk W_jk`` with the fixed
signs ``s``), so on that support the rest of the inner solve is a smooth quadratic in the
support's coefficients and the intercepts. :func:`support_cg` minimizes it by
preconditioned conjugate gradients (diagonal preconditioner: the coordinate curvatures
``h_jk + lam2_j``), with the model's exact Hessian-vector product

    (H v)_jk = sum_i w_i x_ij p_ik (dv_ik - p_i . dv_i),   dv_i = V^T x_i + v_b,

read from the support's columns only (never all of ``X``). A CG step that would carry a
coordinate across zero is cut at the crossing and that coordinate set to 0 (the quadratic
decreases monotonically along a CG direction up to the full step, so every accepted step
lowers the model plus penalty); the coordinate sweeps that follow check the result, free
coordinates off the support and take over where CG stopped. The maintained predictor
change ``D`` and ``pd = p . d`` move with the coefficients (both are linear in them).

CG on a quadratic of condition number ``c`` needs about ``sqrt(c)`` products where cyclic
coordinate descent needs about ``c`` sweeps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mnlogit.objective.compiled import compiled

__all__ = ["support_cg"]


@compiled
def _forward(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    cj: Any,
    ck: Any,
    v: Any,
    vb: Any,
    P: Any,
    Dv: Any,
    pdv: Any,
) -> None:
    """``Dv[k, i] = sum_t [ck_t = k] x_i,cj_t v_t + vb_k`` and ``pdv_i = p_i . Dv_i``."""
    K = P.shape[0]
    n = P.shape[1]
    Dv[:] = 0.0
    for t in range(cj.shape[0]):
        val = v[t]
        if val == 0.0:
            continue
        j = cj[t]
        k = ck[t]
        if sparse:
            for q in range(indptr[j], indptr[j + 1]):
                Dv[k, indices[q]] += data[q] * val
        else:
            for i in range(n):
                Dv[k, i] += Xd[i, j] * val
    for i in range(n):
        e = 0.0
        for k in range(K):
            d = Dv[k, i] + vb[k]
            Dv[k, i] = d
            e += P[k, i] * d
        pdv[i] = e


@compiled
def _backward(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    cj: Any,
    ck: Any,
    wP: Any,
    Dv: Any,
    pdv: Any,
    out: Any,
    outb: Any,
) -> None:
    """``out_t = sum_i x_i,cj_t wP[ck_t, i] (Dv[ck_t, i] - pdv_i)`` and the intercepts'
    ``outb_k = sum_i wP[k, i] (Dv[k, i] - pdv_i)``: the model's Hessian times ``v``."""
    K = wP.shape[0]
    n = wP.shape[1]
    for t in range(cj.shape[0]):
        j = cj[t]
        k = ck[t]
        s = 0.0
        if sparse:
            for q in range(indptr[j], indptr[j + 1]):
                i = indices[q]
                s += data[q] * wP[k, i] * (Dv[k, i] - pdv[i])
        else:
            for i in range(n):
                s += Xd[i, j] * wP[k, i] * (Dv[k, i] - pdv[i])
        out[t] = s
    outb[:] = 0.0
    for i in range(n):
        for k in range(K):
            outb[k] += wP[k, i] * (Dv[k, i] - pdv[i])


@compiled
def _support(features: Any, W: Any) -> tuple[Any, Any]:
    """The nonzero coordinates ``(cj, ck)`` of ``features``' rows, feature by feature."""
    K = W.shape[1]
    m = 0
    for t in range(features.shape[0]):
        for k in range(K):
            if W[features[t], k] != 0.0:
                m += 1
    cj = np.empty(m, dtype=np.int64)
    ck = np.empty(m, dtype=np.int64)
    m = 0
    for t in range(features.shape[0]):
        j = features[t]
        for k in range(K):
            if W[j, k] != 0.0:
                cj[m] = j
                ck[m] = k
                m += 1
    return cj, ck


@compiled
def _largest(res: Any, resb: Any, cj: Any, rms: Any, fit_intercept: bool) -> float:
    """The largest standardized residual (the coordinate sweeps' change measure)."""
    big = 0.0
    for t in range(cj.shape[0]):
        r = abs(res[t]) / rms[cj[t]]
        if r > big:
            big = r
    if fit_intercept:
        for k in range(resb.shape[0]):
            if abs(resb[k]) > big:
                big = abs(resb[k])
    return big


@compiled
def _step_limit(cj: Any, ck: Any, W: Any, p: Any, a: float) -> tuple[float, int]:
    """The largest step ``<= a`` along ``p`` that carries no coordinate across zero, and
    the coordinate that reaches zero there (``-1`` if none)."""
    hit = -1
    for t in range(cj.shape[0]):
        old = W[cj[t], ck[t]]
        new = old + a * p[t]
        if old != 0.0 and (new * old < 0.0 or new == 0.0):
            a = -old / p[t]
            hit = t
    return a, hit


@compiled
def _project(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    cj: Any,
    ck: Any,
    signs: Any,
    P: Any,
    W: Any,
    D: Any,
    pd: Any,
) -> None:
    """Set every coordinate that left its sign to 0 (``D`` and ``pd`` move with it)."""
    for t in range(cj.shape[0]):
        j = cj[t]
        k = ck[t]
        v = W[j, k]
        if v * signs[t] > 0.0:
            continue
        W[j, k] = 0.0
        if sparse:
            for q in range(indptr[j], indptr[j + 1]):
                i = indices[q]
                u = data[q] * v
                D[k, i] -= u
                pd[i] -= P[k, i] * u
        else:
            for i in range(D.shape[1]):
                u = Xd[i, j] * v
                D[k, i] -= u
                pd[i] -= P[k, i] * u


@compiled
def _residual(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    cj: Any,
    ck: Any,
    P: Any,
    wP: Any,
    G: Any,
    g0: Any,
    fit_intercept: bool,
    lam1: Any,
    lam2: Any,
    h: Any,
    W: Any,
    D: Any,
    pd: Any,
) -> tuple[Any, Any, Any, Any, Any]:
    """The negative gradient of the restricted problem on the support ``(m,)`` and the
    intercepts ``(K,)``, the diagonal preconditioner of each, and the support's signs."""
    K = P.shape[0]
    n = P.shape[1]
    m = cj.shape[0]
    Hp = np.empty(m)
    Hpb = np.zeros(K)
    _backward(Xd, indptr, indices, data, sparse, cj, ck, wP, D, pd, Hp, Hpb)
    res = np.empty(m)
    prec = np.empty(m)
    signs = np.empty(m)
    for t in range(m):
        j = cj[t]
        v = W[j, ck[t]]
        s = 1.0 if v > 0.0 else -1.0
        signs[t] = s
        res[t] = -(G[j, ck[t]] + Hp[t] + lam1[j] * s + lam2[j] * v)
        c = h[j, ck[t]] + lam2[j]
        prec[t] = 1.0 / c if c > 0.0 else 0.0
    resb = np.zeros(K)
    precb = np.zeros(K)
    if fit_intercept:
        for k in range(K):
            resb[k] = -(g0[k] + Hpb[k])
            c = 0.0
            for i in range(n):
                c += wP[k, i] * (1.0 - P[k, i])
            precb[k] = 1.0 / c if c > 0.0 else 0.0
    return res, prec, signs, resb, precb


@compiled
def _apply(
    a: float,
    cj: Any,
    ck: Any,
    p: Any,
    pb: Any,
    Hp: Any,
    Hpb: Any,
    prec: Any,
    Dp: Any,
    pdp: Any,
    W: Any,
    b: Any,
    D: Any,
    pd: Any,
    res: Any,
    resb: Any,
) -> None:
    """Step ``a`` along ``(p, pb)``: coefficients, intercepts, predictor change and residual."""
    for t in range(cj.shape[0]):
        W[cj[t], ck[t]] += a * p[t]
        res[t] = res[t] - a * Hp[t] if prec[t] > 0.0 else 0.0
    for k in range(b.shape[0]):
        b[k] += a * pb[k]
        resb[k] -= a * Hpb[k]
    for i in range(D.shape[1]):
        for k in range(D.shape[0]):
            D[k, i] += a * Dp[k, i]
        pd[i] += a * pdp[i]


@compiled
def support_cg(
    Xd: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    sparse: bool,
    features: Any,
    w: Any,
    P: Any,
    wP: Any,
    G: Any,
    g0: Any,
    fit_intercept: bool,
    lam1: Any,
    lam2: Any,
    h: Any,
    rms: Any,
    W: Any,
    b: Any,
    D: Any,
    pd: Any,
    work: Any,
    tol: float,
    max_iter: int,
    project: bool,
) -> int:
    """Minimize the model plus the penalty over the nonzero coordinates of ``features`` (and
    the intercepts) with their signs fixed, by preconditioned conjugate gradients.

    Parameters
    ----------
    Xd, indptr, indices, data, sparse
        X as in :func:`mnlogit.solvers.coordinate_descent.linear_predictor`.
    features : ndarray of shape (m,) of int
        The features whose nonzero coefficients move.
    w : ndarray of shape (n,)
    P, wP : ndarrays of shape (K, n)
        Probabilities at the model's centre and ``w * P``.
    G : ndarray of shape (p, K)
        The loss gradient at the centre; ``g0`` (K,) its intercept part.
    fit_intercept : bool
        Whether the intercepts move.
    lam1, lam2 : ndarrays of shape (p,)
        The penalty's strengths.
    h : ndarray of shape (p, K)
        The coordinate curvatures (the preconditioner, with ``lam2``).
    rms : ndarray of shape (p,)
        Weighted column RMS (residuals are measured per standardized unit, as the sweeps'
        changes are).
    W : ndarray of shape (p, K)
        In and out: the coefficients; only nonzero ones of ``features`` move, none changes
        sign (one reaching zero ends the solve).
    b : ndarray of shape (K,)
        In and out: the intercepts.
    D, pd : ndarrays of shape (K, n) and (n,)
        In and out: the predictor change from the centre and ``p_i . d_i``.
    work : ndarray of shape (K, n)
        Scratch in ``D``'s layout.
    tol : float
        Stop when every standardized residual is at most ``tol``.
    max_iter : int

    Returns
    -------
    int
        Hessian-vector products made (each about the cost of a sweep over the support).
    """
    K = P.shape[0]
    n = P.shape[1]
    cj, ck = _support(features, W)
    m = cj.shape[0]
    pdv = np.zeros(n)
    Hp = np.empty(m)
    Hpb = np.zeros(K)
    res, prec, signs, resb, precb = _residual(
        Xd, indptr, indices, data, sparse, cj, ck, P, wP, G, g0, fit_intercept,
        lam1, lam2, h, W, D, pd,
    )  # fmt: skip
    z = res * prec
    zb = resb * precb
    p = z.copy()
    pb = zb.copy()
    rz = np.dot(res, z) + np.dot(resb, zb)
    done = 0
    # below this the residual is rounding noise (a step would be 0 / 0)
    floor = 1e-26 * rz
    while done < max_iter and _largest(res, resb, cj, rms, fit_intercept) > tol and rz > floor:
        done += 1
        _forward(Xd, indptr, indices, data, sparse, cj, ck, p, pb, P, work, pdv)
        _backward(Xd, indptr, indices, data, sparse, cj, ck, wP, work, pdv, Hp, Hpb)
        for t in range(m):
            Hp[t] += lam2[cj[t]] * p[t]
        pHp = np.dot(p, Hp) + np.dot(pb, Hpb)
        if not pHp > 0.0:
            break
        a, hit = rz / pHp, -1
        if not project:
            a, hit = _step_limit(cj, ck, W, p, a)
        _apply(a, cj, ck, p, pb, Hp, Hpb, prec, work, pdv, W, b, D, pd, res, resb)
        if hit >= 0:
            W[cj[hit], ck[hit]] = 0.0
            # that coordinate leaves the support; CG restarts on the rest
            prec[hit] = 0.0
            res[hit] = 0.0
            p[:] = 0.0
            pb[:] = 0.0
        z = res * prec
        zb = resb * precb
        rz_new = np.dot(res, z) + np.dot(resb, zb)
        beta = 0.0 if hit >= 0 else rz_new / rz
        rz = rz_new
        p = z + beta * p
        pb = zb + beta * pb

    if project:
        _project(Xd, indptr, indices, data, sparse, cj, ck, signs, P, W, D, pd)
    return done
