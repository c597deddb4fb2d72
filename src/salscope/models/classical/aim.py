"""AIM, Attention based on Information Maximization (Bruce & Tsotsos 2006)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from salscope.errors import ModelError
from salscope.models.base import SaliencyModel, as_rgb_image
from salscope.models.classical.ica import (
    load_filter_bank,
    prepare_image,
    valid_map_to_image,
    valid_responses,
)
from salscope.models.classical.spectral_residual import (
    imfilter_gaussian,
    reject_center_prior,
)
from salscope.models.registry import register_model


@dataclass
class AIM(SaliencyModel):
    """AIM: self-information of local ICA coefficients, densities estimated on the image itself.

    Algorithm (Bruce & Tsotsos, ``AIM.m``, density method 1, scaling type 1):

    1. the RGB image in [0, 1] is resized by ``scale`` (MATLAB bicubic);
    2. every ``p×p×3`` neighbourhood is projected on ``K`` ICA filters (correlation,
       'valid' region), giving coefficient maps ``s_k``;
    3. all maps are scaled together to [0, 1] with the global min and max; each map's
       density is a ``bins``-bin histogram over the image, ``p_k = hist_k(round(s_k·(bins-1)))/N``;
    4. saliency is the summed self-information ``Σ_k -log(p_k + 1e-6)`` (features assumed
       independent), optionally smoothed by ``fspecial('gaussian', [30 30], 8)``
       (``convolve``); the map is padded back to the resized image with its minimum (as
       the original) and resized to the input size (bicubic).

    Choices: the filters are this project's own (``resources/ica/aim_21x21.npz``,
    learned by :mod:`salscope.models.classical.ica` from scikit-image's bundled photographs,
    21×21×3 patches, PCA to 95 % variance then FastICA), not Bruce's ``21jade950.mat``;
    ``scale`` 0.5 is the value of the code's documented usage (the function's own default is
    1.0); the resized image's longer side is capped at ``max_dim`` to bound memory, and an
    image too small for one patch is enlarged to the patch size. AIM has no centre prior
    (``center_prior`` must stay False); a constant image gives an all-zero map.

    Parameters
    ----------
    scale : float
        Resize factor applied first (0.5).
    bins : int
        Histogram bins per feature (256).
    convolve : bool
        Smooth the information map with a Gaussian, σ = 8 px, 30×30 (False).
    max_dim : int
        Cap on the longer side after ``scale`` (512; no effect on 800×600 images).
    filters : str or None
        Path of another ``.npz`` filter bank (same layout), or None for the shipped one.

    References
    ----------
    N. D. B. Bruce and J. K. Tsotsos, "Saliency Based on Information Maximization",
    NIPS 18, 2006; "Saliency, attention, and visual search: An information theoretic
    approach", Journal of Vision 9(3):5, 2009.
    """

    kind: ClassVar[str] = "classical"

    scale: float = 0.5
    bins: int = 256
    convolve: bool = False
    max_dim: int = 512
    filters: str | None = None
    center_prior: bool = False
    name: str = "aim"
    _bank: dict = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        reject_center_prior(self.name, self.center_prior)
        if not self.scale > 0 or self.bins < 2 or self.max_dim < 1:
            raise ModelError(
                f"aim: need scale > 0, bins >= 2, max_dim >= 1; got {self.scale}, {self.bins}, {self.max_dim}"
            )
        self._bank = load_filter_bank("aim", self.filters)

    def saliency_map(self, image: np.ndarray) -> np.ndarray:
        """AIM self-information map of ``image``, ``H×W`` float64 (nats, up to the padding)."""
        rgb = as_rgb_image(image)
        h, w = rgb.shape[:2]
        if np.all(rgb == rgb[0, 0]):
            return np.zeros((h, w))  # constant image: every patch is equally (un)informative
        filters = self._bank["filters"]
        k, p = filters.shape[0], filters.shape[1]
        img = prepare_image(rgb, self.scale, self.max_dim, p)
        rh, rw = img.shape[0] - p + 1, img.shape[1] - p + 1
        coeffs = np.empty((k, rh, rw), dtype=np.float32)
        for start, resp in valid_responses(img.astype(np.float32), filters):
            coeffs[start : start + resp.shape[0]] = resp
        lo, hi = float(coeffs.min()), float(coeffs.max())
        if not hi > lo:
            return np.zeros((h, w))
        info = np.zeros((rh, rw))
        step = (self.bins - 1) / (hi - lo)
        for start in range(0, k, 16):  # feature blocks keep the integer/float temporaries small
            block = coeffs[start : start + 16]
            idx = np.floor((block - lo) * step + 0.5).astype(np.int64)
            np.clip(idx, 0, self.bins - 1, out=idx)
            idx += (np.arange(block.shape[0]) * self.bins)[:, None, None]
            hist = np.bincount(idx.ravel(), minlength=block.shape[0] * self.bins) / (rh * rw)
            info += -np.log(hist + 1e-6)[idx].sum(axis=0)
        if self.convolve:
            info = imfilter_gaussian(info, 30, 8.0)
        return valid_map_to_image(info, img.shape, p, (h, w))


@register_model("aim", kind="classical", center_prior_switch=True)
def _make(**kwargs) -> AIM:
    return AIM(**kwargs)
