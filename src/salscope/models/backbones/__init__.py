"""Image encoders exposing their layers by name (timm-like registry).

``get_backbone(name, weights)`` builds one; ``weights`` is ``"imagenet"`` (the
published ImageNet weights: downloaded once into ``cache_dir()/weights`` and
sha256-checked for VGG/ResNet, shipped offline for EfficientNet-Lite0), None
(random initialisation), an ``http(s)://`` URL of a state dict, or a local
``.pth`` file with the original implementation's key names.
"""

from __future__ import annotations

import os
from typing import Callable

from salscope.errors import ModelError
from salscope.models.backbones.base import Backbone, FeatureInfo, fetch_weights, read_state_dict, resolve_weights

DEFAULT_BACKBONE = "efficientnet_lite0"


def _torchvision_imagenet(url_attr: str) -> Callable[[], tuple[dict, str]]:
    def load() -> tuple[dict, str]:
        import salscope.models.backbones as pkg  # noqa: PLC0415 (URL looked up at call time: tests point it at 127.0.0.1)

        url = pkg.IMAGENET_URLS[url_attr]
        return read_state_dict(fetch_weights(url)), url

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
    from salscope.models.backbones.efficientnet import EfficientNetLite0, imagenet_state_dict  # noqa: PLC0415

    return EfficientNetLite0(), imagenet_state_dict, ("_fc.",)


_BUILDERS = {
    "efficientnet_lite0": _build_efficientnet_lite0,
    "resnet18": _build_resnet18,
    "resnet50": _build_resnet50,
    "vgg16": _build_vgg16,
}

# Where "imagenet" weights come from (torchvision's published files; the hash prefix is checked).
IMAGENET_URLS: dict[str, str] = {
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
}


def available_backbones() -> list[str]:
    """Names accepted by :func:`get_backbone`, sorted."""
    return sorted(_BUILDERS)


def get_backbone(name: str = DEFAULT_BACKBONE, weights: str | os.PathLike | None = "imagenet") -> Backbone:
    """Build backbone ``name`` with ``weights`` ("imagenet", None, a URL or a state-dict path).

    The result is in eval mode. Raises :class:`ModelError` for an unknown name
    (listing the valid ones) or weights whose keys/shapes do not fit (naming them).
    """
    if name not in _BUILDERS:
        raise ModelError(f"unknown backbone '{name}'; valid names: {', '.join(available_backbones())}")
    backbone, imagenet, ignore = _BUILDERS[name]()
    resolve_weights(backbone, weights, imagenet, ignore_prefixes=ignore)
    return backbone.eval()


__all__ = ["Backbone", "DEFAULT_BACKBONE", "FeatureInfo", "IMAGENET_URLS", "available_backbones", "get_backbone"]
