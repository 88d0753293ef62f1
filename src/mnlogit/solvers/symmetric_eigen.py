"""Eigendecomposition of one small symmetric matrix, compiled (the group penalty's blocks).

The grouped lasso's inner solver (:func:`mnlogit.solvers.coordinate_descent.cd_quadratic`)
decomposes every strong feature's ``K x K`` block Hessian at each proximal Newton step:
hundreds of thousands of ``10 x 10`` decompositions on the sparse benchmark path. LAPACK's
``syevd`` through ``np.linalg.eigh`` costs about 7 microseconds for one of them, most of it
call overhead (argument checks, workspace queries, a copy of the matrix and fresh output
arrays) rather than arithmetic. :func:`symmetric_eigen` is the classical
Householder tridiagonalization followed by the implicit QL iteration with Wilkinson-like
shifts (EISPACK's ``tred2`` and ``tql2``, in the public-domain form of JAMA's
``EigenvalueDecomposition``), written into caller-owned arrays: backward stable like
LAPACK's (eigenvalues accurate to a few ulps of ``||A||``, orthonormal eigenvectors), with
no allocation and no call overhead (measured in docs/penalties.md, "Tenth pass").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mnlogit.objective.compiled import compiled

__all__ = ["symmetric_eigen"]

#: Implicit QL iterations allowed per eigenvalue (EISPACK's limit is 30; a few suffice).
QL_MAX_ITER = 60
#: Entries below this after the scaling to a largest entry near 1 are set to 0: with at most
#: a few dozen entries a row, a change of norm under ``eps ||A||``, inside the backward error
#: that LAPACK's ``eigh`` itself guarantees; left in, entries graded down to the subnormals
#: made the QL rotations overflow to inf or lose the eigenvectors' orthogonality (the lead's
#: review of issue-group10: 4,000 saturated softmax and graded blocks, 42 non-finite results
#: and 106 orthogonality losses before, none after).
FLUSH_BELOW = 2.0**-60


@compiled
def _tridiagonalize(V: Any, d: Any, e: Any) -> None:
    """Householder reduction of the symmetric ``V`` (n, n) to tridiagonal form (``tred2``):
    on return ``d`` (n,) is the diagonal, ``e[1:]`` the subdiagonal (``e[0] = 0``) and
    ``V`` the orthogonal transformation."""
    n = V.shape[0]
    for j in range(n):
        d[j] = V[n - 1, j]
    for i in range(n - 1, 0, -1):
        scale = 0.0
        h = 0.0
        for k in range(i):
            scale += abs(d[k])
        if scale == 0.0:
            e[i] = d[i - 1]
            for j in range(i):
                d[j] = V[i - 1, j]
                V[i, j] = 0.0
                V[j, i] = 0.0
        else:
            for k in range(i):
                d[k] /= scale
                h += d[k] * d[k]
            f = d[i - 1]
            g = np.sqrt(h)
            if f > 0.0:
                g = -g
            e[i] = scale * g
            h -= f * g
            d[i - 1] = f - g
            for j in range(i):
                e[j] = 0.0
            for j in range(i):
                f = d[j]
                V[j, i] = f
                g = e[j] + V[j, j] * f
                for k in range(j + 1, i):
                    g += V[k, j] * d[k]
                    e[k] += V[k, j] * f
                e[j] = g
            f = 0.0
            for j in range(i):
                e[j] /= h
                f += e[j] * d[j]
            hh = f / (h + h)
            for j in range(i):
                e[j] -= hh * d[j]
            for j in range(i):
                f = d[j]
                g = e[j]
                for k in range(j, i):
                    V[k, j] -= f * e[k] + g * d[k]
                d[j] = V[i - 1, j]
                V[i, j] = 0.0
        d[i] = h
    for i in range(n - 1):
        V[n - 1, i] = V[i, i]
        V[i, i] = 1.0
        h = d[i + 1]
        if h != 0.0:
            for k in range(i + 1):
                d[k] = V[k, i + 1] / h
            for j in range(i + 1):
                g = 0.0
                for k in range(i + 1):
                    g += V[k, i + 1] * V[k, j]
                for k in range(i + 1):
                    V[k, j] -= g * d[k]
        for k in range(i + 1):
            V[k, i + 1] = 0.0
    for j in range(n):
        d[j] = V[n - 1, j]
        V[n - 1, j] = 0.0
    V[n - 1, n - 1] = 1.0
    e[0] = 0.0


@compiled
def _norm2(a: float, b: float) -> float:
    """``sqrt(a^2 + b^2)``, by ``hypot`` only where the larger square could overflow or
    underflow (the smaller one's underflow is below the larger's rounding)."""
    big = max(abs(a), abs(b))
    if 1e-140 < big < 1e140:
        return float(np.sqrt(a * a + b * b))
    return float(np.hypot(a, b))


@compiled
def _ql_iterations(U: Any, d: Any, e: Any) -> bool:
    """Implicit QL iterations on the tridiagonal ``(d, e)`` (``tql2``), the rotations
    accumulated into the rows of ``U`` (the transformation transposed: a rotation then
    reads two contiguous rows); returns False if an eigenvalue took more than
    ``QL_MAX_ITER`` iterations (not seen; the caller then falls back to LAPACK)."""
    n = U.shape[0]
    for i in range(1, n):
        e[i - 1] = e[i]
    e[n - 1] = 0.0
    f = 0.0
    tst1 = 0.0
    eps = 2.0**-52
    for l in range(n):  # (EISPACK's name)
        tst1 = max(tst1, abs(d[l]) + abs(e[l]))
        m = l
        while m < n - 1 and abs(e[m]) > eps * tst1:
            m += 1
        if m > l:
            count = 0
            while True:
                count += 1
                if count > QL_MAX_ITER:
                    return False
                g = d[l]
                p = (d[l + 1] - g) / (2.0 * e[l])
                r = _norm2(p, 1.0)
                if p < 0.0:
                    r = -r
                d[l] = e[l] / (p + r)
                d[l + 1] = e[l] * (p + r)
                dl1 = d[l + 1]
                h = g - d[l]
                for i in range(l + 2, n):
                    d[i] -= h
                f += h
                p = d[m]
                c = 1.0
                c2 = c
                c3 = c
                el1 = e[l + 1]
                s = 0.0
                s2 = 0.0
                for i in range(m - 1, l - 1, -1):
                    c3 = c2
                    c2 = c
                    s2 = s
                    g = c * e[i]
                    h = c * p
                    r = _norm2(p, e[i])
                    e[i + 1] = s * r
                    s = e[i] / r
                    c = p / r
                    p = c * d[i] - s * g
                    d[i + 1] = h + s * (c * g + s * d[i])
                    for k in range(n):
                        h = U[i + 1, k]
                        U[i + 1, k] = s * U[i, k] + c * h
                        U[i, k] = c * U[i, k] - s * h
                p = -s * s2 * c3 * el1 * e[l] / dl1
                e[l] = s * p
                d[l] = c * p
                if not abs(e[l]) > eps * tst1:
                    break
        d[l] += f
        e[l] = 0.0
    return True


@compiled
def _all_finite(mu: Any, U: Any) -> bool:
    """Whether every eigenvalue (n,) and eigenvector entry (n, n) is finite."""
    n = mu.shape[0]
    for i in range(n):
        if not np.isfinite(mu[i]):
            return False
        for j in range(n):
            if not np.isfinite(U[i, j]):
                return False
    return True


@compiled
def symmetric_eigen(A: Any, mu: Any, V: Any, e: Any, U: Any) -> None:
    """Eigenvalues ``mu`` (n,) in increasing order and orthonormal eigenvectors ``V`` (n, n)
    (columns: ``A V[:, m] = mu[m] V[:, m]``) of the symmetric ``A`` (n, n; its lower
    triangle is read). ``e`` (n,) and ``U`` (n, n) are scratch. ``A`` is left unchanged.

    Parameters
    ----------
    A : ndarray of shape (n, n), float64
    mu : ndarray of shape (n,), float64
        Out: the eigenvalues, increasing.
    V : ndarray of shape (n, n), float64
        Out: the eigenvectors as columns.
    e, U : ndarrays of shape (n,) and (n, n), float64
        Scratch.
    """
    n = A.shape[0]
    top = 0.0
    for i in range(n):
        for j in range(i + 1):
            top = max(top, abs(A[i, j]))
    # a power of 2 near the largest entry (exact scaling; 2**1023 at most, 2**1024 is inf):
    # no overflow or underflow inside
    scale = 2.0 ** min(float(np.round(np.log2(top))), 1023.0) if 0.0 < top < np.inf else 1.0
    for i in range(n):
        for j in range(i + 1):
            v = A[i, j] / scale
            # (FLUSH_BELOW: entries far under eps of the largest are zeros to the eigenpairs)
            V[i, j] = v if abs(v) >= FLUSH_BELOW or v != v else 0.0
            V[j, i] = V[i, j]
    _tridiagonalize(V, mu, e)
    for i in range(n):
        for j in range(n):
            U[i, j] = V[j, i]
    if not (_ql_iterations(U, mu, e) and _all_finite(mu, U)):
        # a safeguard, never seen on finite input; NaN or inf input makes LAPACK's eigh
        # raise (numba's), as before the compiled solver
        w, Q = np.linalg.eigh(A)
        mu[:] = w
        V[:] = Q
        return
    for i in range(n - 1):  # selection sort, increasing
        k = i
        p = mu[i]
        for j in range(i + 1, n):
            if mu[j] < p:
                k = j
                p = mu[j]
        if k != i:
            mu[k] = mu[i]
            mu[i] = p
            for j in range(n):
                t = U[i, j]
                U[i, j] = U[k, j]
                U[k, j] = t
    for i in range(n):
        mu[i] *= scale
        for j in range(n):
            V[i, j] = U[j, i]
