"""Reinterpret float64 <-> int64 bits inside numba kernels (LLVM ``bitcast``, no memory trip).

Numba has no scalar ``view``; these two intrinsics give it, and keep loops that use them
vectorisable (``scoring/tanh.py`` builds 2**k from an exponent this way).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def f64_from_bits(typingctx, i):
    """The float64 whose IEEE-754 bits are the int64 ``i``."""
    if not isinstance(i, types.Integer) or i.bitwidth != 64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(i), codegen


@intrinsic
def bits_from_f64(typingctx, x):
    """The IEEE-754 bits of the float64 ``x``, as an int64."""
    if x != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(x), codegen
