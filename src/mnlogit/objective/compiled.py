"""Compiled kernels: numba's ``njit`` when numba is installed, the Python function otherwise.

One decorator for every compiled loop of the package (the dense Hessian's narrow kernel in
:mod:`mnlogit.objective.hessian`, the dense sweep's softmax pass in
:mod:`mnlogit.objective.softmax_kernel`, the column read in
:mod:`mnlogit.identification.column_kernels`, the lasso family's coordinate descent and
support solves in :mod:`mnlogit.solvers`): machine code cached on disk beside the source,
the GIL released (the row splits run kernels on Python threads), and the same
floating-point freedoms.
Without numba the undecorated functions run as Python (correct, slow); callers that have a
faster fallback check :data:`HAVE_NUMBA`. ``import mnlogit`` does not import this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["FASTMATH", "HAVE_NUMBA", "compiled"]

try:  # pragma: no cover - exercised by whichever is installed
    from numba import njit as _njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False

#: Floating-point freedoms given to the compiler: reassociation (vectorized sums) and fused
#: multiply-adds; not the "no NaN / no infinity" assumptions.
FASTMATH = {"reassoc", "contract"}


def compiled(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` compiled by numba (cached on disk, the GIL released) when it is installed;
    ``func`` itself otherwise."""
    if HAVE_NUMBA:
        kernel: Callable[..., Any] = _njit(cache=True, nogil=True, fastmath=FASTMATH)(func)
        return kernel
    return func  # pragma: no cover
