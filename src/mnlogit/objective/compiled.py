"""Compiled kernels: numba's ``njit`` when numba is installed, the Python function otherwise.

One decorator for every compiled loop of the package (the dense Hessian's narrow kernel in
:mod:`mnlogit.objective.hessian`, the dense sweep's softmax pass in
:mod:`mnlogit.objective.softmax_kernel`, the column read in
:mod:`mnlogit.identification.column_kernels`, the lasso family's coordinate descent and
support solves in :mod:`mnlogit.solvers`): machine code cached on disk beside the source,
the GIL released (the row splits run kernels on Python threads), and the same
floating-point freedoms. :func:`inlined` is the same with numba's ``inline="always"``, for
small kernels called once per feature from another compiled loop.
Without numba the undecorated functions run as Python (correct, slow); callers that have a
faster fallback check :data:`HAVE_NUMBA`. ``import mnlogit`` does not import this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

__all__ = ["FASTMATH", "HAVE_NUMBA", "compiled", "inlined"]

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
    return _compile(func, "never")


def inlined(func: Callable[..., Any]) -> Callable[..., Any]:
    """:func:`compiled`, and inlined into the compiled kernels that call it.

    A compiled kernel called from another is a real call: numba's calling convention takes
    each array argument apart into its fields (pointer, memory-manager record, size, shape,
    strides) and the callee increments each array's reference count on entry and
    decrements it on exit (an atomic add apiece). Inlined (in numba's IR, before lowering),
    the kernel's arguments are the caller's variables and that work goes: the sparse
    lasso's block step (17 array arguments, once per feature of a sweep) inlined into the
    sweep took the nonzero sweep of the sparse benchmark's captured call 96 from 5.6-5.9 to
    5.2-5.6 ms (docs/penalties.md, "Sixteenth pass"). Called from Python it still runs as a
    compiled kernel of its own. numba's disk cache keys a caller on its own file: an
    inlined kernel lives in its callers' module (else, after a change to it, delete their
    caches).
    """
    return _compile(func, "always")


def _compile(func: Callable[..., Any], inline: Literal["never", "always"]) -> Callable[..., Any]:
    """``func`` compiled with the package's numba options (``func`` without numba)."""
    if HAVE_NUMBA:
        kernel: Callable[..., Any] = _njit(
            cache=True, nogil=True, fastmath=FASTMATH, inline=inline
        )(func)
        return kernel
    return func  # pragma: no cover
