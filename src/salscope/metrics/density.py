"""The empirical fixation density (gold map of CC, KLD, SIM): blurred fixation counts, tile by tile.

``fixation_density`` equals ``scipy.ndimage.gaussian_filter(counts, sigma,
mode="constant", truncate=4)`` normalised to sum 1 (to rounding): the blur
of a count map is ``sum_f k_r(f) k_c(f)^T`` with one truncated, normalised 1-D
kernel per fixation and axis. Each output tile (``block``² pixels) multiplies
only the fixations whose kernel reaches it, their kernel pieces cut straight
out of one zero-padded kernel (no per-fixation full-length rows), and is
written once, already normalised: the sum of the blurred counts is known
beforehand (each fixation's kernel mass inside the image, rows times
columns) and divides the column kernel.
"""

from __future__ import annotations

import numpy as np


def _kernel(sigma_px: float, truncate: float) -> tuple[np.ndarray, int]:
    radius = int(truncate * sigma_px + 0.5)
    taps = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (taps / sigma_px) ** 2)
    kernel /= kernel.sum()
    return kernel, radius


def _windows(kernel: np.ndarray, radius: int, length: int) -> tuple[np.ndarray, int]:
    """All ``length``-sample windows of the zero-padded kernel, and the offset ``z``.

    Row ``t0 - p + z`` is the kernel centred at position ``p`` sampled at
    ``t0 .. t0 + length - 1`` (for any ``p`` within ``radius`` of that range).
    """
    z = radius + length - 1
    pad = np.zeros(2 * radius + 2 * length - 1)
    pad[z - radius : z + radius + 1] = kernel
    return np.lib.stride_tricks.sliding_window_view(pad, length), z


def fixation_density(
    rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], sigma_px: float, truncate: float = 4.0, block: int = 150
) -> np.ndarray:
    """Blurred fixation counts, normalised: ``gaussian_filter(counts, sigma_px, mode="constant", truncate=truncate)``.

    Parameters
    ----------
    rows, cols : int arrays
        Fixated pixels (inside ``shape``), duplicates counted.
    shape : (H, W)
    sigma_px : float
        Gaussian standard deviation in pixels (1° of visual angle for the gold maps).

    Returns
    -------
    (H, W) float64 array summing to 1 (all zeros never: at least one fixation is needed).

    References
    ----------
    pysaliency 0.2.22 ``FixationMap`` (``kernel_size`` = sigma, ``convolution_mode="constant"``);
    Kümmerer, Wallis, Bethge, "Saliency benchmarking made easy", ECCV 2018.
    """
    h, w = int(shape[0]), int(shape[1])
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    kernel, radius = _kernel(float(sigma_px), float(truncate))
    # the blurred counts' sum, known before blurring: each fixation's kernel mass inside the image, rows
    # times columns; dividing the column kernel by it makes the tiles come out normalised (no extra pass)
    total = float(np.dot(_mass_inside(kernel, radius, rows, h), _mass_inside(kernel, radius, cols, w)))
    win_r, zr = _windows(kernel, radius, min(block, h))
    win_c, zc = _windows(kernel / total, radius, min(block, w))
    dens = np.empty((h, w))
    col_starts = range(0, w, block)
    col_near = [(cols + radius >= c0) & (cols - radius < c0 + block) for c0 in col_starts]
    for r0 in range(0, h, block):
        near_r = (rows + radius >= r0) & (rows - radius < r0 + block)
        lr = min(block, h - r0)
        for c0, near_c in zip(col_starts, col_near):
            lc = min(block, w - c0)
            tile = dens[r0 : r0 + lr, c0 : c0 + lc]
            near = np.flatnonzero(near_r & near_c)
            if near.size == 0:
                tile[...] = 0.0
                continue
            kr = win_r[r0 - rows[near] + zr, :lr]  # (F_near, lr): each fixation's row kernel on this tile
            kc = win_c[c0 - cols[near] + zc, :lc]
            np.matmul(kr.T, kc, out=tile)
    return dens


def _mass_inside(kernel: np.ndarray, radius: int, pos: np.ndarray, length: int) -> np.ndarray:
    """Sum of the kernel centred at each ``pos`` over the samples ``0 .. length - 1`` (less than 1 near a border)."""
    cum = np.concatenate([[0.0], np.cumsum(kernel)])
    lo = np.maximum(radius - pos, 0)
    hi = np.minimum(radius + length - pos, 2 * radius + 1)
    return cum[hi] - cum[lo]
