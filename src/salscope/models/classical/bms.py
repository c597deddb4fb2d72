"""Boolean Map Saliency (Zhang & Sclaroff 2013/2016): surroundedness of thresholded colour maps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
import scipy.ndimage as ndi

from salscope.errors import ModelError
from salscope.models.base import SaliencyModel, as_rgb_image
from salscope.models.classical.spectral_residual import reject_center_prior
from salscope.models.registry import register_model

_EIGHT = np.ones((3, 3), dtype=bool)
_COLOR_CODES = {"lab": cv2.COLOR_RGB2Lab, "luv": cv2.COLOR_RGB2Luv, "rgb": None}
_COV_REG = 50.0  # COV_MAT_REG of the original code


def _surrounded(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` whose 8-connected component of ``mask`` does not touch the border."""
    labels, count = ndi.label(mask, structure=_EIGHT)
    if count == 0:
        return np.zeros_like(mask)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    keep = np.ones(count + 1, dtype=bool)
    keep[border] = False
    keep[0] = False
    return keep[labels]


@dataclass
class BMS(SaliencyModel):
    """Boolean Map Saliency: how often a pixel lies in a region enclosed by the rest.

    Algorithm (Zhang & Sclaroff, the authors' C++ code for eye-fixation prediction):

    1. resize so the longer side is ``max_dim`` (OpenCV area interpolation);
    2. convert to ``color_space`` (OpenCV 8-bit Lab), whiten the three channels with the
       covariance plus ``50·I``, scale each to 0–255 (uint8) and median-filter (3×3);
    3. for every channel and threshold ``t = min, min + step, … < max`` take the Boolean
       map ``B = f > t``; the *attention map* is the union of the 8-connected components of
       ``B`` and of ``¬B`` that do not touch the image border, each part dilated by a
       ``dilation_width_1`` square and L2-normalised, then summed;
    4. the mean attention map is scaled to 0–255 (uint8), dilated by a ``dilation_width_2``
       square, blurred with a Gaussian of std ``blur_std`` (kernel ``min(4⌊σ⌋+1, 51)``), and
       resized to the input (bilinear).

    Choices: the original reads images with OpenCV (BGR) and then applies ``RGB2Lab``, so
    its "Lab" swaps red and blue; ``swap_red_blue=True`` (default) keeps that quirk,
    ``False`` uses true Lab. The final resize is done in float (the original rounds to
    uint8 once more). The random border handling of the code (``handle_border``, off by
    default) is not implemented. BMS has no centre prior (``center_prior`` must stay
    False); a constant image gives an all-zero map.

    Parameters
    ----------
    max_dim : int
        Longer image side the maps are computed at (400).
    sample_step : int
        Threshold step δ on the 0–255 feature maps (8).
    dilation_width_1, dilation_width_2 : int
        Odd widths of the square dilation kernels ω_d1 (attention maps, 7) and ω_d2
        (final map, 9).
    blur_std : float
        Std σ of the final Gaussian blur in pixels of the resized image (9; 0 = none).
    color_space : {'lab', 'luv', 'rgb'}
        Feature channels (Lab).
    whitening : bool
        Whiten the colour channels (True).
    normalize : bool
        L2-normalise each half of an attention map (True).

    References
    ----------
    J. Zhang and S. Sclaroff, "Saliency Detection: A Boolean Map Approach", ICCV 2013;
    "Exploiting Surroundedness for Saliency Detection: A Boolean Map Approach", IEEE TPAMI
    38(5), 2016. Defaults of the authors' code as run for fixation prediction
    (``BMS in out 8 7 9 9 2 1 400``).
    """

    kind: ClassVar[str] = "classical"

    max_dim: int = 400
    sample_step: int = 8
    dilation_width_1: int = 7
    dilation_width_2: int = 9
    blur_std: float = 9.0
    color_space: str = "lab"
    whitening: bool = True
    normalize: bool = True
    swap_red_blue: bool = True
    center_prior: bool = False
    name: str = "bms"

    def __post_init__(self) -> None:
        reject_center_prior(self.name, self.center_prior)
        self.color_space = str(self.color_space).lower()
        if self.color_space not in _COLOR_CODES:
            raise ModelError(f"bms: color_space must be one of {tuple(_COLOR_CODES)}, got {self.color_space!r}")
        if self.max_dim < 8 or self.sample_step < 1 or self.blur_std < 0:
            raise ModelError(
                f"bms: need max_dim >= 8, sample_step >= 1, blur_std >= 0; got {self.max_dim}, "
                f"{self.sample_step}, {self.blur_std}"
            )
        for field in ("dilation_width_1", "dilation_width_2"):
            value = getattr(self, field)
            if value < 1 or value % 2 == 0:
                raise ModelError(f"bms: {field} must be an odd width >= 1, got {value}")

    def _feature_maps(self, small_rgb: np.ndarray) -> list[np.ndarray]:
        src = small_rgb[:, :, ::-1] if self.swap_red_blue else small_rgb
        code = _COLOR_CODES[self.color_space]
        img = np.ascontiguousarray(src) if code is None else cv2.cvtColor(np.ascontiguousarray(src), code)
        samples = img.reshape(-1, 3).astype(np.float64)
        if self.whitening:
            cov = np.cov(samples, rowvar=False, bias=True) + _COV_REG * np.eye(3)
            u, s, _ = np.linalg.svd(cov)
            samples = samples @ (u / np.sqrt(s))
        maps = []
        for c in range(3):
            ch = samples[:, c]
            lo, hi = ch.min(), ch.max()
            scaled = (ch - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(ch)
            fm = np.clip(np.rint(scaled), 0, 255).astype(np.uint8).reshape(img.shape[:2])
            maps.append(cv2.medianBlur(fm, 3))
        return maps

    def _attention(self, bm: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        out = np.zeros(bm.shape, np.float64)
        for part in (_surrounded(bm), _surrounded(~bm)):
            if not part.any():
                continue
            part = part.astype(np.uint8)
            if kernel.shape[0] > 1:
                part = cv2.dilate(part, kernel)
            part = part.astype(np.float64)
            if self.normalize:
                part /= np.sqrt(part.sum())  # binary map: L2 norm = sqrt(count)
            out += part
        return out

    def saliency_map(self, image: np.ndarray) -> np.ndarray:
        """BMS map of ``image``, ``H×W`` float64 in [0, 255]."""
        rgb = as_rgb_image(image)
        h, w = rgb.shape[:2]
        longest = float(max(h, w))
        size = (max(1, int(self.max_dim * w / longest)), max(1, int(self.max_dim * h / longest)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        kernel1 = np.ones((self.dilation_width_1, self.dilation_width_1), np.uint8)
        total = np.zeros(small.shape[:2], np.float64)
        for fm in self._feature_maps(small):
            lo, hi = int(fm.min()), int(fm.max())
            for thresh in range(lo, hi, self.sample_step):
                total += self._attention(fm > thresh, kernel1)
        tmax, tmin = total.max(), total.min()
        if not tmax > tmin:
            return np.zeros((h, w))
        result = np.rint((total - tmin) * (255.0 / (tmax - tmin))).astype(np.uint8)
        if self.dilation_width_2 > 1:
            result = cv2.dilate(result, np.ones((self.dilation_width_2,) * 2, np.uint8))
        if self.blur_std > 0:
            k = int(min(np.floor(self.blur_std) * 4 + 1, 51))
            result = cv2.GaussianBlur(result, (k, k), self.blur_std, sigmaY=self.blur_std)
        out = cv2.resize(result.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        return out.astype(np.float64)


@register_model("bms", kind="classical", center_prior_switch=True)
def _make(**kwargs) -> BMS:
    return BMS(**kwargs)
