"""One place that turns a model spec into a model: every command and the study go through it.

A *spec* is text (or a live object). :func:`parse_spec` reads it once into a
:class:`ModelSpec` — label, kind, source, target — and :func:`saliency_model`
/ :func:`encoder` / :func:`precomputed` build what the command needs from it.
The grammar (timm's ``parse_model_name`` with salscope's sources):

==========================  ====================================================  =============
spec                         what it is                                            kind
==========================  ====================================================  =============
``LABEL=SPEC``               any spec below, shown as ``LABEL``                     (of SPEC)
``gbvs``, ``builtin`` …      a registered saliency model (``salscope models``)      registered
``vgg16``, ``resnet50`` …    a backbone (encoder commands: dissect, compare)        deep
``ckpt:PATH``                a checkpoint of ``salscope train`` (any set-up)        deep
``maps:DIR``                 a folder of precomputed maps, one per image id         precomputed
``FILE.py:FACTORY``          ``FACTORY()`` in your own file returns an nn.Module    deep
``timm:NAME``                a timm model (optional extra), encoder commands        deep
``inter_observer``           the leave-one-subject-out human baseline (evaluate)   baseline
==========================  ====================================================  =============

Shorthands kept for the command lines people already have: a path ending in
``.ckpt``/``.pt``/``.pth`` is ``ckpt:PATH``; an existing folder that is not a
registered name is ``maps:DIR`` (write ``maps:./builtin`` for a folder named like
a model). Labels follow one rule: the explicit ``LABEL=``, else the name (for
names), the file stem (checkpoints, files) or the folder name (maps); two
models with one label are an error that says to name them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from torch import nn

# Importing these registers every built-in saliency model (classical, baselines, the built-in deep model).
import salscope.models.builtin  # noqa: F401
import salscope.models.classical  # noqa: F401
from salscope.errors import ModelError
from salscope.models.backbones import available_backbones, get_backbone
from salscope.models.backbones.foreign import timm_encoder
from salscope.models.base import SaliencyModel
from salscope.models.builtin import builtin_model
from salscope.models.checkpoint import (
    CHECKPOINT_SUFFIXES,
    load_checkpoint,
    load_checkpoint_encoder,
)
from salscope.models.deep import DeepSaliency
from salscope.models.module import module_encoder, module_saliency
from salscope.models.precomputed import PrecomputedMaps
from salscope.models.registry import registered, registered_names

INTER_OBSERVER = "inter_observer"
#: Where a spec's model comes from.
SOURCES = ("registry", "backbone", "checkpoint", "maps", "file", "timm", "inter_observer", "object")
#: What a command builds from a spec.
ROLES = ("saliency", "encoder")

_LABEL = re.compile(r"^([A-Za-z0-9_.+-]+)=(.+)$")
_FILE = re.compile(r"^(.+\.py):([A-Za-z_][A-Za-z0-9_]*)$")


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec: what :func:`parse_spec` read from one argument."""

    text: str            # the argument as given
    label: str           # how tables, files and the report name it
    kind: str            # deep | classical | baseline | precomputed (see salscope.models.registry.KINDS)
    source: str          # one of SOURCES
    target: str = ""     # registry/backbone/timm name, or the path
    factory: str = ""    # FILE.py:FACTORY's function name
    obj: Any = None      # a live model (source "object")

    @property
    def center_prior_switch(self) -> bool:
        """Whether the model can be built with ``center_prior=False`` (its own centre bias off)."""
        if self.source == "registry":
            entry = registered(self.target)
            return bool(entry and entry.center_prior_switch)
        if self.source == "object":
            return hasattr(self.obj, "center_prior")
        return self.source == "checkpoint"


def available_models() -> list[str]:
    """Names of every registered saliency model, sorted."""
    return registered_names()


def parse_spec(spec: Any, *, role: str = "saliency", label: str | None = None) -> ModelSpec:
    """Read one model spec (see the module docstring); :class:`ModelError` naming it when it is none of them.

    ``role`` decides what a bare name means: a registered saliency model
    (``"saliency"``: predict, evaluate, popout) or a backbone (``"encoder"``:
    dissect, compare; ``builtin`` and checkpoints are both). Live objects — a
    :class:`SaliencyModel`, a Backbone or any ``nn.Module`` — pass through with
    their ``name`` as label.
    """
    if role not in ROLES:
        raise ModelError(f"role={role!r}: use one of {ROLES}")
    if isinstance(spec, ModelSpec):
        return spec if label is None else ModelSpec(spec.text, label, spec.kind, spec.source, spec.target,
                                                    spec.factory, spec.obj)
    if not isinstance(spec, (str, os.PathLike)):
        name = label or getattr(spec, "name", None) or type(spec).__name__
        kind = getattr(spec, "kind", None) or _object_kind(spec)
        return ModelSpec(repr(spec)[:80], str(name), kind, "object", obj=spec)
    text = os.fspath(spec).strip()
    if not text:
        raise ModelError("empty model spec; give a name (salscope models), ckpt:PATH, maps:DIR or FILE.py:FACTORY")
    m = _LABEL.match(text)
    if m and "/" not in m.group(1) and os.sep not in m.group(1):
        return parse_spec(m.group(2), role=role, label=label or m.group(1))
    parsed = _parse_text(text, role)
    return parsed if label is None else ModelSpec(text, label, parsed.kind, parsed.source, parsed.target,
                                                  parsed.factory)


def _object_kind(obj: Any) -> str:
    if isinstance(obj, (DeepSaliency, nn.Module)):
        return "deep"
    if isinstance(obj, PrecomputedMaps):
        return "precomputed"
    return "other"


def _parse_text(text: str, role: str) -> ModelSpec:
    prefix, sep, rest = text.partition(":")
    if sep and prefix == "ckpt":
        return ModelSpec(text, Path(rest).stem, "deep", "checkpoint", rest)
    if sep and prefix == "maps":
        return ModelSpec(text, Path(rest).name or rest, "precomputed", "maps", rest)
    if sep and prefix == "timm":
        if not rest:
            raise ModelError(f"model spec {text!r}: give the timm model name, e.g. timm:resnet50")
        if role != "encoder":
            raise ModelError(f"model spec {text!r}: timm models are encoders (dissect, compare), not saliency models")
        return ModelSpec(text, rest, "deep", "timm", rest)
    f = _FILE.match(text)
    if f:
        return ModelSpec(text, Path(f.group(1)).stem, "deep", "file", f.group(1), f.group(2))
    if text == INTER_OBSERVER:
        if role != "saliency":
            raise ModelError("inter_observer is an evaluation baseline, not an encoder")
        return ModelSpec(text, text, "baseline", "inter_observer", text)
    entry = registered(text) if role == "saliency" else None
    if entry is not None:
        return ModelSpec(text, text, entry.kind, "registry", text)
    if role == "encoder" and text == "builtin":
        return ModelSpec(text, text, "deep", "registry", text)
    if role == "encoder" and text in available_backbones():
        return ModelSpec(text, text, "deep", "backbone", text)
    path = Path(text)
    if path.suffix.lower() in CHECKPOINT_SUFFIXES:
        return ModelSpec(text, path.stem, "deep", "checkpoint", text)
    if role == "saliency" and path.is_dir():
        return ModelSpec(text, path.name or text, "precomputed", "maps", text)
    if role == "encoder":
        valid = ", ".join(["builtin", *available_backbones()])
        raise ModelError(f"unknown encoder '{text}'; valid: {valid}, ckpt:PATH (any set-up), FILE.py:FACTORY "
                         "or timm:NAME")
    raise ModelError(f"unknown model '{text}'; valid names: {', '.join(available_models())}, "
                     f"{INTER_OBSERVER}, ckpt:PATH (or a path ending in {', '.join(CHECKPOINT_SUFFIXES)}), "
                     "maps:DIR (a folder of maps) or FILE.py:FACTORY")


def parse_specs(specs: Sequence[Any], labels: Sequence[str] | None = None, *, role: str = "saliency") -> list[ModelSpec]:
    """Parse several specs; ``labels`` (same length) override theirs. Labels must come out unique."""
    if labels is not None and len(labels) != len(specs):
        raise ModelError(f"--labels: {len(labels)} label(s) for {len(specs)} model(s); give one label per model")
    out = [parse_spec(s, role=role, label=None if labels is None else labels[i]) for i, s in enumerate(specs)]
    seen: dict[str, ModelSpec] = {}
    for s in out:
        if s.label in seen:
            raise ModelError(f"two models share the label '{s.label}' ({seen[s.label].text} and {s.text}); name them "
                             f"LABEL=SPEC (e.g. a={seen[s.label].text} b={s.text}) or pass --labels")
        seen[s.label] = s
    return out


def saliency_model(spec: Any, **kwargs: Any) -> SaliencyModel:
    """The :class:`SaliencyModel` of a spec (registered name, checkpoint, FILE.py:FACTORY or an object).

    ``kwargs`` go to the model's factory (``center_prior``, a checkpoint's
    ``encoder_weights``, a classical model's parameters). ``device``
    (``--device``: auto, cpu, cuda[:N], mps) and ``amp`` (bf16 autocast on
    CUDA) place a deep model; numpy models (classical, baselines) run on the
    CPU and ignore them.
    """
    s = parse_spec(spec)
    placement = {k: kwargs.pop(k) for k in ("device", "amp") if k in kwargs}
    if s.source == "object":
        if kwargs:
            raise ModelError(f"model {s.label}: options {sorted(kwargs)} apply to specs, not to a built model")
        return s.obj
    if s.source == "registry":
        entry = registered(s.target)
        model = entry.factory(**kwargs, **(placement if entry.kind == "deep" else {}))  # type: ignore[union-attr]
        if s.label != s.target:
            model.name = s.label
        return model
    if s.source == "checkpoint":
        unknown = sorted(set(kwargs) - {"center_prior", "encoder_weights"})
        if unknown:
            raise ModelError(f"unknown option(s) {unknown} for a checkpoint model; valid: center_prior, device, amp, "
                             "encoder_weights")
        net = load_checkpoint(s.target, encoder_weights=kwargs.get("encoder_weights"))
        return DeepSaliency(net, name=s.label, center_prior=kwargs.get("center_prior"), **placement)
    if s.source == "file":
        return module_saliency(s.target, s.factory, name=s.label, device=placement.get("device"), **kwargs)
    if s.source == "maps":
        raise ModelError(f"{s.text} is a folder of precomputed maps: it can be evaluated (salscope evaluate) but "
                         "predicts nothing for new images; give a model that does")
    raise ModelError(f"{s.text} is a {s.kind} baseline that only `salscope evaluate` scores, not a saliency model")


def get_model(name: Any, **kwargs: Any) -> SaliencyModel:
    """Build the saliency model of ``name`` (any spec :func:`saliency_model` takes); the registry's classic face."""
    return saliency_model(name, **kwargs)


def precomputed(spec: Any) -> PrecomputedMaps:
    """The :class:`PrecomputedMaps` of a ``maps:DIR`` spec."""
    s = parse_spec(spec)
    if s.source != "maps":
        raise ModelError(f"{s.text} is not a folder of maps; write it as maps:DIR")
    return PrecomputedMaps(s.target, name=s.label)


def encoder(spec: Any, weights: Any = "imagenet") -> nn.Module:
    """The encoder of a spec: a backbone name, ``builtin``, a checkpoint of any set-up, FILE.py:FACTORY or timm:NAME.

    ``weights`` applies to backbone names ("imagenet", None for random, a file,
    ``URL#sha256=``) and to timm (None or a local file; salscope never lets timm
    download). A checkpoint's encoder always has the weights it carries.
    """
    s = parse_spec(spec, role="encoder")
    if s.source == "object":
        if not isinstance(s.obj, nn.Module):
            raise ModelError(f"model {s.label} is a {type(s.obj).__name__}, not an encoder (an nn.Module)")
        return s.obj
    if s.source == "registry":  # builtin
        return builtin_model().model.encoder
    if s.source == "backbone":
        return get_backbone(s.target, weights=weights)
    if s.source == "checkpoint":
        return load_checkpoint_encoder(s.target)
    if s.source == "file":
        return module_encoder(s.target, s.factory, name=s.label)
    if s.source == "timm":
        if weights == "imagenet":
            raise ModelError(f"{s.text}: salscope does not let timm download weights; pass a local weights file "
                             "(--weights FILE) or none")
        return timm_encoder(s.target, weights=weights)
    raise ModelError(f"{s.text} is not an encoder")  # pragma: no cover - parse_spec(role="encoder") rules it out
