"""The built-in saliency model: ``efficientnet_lite0`` (ImageNet, shipped) + a trained readout decoder.

Both parts install with salscope and load offline; ``resources/builtin/card.json``
says how the decoder was trained (command, split, seed, scores).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import torch

from salscope.errors import ModelError
from salscope.models.base import SaliencyModel
from salscope.models.checkpoint import load_checkpoint
from salscope.models.deep import DeepSaliency
from salscope.models.registry import register_model

BUILTIN_PACKAGE = "salscope.resources.builtin"


def builtin_card() -> dict[str, Any]:
    """The JSON card of the built-in model (command, split, seed, scores)."""
    ref = resources.files(BUILTIN_PACKAGE) / "card.json"
    if not ref.is_file():
        raise ModelError("the built-in model's card.json is missing from salscope/resources/builtin; reinstall salscope")
    return json.loads(ref.read_text())


def builtin_model(center_prior: bool | None = None, device: str | torch.device | None = None,
                  amp: bool = False) -> DeepSaliency:
    """The built-in model: ``efficientnet_lite0`` (ImageNet, offline) + a trained readout decoder."""
    ref = resources.files(BUILTIN_PACKAGE) / "decoder.pt"
    if not ref.is_file():
        raise ModelError("the built-in model's decoder.pt is missing from salscope/resources/builtin; reinstall salscope")
    with resources.as_file(ref) as path:
        model = load_checkpoint(path)
    return DeepSaliency(model, name="builtin", center_prior=center_prior, device=device, amp=amp)


@register_model("builtin", kind="deep", center_prior_switch=True)
def _builtin_factory(**kwargs: Any) -> SaliencyModel:
    return builtin_model(**kwargs)
