"""Room in a compiled kernel's own stack frame: ``local_doubles()`` is a float64 array of
``LOCAL_DOUBLES`` values that no argument of the kernel can alias.

A kernel that sums into an array passed in (``out[k] += ...`` in a loop over rows) must
store every sum back at each row: the compiler cannot tell that ``out`` is not the same
memory as the rows it reads, so it can neither keep the sums in registers nor vectorize
the class loop without checks. Summing into a local array instead and copying it out at
the end lets it: the sparse lasso's gradient pass over the sparse benchmark's 5,000
columns took 3.1-3.4 -> 1.6-1.9 ms (measured in docs/penalties.md, "Fifteenth pass").

With numba, an intrinsic emitting an ``alloca`` in the calling function (the array lives
until that function returns: it must never be returned or stored anywhere that outlives
it; it carries no memory-manager record); without numba, a new array. The values start
undefined. numba's disk cache keys a kernel on its own file: after a change here, delete
the caches of the modules that call it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mnlogit.objective.compiled import HAVE_NUMBA

__all__ = ["LOCAL_DOUBLES", "local_doubles"]

#: Values in :func:`local_doubles`' array (a kernel with more to sum takes another way).
LOCAL_DOUBLES = 16


if HAVE_NUMBA:  # pragma: no branch - exercised by whichever is installed
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def _local_doubles(typingctx: Any) -> Any:
        """A C-contiguous float64 array (LOCAL_DOUBLES,) on the caller's stack."""
        arrty = types.Array(types.float64, 1, "C")
        sig = arrty()

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            size = context.get_constant(types.intp, LOCAL_DOUBLES)
            item = context.get_constant(types.intp, 8)
            data = cgutils.alloca_once(builder, context.get_data_type(types.float64), size=size)
            model = context.data_model_manager[arrty]
            value = cgutils.get_null_value(context.get_value_type(arrty))  # (no meminfo)
            fields = {
                "nitems": size,
                "itemsize": item,
                "data": data,
                "shape": cgutils.pack_array(builder, [size]),
                "strides": cgutils.pack_array(builder, [item]),
            }
            for name, field in fields.items():
                value = builder.insert_value(value, field, model.get_field_position(name))
            return value

        return sig, codegen

    local_doubles: Any = _local_doubles
else:  # pragma: no cover

    def local_doubles() -> Any:
        """Without numba: a new array (LOCAL_DOUBLES,)."""
        return np.empty(LOCAL_DOUBLES)
