"""Paired bootstrap intervals for differences of per-unit scores (images, arrays).

``paired_bootstrap(a, b)`` resamples the units (with replacement) and takes the
95 % percentile interval of ``mean(a) − mean(b)`` over the resamples; the two
models are scored on the same units, so the pairing removes the units' shared
difficulty from the interval.

References
----------
Efron, B., Tibshirani, R. J. An Introduction to the Bootstrap. Chapman & Hall,
1993, ch. 13 (percentile intervals).
"""

from __future__ import annotations

import numpy as np

from salscope.errors import AnalysisError


def paired_bootstrap(a, b, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                     chunk: int = 256) -> tuple[float, float | None, float | None]:
    """``(mean(a − b), lo, hi)``: the mean paired difference and its percentile interval.

    ``a``, ``b``: per-unit scores of two models on the same units (NaN pairs are
    left out). ``n_boot = 0`` gives no interval (``lo = hi = None``).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise AnalysisError(f"paired_bootstrap: a {a.shape} and b {b.shape} must be 1-D of the same length")
    d = (a - b)[np.isfinite(a) & np.isfinite(b)]
    if d.size == 0:
        return float("nan"), None, None
    point = float(d.mean())
    if n_boot <= 0 or d.size < 2:
        return point, None, None
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        means[start:stop] = d[rng.integers(0, d.size, size=(stop - start, d.size))].mean(1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return point, float(lo), float(hi)
