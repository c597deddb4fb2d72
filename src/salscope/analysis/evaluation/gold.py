"""Gold maps for the distribution metrics: the empirical density (tuebingen) and antonioGaussian (mit)."""

from __future__ import annotations

import numpy as np

from salscope import metrics as M
from salscope.metrics.density import fixation_density


def gaussian_density(
    rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], sigma_px: float, truncate: float = 4.0, block: int = 150
) -> np.ndarray:
    """Blurred fixation counts, normalised: ``scipy.ndimage.gaussian_filter(mode="constant")`` of the count map.

    :func:`salscope.metrics.density.fixation_density` (tile-wise products of
    truncated 1-D kernels, exact); equal to
    :meth:`salscope.data.Fixations.density` to rounding.
    """
    return fixation_density(rows, cols, shape, sigma_px, truncate, block)


def mit_gold(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    binary = np.zeros(shape)
    binary[rows, cols] = 1.0
    return np.maximum(M.antonio_gaussian(binary, 8.0), 0.0)
