"""SUN, Saliency Using Natural statistics (Zhang, Tong, Marks, Shan & Cottrell 2008), bottom-up part."""

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
from salscope.models.classical.spectral_residual import reject_center_prior
from salscope.models.registry import register_model


@dataclass
class SUN(SaliencyModel):
    """SUN bottom-up saliency: ``-log p(F)`` with feature statistics learned from natural images.

    Algorithm (Zhang et al. 2008, Section "Implementation", ICA features): the RGB image
    in [0, 1] is resized by ``scale``; each ``p×p×3`` neighbourhood is projected on ``K`` ICA
    filters (responses ``f_k`` relative to the training mean patch). Each response follows
    a generalised Gaussian fitted once on the natural-image training patches,
    ``p(f_k) ∝ exp(-|f_k/σ_k|^θ_k)``; assuming independence,

        ``-log p(F) = Σ_k |f_k/σ_k|^θ_k + const``,

    which is the map (the constant dropped). Unlike AIM the statistics come from the
    training set, not from the test image. The 'valid' map is padded with its minimum and
    resized to the input size (bicubic).

    Choices: the filters and their (σ, θ) are this project's own
    (``resources/ica/sun_11x11.npz``: 11×11×3 patches from scikit-image's bundled
    photographs, PCA then FastICA; see its README), with fewer components than the
    paper's 362; ``scale`` 0.5 is our choice (the paper does not fix the working
    resolution of the saliency map for free viewing), and the longer side is capped at
    ``max_dim``. SUN's location prior is taken as uniform in the paper's bottom-up model, so
    there is no centre prior (``center_prior`` must stay False); a constant image gives an
    all-zero map.

    Parameters
    ----------
    scale : float
        Resize factor applied first (0.5).
    max_dim : int
        Cap on the longer side after ``scale`` (512).
    filters : str or None
        Path of another ``.npz`` bank with ``filters``, ``mean``, ``ggd_sigma``, ``ggd_theta``.

    References
    ----------
    L. Zhang, M. H. Tong, T. K. Marks, H. Shan and G. W. Cottrell, "SUN: A Bayesian
    framework for saliency using natural statistics", Journal of Vision 8(7):32, 2008,
    Sections 3–4 (362 ICA filters of 11×11×3, generalised Gaussian fits).
    """

    kind: ClassVar[str] = "classical"

    scale: float = 0.5
    max_dim: int = 512
    filters: str | None = None
    center_prior: bool = False
    name: str = "sun"
    _bank: dict = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        reject_center_prior(self.name, self.center_prior)
        if not self.scale > 0 or self.max_dim < 1:
            raise ModelError(f"sun: need scale > 0 and max_dim >= 1; got {self.scale}, {self.max_dim}")
        self._bank = load_filter_bank("sun", self.filters)

    def saliency_map(self, image: np.ndarray) -> np.ndarray:
        """SUN map ``Σ_k |f_k/σ_k|^θ_k`` of ``image``, ``H×W`` float64."""
        rgb = as_rgb_image(image)
        h, w = rgb.shape[:2]
        if np.all(rgb == rgb[0, 0]):
            return np.zeros((h, w))  # constant image: every patch is equally (un)informative
        bank = self._bank
        filters = bank["filters"]
        p = filters.shape[1]
        offset = np.einsum("kyxc,yxc->k", filters.astype(np.float64), bank["mean"].astype(np.float64))
        sigma = bank["ggd_sigma"].astype(np.float64)
        theta = bank["ggd_theta"].astype(np.float64)
        img = prepare_image(rgb, self.scale, self.max_dim, p)
        rh, rw = img.shape[0] - p + 1, img.shape[1] - p + 1
        sal = np.zeros((rh, rw))
        for start, resp in valid_responses(img.astype(np.float32), filters):
            sl = slice(start, start + resp.shape[0])
            z = np.abs((resp - offset[sl, None, None]) / sigma[sl, None, None])
            sal += (z ** theta[sl, None, None]).sum(axis=0)
        return valid_map_to_image(sal, img.shape, p, (h, w))


@register_model("sun", kind="classical", center_prior_switch=True)
def _make(**kwargs) -> SUN:
    return SUN(**kwargs)
