"""Encoder-feature caches: a frozen encoder (set-up I) or frozen trunk (II, III) runs once per image.

Set-up I caches the decoder's layers. Set-ups II and III fine-tune the encoder
from ``finetune_from`` on; every stage before it is frozen and, with the
encoder in eval mode and no augmentation, deterministic, so
:func:`trunk_layers` — the layer just before ``finetune_from`` plus the
decoder layers that lie before it — is cached, and training runs the encoder
from ``finetune_from`` on (:meth:`Backbone.forward_from`).

Features are stored as one ``.npy`` per image and layer under
``cache_dir()/features/<key>/``, where ``key`` is the sha256 of the backbone
name, a fingerprint of its weights (sha256 of every state-dict tensor), the
input size and the layers. Each file is written atomically
(:func:`salscope.io.write_npy`), so concurrent ranks or a killed run never leave
half a file; an image's entry is keyed by its absolute path, size and mtime.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from salscope.io import write_json, write_npy
from salscope.progress import track

CACHE_VERSION = 1


def weights_fingerprint(module: torch.nn.Module) -> str:
    """sha256 over the names and bytes of every tensor in ``module.state_dict()``."""
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def trunk_layers(encoder, finetune_from: str, layers: Sequence[str]) -> list[str] | None:
    """What a set-up II/III run caches: the layer before ``finetune_from``, then the ``layers`` before it.

    None when ``finetune_from`` is the first stage (nothing is frozen in front of it).
    """
    prev = encoder.previous_layer(finetune_from)
    if prev is None:
        return None
    first = encoder.layer_names.index(finetune_from)
    shallow = [name for name in layers if encoder.layer_names.index(name) < first and name != prev]
    return [prev] + list(dict.fromkeys(shallow))


class FeatureCache:
    """Per-image encoder features on disk, keyed by encoder + weights + input size + layers.

    ``model`` is a :class:`~salscope.models.deep.SaliencyNetwork` or a bare
    backbone; the features are ``encoder(encoder.normalize(x), layers)`` of the
    images resized to ``input_size`` (what training without the cache computes).
    """

    def __init__(self, root: str | os.PathLike, model, input_size: Sequence[int], layers: Sequence[str]):
        self.encoder = getattr(model, "encoder", model)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.layers = self.encoder.check_layers(list(layers))
        ident = {"version": CACHE_VERSION, "backbone": getattr(self.encoder, "name", "?"),
                 "weights": weights_fingerprint(self.encoder), "input_size": list(self.input_size),
                 "layers": self.layers}
        self.key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:20]
        self.dir = Path(root) / "features" / self.key
        self.dir.mkdir(parents=True, exist_ok=True)
        if not (self.dir / "key.json").is_file():
            write_json(self.dir / "key.json", ident)

    def _stem(self, path: Path) -> str:
        path = Path(path).resolve()
        st = path.stat()
        return hashlib.sha1(f"{path}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:20]

    def _files(self, path: Path) -> dict[str, Path]:
        stem = self._stem(path)
        return {layer: self.dir / f"{stem}.{layer}.npy" for layer in self.layers}

    def has(self, path: Path) -> bool:
        return all(p.is_file() for p in self._files(path).values())

    def load(self, path: Path) -> dict[str, np.ndarray]:
        return {layer: np.load(p) for layer, p in self._files(path).items()}

    @torch.no_grad()
    def fill(self, stimuli, batch_size: int = 8) -> int:
        """Compute and store the features of every image of ``stimuli`` not cached yet; return how many."""
        from salscope.models.deep import images_to_batch  # noqa: PLC0415

        todo = [i for i, p in enumerate(stimuli.paths) if not self.has(p)]
        if not todo:
            return 0
        encoder = self.encoder
        was_training = encoder.training
        encoder.eval()
        device = next(encoder.parameters()).device
        batches = [todo[k:k + batch_size] for k in range(0, len(todo), batch_size)]
        try:
            for chunk in track(batches, "caching encoder features"):
                x = images_to_batch([stimuli[i] for i in chunk], self.input_size).to(device)
                feats = encoder(encoder.normalize(x), layers=self.layers)
                for j, i in enumerate(chunk):
                    for layer, p in self._files(stimuli.paths[i]).items():
                        write_npy(p, feats[layer][j].float().cpu().numpy())
        finally:
            encoder.train(was_training)
        return len(todo)
