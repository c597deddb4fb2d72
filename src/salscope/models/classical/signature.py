"""Image signature saliency (Hou, Harel & Koch 2012): the sign of the DCT."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.fft

from salscope.errors import ModelError
from salscope.models.base import SaliencyModel, as_rgb_image
from salscope.models.classical import _features
from salscope.models.classical.spectral_residual import (
    imfilter_gaussian,
    imresize,
    mat2gray,
    reject_center_prior,
)
from salscope.models.registry import register_model


def rgb2dkl(rgb: np.ndarray) -> np.ndarray:
    """DKL opponent channels (luminance, red–green, blue–yellow) of a float ``H×W×3`` RGB image in [0, 1].

    Harel's ``rgb2dkl.m`` as implemented once in :func:`salscope.models.classical._features.rgb2dkl`
    (8-bit lookup through the measured display gamma, LMS minus the adapting grey, DKL axes
    scaled to unit range); this form takes the channels stacked last.
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    return _features.rgb2dkl(rgb[..., 0], rgb[..., 1], rgb[..., 2])


def rgb2lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65 white, L in 0..100) of a float sRGB image, as Octave's/scikit-image's ``rgb2lab``."""
    v = np.asarray(rgb, dtype=np.float64)
    linear = np.where(v <= 0.04045, v / 12.92, ((np.maximum(v, 0.04045) + 0.055) / 1.055) ** 2.4)
    m = np.array(
        [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
    )
    xyz = linear @ m.T / np.array([0.95047, 1.0, 1.08883])
    eps = (6.0 / 29.0) ** 3
    f = np.where(xyz > eps, np.cbrt(np.maximum(xyz, eps)), xyz / (3 * (6.0 / 29.0) ** 2) + 4.0 / 29.0)
    return np.stack(
        [116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], axis=-1
    )


_COLOR_SPACES = ("lab", "dkl", "rgb")


@dataclass
class ImageSignature(SaliencyModel):
    """Image signature saliency: reconstruct each channel from the sign of its DCT.

    Algorithm (Hou, Harel & Koch 2012, ``signatureSal.m``): the RGB image in [0, 1] is
    resized (bicubic, antialiased) to ``map_width`` columns and converted to
    ``color_space``; per channel ``x̄ = IDCT(sign(DCT(x)))`` (orthonormal 2-D DCT-II), the map
    is the mean over channels of ``x̄²``, smoothed with ``fspecial('gaussian', round(4k), k)``
    where ``k = blur_sigma * map_width`` (zero padding), min–max scaled, and resized back
    to the input size (bicubic).

    Colour: the original's default Lab comes from MATLAB's ``makecform('srgb2lab')``
    (D50-adapted); here, as in the Octave reference maps, a D65 sRGB→Lab is used. ``'dkl'``
    is Harel's ``rgb2dkl``. No built-in centre prior (``center_prior`` must stay False). DCT
    coefficients at round-off level (below 1e-12 of the channel's largest) count as zero, and
    a constant image gives an all-zero map (the original returns the blur's border vignette).

    Parameters
    ----------
    color_space : {'lab', 'dkl', 'rgb'}
        Channels the signature is taken on ('lab' in the original defaults).
    map_width : int
        Width of the map the DCT is computed on (64).
    blur_sigma : float
        Gaussian sigma as a fraction of ``map_width`` (0.045).

    References
    ----------
    X. Hou, J. Harel and C. Koch, "Image Signature: Highlighting Sparse Salient Regions",
    IEEE TPAMI 34(1), 2012, Section 4; ``default_signature_param.m`` (LAB, 0.045, 64).
    """

    kind: ClassVar[str] = "classical"

    color_space: str = "lab"
    map_width: int = 64
    blur_sigma: float = 0.045
    center_prior: bool = False
    name: str = "signature"

    def __post_init__(self) -> None:
        reject_center_prior(self.name, self.center_prior)
        self.color_space = str(self.color_space).lower()
        if self.color_space not in _COLOR_SPACES:
            raise ModelError(f"signature: color_space must be one of {_COLOR_SPACES}, got {self.color_space!r}")
        if self.map_width < 1 or self.blur_sigma < 0:
            raise ModelError(
                f"signature: map_width must be >= 1 and blur_sigma >= 0, got {self.map_width}, {self.blur_sigma}"
            )

    def saliency_map(self, image: np.ndarray) -> np.ndarray:
        """Image signature map of ``image``, ``H×W`` float64 (values about [0, 1])."""
        rgb = as_rgb_image(image)
        h, w = rgb.shape[:2]
        small = imresize(rgb, scale=self.map_width / w) / 255.0
        if self.color_space == "lab":
            channels = rgb2lab(small)
        elif self.color_space == "dkl":
            channels = rgb2dkl(small)
        else:
            channels = small
        coefs = scipy.fft.dctn(channels, type=2, norm="ortho", axes=(0, 1))
        # Coefficients at round-off level (a flat channel) carry no sign: treat them as zero.
        noise = 1e-12 * np.abs(coefs).max(axis=(0, 1), keepdims=True)
        sign = np.where(np.abs(coefs) > noise, np.sign(coefs), 0.0)
        ac = sign.copy()
        ac[0, 0, :] = 0.0
        if not ac.any():
            # A flat image has only DC: the original would return the zero-padded blur's
            # vignette; a map with nothing salient is defined as all zeros instead.
            return np.zeros((h, w))
        recon = scipy.fft.idctn(sign, type=2, norm="ortho", axes=(0, 1))
        sal = np.mean(recon * recon, axis=2)
        if self.blur_sigma > 0:
            k = sal.shape[1] * self.blur_sigma
            size = max(int(np.floor(4 * k + 0.5)), 1)  # MATLAB round() halves away from zero
            sal = imfilter_gaussian(sal, size, k)
        return imresize(mat2gray(sal), output_shape=(h, w))


@register_model("signature", kind="classical", center_prior_switch=True)
def _make(**kwargs) -> ImageSignature:
    return ImageSignature(**kwargs)
