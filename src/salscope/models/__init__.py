"""Saliency models: classical algorithms, deep encoder–decoder models and baselines.

Every model implements :class:`salscope.models.base.SaliencyModel`; look one up by
name with :func:`salscope.models.registry.get_model`.
"""

from salscope.models.base import SaliencyModel
from salscope.models.registry import available_models, get_model, register_model

__all__ = ["SaliencyModel", "available_models", "get_model", "register_model"]
