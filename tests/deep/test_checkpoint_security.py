"""Loading a checkpoint never reaches the network (issue 19, item 6).

A crafted checkpoint names a weights URL served on 127.0.0.1: loading it makes
no request (the server's log stays empty) and either works (a full checkpoint:
encoder weights from its state dict) or fails with a clear ModelError.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

import salscope.models.backbones as backbones
from salscope.errors import ModelError
from salscope.models.backbones import get_backbone
from salscope.models.backbones.weights import WeightsFile
from salscope.models.decoders import build_decoder
from salscope.models.checkpoint import load_checkpoint
from salscope.models.deep import DeepSaliency
from salscope.models.factory import encoder as load_encoder

torch.set_num_threads(1)


def _state(seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=g) if v.is_floating_point() else v
            for k, v in get_backbone("resnet18", weights=None).state_dict().items()}


def _checkpoint(path, weights, *, decoder_only: bool, encoder_state: dict | None = None):
    """A salscope checkpoint of resnet18 + 'paper' decoder whose metadata records ``weights``."""
    enc = get_backbone("resnet18", weights=None)
    dec = build_decoder("paper", {i.name: i.channels for i in enc.feature_info}, ["layer4"])
    state = {f"decoder.{k}": v for k, v in dec.state_dict().items()}
    if not decoder_only:
        state.update({f"encoder.{k}": v for k, v in (encoder_state or enc.state_dict()).items()})
    torch.save({"salscope": {"kind": "saliency", "setup": "fixed", "decoder_only": decoder_only,
                             "encoder": {"name": "resnet18", "weights": weights}, "decoder": dec.config(),
                             "input_size": [32, 32]},
                "state_dict": state}, path)
    return path


def _served(root, tmp_path, seed: int):
    state = _state(seed)
    tmp = tmp_path / f"s{seed}.pth"
    torch.save(state, tmp)
    data = tmp.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    name = f"resnet18-{digest[:8]}.pth"
    (root / name).write_bytes(data)
    return state, name, digest


def test_decoder_only_checkpoint_naming_a_url_makes_no_request(www, tmp_path):
    root, base, log = www
    _, name, digest = _served(root, tmp_path, 1)
    for recorded in (f"{base}/{name}", f"{base}/{name}#sha256={digest}", str(tmp_path / "s1.pth")):
        ckpt = _checkpoint(tmp_path / "hostile.pt", recorded, decoder_only=True)
        with pytest.raises(ModelError, match=r"records encoder weights .* not a built-in weights name"):
            load_checkpoint(ckpt)
        with pytest.raises(ModelError, match="never makes salscope download or read the weights it names"):
            load_encoder(ckpt)
    assert log == []
    # the caller may supply the encoder weights explicitly (a local file here)
    model = load_checkpoint(ckpt, encoder_weights=tmp_path / "s1.pth")
    assert torch.equal(model.encoder.conv1.weight, _state(1)["conv1.weight"]) and log == []


def test_full_checkpoint_uses_its_own_encoder_weights(www, tmp_path):
    root, base, log = www
    _, name, _ = _served(root, tmp_path, 2)
    own = _state(3)
    ckpt = _checkpoint(tmp_path / "full.pt", f"{base}/{name}", decoder_only=False, encoder_state=own)
    model = load_checkpoint(ckpt)
    assert torch.equal(model.encoder.layer3[0].conv1.weight, own["layer3.0.conv1.weight"])
    assert torch.equal(load_encoder(ckpt).conv1.weight, own["conv1.weight"])
    smap = DeepSaliency(model).saliency_map(np.zeros((32, 32, 3), np.uint8))
    assert smap.shape == (32, 32)
    assert log == []


def test_decoder_only_imagenet_resolved_from_the_cache_only(www, tmp_path, monkeypatch):
    root, base, log = www
    state, name, digest = _served(root, tmp_path, 4)
    monkeypatch.setitem(backbones.IMAGENET_WEIGHTS, "resnet18",
                        WeightsFile("resnet18", f"{base}/{name}", sha256_prefix=digest[:8]))
    ckpt = _checkpoint(tmp_path / "dec.pt", "imagenet", decoder_only=True)
    with pytest.raises(ModelError, match=r"not in the weights cache .* never downloads"):
        load_checkpoint(ckpt)
    assert log == []
    get_backbone("resnet18")  # the user caches the table's weights (one request)
    assert len(log) == 1
    model = load_checkpoint(ckpt)
    assert torch.equal(model.encoder.conv1.weight, state["conv1.weight"]) and len(log) == 1


def test_checkpoint_with_nan_weights_is_refused(tmp_path, capsys):
    """A diverged training's checkpoint is named, not turned into all-NaN maps (issue 19)."""
    from salscope.cli import main

    state = _state(3)
    state["conv1.weight"] = torch.full_like(state["conv1.weight"], float("nan"))
    ckpt = _checkpoint(tmp_path / "nan.pt", "none", decoder_only=False, encoder_state=state)
    with pytest.raises(ModelError, match=r"NaN or infinite values .*encoder|conv1.weight"):
        load_checkpoint(ckpt)
    img = tmp_path / "a.png"
    from PIL import Image
    import numpy as np

    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(img)
    assert main(["predict", str(img), "--out", str(tmp_path / "out"), "--model", str(ckpt)]) == 2
    assert "NaN or infinite" in capsys.readouterr().err and not (tmp_path / "out" / "a.png").exists()
