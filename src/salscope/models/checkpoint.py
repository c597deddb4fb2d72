"""The checkpoint record: what ``salscope train`` writes into a checkpoint and what loading reads back.

A checkpoint (a Lightning ``.ckpt`` of ``salscope train`` or an exported ``.pt``)
is a ``torch.save`` dict whose ``"salscope"`` entry is a
:class:`CheckpointRecord`: the schema version, the kind (``"saliency"`` or
``"scene"``), the set-up, the encoder's name and weights, the decoder's (or the
scene head's) configuration, the input size and the training configuration with
its hash. Training, decoder export and every loader go through this module, so
the record is written and checked in one place and one error type
(:class:`~salscope.errors.ModelError`) names what is wrong.

Schema versions: 1 is the layout above. Files written before the version was
recorded (no ``schema`` key; e.g. the shipped built-in decoder) have the same
layout and read as version 1; a file from a newer salscope is refused with the
advice to upgrade.

Loading never downloads: a full checkpoint carries its encoder's weights; a
decoder-only file uses the built-in ``"imagenet"`` weights from the cache or the
shipped file only, or the weights the caller passes (see
:func:`checkpoint_encoder`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from salscope.errors import ModelError
from salscope.io import atomic_path
from salscope.models.backbones import get_backbone
from salscope.models.backbones.base import check_finite, state_dict_mismatch
from salscope.models.decoders import decoder_from_config
from salscope.models.deep import SaliencyNetwork

#: The version of the record this salscope writes.
SCHEMA_VERSION = 1
#: The key of the record in a checkpoint dict.
RECORD_KEY = "salscope"
#: File suffixes read as checkpoints when a spec has no ``ckpt:`` prefix.
CHECKPOINT_SUFFIXES = (".ckpt", ".pt", ".pth")
KINDS = ("saliency", "scene")

_FIX = "it is corrupt or not written by `salscope train`: use a checkpoint that command wrote (or a backbone name)"


@dataclass(frozen=True)
class CheckpointRecord:
    """The ``"salscope"`` entry of a checkpoint (see the module docstring)."""

    kind: str
    setup: str
    encoder: Mapping[str, Any]
    decoder: Mapping[str, Any] | None = None
    head: Mapping[str, Any] | None = None
    input_size: tuple[int, int] | None = None
    decoder_only: bool = False
    setup_number: str | None = None   # the paper's numeral: I, II or III
    config: Mapping[str, Any] = field(default_factory=dict)
    config_hash: str | None = None
    card: Mapping[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The plain dict stored in the checkpoint (what :meth:`from_dict` reads back)."""
        out: dict[str, Any] = {"schema": self.schema, "kind": self.kind, "setup": self.setup,
                               "encoder": dict(self.encoder),
                               "input_size": list(self.input_size) if self.input_size else None}
        for key in ("decoder", "head"):
            value = getattr(self, key)
            if value is not None:
                out[key] = dict(value)
        if self.decoder_only:
            out["decoder_only"] = True
        if self.setup_number is not None:
            out["setup_number"] = str(self.setup_number)
        if self.config:
            out["config"] = dict(self.config)
        if self.config_hash is not None:
            out["config_hash"] = self.config_hash
        if self.card:
            out["card"] = dict(self.card)
        return out

    @classmethod
    def from_dict(cls, meta: Any, source: str) -> "CheckpointRecord":
        """Check a stored record and return it; :class:`ModelError` naming ``source`` and the bad field."""
        if not isinstance(meta, Mapping):
            raise ModelError(f"checkpoint {source}: its 'salscope' entry is a {type(meta).__name__}, not a table of "
                             f"settings; {_FIX}")
        schema = meta.get("schema", 1)
        if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
            raise ModelError(f"checkpoint {source}: salscope.schema is {schema!r}, not a version number; {_FIX}")
        if schema > SCHEMA_VERSION:
            raise ModelError(f"checkpoint {source} was written by a newer salscope (record schema {schema}; this one "
                             f"reads up to {SCHEMA_VERSION}); upgrade salscope to load it")
        enc = meta.get("encoder")
        if not isinstance(enc, Mapping) or not isinstance(enc.get("name"), str):
            got = "missing" if enc is None else (f"{type(enc).__name__} {enc!r:.40}" if not isinstance(enc, Mapping)
                                                  else "a table without a string 'name'")
            raise ModelError(f"checkpoint {source}: salscope.encoder is {got}; it must be a table naming the backbone "
                             f"(salscope.encoder.name); {_FIX}")
        kind = meta.get("kind")
        if kind not in KINDS:
            raise ModelError(f"checkpoint {source}: salscope.kind is {kind!r}, not one of {KINDS}; {_FIX}")
        size = meta.get("input_size")
        if size is not None and (not isinstance(size, (list, tuple)) or len(size) != 2):
            raise ModelError(f"checkpoint {source}: salscope.input_size is {size!r}, not [height, width]; {_FIX}")
        return cls(kind=kind, setup=str(meta.get("setup", "")), encoder=dict(enc),
                   decoder=_table(meta.get("decoder")), head=_table(meta.get("head")),
                   input_size=None if size is None else (int(size[0]), int(size[1])),
                   decoder_only=bool(meta.get("decoder_only", False)), setup_number=meta.get("setup_number"),
                   config=dict(meta.get("config") or {}), config_hash=meta.get("config_hash"),
                   card=dict(meta.get("card") or {}), schema=schema)

    def check_decoder(self, source: str) -> Mapping[str, Any]:
        """The decoder table of a saliency record (name, channels, layers); :class:`ModelError` otherwise."""
        if self.kind != "saliency":
            raise ModelError(f"checkpoint {source} is a '{self.kind}' checkpoint (set-up {self.setup}), not a saliency "
                             "model; load its encoder instead (salscope.models.factory.encoder)")
        dec = self.decoder
        lacks = [k for k in ("name", "channels", "layers") if dec is None or k not in dec]
        if lacks or not isinstance(dec.get("name"), str):  # type: ignore[union-attr]
            got = "missing" if dec is None else f"a table lacking {lacks or ['a string name']}"
            raise ModelError(f"checkpoint {source}: salscope.decoder is {got}; a saliency checkpoint records its "
                             f"decoder as a table with name, channels and layers; {_FIX}")
        return dec  # type: ignore[return-value]


def _table(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, Mapping) else (None if value is None else {"_invalid": value})


# -- reading -----------------------------------------------------------------------------------------

def read_checkpoint_file(path: str | os.PathLike) -> tuple[CheckpointRecord, dict[str, torch.Tensor]]:
    """``(record, network state dict)`` of a checkpoint file; :class:`ModelError` for anything unreadable."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"checkpoint {path} does not exist; pass the path of a .ckpt/.pt file written by `salscope train`")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 (zip/pickle errors of many kinds)
        raise ModelError(f"checkpoint {path} could not be read ({exc}); it is corrupt or not a PyTorch file") from exc
    return split_checkpoint(obj, str(path))


def split_checkpoint(ckpt: Any, source: str) -> tuple[CheckpointRecord, dict[str, torch.Tensor]]:
    """``(record, network state dict)`` of a loaded checkpoint dict (Lightning's ``model.`` prefix removed)."""
    if not isinstance(ckpt, Mapping) or RECORD_KEY not in ckpt:
        raise ModelError(f"checkpoint {source} is not a salscope checkpoint (no 'salscope' entry); "
                         "use a checkpoint written by `salscope train` (or a backbone name)")
    record = CheckpointRecord.from_dict(ckpt[RECORD_KEY], source)
    state = dict(ckpt.get("state_dict", {}))
    # Lightning modules hold the network as ``self.model``; exported files do not.
    if any(k.startswith("model.") for k in state):
        state = _strip(state, "model.")
    return record, state


def _strip(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def load_module_state(module: nn.Module, state: Mapping[str, torch.Tensor], source: str, what: str) -> None:
    """Load ``state`` into ``module`` strictly; :class:`ModelError` naming missing/unexpected/mis-shaped keys."""
    mismatch = state_dict_mismatch(module.state_dict(), state, lambda items: str(items[:8]))
    if mismatch:
        raise ModelError(f"weights from {source} do not fit the {what}: {mismatch}; "
                         "use the file written for this model configuration")
    check_finite(state, source)
    module.load_state_dict(dict(state), strict=True)


def checkpoint_encoder(record: CheckpointRecord, state: Mapping[str, torch.Tensor], source: str,
                       encoder_weights: Any = None) -> nn.Module:
    """The encoder of a checkpoint, rebuilt without ever reaching the network.

    A full checkpoint's encoder weights come from its own state dict (the
    recorded ``encoder.weights`` is informational). A decoder-only file has no
    encoder weights: its recorded weights are used only when they are a
    built-in table name (``"imagenet"``), and then only from the cache or the
    shipped file (``offline=True``); anything else recorded there (a URL, a
    path) is refused. ``encoder_weights`` — the caller's own choice, never the
    checkpoint's — overrides that for decoder-only files.
    """
    name = record.encoder["name"]
    if not record.decoder_only:
        encoder = get_backbone(name, weights=None)
        encoder.load_weights(_strip(state, "encoder."), source=source)
        return encoder
    if encoder_weights is not None:
        return get_backbone(name, weights=encoder_weights)
    recorded = record.encoder.get("weights")
    if recorded != "imagenet":
        raise ModelError(
            f"checkpoint {source} holds a decoder only and records encoder weights {recorded!r}, which is not a "
            "built-in weights name ('imagenet'); a checkpoint never makes salscope download or read the weights it "
            "names — pass them yourself: load_checkpoint(path, encoder_weights=FILE) (or keep the full checkpoint)"
        )
    return get_backbone(name, weights="imagenet", offline=True)


def network_from_checkpoint(ckpt: Mapping[str, Any], source: str, *, encoder_weights: Any = None) -> SaliencyNetwork:
    """Rebuild the :class:`SaliencyNetwork` of a loaded saliency checkpoint dict (never downloads)."""
    record, state = split_checkpoint(ckpt, source)
    return _network(record, state, source, encoder_weights)


def _network(record: CheckpointRecord, state: Mapping[str, torch.Tensor], source: str,
             encoder_weights: Any) -> SaliencyNetwork:
    dec = record.check_decoder(source)
    try:
        decoder = decoder_from_config(dec)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelError(f"checkpoint {source}: salscope.decoder {dict(dec)!r:.120} cannot build a decoder "
                         f"({exc!r}); it is corrupt or not written by `salscope train`") from exc
    encoder = checkpoint_encoder(record, state, source, encoder_weights)
    load_module_state(decoder, _strip(state, "decoder."), source, f"'{dec['name']}' decoder")
    return SaliencyNetwork(encoder, decoder, record.input_size, encoder_spec=record.encoder)


def load_checkpoint(path: str | os.PathLike, *, encoder_weights: Any = None) -> SaliencyNetwork:
    """Load the :class:`SaliencyNetwork` of a saliency checkpoint (set-up I or II); never downloads.

    ``encoder_weights`` (a ``.pth`` path, ``"imagenet"`` or ``URL#sha256=<hex>``)
    supplies the encoder of a decoder-only file whose recorded weights are not
    the built-in ``"imagenet"``; full checkpoints carry their own.
    """
    record, state = read_checkpoint_file(path)
    return _network(record, state, str(path), encoder_weights)


def load_checkpoint_encoder(path: str | os.PathLike) -> nn.Module:
    """The encoder of a checkpoint of any set-up (fixed, saliency, scene), with the weights it carries."""
    record, state = read_checkpoint_file(path)
    return checkpoint_encoder(record, state, str(path))


# -- writing -----------------------------------------------------------------------------------------

def export_decoder(model: SaliencyNetwork, dest: str | os.PathLike, card: Mapping[str, Any] | None = None) -> Path:
    """Save only the decoder of ``model`` (and what rebuilds the rest) as a small ``.pt`` file, atomically."""
    if model.encoder_spec.get("weights") is None:
        raise ModelError(
            f"cannot export the decoder alone to {dest}: the encoder has random weights (weights=None), which a "
            "loader cannot rebuild; train with --weights imagenet (or a weights file), or keep the full checkpoint"
        )
    record = CheckpointRecord(kind="saliency", setup="fixed", decoder_only=True, encoder=dict(model.encoder_spec),
                              decoder=model.decoder.config(), input_size=model.input_size, card=dict(card or {}))
    payload = {RECORD_KEY: record.to_dict(),
               "state_dict": {f"decoder.{k}": v.detach().cpu().clone() for k, v in model.decoder.state_dict().items()}}
    with atomic_path(dest, suffix=".pt") as tmp:
        torch.save(payload, tmp)
    return Path(dest)
