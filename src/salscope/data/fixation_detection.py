"""Fixations from raw gaze samples: velocity-threshold identification (I-VT).

The data sets that ship raw eye-tracker samples instead of fixations (MIT1003's
``DATA/<subject>/<image>.mat``) go through :func:`detect_fixations`; the recording's
sampling rate and pixels per degree are the caller's to give.
"""

from __future__ import annotations

import numpy as np


def detect_fixations(x: np.ndarray, y: np.ndarray, width: int, height: int, *, rate_hz: float, ppd: float,
                     velocity_threshold: float = 30.0, min_duration_ms: float = 100.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Velocity-threshold (I-VT) fixation detection on raw gaze samples.

    A sample belongs to a fixation when it lies on the image (``0 <= x < W``,
    ``0 <= y < H``; blinks and off-screen samples do not) and the gaze speed to
    the next sample, ``|Δp| · rate / ppd``, is below ``velocity_threshold`` deg/s.
    Runs of such samples lasting at least ``min_duration_ms`` are fixations, placed
    at the median of their samples. Returns ``(x, y, start_ms, duration_ms)``.

    ``rate_hz`` is the tracker's sampling rate and ``ppd`` the set-up's pixels per
    degree of visual angle (MIT1003: 240 Hz, 35 px/deg; see
    :mod:`salscope.data.loaders.mit1003`).

    References
    ----------
    Salvucci, D. D., Goldberg, J. H. "Identifying fixations and saccades in
    eye-tracking protocols", ETRA 2000 (I-VT). Judd et al.'s ``checkFixations.m``
    (MIT1003) uses its own thresholds; results differ in detail.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    n = x.size
    if n == 0:
        z = np.zeros(0)
        return z, z, z, z
    valid = np.isfinite(x) & np.isfinite(y) & (x >= -0.5) & (x < width - 0.5) & (y >= -0.5) & (y < height - 0.5)
    speed = np.full(n, np.inf)
    speed[:-1] = np.hypot(np.diff(x), np.diff(y)) * rate_hz / ppd
    speed[-1] = speed[-2] if n > 1 else 0.0
    slow = valid & (speed < velocity_threshold)
    edges = np.diff(np.concatenate([[0], slow.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    durations = (ends - starts) * 1000.0 / rate_hz
    keep = durations >= min_duration_ms
    starts, ends, durations = starts[keep], ends[keep], durations[keep]
    fx = np.array([np.median(x[a:b]) for a, b in zip(starts, ends)])
    fy = np.array([np.median(y[a:b]) for a, b in zip(starts, ends)])
    return fx, fy, starts * 1000.0 / rate_hz, durations
