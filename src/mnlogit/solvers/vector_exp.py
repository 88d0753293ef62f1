"""An ``exp`` for the compiled kernels that the compiler can vectorize: :func:`exp_lanes`.

numba's ``np.exp`` / ``math.exp`` on a scalar is a call into the C library per value: a
loop over them runs one value at a time (the sparse lasso's softmax pass, 200,000 values
a call, took 1.4 ms, where NumPy's SIMD ``np.exp`` over the same values takes 0.15 ms;
docs/penalties.md, "Seventeenth pass"). :func:`exp_lanes` is written in operations LLVM
has vector forms of (multiply-adds, ``floor``, integer shifts, a bit cast), and is
inlined into its callers, so a loop over a contiguous array of ``exp_lanes`` calls runs
4 values at a time (0.27 ms for 200,000).

The method (Cody and Waite's reduction, as in fdlibm): ``x = k ln 2 + r`` with ``k`` the
nearest integer to ``x / ln 2`` and ``|r| <= ln 2 / 2``, ``ln 2`` split in two parts so that
``r`` is exact to a few ulps of itself; ``exp(r)`` by its Taylor polynomial to degree 13
(the remainder below ``4e-18`` relative) in Horner's form; then ``2^k`` as two powers of
two built from their bits (``2^(k - k // 2)`` and ``2^(k // 2)``, each a normal number for
every ``k`` of the domain, so subnormal results are rounded once, at the last product).
Measured against NumPy's ``np.exp`` (``tests/solvers/test_vector_exp.py``): within 1 ulp
for normal results, within one subnormal step below them, exactly 0 below ``-745.14``, inf
above ``709.79``, NaN for NaN, ``exp(-inf) = 0``.

With numba, ``_bits_to_double`` is an intrinsic (LLVM's ``bitcast`` of an int64 to a
double); without numba, NumPy's view. numba's disk cache keys a kernel on its own file:
after a change here, delete the caches of the modules that call :func:`exp_lanes`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mnlogit.objective.compiled import HAVE_NUMBA, inlined

__all__ = ["exp_lanes"]

#: ``1 / ln 2``.
LOG2E = 1.4426950408889634
#: ``ln 2`` in two parts: the first with its low 32 bits zero (``k * LN2_HI`` is exact for
#: every ``|k| < 2^20``), the second the rest (fdlibm's ``ln2HI``, ``ln2LO``).
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
#: Below this ``exp`` rounds to 0, above the other it overflows (the arguments are clamped
#: there so that ``k`` stays within ``[-1077, 1025]``).
LOW = -746.0
HIGH = 710.0


if HAVE_NUMBA:  # pragma: no branch - exercised by whichever is installed
    from llvmlite import ir
    from numba.core import types
    from numba.extending import intrinsic

    @intrinsic
    def _bits(typingctx: Any, i: Any) -> Any:
        """The float64 whose bits are the int64 ``i`` (LLVM's ``bitcast``)."""
        sig = types.float64(types.int64)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.bitcast(args[0], ir.DoubleType())

        return sig, codegen

    _bits_to_double: Any = _bits
else:  # pragma: no cover

    def _bits_to_double(i: int) -> float:
        """Without numba: NumPy's view of the int64 as a float64."""
        return float(np.array([i], dtype=np.int64).view(np.float64)[0])


@inlined
def exp_lanes(x: float) -> float:
    """``exp(x)`` (float64), in operations a compiled loop vectorizes (module docstring).

    Parameters
    ----------
    x : float

    Returns
    -------
    float
        Within 1 ulp of ``np.exp(x)`` where that is a normal number, within one
        subnormal step where it is subnormal; 0 below ``-745.14``, inf above ``709.79``,
        NaN for NaN.
    """
    xc = LOW if x < LOW else x  # (comparisons with NaN are false: NaN goes through)
    xc = HIGH if xc > HIGH else xc
    kf = np.floor(xc * LOG2E + 0.5)
    r = xc - kf * LN2_HI
    r = r - kf * LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    kf = kf if kf > -1077.0 else -1077.0  # (NaN: any k; p is NaN)
    kf = kf if kf < 1025.0 else 1025.0
    k = np.int64(kf)
    half = k >> 1
    return p * _bits_to_double((k - half + 1023) << 52) * _bits_to_double((half + 1023) << 52)
