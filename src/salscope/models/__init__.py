"""Saliency models: the interface, the registry and the one factory that builds a model from any spec.

Build a model with :func:`salscope.models.factory.saliency_model` (or its
classic face :func:`get_model`) from a registered name, ``ckpt:PATH``,
``FILE.py:FACTORY`` …; an encoder with :func:`salscope.models.factory.encoder`.
"""

from salscope.models.base import SaliencyModel
from salscope.models.factory import (
           ModelSpec,
           available_models,
           encoder,
           get_model,
           parse_spec,
           saliency_model,
)
from salscope.models.registry import register_model

__all__ = ["ModelSpec", "SaliencyModel", "available_models", "encoder", "get_model", "parse_spec", "register_model",
           "saliency_model"]
