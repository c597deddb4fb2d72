"""Graph-Based Visual Saliency (GBVS), faithful to Harel's MATLAB package.

The pipeline of ``gbvs.m`` with ``makeGBVSParams`` defaults:

1. image in [0, 1]; intensity = max(R, G, B); a pyramid of R, G, B and intensity
   by repeated 6-tap Gaussian subsampling (``mySubsample``);
2. feature maps at pyramid levels 2, 3, 4 (1/4, 1/8, 1/16 of the image):
   DKL luminance and two DKL chromatic channels, intensity, and Gabor energy
   ``|I*g0| + |I*g90|`` at 0°, 45°, 90°, 135° (borders attenuated over 13 px);
   each resized (bicubic) to the saliency-map size, 32 px on the longer side;
3. activation: equilibrium distribution of a Markov chain on the fully connected
   lattice with edge weights ``exp(−d²/(2σ²))·|M(i) − M(j)|``, σ = 0.15 × mean side;
4. normalisation: each activation map raised to the power 1.5;
5. maps summed within a channel, channels summed with unit weights; borders
   attenuated over 4 px; min–max scaled; blurred by a Gaussian of σ = 0.02 × 32 px;
6. ``master_map_resized``: bicubic upsampling to the image size, min–max scaled.

:class:`GraphSaliency` holds the shared engine (``gbvs.m`` runs Itti-Koch too,
with ``useIttiKochInsteadOfGBVS``); :mod:`salscope.models.classical.itti_koch`
builds on it.

References
----------
J. Harel, C. Koch, P. Perona, "Graph-Based Visual Saliency", NIPS 2006.
GBVS MATLAB package, http://www.vision.caltech.edu/~harel/share/gbvs.php
(``makeGBVSParams.m``: salmapmaxsize 32, channels 'DIO', levels [2 3 4],
sigma_frac_act 0.15, sigma_frac_norm 0.06, num_norm_iters 1, tol 1e-4,
blurfrac 0.02, normalizationType 1, unCenterBias 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from salscope.errors import ModelError
from salscope.models.base import SaliencyModel, as_rgb_image
from salscope.models.classical import _features as F
from salscope.models.registry import register_model

_CHANNELS = "CDIO"


@dataclass
class GraphSaliency(SaliencyModel):
    """Shared engine of GBVS and Itti-Koch (``gbvs.m``); use :class:`GBVS` or ``IttiKoch``.

    Parameters common to both are documented on the subclasses.
    """

    kind: ClassVar[str] = "classical"

    name: ClassVar[str] = "graph_saliency"
    # 1 = graph activation (GBVS), 2 = centre-surround (Itti-Koch)
    _activation_type: ClassVar[int] = 1

    channels: str = "DIO"
    gaborangles: tuple[float, ...] = (0.0, 45.0, 90.0, 135.0)
    color_weight: float = 1.0
    intensity_weight: float = 1.0
    orientation_weight: float = 1.0
    dklcolor_weight: float = 1.0
    levels: tuple[int, ...] = (2, 3, 4)
    center_levels: tuple[int, ...] = (2, 3)
    delta_levels: tuple[int, ...] = (2,)
    sigma_frac_act: float = 0.15
    sigma_frac_norm: float = 0.06
    num_norm_iters: int = 1
    tol: float = 1e-4
    normalization_type: int = 1
    normalize_top_channel_maps: bool = False
    blurfrac: float = 0.02
    center_prior: bool = True
    min_image_size: int = 128
    max_image_size: int | None = 2048
    resize_weights: str = "matlab"

    def __post_init__(self) -> None:
        if self.resize_weights not in ("matlab", "octave"):
            raise ModelError(f"{type(self).__name__}: resize_weights must be 'matlab' (normalised imresize "
                             f"weights) or 'octave' (unnormalised), got {self.resize_weights!r}")
        bad = sorted(set(self.channels) - set(_CHANNELS))
        if bad or not self.channels:
            raise ModelError(f"{type(self).__name__}: channels={self.channels!r} has unknown letters {bad}; "
                             f"use letters from {_CHANNELS!r} (C colour, D DKL colour, I intensity, O orientation)")
        self.levels = tuple(int(v) for v in self.levels)
        self.center_levels = tuple(int(v) for v in self.center_levels)
        self.delta_levels = tuple(int(v) for v in self.delta_levels)
        self.gaborangles = tuple(float(v) for v in self.gaborangles)
        if min(self.levels + self.center_levels) < 2 or min(self.delta_levels) < 1:
            raise ModelError(f"{type(self).__name__}: levels/center_levels must be >= 2 and delta_levels >= 1 "
                             f"(level 1 is never used by the original)")
        if self.normalization_type not in (1, 2, 3):
            raise ModelError(f"{type(self).__name__}: normalization_type must be 1, 2 or 3, "
                             f"got {self.normalization_type}")
        if self.min_image_size < 1 or (self.max_image_size is not None and self.max_image_size < self.min_image_size):
            raise ModelError(f"{type(self).__name__}: need 1 <= min_image_size <= max_image_size, got "
                             f"{self.min_image_size}, {self.max_image_size}")
        if not self.gaborangles and "O" in self.channels:
            raise ModelError(f"{type(self).__name__}: gaborangles is empty but channels has 'O'")

    @property
    def _normalize_weights(self) -> bool:
        return self.resize_weights == "matlab"

    # -- sizes ---------------------------------------------------------------------------------

    def salmap_size(self, height: int, width: int) -> tuple[int, int]:
        """Size of the native saliency map for a (working) image of ``height × width``."""
        raise NotImplementedError

    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """Size the image is processed at: the original size unless it is too small or too large.

        The original refuses images under 128 px on a side; they are enlarged
        (bicubic) until the shorter side is ``min_image_size``. Images whose longer
        side exceeds ``max_image_size`` are shrunk (area averaging) to bound memory.
        The longer-side cap wins when both apply (extreme aspect ratios).
        """
        scale = 1.0
        short, long_ = min(height, width), max(height, width)
        if short < self.min_image_size:
            scale = self.min_image_size / short
        if self.max_image_size is not None and long_ * scale > self.max_image_size:
            scale = self.max_image_size / long_
        if scale == 1.0:
            return height, width
        return max(1, int(round(height * scale))), max(1, int(round(width * scale)))

    # -- pipeline ------------------------------------------------------------------------------

    def _prepare(self, image: np.ndarray) -> tuple[np.ndarray, bool, tuple[int, int]]:
        raw = np.asarray(image)
        grey = raw.ndim == 2 or (raw.ndim == 3 and raw.shape[2] == 1)
        rgb = as_rgb_image(image)
        h, w = rgb.shape[:2]
        wh, ww = self.working_size(h, w)
        if wh * ww < h * w:
            # shrink the uint8 image first so memory stays bounded (area averaging, rounded to uint8)
            img = cv2.resize(rgb, (ww, wh), interpolation=cv2.INTER_AREA).astype(np.float64) / 255.0
        else:
            img = rgb.astype(np.float64) / 255.0
            if (wh, ww) != (h, w):
                img = np.clip(cv2.resize(img, (ww, wh), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)
        return img, grey, (h, w)

    def _max_level(self) -> int:
        top = max(self.levels)
        if self._activation_type == 2:
            top = max(top, max(self.center_levels) + max(self.delta_levels))
        return top

    def feature_maps(self, img: np.ndarray, grey: bool) -> list[tuple[str, float, list[dict[int, np.ndarray]]]]:
        """Raw feature maps at native pyramid resolution (``getFeatureMaps``).

        Returns ``[(channel letter, weight, [ {level: map} per feature type ])]``.
        Colour channels are skipped for greyscale input, as in the original.
        """
        top = self._max_level()
        r, g, b = img[..., 0], img[..., 1], img[..., 2]
        inten = np.max(img, axis=2)
        pyr_i, pyr_r, pyr_g, pyr_b = [F.subsample(inten)], [F.subsample(r)], [F.subsample(g)], [F.subsample(b)]
        for _ in range(2, top + 1):
            pyr_i.append(F.subsample(pyr_i[-1]))
            pyr_r.append(F.subsample(pyr_r[-1]))
            pyr_g.append(F.subsample(pyr_g[-1]))
            pyr_b.append(F.subsample(pyr_b[-1]))
        levels = range(2, top + 1)

        def lev(pyr, k):  # level k is pyramid index k-1 (level 1 = first subsampling)
            return pyr[k - 1]

        out = []
        for letter in sorted(set(self.channels)):
            if letter in "CD" and grey:
                continue
            if letter == "D":
                dkl = {k: F.rgb2dkl(lev(pyr_r, k), lev(pyr_g, k), lev(pyr_b, k)) for k in levels}
                types = [{k: dkl[k][..., t] for k in levels} for t in range(3)]
                out.append(("D", self.dklcolor_weight, types))
            elif letter == "C":
                by, rg = {}, {}
                for k in levels:
                    rr, gg, bb, ii = lev(pyr_r, k), lev(pyr_g, k), lev(pyr_b, k), lev(pyr_i, k)
                    by[k] = _safe_divide(np.abs(bb - np.minimum(rr, gg)), ii)
                    rg[k] = _safe_divide(np.abs(rr - gg), ii)
                out.append(("C", self.color_weight, [by, rg]))
            elif letter == "I":
                out.append(("I", self.intensity_weight, [{k: lev(pyr_i, k) for k in levels}]))
            elif letter == "O":
                types = []
                for angle in self.gaborangles:
                    g0, g90 = F.gabor_filter(angle, 0.0), F.gabor_filter(angle, 90.0)
                    maps = {}
                    for k in levels:
                        x = lev(pyr_i, k)
                        energy = np.abs(F.conv2_replicate(x, g0)) + np.abs(F.conv2_replicate(x, g90))
                        maps[k] = F.attenuate_borders(energy, 13)
                    types.append(maps)
                out.append(("O", self.orientation_weight, types))
        return out

    def _normalize(self, m: np.ndarray, frame: F.GraphFrame | None, salmap: tuple[int, int]) -> np.ndarray:
        if self.normalization_type == 1:
            return m ** 1.5
        if self.normalization_type == 2:
            return F.graph_activation(m, frame, self.sigma_frac_norm, self.tol, algtype=1,
                                      num_iters=self.num_norm_iters)
        return F.max_normalize_std(F.mat2gray(F.imresize(m, salmap, normalize=self._normalize_weights)))

    def native_map(self, image: np.ndarray) -> np.ndarray:
        """Saliency map at the resolution the original computes it (``out.master_map``), in [0, 1]."""
        img, grey, _ = self._prepare(image)
        return self._native_from_working(img, grey)

    def _native_from_working(self, img: np.ndarray, grey: bool) -> np.ndarray:
        salmap = self.salmap_size(*img.shape[:2])
        frame = F.GraphFrame.for_shape(salmap) if (self._activation_type == 1 or self.normalization_type == 2) \
            else None
        bias = None
        if self._activation_type == 1 and not self.center_prior:
            bias = frame.degree(self.sigma_frac_act)
            bias = bias / bias.mean()
        master = np.zeros(salmap)
        for _letter, weight, types in self.feature_maps(img, grey):
            cmap = np.zeros(salmap)
            for maps in types:
                for act in self._activations(maps, frame, salmap, bias):
                    cmap += self._normalize(act, frame, salmap)
            if self.normalize_top_channel_maps:
                cmap = self._normalize(cmap, frame, salmap) if self.normalization_type != 3 \
                    else F.max_normalize_std(cmap)
            master += weight * cmap
        if self.center_prior:
            master = F.attenuate_borders(master, 4)
        master = F.mat2gray(master)
        if self.blurfrac > 0:
            k = F.gauss_kernel(max(salmap) * self.blurfrac, 2.0)
            master = F.conv2_replicate(F.conv2_replicate(master, k[None, :]), k[:, None])
            master = F.mat2gray(master)
        return master

    def _activations(self, maps: dict[int, np.ndarray], frame, salmap, bias):
        if self._activation_type == 1:
            for k in self.levels:
                val = F.imresize(maps[k], salmap, normalize=self._normalize_weights)
                act = F.graph_activation(val, frame, self.sigma_frac_act, self.tol, algtype=2)
                if bias is not None:
                    act = act / bias
                    act = act / max(act.sum(), 1e-300)
                yield act
        else:
            for c in self.center_levels:
                for d in self.delta_levels:
                    center = maps[c]
                    surround = F.imresize(maps[c + d], center.shape, normalize=self._normalize_weights)
                    yield (center - surround) ** 2

    def saliency_map(self, image: np.ndarray) -> np.ndarray:
        """Saliency map at the image's size (``out.master_map_resized``): bicubic upsampling, min–max scaled."""
        img, grey, (h, w) = self._prepare(image)
        native = self._native_from_working(img, grey)
        return F.mat2gray(F.imresize(native, (h, w), normalize=self._normalize_weights), out=True)


def _safe_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b with 0 where b is 0 (``safeDivideGBVS``)."""
    zero = b == 0
    out = a / np.where(zero, 1.0, b)
    out[zero] = 0.0
    return out


@dataclass
class GBVS(GraphSaliency):
    """Graph-Based Visual Saliency (Harel, Koch & Perona 2006) with ``makeGBVSParams`` defaults.

    Feature maps (DKL colour, intensity, Gabor orientation at pyramid levels 2–4)
    are activated by the equilibrium distribution of a Markov chain whose edge
    weight from j to i is ``exp(−‖p_i − p_j‖²/(2σ²))·|M(i) − M(j)|`` (σ = 0.15 ×
    mean side of the 32-px map), normalised by ``A^1.5``, summed, border-attenuated,
    min–max scaled and blurred (σ = 0.02 × 32 px).

    Parameters
    ----------
    salmapmaxsize : int
        Longer side of the native map (32).
    channels : str
        Feature channels: 'D' DKL colour, 'C' Itti colour, 'I' intensity, 'O' orientation ('DIO').
    levels : tuple of int
        Pyramid levels used (2, 3, 4); level n is 2^-n of the image.
    sigma_frac_act, sigma_frac_norm : float
        Graph σ as a fraction of the mean map side for activation (0.15) and
        graph normalisation (0.06, used by ``normalization_type=2`` only).
    num_norm_iters : int
        Iterations of graph normalisation (1).
    tol : float
        Power-iteration stopping tolerance on the L2 change (1e-4).
    normalization_type : int
        1: ``A^1.5`` (default); 2: graph mass concentration; 3: Itti's N(·).
    blurfrac : float
        Final Gaussian blur σ as a fraction of the longer map side (0.02).
    center_prior : bool
        True (default) keeps the original's emergent centre bias: the lattice's
        border nodes have fewer neighbours so the chain visits them less, and the
        final 4-px border attenuation. False divides every activation map by the
        lattice's node degree (the chain's equilibrium for uniform dissimilarity)
        and skips the border attenuation. (The original's ``unCenterBias`` uses an
        empirical map file not distributed with salscope; see docs/classical.md.)
    min_image_size, max_image_size : int
        Working-size limits (128; 2048): smaller images are enlarged, larger shrunk.
    resize_weights : {"matlab", "octave"}
        ``imresize`` weights normalised per output pixel as MATLAB does (default),
        or unnormalised as Octave's image package (reproduces the Octave reference
        maps to 4e-6).

    References
    ----------
    J. Harel, C. Koch, P. Perona, "Graph-Based Visual Saliency", NIPS 2006.
    GBVS MATLAB package (``gbvs.m``, ``makeGBVSParams.m``, ``graphsalapply.m``).
    """

    name: ClassVar[str] = "gbvs"
    _activation_type: ClassVar[int] = 1

    salmapmaxsize: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.salmapmaxsize < 2:
            raise ModelError(f"GBVS: salmapmaxsize must be >= 2, got {self.salmapmaxsize}")

    def salmap_size(self, height: int, width: int) -> tuple[int, int]:
        scale = self.salmapmaxsize / max(height, width)
        return max(1, int(_round_half_away(height * scale))), max(1, int(_round_half_away(width * scale)))


def _round_half_away(x: float) -> float:
    """MATLAB ``round``: halves away from zero (Python's round goes to even)."""
    return float(np.floor(abs(x) + 0.5) * np.sign(x))


@register_model("gbvs", kind="classical", center_prior_switch=True)
def _make_gbvs(**kwargs) -> GBVS:
    return GBVS(**kwargs)


__all__ = ["GBVS", "GraphSaliency"]
