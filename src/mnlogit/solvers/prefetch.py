"""A software prefetch for the compiled kernels: ``prefetch(R, i, c)`` asks the CPU to bring
the cache line holding ``R[i, c]`` (a C-contiguous 2-D array) towards L1 before it is read.

The sparse lasso's block steps read about 40 random rows of the row records per feature
(:func:`mnlogit.solvers.coordinate_descent._record_gradient`); the hardware prefetchers
cannot guess those rows, so each row visit waits for memory. Asking for the rows a few
visits ahead (the column's row indices are known) overlaps those waits: 4.8-5.1 -> 3.5-3.6
ms for the gradient and move passes over the sparse benchmark's 5,000 columns (measured in
docs/penalties.md, "Thirteenth pass").

With numba, an intrinsic emitting LLVM's ``llvm.prefetch`` (a hint: no effect on any
value, no fault on any address); without numba, a Python function that does nothing.
The hint asks for the line to be written (``rw = 1``: the move pass after the class steps
writes the same records when the feature moves). numba's disk cache keys a kernel on its
own file: after a change here, delete the caches of the modules that call it.
"""

from __future__ import annotations

from typing import Any

from mnlogit.objective.compiled import HAVE_NUMBA

__all__ = ["prefetch"]


if HAVE_NUMBA:  # pragma: no branch - exercised by whichever is installed
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def _prefetch(typingctx: Any, R: Any, i: Any, c: Any) -> Any:
        """``llvm.prefetch`` of ``&R[i, c]`` (for a write, the highest locality, data)."""
        sig = types.void(R, i, c)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            aty, ity, cty = signature.args
            row = context.cast(builder, args[1], ity, types.intp)
            col = context.cast(builder, args[2], cty, types.intp)
            ary = context.make_array(aty)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, aty, ary, [row, col], wraparound=False)
            i8p = ir.IntType(8).as_pointer()
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
            rw, locality, cache = ir.Constant(i32, 1), ir.Constant(i32, 3), ir.Constant(i32, 1)
            builder.call(fn, [builder.bitcast(ptr, i8p), rw, locality, cache])
            return context.get_dummy_value()

        return sig, codegen

    prefetch: Any = _prefetch
else:  # pragma: no cover

    def prefetch(R: Any, i: int, c: int) -> None:
        """Without numba: nothing (a prefetch changes no value)."""
