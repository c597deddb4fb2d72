"""Percentile bootstrap intervals over units (images, arrays): of a mean, and of a paired mean difference.

``bootstrap_mean(v, w)`` resamples the units with replacement and takes the
95 % percentile interval of the (weighted) mean ``Σ w v / Σ w`` over the
resamples; ``paired_bootstrap(a, b)`` does the same for ``mean(a − b)`` when two
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


def bootstrap_mean(values, weights=None, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                   chunk: int = 256) -> tuple[float, float | None, float | None]:
    """``(mean, lo, hi)``: the mean of per-unit ``values`` and its percentile interval over resampled units.

    ``weights`` (one per unit, ≥ 0) make it the weighted mean ``Σ w v / Σ w``
    — a mean pooled over fixations, from per-image means and fixation counts —
    and a resample then draws units, not fixations. Non-finite values are left
    out with their weights. ``n_boot = 0`` (or fewer than 2 units) gives no
    interval (``lo = hi = None``). Resample ``k`` draws ``rng.integers(0, n, n)``
    from ``default_rng(seed)``: same seed and units, same interval.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise AnalysisError(f"bootstrap_mean: values must be 1-D, got shape {v.shape}")
    if not 0 < level < 1:
        raise AnalysisError(f"bootstrap level={level!r}: give a coverage between 0 and 1 (e.g. 0.95)")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise AnalysisError(f"n_boot={n_boot!r}: give a whole number of resamples >= 0 (0 = no interval)")
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != v.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise AnalysisError(f"bootstrap_mean: weights {w.shape} must be finite, >= 0 and one per value {v.shape}")
    keep = np.isfinite(v)
    v = v[keep]
    w = None if w is None else w[keep]
    if v.size == 0 or (w is not None and w.sum() == 0):
        return float("nan"), None, None
    point = float(v.mean()) if w is None else float((w * v).sum() / w.sum())
    if n_boot <= 0 or v.size < 2:
        return point, None, None
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, v.size, size=(stop - start, v.size))
        if w is None:
            means[start:stop] = v[idx].mean(1)
        else:
            ww = w[idx]
            with np.errstate(invalid="ignore", divide="ignore"):  # a resample of zero-weight units only: NaN
                means[start:stop] = (ww * v[idx]).sum(1) / ww.sum(1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.nanpercentile(means, [tail, 100 - tail])
    return point, float(lo), float(hi)


def paired_bootstrap(a, b, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                     chunk: int = 256) -> tuple[float, float | None, float | None]:
    """``(mean(a − b), lo, hi)``: the mean paired difference and its percentile interval.

    ``a``, ``b``: per-unit scores of two models on the same units (NaN pairs are
    left out). ``n_boot = 0`` gives no interval (``lo = hi = None``). The
    interval is :func:`bootstrap_mean` of the differences.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise AnalysisError(f"paired_bootstrap: a {a.shape} and b {b.shape} must be 1-D of the same length")
    return bootstrap_mean(a - b, n_boot=n_boot, seed=seed, level=level, chunk=chunk)
