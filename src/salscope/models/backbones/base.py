"""The :class:`Backbone` interface: an image encoder that exposes its layers by name.

A backbone is a chain of *stages*; each stage ends at one named layer (VGG-16
``conv4_3``, ResNet ``layer3``, EfficientNet-Lite ``block11``) whose output is
the activation analysis code reads. ``feature_info`` says, for every layer, its
channel count and its stride relative to the input (timm's convention), so no
caller ever hard-codes ``features[29]``.

The stage wrappers are kept in plain Python lists, not registered as
sub-modules, so a backbone's ``state_dict`` keeps the key names of the original
implementation (torchvision ``features.N.weight``, ``layer3.1.conv2.weight``,
EfficientNet-Lite ``_blocks.N._project_conv.weight``) and published weight
files load without renaming.

References
----------
R. Wightman, *PyTorch Image Models* (timm), ``feature_info`` / ``features_only``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from salscope.errors import ModelError
from salscope.models.backbones.weights import fetch_url

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class FeatureInfo:
    """One exposed layer: its name, channel count and stride w.r.t. the input image."""

    name: str
    channels: int
    stride: int


class Backbone(nn.Module):
    """An image encoder whose intermediate layers can be read by name.

    Subclasses build their modules under the original implementation's
    attribute names, then call :meth:`_set_stages` with one entry per exposed
    layer: ``(FeatureInfo, modules)``, the modules that compute the stage in
    order (the last one produces the layer's output, see :meth:`output_module`).

    ``forward(x, layers)`` runs the stages in order and stops after the deepest
    requested layer, so reading ``conv3_3`` of VGG-16 does not pay for conv4/5.
    Input ``x`` is a float tensor ``B×3×H×W`` already normalised with
    ``mean``/``std`` (see :meth:`preprocess`).
    """

    name: str = "backbone"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __init__(self) -> None:
        super().__init__()
        self.feature_info: list[FeatureInfo] = []
        self._runs: list[nn.Module] = []
        self._stage_modules: list[list[nn.Module]] = []
        self._index: dict[str, int] = {}
        self.weights_source: str | None = None

    # -- construction -------------------------------------------------------------------------------
    def _set_stages(self, stages: Iterable[tuple]) -> None:
        """Declare the exposed layers: ``(FeatureInfo, modules)`` or ``(FeatureInfo, modules, run)``.

        ``modules`` hold the stage's parameters and, in order, compute it
        (``run`` defaults to ``nn.Sequential(*modules)``); the last one's output
        is the layer's activation. ``run`` must be an ``nn.Module`` (not a
        closure) so ``copy.deepcopy`` of the backbone stays consistent.
        """
        infos, runs, mods = [], [], []
        for stage in stages:
            info, modules = stage[0], list(stage[1])
            run = stage[2] if len(stage) > 2 else nn.Sequential(*modules)
            infos.append(info)
            runs.append(run)
            mods.append(modules)
        # Plain lists: these alias registered modules and must not add a second set of state_dict keys.
        object.__setattr__(self, "feature_info", infos)
        object.__setattr__(self, "_runs", runs)
        object.__setattr__(self, "_stage_modules", mods)
        object.__setattr__(self, "_index", {info.name: i for i, info in enumerate(infos)})

    # -- layer names --------------------------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        """Names of the exposed layers, shallow to deep."""
        return [info.name for info in self.feature_info]

    def layer_info(self, layer: str) -> FeatureInfo:
        """The :class:`FeatureInfo` of ``layer`` (ModelError listing valid names if unknown)."""
        return self.feature_info[self._layer_index(layer)]

    def _layer_index(self, layer: str) -> int:
        try:
            return self._index[layer]
        except (KeyError, TypeError):
            raise ModelError(
                f"unknown layer '{layer}' for backbone '{self.name}'; valid layers: {', '.join(self.layer_names)}"
            ) from None

    def check_layers(self, layers: Sequence[str] | str | None) -> list[str]:
        """Validate ``layers`` (one name, several, or None for all); return them as a list."""
        if layers is None:
            return self.layer_names
        if isinstance(layers, str):
            layers = [layers]
        layers = list(layers)
        if not layers:
            raise ModelError(f"no layers requested from backbone '{self.name}'; pick from: {', '.join(self.layer_names)}")
        unknown = [name for name in layers if name not in self._index]
        if unknown:
            raise ModelError(
                f"unknown layer(s) {', '.join(map(repr, unknown))} for backbone '{self.name}'; "
                f"valid layers: {', '.join(self.layer_names)}"
            )
        return layers

    # -- running ------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, layers: Sequence[str] | str | None = None,
                start: str | None = None) -> dict[str, torch.Tensor]:
        """Activations of ``layers`` (all when None) for the normalised batch ``x`` (B×3×H×W).

        The stages run in order and stop after the deepest requested layer.
        With ``start``, ``x`` is instead the activation of the layer just before
        ``start`` and only the stages from ``start`` on run (see
        :meth:`forward_from`). Returns ``{layer: tensor B×C×h×w}`` in the order
        of ``layers``.
        """
        if start is not None:
            return self.forward_from(x, start, layers)
        wanted = self.check_layers(layers)
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ModelError(
                f"backbone '{self.name}' expects a float tensor of shape B×3×H×W, got {shape}; "
                "convert images with Backbone.preprocess"
            )
        return self._run_stages(x, 0, wanted)

    def forward_from(self, x: torch.Tensor, start: str, layers: Sequence[str] | str | None = None) -> dict[str, torch.Tensor]:
        """Activations of ``layers`` computed from ``x``, the activation of the layer before ``start``.

        Runs the stages ``start`` … deepest requested layer only: with
        ``x = forward(image, [previous(start)])[previous(start)]``,
        ``forward_from(x, start, layers) == forward(image, layers)``. This is how
        a frozen trunk is skipped once its output is cached. ``layers`` (all
        from ``start`` on when None) must lie at or after ``start``;
        ``start`` must not be the first stage (its input is the image: use
        :meth:`forward`).
        """
        first = self._layer_index(start)
        if first == 0:
            raise ModelError(
                f"start='{start}' is the first stage of backbone '{self.name}': its input is the image; "
                "call forward(x, layers) without start"
            )
        wanted = self.layer_names[first:] if layers is None else self.check_layers(layers)
        before = [name for name in wanted if self._index[name] < first]
        if before:
            raise ModelError(
                f"layer(s) {', '.join(map(repr, before))} of backbone '{self.name}' lie before start='{start}' "
                f"and are not computed from its input; request layers from {start} on "
                f"({', '.join(self.layer_names[first:])})"
            )
        prev = self.feature_info[first - 1]
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != prev.channels:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ModelError(
                f"backbone '{self.name}' run from '{start}' expects the activation of '{prev.name}' "
                f"(B×{prev.channels}×h×w), got {shape}; pass forward(image, ['{prev.name}'])['{prev.name}']"
            )
        return self._run_stages(x, first, wanted)

    def previous_layer(self, layer: str) -> str | None:
        """The layer just before ``layer`` (None for the first stage): the input of :meth:`forward_from`."""
        i = self._layer_index(layer)
        return self.feature_info[i - 1].name if i > 0 else None

    def _run_stages(self, x: torch.Tensor, first: int, wanted: list[str]) -> dict[str, torch.Tensor]:
        want = set(wanted)
        last = max(self._index[name] for name in wanted)
        found: dict[str, torch.Tensor] = {}
        for i in range(first, last + 1):
            x = self._runs[i](x)
            name = self.feature_info[i].name
            if name in want:
                found[name] = x
        return {name: found[name] for name in wanted}

    def preprocess(self, images: np.ndarray | Sequence[np.ndarray] | torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        """uint8 RGB image(s) (H×W×3 or B×H×W×3) → normalised float tensor B×3×H×W.

        ``x = (image / 255 − mean) / std`` per channel. Images in a list must share
        one size (resize them first).
        """
        if isinstance(images, (list, tuple)):
            shapes = {np.asarray(im).shape for im in images}
            if len(shapes) != 1:
                raise ModelError(f"images of mixed sizes {sorted(shapes)} cannot form one batch; resize them to one size first")
            images = np.stack([np.asarray(im) for im in images])
        t = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
        if t.ndim == 3:
            t = t[None]
        if t.ndim != 4 or t.shape[-1] != 3:
            raise ModelError(f"preprocess expects H×W×3 or B×H×W×3 RGB images, got shape {tuple(t.shape)}")
        if t.dtype != torch.uint8:
            raise ModelError(
                f"preprocess expects uint8 images (0–255), got {t.dtype}; convert with "
                "salscope.models.base.as_rgb_image, or call Backbone.normalize on a float batch in [0, 1]"
            )
        t = t.to(device=device, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
        return self.normalize(t)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x − mean) / std`` per channel for a float batch in [0, 1]."""
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device)[:, None, None]
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device)[:, None, None]
        return (x - mean) / std

    # -- parameters per layer -----------------------------------------------------------------------
    def layer_modules(self, layer: str) -> list[nn.Module]:
        """The modules computing stage ``layer`` alone (its own parameters)."""
        return list(self._stage_modules[self._layer_index(layer)])

    def modules_from(self, layer: str) -> list[nn.Module]:
        """The modules from ``layer`` (inclusive) to the deepest layer: what fine-tuning from ``layer`` trains."""
        start = self._layer_index(layer)
        out: list[nn.Module] = []
        for mods in self._stage_modules[start:]:
            out.extend(mods)
        return out

    def output_module(self, layer: str) -> nn.Module:
        """The module whose forward output *is* the activation of ``layer`` (for hooks)."""
        return self._stage_modules[self._layer_index(layer)][-1]

    def layer_parameters(self, layer: str) -> dict[str, torch.Tensor]:
        """``{state_dict key: parameter}`` of stage ``layer`` (used for weight-change measures)."""
        ids = {id(p) for m in self.layer_modules(layer) for p in m.parameters()}
        return {k: p for k, p in self.named_parameters() if id(p) in ids}

    # -- weights ------------------------------------------------------------------------------------
    def load_weights(self, state_dict: Mapping[str, torch.Tensor], source: str = "state dict", ignore_prefixes: Sequence[str] = ()) -> None:
        """Load a state dict strictly (keys under ``ignore_prefixes`` are dropped first).

        Raises :class:`ModelError` naming the missing, unexpected and mis-shaped keys.
        """
        if not isinstance(state_dict, Mapping):
            raise ModelError(f"weights from {source} are a {type(state_dict).__name__}, not a state dict")
        own = self.state_dict()
        given = {k: v for k, v in state_dict.items() if not any(k.startswith(p) for p in ignore_prefixes)}
        mismatch = state_dict_mismatch(own, given, _short)
        if mismatch:
            raise ModelError(
                f"weights from {source} do not fit backbone '{self.name}': {mismatch}. "
                f"Pass a {self.name} state dict with the original key names (e.g. {next(iter(own))})"
            )
        check_finite(given, source)
        self.load_state_dict(given, strict=True)
        self.weights_source = source


def check_finite(state: Mapping[str, Any], source: str) -> None:
    """ModelError when a floating-point tensor of ``state`` holds NaN/inf (a diverged training's weights)."""
    bad = [k for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ModelError(f"weights from {source} hold NaN or infinite values in {len(bad)} tensor(s) (e.g. {bad[0]}): "
                         "the training diverged; retrain with a smaller --lr or use an earlier checkpoint")


def state_dict_mismatch(
    own: Mapping[str, Any], given: Mapping[str, Any], show: Callable[[list[str]], str]
) -> str:
    """What keeps ``given`` from loading strictly into a module whose state dict is ``own`` ('' if nothing).

    ``"missing keys …; unexpected keys …; wrong shapes …"`` (only the non-empty
    parts), each list rendered by ``show``; a wrong shape reads
    ``"key (given shape) (expected (own shape))"``. Used by :meth:`Backbone.load_weights`
    and :func:`salscope.models.deep.load_module_state`.
    """
    missing = [k for k in own if k not in given]
    unexpected = [k for k in given if k not in own]
    shapes = [
        f"{k} {tuple(given[k].shape)} (expected {tuple(own[k].shape)})"
        for k in own
        if k in given and hasattr(given[k], "shape") and tuple(given[k].shape) != tuple(own[k].shape)
    ]
    parts = [f"{label} {show(items)}" for label, items in
             (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", shapes)) if items]
    return "; ".join(parts)


def _short(items: list[str], n: int = 8) -> str:
    shown = ", ".join(items[:n])
    return shown + (f" … (+{len(items) - n} more)" if len(items) > n else "")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a state dict from ``path`` (``torch.load`` with ``weights_only``; a ``state_dict`` entry is unwrapped)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"weights file {path} does not exist; pass an existing .pth file, 'imagenet' or None")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 (pickle/zip errors of many kinds)
        raise ModelError(f"weights file {path} could not be read as a PyTorch state dict ({exc}); re-download or re-save it") from exc
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise ModelError(f"weights file {path} holds a {type(obj).__name__}, not a state dict")
    return dict(obj)


def resolve_weights(backbone: Backbone, weights: str | os.PathLike | None, imagenet: Callable[[bool], tuple[dict, str]],
                    ignore_prefixes: Sequence[str] = (), *, offline: bool = False) -> Backbone:
    """Load ``weights`` into ``backbone``: ``"imagenet"``, None (random), ``URL#sha256=<hex>``, or a file path.

    ``imagenet(offline)`` returns the table's state dict and its source. A URL
    must carry its full SHA-256 (the file is cached under it); with
    ``offline=True`` a URL is refused and ``imagenet`` may only read the cache.
    """
    if weights is None:
        backbone.weights_source = None
        return backbone
    if isinstance(weights, str) and weights == "imagenet":
        state, source = imagenet(offline)
    elif isinstance(weights, str) and weights.startswith(("http://", "https://")):
        if offline:
            raise ModelError(f"weights URL {weights!r} refused: this load is offline (a checkpoint never downloads); "
                             "download the file yourself and pass its path")
        state, source = read_state_dict(fetch_url(weights)), weights.partition("#")[0]
    elif isinstance(weights, (str, os.PathLike)):
        state, source = read_state_dict(weights), str(weights)
    else:
        raise ModelError(f"weights={weights!r} not understood; use 'imagenet', None, a URL or a .pth path")
    backbone.load_weights(state, source=source, ignore_prefixes=ignore_prefixes)
    return backbone
