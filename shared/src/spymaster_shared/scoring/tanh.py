"""tanh of our own for the score blend: vectorisable, and the same bits on every machine.

libm's ``tanh`` is a scalar call (~17 ns; 303 of them were a sixth of a live scorer update)
and numpy's ``np.tanh`` picks a SIMD routine by CPU, so its bits depend on the machine. This
one uses only IEEE-754 add, multiply, divide and bit moves (numba emits no FMA contraction),
so a loop over it vectorises and gives identical results on any machine: research and live
agree to the bit even when they run on different hardware.

    tanh(x) = sign(x) · e / (e + 2),  e = expm1(2|x|)      (|x| <= 22)
    tanh(x) = sign(x)                                      (|x| > 22: rounds to ±1 exactly)
    tanh(x) = x                                            (|x| < 2**-28)

expm1(y) = 2**k · (expm1(r) + 1) − 1 with k = round(y / ln 2) and r = y − k ln 2 (Cody–Waite,
|r| <= ln 2 / 2); expm1(r) by its Taylor series to r**13 (the next term is below 2**-56 · r).
Error: at most 2 ulp from the exact tanh (`tests/scoring/test_tanh.py`); NaN stays NaN,
±0.0 keeps its sign, ±inf gives ±1.
"""

from __future__ import annotations

import math

from numba import njit

from spymaster_shared.bitcast import bits_from_f64, f64_from_bits

LN2_HI = 6.93147180369123816490e-01  # ln 2 split (fdlibm): LN2_HI has 32 trailing zero bits,
LN2_LO = 1.90821492927058770002e-10  # so k * LN2_HI is exact for |k| < 2**20
INV_LN2 = 1.44269504088896338700e00
SHIFTER = 6755399441055744.0  # 1.5 * 2**52: y + SHIFTER rounds y to an integer in the low bits
TINY = 3.725290298461914e-09  # 2**-28: below it tanh(x) rounds to x
SATURATE = 22.0  # above it tanh(x) rounds to 1
# 1 / k! for k = 2..13
C2, C3, C4, C5 = 1 / 2, 1 / 6, 1 / 24, 1 / 120
C6, C7, C8, C9 = 1 / 720, 1 / 5040, 1 / 40320, 1 / 362880
C10, C11, C12, C13 = 1 / 3628800, 1 / 39916800, 1 / 479001600, 1 / 6227020800


@njit(cache=True, inline="always", error_model="numpy")
def expm1_small_pos(y):
    """e**y − 1 for 0 <= y <= 44, without a branch."""
    t = y * INV_LN2 + SHIFTER
    k = bits_from_f64(t) - bits_from_f64(SHIFTER)  # round(y / ln 2), as an integer
    kf = t - SHIFTER  # the same, as a float
    r = (y - kf * LN2_HI) - kf * LN2_LO
    p = C13
    p = p * r + C12
    p = p * r + C11
    p = p * r + C10
    p = p * r + C9
    p = p * r + C8
    p = p * r + C7
    p = p * r + C6
    p = p * r + C5
    p = p * r + C4
    p = p * r + C3
    p = p * r + C2
    em = r + (r * r) * p  # e**r − 1
    two_k = f64_from_bits((k + 1023) << 52)
    return two_k * em + (two_k - 1.0)


@njit(cache=True, inline="always", error_model="numpy")
def tanh(x):
    """tanh(x) within 2 ulp, branch-free (the module docstring has the formulas)."""
    ax = abs(x)
    y = 2.0 * ax
    y = 44.0 if y > 44.0 else y
    e = expm1_small_pos(y)
    t = e / (e + 2.0)
    t = ax if ax < TINY else t
    t = 1.0 if ax > SATURATE else t
    return math.copysign(t, x)


@njit(cache=True, error_model="numpy")
def tanh_array(x, out):
    """out[i] = tanh(x[i]) for 1-D float64 arrays (the reference for tests and numpy code)."""
    for i in range(x.shape[0]):
        out[i] = tanh(x[i])
