"""Saliency decoders: turn a backbone's feature maps into a saliency map or a log-density.

Two decoders, both ``decoder(features, out_size) -> Tensor B×H×W``:

- ``paper`` — the paper's readout: one 1×1 convolution from the deepest chosen
  layer to one channel, no bias, initialised to ones (as in the authors' TF
  script), bilinear upsampling to the fixation-map size, per-image min–max.
  Output: a saliency map in [0, 1] (``output == "saliency"``).
- ``readout`` — a DeepGaze-II/IIE-style readout over several layers: each layer
  normalised (GroupNorm) and upsampled to the finest chosen layer's grid,
  concatenated, a 1×1 convolution stack with softplus, a Gaussian blur with a
  learnable width, a learnable centre-bias log-prior added, and a log-softmax
  over pixels; then bilinear upsampling to ``out_size`` and renormalisation.
  Output: a log-density, ``sum(exp(out)) == 1`` per image
  (``output == "log_density"``), so log-likelihood and information gain apply.

References
----------
He, Tavakoli, Borji, Mi, Pugeault, "Understanding and Visualizing Deep Visual
Saliency Models", CVPR 2019 (decoder of the authors' code release ``SenHe/uavdvsm``).
Kümmerer, Wallis, Bethge, "DeepGaze II: Reading fixations from deep features
trained on object recognition", arXiv:1610.01563 (2016), readout network,
blur and centre bias. Linardos et al., "DeepGaze IIE", ICCV 2021 (layer norm,
8-16-1 readout).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from salscope.errors import ModelError

DECODERS = ("paper", "readout")


def _minmax(x: torch.Tensor) -> torch.Tensor:
    """Per-image min–max normalisation of ``B×H×W`` to [0, 1] (constant maps → 0)."""
    flat = x.flatten(1)
    lo = flat.min(dim=1).values.view(-1, 1, 1)
    hi = flat.max(dim=1).values.view(-1, 1, 1)
    return (x - lo) / (hi - lo).clamp_min(1e-12)


def _log_normalise(x: torch.Tensor) -> torch.Tensor:
    """``x - logsumexp(x)`` over the pixels of each ``B×H×W`` image."""
    return x - torch.logsumexp(x.flatten(1), dim=1).view(-1, 1, 1)


class PaperDecoder(nn.Module):
    """The paper's decoder: 1×1 conv C→1 (no bias, ones), bilinear upsampling, per-image min–max.

    ``s = minmax(upsample(sum_c w_c f_c))`` with ``w`` initialised to 1.

    References
    ----------
    He et al., CVPR 2019; ``SenHe/uavdvsm`` (TF script: ``conv 512→1``, ones init).
    """

    output = "saliency"

    def __init__(self, channels: Mapping[str, int], layers: Sequence[str]):
        super().__init__()
        if len(layers) != 1:
            raise ModelError(f"decoder 'paper' reads one layer, got layers={list(layers)}; pass one layer name")
        self.layers = list(layers)
        self.in_channels = int(channels[self.layers[0]])
        self.conv = nn.Conv2d(self.in_channels, 1, kernel_size=1, bias=False)
        nn.init.ones_(self.conv.weight)

    def config(self) -> dict[str, Any]:
        return {"name": "paper", "layers": self.layers, "channels": {self.layers[0]: self.in_channels}}

    def forward(self, features: Mapping[str, torch.Tensor], out_size: Sequence[int]) -> torch.Tensor:
        x = self.conv(features[self.layers[0]])
        x = F.interpolate(x, size=tuple(int(v) for v in out_size), mode="bilinear", align_corners=False)
        return _minmax(x[:, 0])


class GaussianBlur(nn.Module):
    """Separable Gaussian blur of ``B×1×H×W`` with a learnable width ``sigma`` (grid pixels).

    The kernel is rebuilt from ``sigma`` at each call, ``k(t) ∝ exp(-t²/2σ²)``,
    ``|t| ≤ radius``; borders are padded by replication.
    """

    def __init__(self, sigma: float = 1.5, radius: int = 6):
        super().__init__()
        self.log_sigma = nn.Parameter(torch.tensor(math.log(sigma)))
        self.radius = int(radius)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.arange(-self.radius, self.radius + 1, dtype=x.dtype, device=x.device)
        sigma = self.log_sigma.exp().clamp(0.3, float(self.radius))
        k = torch.exp(-0.5 * (t / sigma) ** 2)
        k = k / k.sum()
        r = self.radius
        x = F.pad(x, (r, r, r, r), mode="replicate")
        x = F.conv2d(x, k.view(1, 1, 1, -1))
        return F.conv2d(x, k.view(1, 1, -1, 1))


class CenterBias(nn.Module):
    """Learnable centre-bias log-prior on a ``H×W`` grid.

    ``log p(x, y) = -a (x²/2σx² + y²/2σy²) + R(x, y)`` with ``x, y ∈ [-1, 1]``
    the normalised image coordinates, ``a, σx, σy`` learnable and ``R`` a coarse
    (6×8) learnable residual, bilinearly upsampled (initialised to 0).
    """

    def __init__(self, sigma: float = 0.5, grid: tuple[int, int] = (6, 8)):
        super().__init__()
        self.log_sigma = nn.Parameter(torch.full((2,), math.log(sigma)))
        self.amplitude = nn.Parameter(torch.tensor(1.0))
        self.residual = nn.Parameter(torch.zeros(1, 1, *grid))

    def forward(self, size: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        h, w = int(size[0]), int(size[1])
        ys = torch.linspace(-1.0, 1.0, h, dtype=dtype, device=device).view(h, 1)
        xs = torch.linspace(-1.0, 1.0, w, dtype=dtype, device=device).view(1, w)
        sx, sy = self.log_sigma.exp().to(dtype)
        gauss = -(xs**2 / (2 * sx**2) + ys**2 / (2 * sy**2)) * self.amplitude
        res = F.interpolate(self.residual.to(dtype), size=(h, w), mode="bilinear", align_corners=True)[0, 0]
        return gauss + res


class ReadoutDecoder(nn.Module):
    """DeepGaze-style readout over several layers, returning a log-density.

    For layers ``l``: ``z = concat_l up(GN(f_l))``; ``r = conv(16→1) ∘ sp ∘ conv(→16)
    ∘ sp ∘ conv(ΣC→16)(z)`` (``sp`` = softplus); ``u = blur_σ(r) + log p_centre``;
    ``log q = log_softmax(u)`` over the readout grid, bilinearly upsampled to the
    output size and renormalised.

    References
    ----------
    Kümmerer et al., DeepGaze II (2016); Linardos et al., DeepGaze IIE (ICCV 2021).
    """

    output = "log_density"

    def __init__(self, channels: Mapping[str, int], layers: Sequence[str], hidden: Sequence[int] = (16, 16),
                 sigma: float = 1.5, center_prior: bool = True):
        super().__init__()
        if not layers:
            raise ModelError("decoder 'readout' needs at least one layer name in layers=")
        self.layers = list(layers)
        self.channels = {name: int(channels[name]) for name in self.layers}
        self.hidden = [int(h) for h in hidden]
        self.sigma0 = float(sigma)
        self.center_prior = bool(center_prior)
        self.norms = nn.ModuleDict({name.replace(".", "_"): nn.GroupNorm(1, c) for name, c in self.channels.items()})
        widths = [sum(self.channels.values()), *self.hidden, 1]
        convs: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(widths[:-1], widths[1:])):
            convs.append(nn.Conv2d(cin, cout, kernel_size=1))
            if i < len(widths) - 2:
                convs.append(nn.Softplus())
        self.readout = nn.Sequential(*convs)
        self.blur = GaussianBlur(sigma)
        self.centre = CenterBias()

    def config(self) -> dict[str, Any]:
        return {"name": "readout", "layers": self.layers, "channels": self.channels, "hidden": self.hidden,
                "sigma": self.sigma0}

    def forward(self, features: Mapping[str, torch.Tensor], out_size: Sequence[int]) -> torch.Tensor:
        maps = [features[name] for name in self.layers]
        grid = max((m.shape[-2:] for m in maps), key=lambda s: s[0] * s[1])
        parts = []
        for name, m in zip(self.layers, maps):
            m = self.norms[name.replace(".", "_")](m)
            if m.shape[-2:] != grid:
                m = F.interpolate(m, size=tuple(grid), mode="bilinear", align_corners=False)
            parts.append(m)
        r = self.blur(self.readout(torch.cat(parts, dim=1)))[:, 0]
        if self.center_prior:
            r = r + self.centre(grid, r.dtype, r.device)
        r = _log_normalise(r)
        out_size = tuple(int(v) for v in out_size)
        if tuple(r.shape[-2:]) != out_size:
            r = F.interpolate(r[:, None], size=out_size, mode="bilinear", align_corners=False)[:, 0]
            r = _log_normalise(r)
        return r


def build_decoder(name: str, channels: Mapping[str, int], layers: Sequence[str], **kwargs: Any) -> nn.Module:
    """Build decoder ``name`` (``paper`` or ``readout``) over ``layers`` with their ``channels``.

    Raises :class:`ModelError` for an unknown decoder or a layer missing from ``channels``.
    """
    missing = [layer for layer in layers if layer not in channels]
    if missing:
        raise ModelError(f"layers {missing} are not layers of the encoder; valid layers: {', '.join(channels)}")
    if name == "paper":
        return PaperDecoder(channels, layers)
    if name == "readout":
        return ReadoutDecoder(channels, layers, **kwargs)
    raise ModelError(f"unknown decoder '{name}'; valid decoders: {', '.join(DECODERS)}")


def decoder_from_config(config: Mapping[str, Any]) -> nn.Module:
    """Rebuild a decoder from its :meth:`config` dict (as stored in checkpoints)."""
    cfg = dict(config)
    name = cfg.pop("name")
    channels = cfg.pop("channels")
    layers = cfg.pop("layers")
    return build_decoder(name, channels, layers, **cfg)
