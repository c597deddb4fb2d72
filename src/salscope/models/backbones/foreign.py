"""Encoders salscope did not define: any ``torch.nn.Module`` and timm models, behind the Backbone interface.

The analyses (``dissect``, ``compare``, the neuron stage) read an encoder
through a small interface: ``layer_names``, ``feature_info`` (name, channels,
stride), ``check_layers``, ``normalize``/``preprocess`` and
``forward(x, layers=...) -> {layer: B×C×h×w}``. :class:`ModuleEncoder` gives it
to any module — layer names are the module's own ``named_modules()`` paths,
read with forward hooks — and :class:`TimmEncoder` to a timm model built with
``features_only=True``, whose ``feature_info`` contract (``get_dicts()``:
``module``, ``num_chs``, ``reduction``) names its layers.

Preprocessing: a module may carry a ``preprocess`` attribute, a callable that
takes the float batch ``B×3×H×W`` in [0, 1] and returns what the module
expects; without one the batch is normalised with ``mean``/``std`` attributes
of the module, else ImageNet's (what almost every ImageNet encoder wants).

References
----------
R. Wightman, timm: ``timm/models/_features.py`` (FeatureInfo, ``features_only``).
D. Bau et al., ``netdissect/nethook.py`` (reading a layer by name with hooks).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from salscope.errors import ModelError
from salscope.models.backbones.base import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Backbone,
    FeatureInfo,
)
from salscope.models.nethook import capture

#: Side of the blank image run once through a module to learn its layers' channels and strides.
PROBE_SIZE = 224


class Normalize:
    """``(x − mean) / std`` per channel of a ``B×3×H×W`` batch (a class, not a closure, so that models pickle)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        m = torch.tensor(self.mean, dtype=x.dtype, device=x.device)[:, None, None]
        s = torch.tensor(self.std, dtype=x.dtype, device=x.device)[:, None, None]
        return (x - m) / s


def module_preprocess(module: nn.Module, name: str = "module") -> Callable[[torch.Tensor], torch.Tensor]:
    """The preprocessing rule of a user's module: its ``preprocess``, else ``(x − mean) / std`` (its own or ImageNet's)."""
    pre = getattr(module, "preprocess", None)
    if pre is not None:
        if not callable(pre):
            raise ModelError(f"{name}: its 'preprocess' attribute is a {type(pre).__name__}, not a callable taking a "
                             "B×3×H×W batch in [0, 1]")
        return pre
    return Normalize(getattr(module, "mean", None) or IMAGENET_MEAN, getattr(module, "std", None) or IMAGENET_STD)


class _Foreign(nn.Module):
    """What :class:`ModuleEncoder` and :class:`TimmEncoder` share: names, checks, normalisation."""

    name = "module"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    weights_source: str | None = None
    _preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None

    @property
    def layer_names(self) -> list[str]:
        return [info.name for info in self.feature_info]

    def layer_info(self, layer: str) -> FeatureInfo:
        self.check_layers([layer])
        return next(info for info in self.feature_info if info.name == layer)

    def check_layers(self, layers: Sequence[str] | str | None) -> list[str]:
        """Validate ``layers`` (one name, several, or None for all); return them as a list."""
        names = self._all_names()
        if layers is None:
            return self.layer_names
        layers = [layers] if isinstance(layers, str) else list(layers)
        if not layers:
            raise ModelError(f"no layers requested from '{self.name}'; pick from: {_shown(names)}")
        unknown = [n for n in layers if n not in names]
        if unknown:
            raise ModelError(f"unknown layer(s) {', '.join(map(repr, unknown))} for '{self.name}'; valid layers: "
                             f"{_shown(names)} (list them with `salscope layers {self.name}`)")
        return layers

    def _all_names(self) -> list[str]:
        return self.layer_names

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """The module's own ``preprocess`` of a [0, 1] batch, else ``(x − mean) / std`` per channel."""
        if self._preprocess is not None:
            return self._preprocess(x)
        return Backbone.normalize(self, x)  # type: ignore[arg-type]

    preprocess = Backbone.preprocess

    def layer_parameters(self, layer: str) -> dict[str, torch.Tensor]:
        """``{state_dict key: parameter}`` of the sub-module ``layer`` (for weight-change measures)."""
        self.check_layers([layer])
        prefix = self._module_path(layer)
        sub = self.get_submodule(prefix)
        return {f"{prefix}.{k}": p for k, p in sub.named_parameters()}

    def _module_path(self, layer: str) -> str:
        raise NotImplementedError


def _shown(names: Sequence[str], n: int = 20) -> str:
    return ", ".join(names[:n]) + (f" … ({len(names)} in all)" if len(names) > n else "")


class ModuleEncoder(_Foreign):
    """Any ``nn.Module`` as an encoder: its layers are its ``named_modules()`` paths, read with hooks.

    ``layers`` fixes the default layer list (what ``compare`` uses when none is
    given); the module's ``feature_layers`` attribute does too; otherwise every
    named sub-module is a layer. Channels and strides come from one forward pass
    of a blank ``PROBE_SIZE``² image, made the first time they are asked for.
    """

    def __init__(self, module: nn.Module, name: str = "module", layers: Sequence[str] | None = None,
                 source: str | None = None):
        super().__init__()
        if not isinstance(module, nn.Module):
            raise ModelError(f"{name}: expected a torch.nn.Module, got a {type(module).__name__}")
        self.module = module
        self.name = name
        self.weights_source = source
        object.__setattr__(self, "_preprocess", module_preprocess(module, name))
        self._names = [n for n, _ in module.named_modules() if n]
        if not self._names:
            raise ModelError(f"{name}: the module has no sub-modules, so it has no layers to read; build it from "
                             "named parts (e.g. nn.Sequential or attributes)")
        wanted = list(layers) if layers is not None else list(getattr(module, "feature_layers", None) or self._names)
        unknown = [n for n in wanted if n not in self._names]
        if unknown:
            raise ModelError(f"{name}: layers {unknown} are not sub-modules; valid: {_shown(self._names)}")
        self._default = wanted
        self._info: list[FeatureInfo] | None = None

    def _all_names(self) -> list[str]:
        return self._names

    @property
    def layer_names(self) -> list[str]:
        return list(self._default)

    @property
    def feature_info(self) -> list[FeatureInfo]:  # type: ignore[override]
        if self._info is None:
            self._info = self._probe(self._default)
        return self._info

    def _probe(self, names: Sequence[str]) -> list[FeatureInfo]:
        x = torch.zeros(1, 3, PROBE_SIZE, PROBE_SIZE, device=module_device(self.module))
        acts = self._run(self.normalize(x), names)
        infos = []
        for n in names:
            a = acts[n]
            if a.ndim != 4:
                raise ModelError(f"{self.name}: layer '{n}' gives a tensor of shape {tuple(a.shape)}, not B×C×h×w; "
                                 "analyse convolutional layers (pass --layers)")
            infos.append(FeatureInfo(n, int(a.shape[1]), max(1, round(PROBE_SIZE / a.shape[-1]))))
        return infos

    def layer_info(self, layer: str) -> FeatureInfo:
        self.check_layers([layer])
        if layer in self._default:
            return super().layer_info(layer)
        return self._probe([layer])[0]

    def _run(self, x: torch.Tensor, names: Sequence[str]) -> dict[str, torch.Tensor]:
        with capture(self.module, list(names)) as acts:
            self.module(x)
        missing = [n for n in names if n not in acts]
        if missing:
            raise ModelError(f"{self.name}: layers {missing} produced no output in the forward pass; they are not "
                             "called by forward(); pick others")
        return {n: acts[n] for n in names}

    def forward(self, x: torch.Tensor, layers: Sequence[str] | str | None = None) -> dict[str, torch.Tensor]:
        """Activations ``{layer: B×C×h×w}`` for the normalised batch ``x``, in the order of ``layers``."""
        return self._run(x, self.check_layers(layers))

    def _module_path(self, layer: str) -> str:
        return f"module.{layer}"


class TimmEncoder(_Foreign):
    """A timm model built with ``features_only=True``, its layers named by its ``feature_info`` modules.

    Layer names are the ``module`` entries of ``feature_info.get_dicts()``
    (e.g. ``layer1`` … ``layer4`` of a ResNet); channels and strides are its
    ``num_chs`` and ``reduction``; mean/std come from ``pretrained_cfg``.
    """

    def __init__(self, model: nn.Module, name: str, source: str | None = None):
        super().__init__()
        info = getattr(model, "feature_info", None)
        if info is None or not hasattr(info, "get_dicts"):
            raise ModelError(f"timm model '{name}' has no feature_info; build it with features_only=True")
        self.model = model
        self.name = name
        self.weights_source = source
        dicts = list(info.get_dicts())
        if not dicts:
            raise ModelError(f"timm model '{name}': its feature_info lists no layers")
        self._infos = [FeatureInfo(str(d["module"]), int(d["num_chs"]), int(d["reduction"])) for d in dicts]
        cfg = getattr(model, "pretrained_cfg", None) or {}
        if cfg.get("mean") is not None and cfg.get("std") is not None:
            self.mean = tuple(float(v) for v in cfg["mean"])  # type: ignore[assignment]
            self.std = tuple(float(v) for v in cfg["std"])  # type: ignore[assignment]

    @property
    def feature_info(self) -> list[FeatureInfo]:  # type: ignore[override]
        return list(self._infos)

    def forward(self, x: torch.Tensor, layers: Sequence[str] | str | None = None) -> dict[str, torch.Tensor]:
        wanted = self.check_layers(layers)
        outs = self.model(x)
        if len(outs) != len(self._infos):
            raise ModelError(f"timm model '{self.name}' returned {len(outs)} feature maps for {len(self._infos)} "
                             "feature_info entries; build it with features_only=True and no out_indices change")
        by_name = {info.name: t for info, t in zip(self._infos, outs)}
        return {n: by_name[n] for n in wanted}

    def _module_path(self, layer: str) -> str:
        return f"model.{layer.replace('.', '_')}" if not _has(self.model, layer) else f"model.{layer}"


def _has(module: nn.Module, path: str) -> bool:
    try:
        module.get_submodule(path)
    except AttributeError:
        return False
    return True


def module_device(module: nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


def timm_encoder(name: str, weights: Any = None) -> TimmEncoder:
    """``timm.create_model(name, features_only=True)`` with weights from a local file (or random), wrapped.

    ``weights`` is None (random) or a local file (``.pth``/``.safetensors``),
    passed to timm as ``pretrained_cfg_overlay={"file": path}``; salscope never
    lets timm download. timm is an optional extra (``pip install
    'salscope[timm]'``); it needs torchvision.
    """
    try:
        import timm  # noqa: PLC0415 (optional extra; imports torchvision)
    except Exception as exc:  # noqa: BLE001 (ImportError, or torchvision failing to import)
        raise ModelError(f"timm:{name} needs timm, which could not be imported ({exc}); install the extra: "
                         "pip install 'salscope[timm]'") from exc
    kwargs: dict[str, Any] = {"features_only": True}
    if weights is not None:
        kwargs.update(pretrained=True, pretrained_cfg_overlay={"file": str(weights)})
    try:
        model = timm.create_model(name, **kwargs)
    except Exception as exc:  # noqa: BLE001 (unknown names, bad files)
        raise ModelError(f"timm could not build '{name}' ({exc}); list names with timm.list_models()") from exc
    return TimmEncoder(model.eval(), name, source=None if weights is None else str(weights))


def as_numpy_map(out: torch.Tensor, what: str) -> np.ndarray:
    """A module's saliency output (``B×H×W`` or ``B×1×H×W``) as float64 ``B×H×W``; ModelError otherwise."""
    if out.ndim == 4 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim != 3:
        raise ModelError(f"{what} returned a tensor of shape {tuple(out.shape)}; a saliency module returns B×H×W "
                         "(or B×1×H×W) maps or log-densities")
    return out.detach().double().cpu().numpy()
