"""Itti-Koch-Niebur saliency, as computed by Harel's GBVS package (``ittikochmap.m``).

The pipeline of ``gbvs.m`` with ``useIttiKochInsteadOfGBVS = 1``:

1. image in [0, 1]; intensity I = max(R, G, B); pyramids by repeated 6-tap
   Gaussian subsampling (``mySubsample``), levels 2–5;
2. feature maps: colour opponency |B − min(R, G)|/I and |R − G|/I, intensity,
   Gabor energy at 0°, 45°, 90°, 135°;
3. centre-surround: (F_c − F_s)² for centre levels c ∈ {2, 3} and surround
   s = c + 2, the surround upsampled bicubically to the centre's size;
4. each map resized to the saliency-map size (1/8 of the image), min–max scaled
   and normalised by N(·): scaled to [0, 10] and multiplied by (10 − m̄)², m̄ the
   mean of the local maxima above 1;
5. maps summed within a channel, N(·) applied to each channel (conspicuity
   map), channels summed, borders attenuated over 4 px, min–max scaled; no blur.

References
----------
L. Itti, C. Koch, E. Niebur, "A model of saliency-based visual attention for rapid
scene analysis", IEEE PAMI 20(11):1254-1259, 1998.
GBVS MATLAB package, ``ittikochmap.m`` (salmapmaxsize = round(max(size)/8),
channels 'CIO', ittiCenterLevels [2 3], ittiDeltaLevels 2, normalizationType 3,
normalizeTopChannelMaps 1, ittiblurfrac 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from salscope.errors import ModelError
from salscope.models.classical.gbvs import GraphSaliency, _round_half_away
from salscope.models.registry import register_model


@dataclass
class IttiKoch(GraphSaliency):
    """Itti, Koch & Niebur (1998) saliency with the defaults of GBVS's ``ittikochmap.m``.

    Centre-surround differences ``(F_c − F_{c+δ})²`` of colour, intensity and
    orientation pyramids (c ∈ {2, 3}, δ = 2), normalised by the N(·) operator
    ``(M − m̄)²``, combined into conspicuity maps, again normalised, and summed.

    Parameters
    ----------
    salmap_fraction : float
        Longer side of the native map as a fraction of the image's (1/8; 100 px for 800 px).
    channels : str
        'C' colour opponency, 'I' intensity, 'O' orientation ('CIO'); 'D' DKL also works.
    center_levels, delta_levels : tuple of int
        Centre levels c (2, 3) and surround offsets δ (2,).
    blurfrac : float
        Final blur σ as a fraction of the longer map side (0: none, as ``ittikochmap``).
    center_prior : bool
        True (default) keeps the original's 4-px linear attenuation of the master
        map's borders, its only built-in centre preference; False skips it.
    min_image_size, max_image_size : int
        Working-size limits (128; 2048): smaller images are enlarged, larger shrunk.
    resize_weights : {"matlab", "octave"}
        ``imresize`` weights normalised as MATLAB (default) or not, as Octave.

    References
    ----------
    L. Itti, C. Koch, E. Niebur, IEEE PAMI 20(11), 1998.
    GBVS MATLAB package (``ittikochmap.m``, ``gbvs.m``, ``maxNormalizeStdGBVS.m``).
    """

    name: ClassVar[str] = "itti_koch"
    _activation_type: ClassVar[int] = 2

    channels: str = "CIO"
    normalization_type: int = 3
    normalize_top_channel_maps: bool = True
    blurfrac: float = 0.0
    salmap_fraction: float = 1.0 / 8.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.salmap_fraction <= 1:
            raise ModelError(f"IttiKoch: salmap_fraction must lie in (0, 1], got {self.salmap_fraction}")

    def salmap_size(self, height: int, width: int) -> tuple[int, int]:
        maxsize = max(2.0, _round_half_away(max(height, width) * self.salmap_fraction))
        scale = maxsize / max(height, width)
        return max(1, int(_round_half_away(height * scale))), max(1, int(_round_half_away(width * scale)))


@register_model("itti_koch", kind="classical", center_prior_switch=True)
def _make_itti_koch(**kwargs) -> IttiKoch:
    return IttiKoch(**kwargs)


__all__ = ["IttiKoch"]
