"""Image signature saliency (Hou, Harel & Koch 2012): the sign of the DCT."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from salscope.errors import ModelError
from salscope.models.base import SaliencyModel, as_rgb_image
from salscope.models.classical.spectral_residual import imfilter_gaussian, imresize, mat2gray, reject_center_prior
from salscope.models.registry import register_model

# Display gamma of Harel's rgb2dkl.m (GBVS util/): the measured 256-entry lookup table is
# linear between these knots at 8-bit levels 0, 5, 10, ..., 255 (one column per R, G, B).
_DKL_GAMMA_KNOTS = np.array(
    [
        [0.024935, 0.0076954, 0.042291], [0.02513, 0.0079158, 0.042566], [0.025649, 0.0082966, 0.042841],
        [0.026136, 0.0088978, 0.043392], [0.026623, 0.0096994, 0.043943], [0.027597, 0.010802, 0.044934],
        [0.028896, 0.011764, 0.046366], [0.029935, 0.013287, 0.047797], [0.031623, 0.01517, 0.050441],
        [0.034286, 0.017856, 0.053414], [0.037662, 0.022044, 0.058811], [0.042468, 0.028056, 0.064978],
        [0.049416, 0.036072, 0.074119], [0.058442, 0.046493, 0.085903], [0.068182, 0.057715, 0.096366],
        [0.07987, 0.069739, 0.10914], [0.091558, 0.082766, 0.12225], [0.1039, 0.096994, 0.13767],
        [0.11883, 0.11343, 0.15529], [0.13506, 0.13106, 0.17401], [0.15325, 0.1507, 0.19493],
        [0.17338, 0.17315, 0.21806], [0.19675, 0.19719, 0.24229], [0.22078, 0.22244, 0.26872],
        [0.2474, 0.2505, 0.29626], [0.27532, 0.28056, 0.32599], [0.30649, 0.31263, 0.35793],
        [0.33701, 0.34469, 0.38767], [0.36818, 0.37675, 0.4174], [0.3987, 0.40882, 0.44604],
        [0.42987, 0.44088, 0.47577], [0.46169, 0.47094, 0.5033], [0.49286, 0.501, 0.52863],
        [0.51883, 0.53106, 0.55507], [0.54675, 0.55912, 0.57819], [0.57208, 0.58517, 0.60242],
        [0.59545, 0.60922, 0.62225], [0.62143, 0.63327, 0.64648], [0.64351, 0.65731, 0.6685],
        [0.66883, 0.67735, 0.68943], [0.68831, 0.69739, 0.71035], [0.70779, 0.72144, 0.72907],
        [0.72727, 0.73948, 0.7511], [0.75325, 0.75952, 0.77093], [0.77273, 0.78156, 0.79626],
        [0.7987, 0.80762, 0.82159], [0.83117, 0.83367, 0.84802], [0.85714, 0.85972, 0.87225],
        [0.88961, 0.89178, 0.90198], [0.92208, 0.92585, 0.93943], [0.95455, 0.96192, 0.96696],
        [1.0, 1.0, 1.0],
    ]
)
_DKL_LUT = np.stack(
    [np.interp(np.arange(256), np.arange(0, 256, 5), _DKL_GAMMA_KNOTS[:, c]) for c in range(3)], axis=1
)
# Cone excitations of the adapting grey and the phosphor-to-LMS matrix of rgb2dkl.m.
_LMS0 = np.array([34.918538957799996, 19.314796676499999, 0.585610818500000])
_RGB2LMS = np.array([[18.32535, 44.60077, 7.46216], [4.09544, 28.20135, 6.66066], [0.02114, 0.10325, 1.05258]])


def _lms_to_dkl_matrix() -> np.ndarray:
    l0, m0, s0 = _LMS0
    fac = 1.0 / (l0 + m0)
    norm = np.sqrt(l0 * l0 + m0 * m0)
    mm = np.array(
        [
            [np.sqrt(3.0) * fac, np.sqrt(3.0) * fac, 0.0],
            [norm / l0 * fac, -norm / m0 * fac, 0.0],
            [-fac, -fac, (l0 + m0) / s0 * fac],
        ]
    )
    return np.diag([0.5774, 2.7525, 0.4526]) @ mm


_LMS2DKL = _lms_to_dkl_matrix()


def rgb2dkl(rgb: np.ndarray) -> np.ndarray:
    """DKL opponent channels (luminance, red–green, blue–yellow) of a float RGB image in [0, 1].

    Follows Harel's ``rgb2dkl.m`` (GBVS package): 8-bit lookup through a measured display
    gamma (index ``clip(ceil(255 v), 1, 256)``, 1-based, as the original), linear map to
    cone (LMS) excitations minus the adapting grey, then the DKL axes scaled to unit range.
    """
    idx = np.clip(np.ceil(np.asarray(rgb, dtype=np.float64) * 255.0), 1, 256).astype(np.int64) - 1
    linear = np.stack([_DKL_LUT[idx[..., c], c] for c in range(3)], axis=-1)
    lms = linear @ _RGB2LMS.T - _LMS0
    return lms @ _LMS2DKL.T


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


@register_model("signature")
def _make(**kwargs) -> ImageSignature:
    return ImageSignature(**kwargs)
