"""Deep saliency models: the network (a named backbone encoder plus a decoder) and its SaliencyModel face.

:class:`SaliencyNetwork` is the ``torch.nn.Module`` (encoder + decoder) that
training optimises; :class:`DeepSaliency` wraps it as a
:class:`salscope.models.base.SaliencyModel` (numpy image in, numpy map out).

Resize policy: an image is resized (bilinear, antialiased) to the model's
``input_size`` before the encoder, and the decoder's output is produced at the
image's own height and width. With ``input_size=None`` images are encoded at
their own size; images of different sizes are then never stacked into one
batch (:func:`images_to_batch` raises, :meth:`SaliencyNetwork.predict`
groups them by size).

Checkpoints are read and written by :mod:`salscope.models.checkpoint`; the
built-in model lives in :mod:`salscope.models.builtin`; every model spec
(name, ``ckpt:PATH`` …) is turned into a model by :mod:`salscope.models.factory`.

References
----------
He, Tavakoli, Borji, Mi, Pugeault, "Understanding and Visualizing Deep Visual
Saliency Models", CVPR 2019 (encoder–decoder of ``SenHe/uavdvsm``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from salscope.devices import inference_autocast, resolve_device
from salscope.errors import ModelError
from salscope.models.base import SaliencyModel, as_rgb_image


def _size(value: Sequence[int] | None) -> tuple[int, int] | None:
    return None if value is None else (int(value[0]), int(value[1]))


def images_to_batch(images: Sequence[np.ndarray], input_size: Sequence[int] | None = None) -> torch.Tensor:
    """Stack RGB images into a float batch ``B×3×H×W`` in [0, 1], resized to ``input_size = (H, W)``.

    Resizing is bilinear with antialiasing. Without ``input_size`` the images
    must share one size; mixed sizes raise :class:`ModelError` listing them.
    """
    arrays = [as_rgb_image(im, argument=f"images[{i}]") for i, im in enumerate(images)]
    if not arrays:
        raise ModelError("images: empty list; pass at least one image")
    size = _size(input_size)
    if size is None:
        shapes = sorted({a.shape[:2] for a in arrays})
        if len(shapes) > 1:
            raise ModelError(
                f"images of mixed sizes {shapes} (H, W) cannot form one batch; pass input_size=(H, W) to resize "
                "them all, or predict them one by one"
            )
    out = []
    for a in arrays:
        t = torch.from_numpy(a).permute(2, 0, 1).float().div_(255.0)[None]
        if size is not None and tuple(t.shape[-2:]) != size:
            t = F.interpolate(t, size=size, mode="bilinear", align_corners=False, antialias=True).clamp_(0.0, 1.0)
        out.append(t)
    return torch.cat(out, dim=0)


class SaliencyNetwork(nn.Module):
    """Encoder (a :class:`~salscope.models.backbones.Backbone`) + decoder, ``B×3×H×W → B×H×W``.

    ``forward(x, out_size)`` takes a float batch in [0, 1], normalises it with
    the encoder's mean/std, reads the decoder's layers and returns the decoder's
    output (a saliency map or a log-density, see ``output``) at ``out_size``
    (default: the input's size). ``forward_features`` skips the encoder for
    cached features (set-up I).
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, input_size: Sequence[int] | None = None,
                 encoder_spec: Mapping[str, Any] | None = None):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.input_size = _size(input_size)
        self.encoder_spec = dict(encoder_spec or {"name": getattr(encoder, "name", "backbone"),
                                                  "weights": getattr(encoder, "weights_source", None)})

    @property
    def output(self) -> str:
        return self.decoder.output

    @property
    def layers(self) -> list[str]:
        return list(self.decoder.layers)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encoder activations of the decoder's layers for a [0, 1] batch ``x``."""
        return self.encoder(self.encoder.normalize(x), layers=self.layers)

    def forward_features(self, features: Mapping[str, torch.Tensor], out_size: Sequence[int]) -> torch.Tensor:
        return self.decoder(features, out_size)

    def forward(self, x: torch.Tensor, out_size: Sequence[int] | None = None) -> torch.Tensor:
        out_size = tuple(x.shape[-2:]) if out_size is None else out_size
        return self.decoder(self.features(x), out_size)

    @torch.no_grad()
    def predict(self, images: Sequence[np.ndarray], batch_size: int = 8, density: bool = False,
                amp: bool = False) -> list[np.ndarray]:
        """Decoder output for each image at its own size (float64 arrays).

        Images are resized to ``input_size`` (or kept at their size when it is
        None; then equal sizes are batched together). ``density=True`` returns
        ``exp`` of a log-density output (computed in torch, before the copy).
        Batches run on the model's device; ``amp`` uses bf16 autocast there
        when it is a CUDA device (:func:`salscope.devices.inference_autocast`).
        """
        arrays = [as_rgb_image(im, argument=f"images[{i}]") for i, im in enumerate(images)]
        device = next(self.parameters()).device
        out: list[np.ndarray | None] = [None] * len(arrays)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, a in enumerate(arrays):
            groups.setdefault(a.shape[:2], []).append(i)
        was_training = self.training
        self.eval()
        try:
            for (h, w), idx in groups.items():
                for start in range(0, len(idx), batch_size):
                    chunk = idx[start:start + batch_size]
                    x = images_to_batch([arrays[i] for i in chunk], self.input_size).to(device)
                    with inference_autocast(device, amp):
                        y = self(x, out_size=(h, w)).float()
                    if density and self.output == "log_density":
                        y = y.exp()
                    y = y.double().cpu().numpy()
                    for j, i in enumerate(chunk):
                        out[i] = y[j]
        finally:
            self.train(was_training)
        return out  # type: ignore[return-value]


class DeepSaliency(SaliencyModel):
    """A :class:`SaliencyNetwork` behind the numpy :class:`SaliencyModel` interface.

    ``saliency_map`` is the predicted density (``exp`` of the log-density) for
    ``readout`` decoders and the min–max map for the ``paper`` decoder;
    ``log_density`` is the decoder's own for ``readout``.
    ``center_prior`` switches the readout's learnt centre bias on or off.
    """

    kind: ClassVar[str] = "deep"

    def __init__(self, model: SaliencyNetwork, name: str = "deep", center_prior: bool | None = None,
                 device: str | torch.device | None = None, batch_size: int = 8, amp: bool = False):
        self.model = model.eval()
        if device is not None:
            self.model.to(resolve_device(device))
        self.amp = bool(amp)
        self.name = name
        self.batch_size = int(batch_size)
        if center_prior is not None:
            self.center_prior = center_prior

    @property
    def center_prior(self) -> bool:  # type: ignore[override]
        return bool(getattr(self.model.decoder, "center_prior", False))

    @center_prior.setter
    def center_prior(self, value: bool) -> None:
        if not hasattr(self.model.decoder, "center_prior"):
            if value:
                raise ModelError(f"model '{self.name}': its '{self.model.decoder.config()['name']}' decoder has no centre prior to switch on")
            return
        self.model.decoder.center_prior = bool(value)

    def predict(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Saliency maps of several images (batched by size)."""
        return self.model.predict(images, batch_size=self.batch_size, density=True, amp=self.amp)

    def saliency_map(self, image: np.ndarray) -> np.ndarray:
        return self.predict([image])[0]

    def log_density(self, image: np.ndarray) -> np.ndarray:
        if self.model.output == "log_density":
            return self.model.predict([image], batch_size=1, amp=self.amp)[0]
        return super().log_density(image)
