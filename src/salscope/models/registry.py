"""Look saliency models up by name.

Modules register factories with :func:`register_model`; the registry imports
the built-in model modules lazily the first time a name is looked up, so
importing :mod:`salscope.models` stays cheap.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

from salscope.errors import ModelError
from salscope.models.base import SaliencyModel

_FACTORIES: dict[str, Callable[..., SaliencyModel]] = {}

# Modules whose import registers built-in models (each calls register_model at import).
_BUILTIN_MODULES: list[str] = [
    "salscope.models.classical",
    "salscope.models.deep",
]

# A path with one of these suffixes is a deep-model checkpoint.
CHECKPOINT_SUFFIXES = (".ckpt", ".pt", ".pth")


def register_model(name: str) -> Callable[[Callable[..., SaliencyModel]], Callable[..., SaliencyModel]]:
    """Decorator: register ``factory(**kwargs) -> SaliencyModel`` under ``name``."""

    def decorate(factory: Callable[..., SaliencyModel]) -> Callable[..., SaliencyModel]:
        _FACTORIES[name] = factory
        return factory

    return decorate


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def available_models() -> list[str]:
    """Names of every registered model, sorted."""
    _load_builtins()
    return sorted(_FACTORIES)


def get_model(name: str, **kwargs: Any) -> SaliencyModel:
    """Build the model registered as ``name`` (or load a checkpoint path).

    Raises :class:`ModelError` listing the valid names when ``name`` is unknown.
    """
    _load_builtins()
    if name in _FACTORIES:
        return _FACTORIES[name](**kwargs)
    path = Path(name)
    if path.suffix in CHECKPOINT_SUFFIXES:
        if not path.is_file():
            raise ModelError(f"checkpoint {path} does not exist")
        from salscope.models.deep import load_saliency_model  # noqa: PLC0415 (optional heavy import)

        return load_saliency_model(path, **kwargs)
    raise ModelError(
        f"unknown model '{name}'; valid names: {', '.join(sorted(_FACTORIES)) or '(none registered)'}, "
        f"or a checkpoint path ending in {', '.join(CHECKPOINT_SUFFIXES)}"
    )
