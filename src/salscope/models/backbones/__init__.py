"""Image encoders exposing their layers by name (timm-like registry).

``get_backbone(name, weights)`` builds one; ``weights`` is ``"imagenet"`` (the
published ImageNet weights of the built-in table :data:`IMAGENET_WEIGHTS`:
downloaded once into ``cache_dir()/weights``, stored under their SHA-256 and
checked on every use for VGG/ResNet, shipped offline for EfficientNet-Lite0),
None (random initialisation), an ``http(s)://`` URL of a state dict with its
full hash (``URL#sha256=<64 hex>``), or a local ``.pth`` file with the original
implementation's key names. ``offline=True`` (what checkpoint loading uses)
never downloads: ``"imagenet"`` must already be cached, URLs are refused. See
:mod:`salscope.models.backbones.weights`.
"""

from __future__ import annotations

import os
from typing import Callable

from salscope.errors import ModelError
from salscope.models.backbones.base import (
    Backbone,
    FeatureInfo,
    read_state_dict,
    resolve_weights,
)
from salscope.models.backbones.resnet import RESNET18_IMAGENET, RESNET50_IMAGENET
from salscope.models.backbones.vgg import VGG16_IMAGENET
from salscope.models.backbones.weights import WeightsFile, fetch_weights

DEFAULT_BACKBONE = "efficientnet_lite0"


def _torchvision_imagenet(key: str) -> Callable[[bool], tuple[dict, str]]:
    def load(offline: bool = False) -> tuple[dict, str]:
        import salscope.models.backbones as pkg  # noqa: PLC0415 (entry looked up at call time: tests point it at 127.0.0.1)

        entry = pkg.IMAGENET_WEIGHTS[key]
        return read_state_dict(fetch_weights(entry, offline=offline)), entry.url

    return load


def _build_vgg16() -> tuple[Backbone, Callable[[], tuple[dict, str]], tuple[str, ...]]:
    from salscope.models.backbones.vgg import VGG16  # noqa: PLC0415

    return VGG16(), _torchvision_imagenet("vgg16"), ("classifier.",)


def _build_resnet18():
    from salscope.models.backbones.resnet import resnet18  # noqa: PLC0415

    return resnet18(), _torchvision_imagenet("resnet18"), ("fc.",)


def _build_resnet50():
    from salscope.models.backbones.resnet import resnet50  # noqa: PLC0415

    return resnet50(), _torchvision_imagenet("resnet50"), ("fc.",)


def _build_efficientnet_lite0():
    from salscope.models.backbones.efficientnet import (  # noqa: PLC0415
        EfficientNetLite0,
        imagenet_state_dict,
    )

    return EfficientNetLite0(), lambda offline=False: imagenet_state_dict(), ("_fc.",)  # shipped: always offline


_BUILDERS = {
    "efficientnet_lite0": _build_efficientnet_lite0,
    "resnet18": _build_resnet18,
    "resnet50": _build_resnet50,
    "vgg16": _build_vgg16,
}

# The built-in weights table: the only files "imagenet" ever downloads (torchvision's published files).
IMAGENET_WEIGHTS: dict[str, WeightsFile] = {
    "vgg16": VGG16_IMAGENET,
    "resnet18": RESNET18_IMAGENET,
    "resnet50": RESNET50_IMAGENET,
}


def available_backbones() -> list[str]:
    """Names accepted by :func:`get_backbone`, sorted."""
    return sorted(_BUILDERS)


def get_backbone(name: str = DEFAULT_BACKBONE, weights: str | os.PathLike | None = "imagenet", *,
                 offline: bool = False) -> Backbone:
    """Build backbone ``name`` with ``weights`` ("imagenet", None, ``URL#sha256=<hex>`` or a state-dict path).

    The result is in eval mode. With ``offline=True`` nothing is downloaded
    ("imagenet" comes from the cache or the shipped file; a URL is refused).
    Raises :class:`ModelError` for an unknown name (listing the valid ones), a
    URL without its SHA-256, or weights whose keys/shapes do not fit (naming them).
    """
    if name not in _BUILDERS:
        raise ModelError(f"unknown backbone '{name}'; valid names: {', '.join(available_backbones())}")
    backbone, imagenet, ignore = _BUILDERS[name]()
    resolve_weights(backbone, weights, imagenet, ignore_prefixes=ignore, offline=offline)
    return backbone.eval()


__all__ = ["Backbone", "DEFAULT_BACKBONE", "FeatureInfo", "IMAGENET_WEIGHTS", "WeightsFile", "available_backbones",
           "get_backbone"]
