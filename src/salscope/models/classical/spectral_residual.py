"""Spectral residual saliency (Hou & Zhang 2007), the paper's recipe.

Also home of the MATLAB-compatible helpers (``imfilter`` with an ``fspecial``
Gaussian, ``rgb2gray``, ``mat2gray``; ``imresize`` is re-exported from
:mod:`salscope.metrics.resize`) that the spectral models of this package share,
so that their maps follow the authors' MATLAB code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.ndimage as ndi

from salscope.errors import ModelError
from salscope.metrics.resize import imresize  # noqa: F401 (MATLAB imresize, re-exported for the spectral models)
from salscope.models.base import SaliencyModel, as_rgb_image
from salscope.models.registry import register_model

# ---------------------------------------------------------------------------
# MATLAB-compatible helpers
# ---------------------------------------------------------------------------


def fspecial_gaussian_1d(size: int, sigma: float) -> np.ndarray:
    """1-D factor of MATLAB ``fspecial('gaussian', [size size], sigma)`` (the 2-D kernel is its outer product)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def imfilter_gaussian(image: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """MATLAB ``imfilter(image, fspecial('gaussian', [size size], sigma))``: zero padding, 'same'.

    For an even ``size`` MATLAB anchors the kernel at element ``size/2`` (1-based), i.e. it
    reaches ``size/2 - 1`` pixels back and ``size/2`` forward; scipy's ``origin=-1`` does the same.
    """
    g = fspecial_gaussian_1d(size, sigma)
    origin = -1 if size % 2 == 0 else 0
    out = ndi.correlate1d(np.asarray(image, dtype=np.float64), g, axis=0, mode="constant", origin=origin)
    return ndi.correlate1d(out, g, axis=1, mode="constant", origin=origin)


def rgb2gray_uint8(rgb: np.ndarray) -> np.ndarray:
    """MATLAB/Octave ``rgb2gray`` of a uint8 image: ITU-R 601 weights, rounded back to uint8."""
    weights = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])
    out = np.empty(rgb.shape[:2], np.uint8)
    for i in range(0, rgb.shape[0], 512):  # row blocks bound the float64 temporary
        out[i : i + 512] = np.clip(np.rint(rgb[i : i + 512].astype(np.float64) @ weights), 0, 255)
    return out


def mat2gray(arr: np.ndarray) -> np.ndarray:
    """MATLAB ``mat2gray``: min–max scale to [0, 1]; a constant array maps to zeros (no NaN)."""
    lo, hi = float(arr.min()), float(arr.max())
    if not hi > lo:
        return np.zeros_like(arr, dtype=np.float64)
    return (arr - lo) / (hi - lo)


def reject_center_prior(model: str, center_prior: bool) -> None:
    """Raise for ``center_prior=True`` on a model whose original has no centre prior."""
    if center_prior:
        raise ModelError(
            f"{model}: center_prior=True is not available, the original model has no built-in centre "
            "prior; combine it with the 'center_bias' model instead"
        )


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------


@dataclass
class SpectralResidual(SaliencyModel):
    """Spectral residual saliency: what the log amplitude spectrum does not predict.

    Algorithm (Hou & Zhang 2007, the published MATLAB recipe, ``GetSR.m``):

    1. grey image (``rgb2gray``, uint8), scaled to [0, 1] and resized (bicubic,
       antialiased) to ``map_width`` columns;
    2. ``A = log|F|``, ``P = angle(F)`` of its 2-D FFT;
       residual ``R = A - h_n * A`` with ``h_n`` an ``n×n`` mean filter (replicated border);
    3. ``S = |IFFT(exp(R + iP))|^2``, smoothed with ``fspecial('gaussian', [10 10], 2.5)``
       (zero padding), min–max scaled and resized back to the input size (bicubic).

    OpenCV's ``StaticSaliencySpectralResidual`` departs from this recipe (its own resize,
    no squaring before smoothing, different blur), so it is not used.

    There is no built-in centre prior (``center_prior`` must stay False). Frequencies with
    exactly zero amplitude get the log of the smallest positive float instead of -inf; a
    constant image gives an all-zero map.

    Parameters
    ----------
    map_width : int
        Width of the map the spectrum is computed on (64 in the paper).
    average_size : int
        Size ``n`` of the mean filter on the log amplitude (3).
    blur_size, blur_sigma : int, float
        Gaussian smoothing of the squared map, MATLAB ``fspecial`` size and sigma (10, 2.5).

    References
    ----------
    X. Hou and L. Zhang, "Saliency Detection: A Spectral Residual Approach", CVPR 2007,
    Sections 2–3 and the MATLAB code printed in the paper.
    """

    kind: ClassVar[str] = "classical"

    map_width: int = 64
    average_size: int = 3
    blur_size: int = 10
    blur_sigma: float = 2.5
    center_prior: bool = False
    name: str = "spectral_residual"

    def __post_init__(self) -> None:
        reject_center_prior(self.name, self.center_prior)
        if self.map_width < 1 or self.average_size < 1 or self.blur_size < 1 or not self.blur_sigma > 0:
            raise ModelError(
                f"spectral_residual: map_width, average_size, blur_size must be >= 1 and blur_sigma > 0, "
                f"got {self.map_width}, {self.average_size}, {self.blur_size}, {self.blur_sigma}"
            )

    def saliency_map(self, image: np.ndarray) -> np.ndarray:
        """Spectral residual map of ``image``, ``H×W`` float64 (values about [0, 1])."""
        rgb = as_rgb_image(image)
        h, w = rgb.shape[:2]
        small = imresize(rgb2gray_uint8(rgb), scale=self.map_width / w) / 255.0
        if np.ptp(small) <= 1e-12 * max(1.0, float(np.abs(small).max())):
            return np.zeros((h, w))  # constant image: no residual, and no NaN
        spectrum = np.fft.fft2(small)
        amplitude = np.abs(spectrum)
        log_amp = np.log(np.maximum(amplitude, np.finfo(np.float64).tiny))
        residual = log_amp - ndi.uniform_filter(log_amp, size=self.average_size, mode="nearest")
        sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
        sal = mat2gray(imfilter_gaussian(sal, self.blur_size, self.blur_sigma))
        return imresize(sal, output_shape=(h, w))


@register_model("spectral_residual", kind="classical", center_prior_switch=True)
def _make(**kwargs) -> SpectralResidual:
    return SpectralResidual(**kwargs)
