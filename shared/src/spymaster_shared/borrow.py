"""``borrow(a)``: a view of array ``a`` without reference counting, for use inside a kernel.

Numba reference-counts every array passed to a compiled function (atomic increments and
decrements on entry and exit). Inside one kernel call the caller's arrays outlive every
helper call, so helpers can take borrowed views (null meminfo: the refcount calls become
no-ops). A borrowed view must not outlive the kernel call that made it (never returned).

Borrow only a kernel's *arguments*: their owners (the caller's arrays) live for the whole
call. Never rebind an array the kernel allocates (``x = borrow(np.empty(n))``): the view
does not keep it alive, numba frees it at once and the kernel then writes freed memory.
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def borrow(typingctx, arr):
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, sig, args):
        src = context.make_array(sig.args[0])(context, builder, args[0])
        dst = context.make_array(sig.return_type)(context, builder)
        for name in ("nitems", "itemsize", "data", "shape", "strides"):
            setattr(dst, name, getattr(src, name))
        dst.meminfo = cgutils.get_null_value(dst.meminfo.type)
        dst.parent = cgutils.get_null_value(dst.parent.type)
        return dst._getvalue()

    return arr(arr), codegen
