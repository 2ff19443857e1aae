"""Numba kernels of the forward projection of a signal score (see ``docs/scoring.md``).

State ``hist`` float64 (3,): the previous three scores s[t-1], s[t-2], s[t-3] (NaN = none).
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def project_step(score, hist, h, damp, use_cubic, cubic_scale, out):
    """Project ``score`` = s[t] over each horizon h (bins, float); writes ``out`` (n_h,).

    Backward differences per bin: s' = s0 - s1, s'' = s0 - 2 s1 + s2,
    s''' = s0 - 3 s1 + 3 s2 - s3. p(h) = clip((s0 + s' h + s'' h^2 / 2
    [+ cubic_scale s''' h^3]) * damp(h), -1, 1), damp(h) = exp(-lambda h_seconds) given.
    NaN while any difference it needs is NaN (fewer than 3, or 4 with the cubic term,
    finite scores in a row).
    """
    s0 = score
    s1 = hist[0]
    s2 = hist[1]
    s3 = hist[2]
    d1 = s0 - s1
    d2 = (s0 - 2.0 * s1) + s2
    d3 = ((s0 - 3.0 * s1) + 3.0 * s2) - s3
    ready = math.isfinite(d2) and (math.isfinite(d3) or not use_cubic)
    for i in range(h.shape[0]):
        if not ready:
            out[i] = math.nan
            continue
        hh = h[i]
        v = s0 + d1 * hh + 0.5 * d2 * hh * hh
        if use_cubic:
            v = v + cubic_scale * d3 * hh * hh * hh
        v = v * damp[i]
        out[i] = min(1.0, max(-1.0, v))
    hist[2] = s2
    hist[1] = s1
    hist[0] = s0


@njit(cache=True)
def project_run(scores, hist, h, damp, use_cubic, cubic_scale, out):
    """Batch: ``project_step`` on every score in order; ``out`` (n_bins, n_h)."""
    for t in range(scores.shape[0]):
        project_step(scores[t], hist, h, damp, use_cubic, cubic_scale, out[t])
