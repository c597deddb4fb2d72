"""The table of saliency models by name: a leaf that imports no model.

Model modules register a factory with :func:`register_model` when they are
imported; :mod:`salscope.models.factory` imports them (the classical models and
the built-in deep model) and is the one place that turns a name — or any other
model spec — into a model. This module only keeps the table, so that a model
module can register itself without importing the code that builds models from
specs (the shape of timm's ``_registry.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

#: What a model is, as every command and the study report it.
KINDS = ("deep", "classical", "baseline", "precomputed")


@dataclass(frozen=True)
class Entry:
    """One registered model: its factory, its kind, and whether the factory takes ``center_prior``."""

    name: str
    factory: Callable[..., Any]
    kind: str
    center_prior_switch: bool


_ENTRIES: dict[str, Entry] = {}


def register_model(name: str, *, kind: str = "classical",
                   center_prior_switch: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``factory(**kwargs) -> SaliencyModel`` under ``name``.

    ``kind`` is one of :data:`KINDS`; ``center_prior_switch`` says that the
    factory takes ``center_prior=False`` to build the model without its centre
    bias (what the pop-out search arrays need).
    """
    if kind not in KINDS:
        raise ValueError(f"register_model({name!r}): kind {kind!r} is not one of {KINDS}")

    def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
        _ENTRIES[name] = Entry(name, factory, kind, center_prior_switch)
        return factory

    return decorate


def registered(name: str) -> Entry | None:
    """The entry registered as ``name`` (None when there is none)."""
    return _ENTRIES.get(name)


def registered_names() -> list[str]:
    """Names registered so far, sorted (import :mod:`salscope.models.factory` first for every built-in one)."""
    return sorted(_ENTRIES)
