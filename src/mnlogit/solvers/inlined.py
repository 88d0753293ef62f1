"""Compiled kernels inlined into their compiled callers: ``@inlined`` is
:func:`~mnlogit.objective.compiled.compiled` with numba's ``inline="always"``.

A compiled kernel called from another is a real call: numba's calling convention takes
each array argument apart into its fields (a pointer, the memory-manager record, the size,
shape and strides: seven to nine values per array) and the callee increments each array's
reference count on entry and decrements it on exit (an atomic add apiece). The sparse
lasso's block step (``coordinate_descent._lasso_block_steps``, 17 array arguments) is
called once per feature of a sweep: 17 increments and about as many decrements per call,
besides those of its own callees. Inlined (in numba's IR, before lowering), the kernel's
arguments are the caller's variables and that work goes: the nonzero sweep of the sparse
benchmark's captured call 96 took 5.6-5.9 -> 5.2-5.6 ms (docs/penalties.md, "Sixteenth
pass"). A kernel called directly from Python still runs as a compiled kernel of its own.

Without numba, the function itself. numba's disk cache keys a caller on its own file: an
inlined kernel lives in its callers' module (else, after a change to it, delete their
caches).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mnlogit.objective.compiled import FASTMATH, HAVE_NUMBA, compiled

__all__ = ["inlined"]


def inlined(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` compiled as :func:`~mnlogit.objective.compiled.compiled` does (cached on
    disk, the GIL released) and inlined into the compiled kernels that call it, when numba
    is installed; ``func`` itself otherwise."""
    if HAVE_NUMBA:
        from numba import njit

        kernel: Callable[..., Any] = njit(
            cache=True, nogil=True, fastmath=FASTMATH, inline="always"
        )(func)
        return kernel
    return compiled(func)  # pragma: no cover
