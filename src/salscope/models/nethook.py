"""Read a model's intermediate activations by layer name with forward hooks.

``with capture(model, ["encoder.features.22", "decoder"]) as acts: model(x)``
fills ``acts`` with each named module's output during the forward pass; the
hooks are removed when the block exits, even on error. No model copy is made.
Names are ``named_modules`` paths; on a :class:`~salscope.models.backbones.Backbone`
its layer names (``conv4_3``) are accepted too and resolve to
:meth:`Backbone.output_module`.

References
----------
D. Bau et al. ``dissect/netdissect/nethook.py`` (InstrumentedModel, retain_layer).
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
from torch import nn

from salscope.errors import ModelError


def resolve_module(model: nn.Module, name: str) -> nn.Module:
    """The sub-module of ``model`` called ``name`` (a dotted path, or a Backbone layer name)."""
    try:
        return model.get_submodule(name) if name else model
    except AttributeError:
        pass
    # A Backbone layer name, possibly behind a dotted prefix ("encoder.conv5_3").
    from salscope.models.backbones.base import Backbone  # noqa: PLC0415

    prefix, _, layer = name.rpartition(".")
    try:
        owner = model.get_submodule(prefix) if prefix else model
    except AttributeError:
        owner = None
    if isinstance(owner, Backbone) and layer in owner.layer_names:
        return owner.output_module(layer)
    names = [n for n, _ in model.named_modules() if n]
    hint = ", ".join(names[:20]) + (f" … ({len(names)} in all)" if len(names) > 20 else "")
    if isinstance(owner, Backbone):
        hint = f"{', '.join(owner.layer_names)}; or module paths: {hint}"
    raise ModelError(f"no layer '{name}' in {type(model).__name__}; valid names: {hint}")


@contextlib.contextmanager
def capture(module: nn.Module, layer_names: Sequence[str] | str, *, detach: bool = True) -> Iterator[dict[str, torch.Tensor]]:
    """Context manager: a dict that each forward pass fills with the outputs of ``layer_names``.

    Outputs are stored as produced (``detach=True`` cuts them from the autograd
    graph; pass ``detach=False`` to back-propagate through them). A later
    forward pass overwrites the entries. Unknown names raise ModelError before
    any hook is attached.
    """
    if isinstance(layer_names, str):
        layer_names = [layer_names]
    targets = [(name, resolve_module(module, name)) for name in layer_names]
    store: dict[str, torch.Tensor] = {}
    handles = []

    def make_hook(key: str):
        def hook(_mod: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
            store[key] = out.detach() if (detach and isinstance(out, torch.Tensor)) else out

        return hook

    try:
        for name, mod in targets:
            handles.append(mod.register_forward_hook(make_hook(name)))
        yield store
    finally:
        for h in handles:
            h.remove()
