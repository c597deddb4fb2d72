"""Deep saliency models: a named backbone (encoder) plus a decoder, and their checkpoints.

:class:`DeepSaliencyModel` is the ``torch.nn.Module`` (encoder + decoder) that
training optimises; :class:`DeepSaliency` wraps it as a
:class:`salscope.models.base.SaliencyModel` (numpy image in, numpy map out).

Resize policy: an image is resized (bilinear, antialiased) to the model's
``input_size`` before the encoder, and the decoder's output is produced at the
image's own height and width. With ``input_size=None`` images are encoded at
their own size; images of different sizes are then never stacked into one
batch (:func:`images_to_batch` raises, :meth:`DeepSaliencyModel.predict`
groups them by size).

Checkpoints (Lightning ``.ckpt`` of ``salscope train`` or exported ``.pt``)
carry a ``"salscope"`` entry: the training configuration, its hash, the
encoder's name/weights and the decoder's or head's configuration, so
:func:`load_checkpoint`, :func:`load_saliency_model` and :func:`load_encoder`
rebuild the network without the command line that made it.

References
----------
He, Tavakoli, Borji, Mi, Pugeault, "Understanding and Visualizing Deep Visual
Saliency Models", CVPR 2019 (encoder–decoder of ``SenHe/uavdvsm``).
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from salscope.errors import ModelError
from salscope.models.backbones.base import check_finite, state_dict_mismatch
from salscope.models.base import SaliencyModel, as_rgb_image
from salscope.models.decoders import decoder_from_config
from salscope.models.registry import CHECKPOINT_SUFFIXES, register_model

BUILTIN_PACKAGE = "salscope.resources.builtin"


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


class DeepSaliencyModel(nn.Module):
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
    def predict(self, images: Sequence[np.ndarray], batch_size: int = 8, density: bool = False) -> list[np.ndarray]:
        """Decoder output for each image at its own size (float64 arrays).

        Images are resized to ``input_size`` (or kept at their size when it is
        None; then equal sizes are batched together). ``density=True`` returns
        ``exp`` of a log-density output (computed in torch, before the copy).
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
                    y = self(x, out_size=(h, w))
                    if density and self.output == "log_density":
                        y = y.exp()
                    y = y.double().cpu().numpy()
                    for j, i in enumerate(chunk):
                        out[i] = y[j]
        finally:
            self.train(was_training)
        return out  # type: ignore[return-value]


class DeepSaliency(SaliencyModel):
    """A :class:`DeepSaliencyModel` behind the numpy :class:`SaliencyModel` interface.

    ``saliency_map`` is the predicted density (``exp`` of the log-density) for
    ``readout`` decoders and the min–max map for the ``paper`` decoder;
    ``log_density`` is the decoder's own for ``readout``.
    ``center_prior`` switches the readout's learnt centre bias on or off.
    """

    def __init__(self, model: DeepSaliencyModel, name: str = "deep", center_prior: bool | None = None,
                 device: str | torch.device | None = None, batch_size: int = 8):
        self.model = model.eval()
        if device is not None:
            self.model.to(device)
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
        return self.model.predict(images, batch_size=self.batch_size, density=True)

    def saliency_map(self, image: np.ndarray) -> np.ndarray:
        return self.predict([image])[0]

    def log_density(self, image: np.ndarray) -> np.ndarray:
        if self.model.output == "log_density":
            return self.model.predict([image], batch_size=1)[0]
        return super().log_density(image)


# -- checkpoints -------------------------------------------------------------------------------------

def _torch_load(path: Path) -> dict:
    if not path.is_file():
        raise ModelError(f"checkpoint {path} does not exist; pass the path of a .ckpt/.pt file written by `salscope train`")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 (zip/pickle errors of many kinds)
        raise ModelError(f"checkpoint {path} could not be read ({exc}); it is corrupt or not a PyTorch file") from exc
    if not isinstance(obj, Mapping) or "salscope" not in obj:
        raise ModelError(
            f"checkpoint {path} is not a salscope checkpoint (no 'salscope' entry); "
            "use a checkpoint written by `salscope train` (or a backbone name)"
        )
    return dict(obj)


def check_checkpoint_meta(meta: Any, source: str, *, decoder: bool = False) -> Mapping[str, Any]:
    """The ``"salscope"`` entry of a checkpoint, checked for the shape salscope writes; :class:`ModelError` otherwise.

    It must be a table whose ``encoder`` is a table naming the backbone
    (``encoder.name``, a string) and, with ``decoder=True`` (a saliency model),
    whose ``decoder`` is a table with ``name``, ``channels`` and ``layers``.
    """
    fix = "it is corrupt or not written by `salscope train`: use a checkpoint that command wrote (or a backbone name)"
    if not isinstance(meta, Mapping):
        raise ModelError(f"checkpoint {source}: its 'salscope' entry is a {type(meta).__name__}, not a table of "
                         f"settings; {fix}")
    enc = meta.get("encoder")
    if not isinstance(enc, Mapping) or not isinstance(enc.get("name"), str):
        got = "missing" if enc is None else (f"{type(enc).__name__} {enc!r:.40}" if not isinstance(enc, Mapping)
                                              else "a table without a string 'name'")
        raise ModelError(f"checkpoint {source}: salscope.encoder is {got}; it must be a table naming the backbone "
                         f"(salscope.encoder.name); {fix}")
    if decoder:
        dec = meta.get("decoder")
        lacks = [k for k in ("name", "channels", "layers") if not isinstance(dec, Mapping) or k not in dec]
        if lacks or not isinstance(dec.get("name"), str):
            got = "missing" if dec is None else (f"a {type(dec).__name__}" if not isinstance(dec, Mapping)
                                                  else f"a table lacking {lacks or ['a string name']}")
            raise ModelError(f"checkpoint {source}: salscope.decoder is {got}; a saliency checkpoint records its "
                             f"decoder as a table with name, channels and layers; {fix}")
    return meta


def _strip(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _model_state(ckpt: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    state = dict(ckpt.get("state_dict", {}))
    # Lightning modules hold the network as ``self.model``; exported files do not.
    if any(k.startswith("model.") for k in state):
        state = _strip(state, "model.")
    return state


def load_module_state(module: nn.Module, state: Mapping[str, torch.Tensor], source: str, what: str) -> None:
    """Load ``state`` into ``module`` strictly; :class:`ModelError` naming missing/unexpected/mis-shaped keys."""
    mismatch = state_dict_mismatch(module.state_dict(), state, lambda items: str(items[:8]))
    if mismatch:
        raise ModelError(f"weights from {source} do not fit the {what}: {mismatch}; "
                         "use the file written for this model configuration")
    check_finite(state, source)
    module.load_state_dict(dict(state), strict=True)


def _checkpoint_encoder(meta: Mapping[str, Any], state: Mapping[str, torch.Tensor], source: str,
                        encoder_weights: Any = None) -> nn.Module:
    """The encoder of a checkpoint, rebuilt without ever reaching the network.

    A full checkpoint's encoder weights come from its own state dict (the
    recorded ``encoder.weights`` is informational). A decoder-only file has no
    encoder weights: its recorded weights are used only when they are a
    built-in table name (``"imagenet"``), and then only from the cache or the
    shipped file (``offline=True``); anything else recorded there (a URL, a
    path) is refused. ``encoder_weights`` — the caller's own choice, never the
    checkpoint's — overrides that for decoder-only files.
    """
    from salscope.models.backbones import get_backbone  # noqa: PLC0415 (heavy, on demand)

    spec = meta.get("encoder") or {}
    name = spec.get("name")
    if not isinstance(name, str):
        raise ModelError(f"checkpoint {source} names no encoder (salscope.encoder.name); it is corrupt or not "
                         "written by `salscope train`")
    if not meta.get("decoder_only"):
        encoder = get_backbone(name, weights=None)
        encoder.load_weights(_strip(state, "encoder."), source=source)
        return encoder
    if encoder_weights is not None:
        return get_backbone(name, weights=encoder_weights)
    recorded = spec.get("weights")
    if recorded != "imagenet":
        raise ModelError(
            f"checkpoint {source} holds a decoder only and records encoder weights {recorded!r}, which is not a "
            "built-in weights name ('imagenet'); a checkpoint never makes salscope download or read the weights it "
            "names — pass them yourself: load_checkpoint(path, encoder_weights=FILE) (or keep the full checkpoint)"
        )
    return get_backbone(name, weights="imagenet", offline=True)


def model_from_checkpoint(ckpt: Mapping[str, Any], source: str, *, encoder_weights: Any = None) -> DeepSaliencyModel:
    """Rebuild a :class:`DeepSaliencyModel` from a loaded checkpoint dict (never downloads).

    See :func:`_checkpoint_encoder` for where the encoder's weights come from;
    ``encoder_weights`` applies to decoder-only files.
    """
    meta = check_checkpoint_meta(ckpt.get("salscope"), source)
    if meta.get("kind") != "saliency":
        raise ModelError(
            f"checkpoint {source} is a '{meta.get('kind')}' checkpoint (set-up {meta.get('setup')}), not a saliency "
            "model; use load_encoder() for its encoder"
        )
    check_checkpoint_meta(meta, source, decoder=True)
    state = _model_state(ckpt)
    try:
        decoder = decoder_from_config(meta["decoder"])
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelError(f"checkpoint {source}: salscope.decoder {dict(meta['decoder'])!r:.120} cannot build a decoder "
                         f"({exc!r}); it is corrupt or not written by `salscope train`") from exc
    encoder = _checkpoint_encoder(meta, state, source, encoder_weights)
    load_module_state(decoder, _strip(state, "decoder."), source, f"'{meta['decoder']['name']}' decoder")
    return DeepSaliencyModel(encoder, decoder, meta.get("input_size"), encoder_spec=meta["encoder"])


def load_checkpoint(path: str | os.PathLike, *, encoder_weights: Any = None) -> DeepSaliencyModel:
    """Load the :class:`DeepSaliencyModel` of a saliency checkpoint (set-up I or II); never downloads.

    ``encoder_weights`` (a ``.pth`` path, ``"imagenet"`` or ``URL#sha256=<hex>``)
    supplies the encoder of a decoder-only file whose recorded weights are not
    the built-in ``"imagenet"``; full checkpoints carry their own.
    """
    path = Path(path)
    return model_from_checkpoint(_torch_load(path), str(path), encoder_weights=encoder_weights)


def load_saliency_model(path: str | os.PathLike, *, center_prior: bool | None = None,
                        device: str | torch.device | None = None, encoder_weights: Any = None,
                        **kwargs: Any) -> DeepSaliency:
    """A checkpoint as a :class:`SaliencyModel` (what ``get_model(path)`` returns)."""
    if kwargs:
        raise ModelError(f"unknown option(s) {sorted(kwargs)} for a checkpoint model; "
                         "valid: center_prior, device, encoder_weights")
    path = Path(path)
    return DeepSaliency(load_checkpoint(path, encoder_weights=encoder_weights), name=path.stem,
                        center_prior=center_prior, device=device)


def load_encoder(spec: str | os.PathLike, weights: Any = "imagenet") -> nn.Module:
    """The encoder named by ``spec``: a backbone name, or a checkpoint of any set-up (fixed, saliency, scene).

    A backbone name is built with ``weights`` (default ImageNet). A checkpoint's
    encoder is rebuilt from its recorded backbone and loaded with the weights in
    its state dict (a decoder-only file: the built-in ``"imagenet"`` weights,
    from the cache only); loading a checkpoint never downloads.
    """
    text = str(spec)
    if text == "builtin":
        return builtin_model().model.encoder
    if Path(text).suffix in CHECKPOINT_SUFFIXES or Path(text).is_file():
        path = Path(text)
        ckpt = _torch_load(path)
        return _checkpoint_encoder(check_checkpoint_meta(ckpt["salscope"], str(path)), _model_state(ckpt), str(path))
    from salscope.models.backbones import get_backbone  # noqa: PLC0415

    return get_backbone(text, weights=weights)


def export_decoder(model: DeepSaliencyModel, dest: str | os.PathLike, card: Mapping[str, Any] | None = None) -> Path:
    """Save only the decoder of ``model`` (and what rebuilds the rest) as a small ``.pt`` file, atomically."""
    from salscope.io import atomic_path  # noqa: PLC0415

    if model.encoder_spec.get("weights") is None:
        raise ModelError(
            f"cannot export the decoder alone to {dest}: the encoder has random weights (weights=None), which a "
            "loader cannot rebuild; train with --weights imagenet (or a weights file), or keep the full checkpoint"
        )
    payload = {
        "salscope": {
            "kind": "saliency", "setup": "fixed", "decoder_only": True,
            "encoder": dict(model.encoder_spec), "decoder": model.decoder.config(),
            "input_size": list(model.input_size) if model.input_size else None,
            "card": dict(card or {}),
        },
        "state_dict": {f"decoder.{k}": v.detach().cpu().clone() for k, v in model.decoder.state_dict().items()},
    }
    with atomic_path(dest, suffix=".pt") as tmp:
        torch.save(payload, tmp)
    return Path(dest)


def builtin_card() -> dict[str, Any]:
    """The JSON card of the built-in model (command, split, seed, scores)."""
    ref = resources.files(BUILTIN_PACKAGE) / "card.json"
    if not ref.is_file():
        raise ModelError("the built-in model's card.json is missing from salscope/resources/builtin; reinstall salscope")
    return json.loads(ref.read_text())


def builtin_model(center_prior: bool | None = None, device: str | torch.device | None = None) -> DeepSaliency:
    """The built-in model: ``efficientnet_lite0`` (ImageNet, offline) + a trained readout decoder."""
    ref = resources.files(BUILTIN_PACKAGE) / "decoder.pt"
    if not ref.is_file():
        raise ModelError("the built-in model's decoder.pt is missing from salscope/resources/builtin; reinstall salscope")
    with resources.as_file(ref) as path:
        model = load_checkpoint(path)
    return DeepSaliency(model, name="builtin", center_prior=center_prior, device=device)


@register_model("builtin")
def _builtin_factory(**kwargs: Any) -> SaliencyModel:
    return builtin_model(**kwargs)
