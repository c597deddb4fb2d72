"""The built-in weights table and the content-addressed weights cache (issue 19, item 6).

A threaded server on 127.0.0.1 logs every request, so "nothing was fetched" is asserted, not assumed.
"""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

import salscope.models.backbones as backbones
from salscope.errors import DownloadError, ModelError
from salscope.models.backbones import get_backbone
from salscope.models.backbones.weights import (
    TRUST_FILE,
    WeightsFile,
    cached_path,
    fetch_weights,
    hub_checkpoint,
    weights_cache,
)

torch.set_num_threads(1)


def _resnet_file(tmp_path, seed: int):
    """A ResNet-18 state dict saved to a file: (state, bytes, sha256)."""
    g = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(v.shape, generator=g) if v.is_floating_point() else v
             for k, v in get_backbone("resnet18", weights=None).state_dict().items()}
    path = tmp_path / f"r{seed}.pth"
    torch.save(state, path)
    data = path.read_bytes()
    return state, data, hashlib.sha256(data).hexdigest()


def test_prefix_entry_trust_on_first_use_and_tampered_cache(www, tmp_path, monkeypatch):
    root, base, log = www
    state, data, digest = _resnet_file(tmp_path, 1)
    name = f"resnet18-{digest[:8]}.pth"
    (root / name).write_bytes(data)
    entry = WeightsFile("resnet18", f"{base}/{name}", sha256_prefix=digest[:8])
    monkeypatch.setitem(backbones.IMAGENET_WEIGHTS, "resnet18", entry)
    b = get_backbone("resnet18")
    assert torch.equal(b.conv1.weight, state["conv1.weight"]) and log == [f"/{name}"]
    assert cached_path(digest).read_bytes() == data
    trust = json.loads((weights_cache() / TRUST_FILE).read_text())["entries"]
    assert [v["sha256"] for v in trust.values()] == [digest]
    get_backbone("resnet18")
    assert len(log) == 1  # verified cache hit: no request
    # the cache slot of the official file gets other bytes: detected, not used, fetched again
    _, other, _ = _resnet_file(tmp_path, 2)
    cached_path(digest).write_bytes(other)
    b = get_backbone("resnet18")
    assert torch.equal(b.conv1.weight, state["conv1.weight"]) and len(log) == 2
    assert cached_path(digest).read_bytes() == data
    # offline (what checkpoint loading uses): a tampered slot is refused with a clear error, no request
    cached_path(digest).write_bytes(other)
    with pytest.raises(ModelError, match=r"resnet18 ImageNet weights .* are not in the weights cache"):
        get_backbone("resnet18", offline=True)
    assert len(log) == 2 and not cached_path(digest).exists()


def test_file_under_the_official_name_is_ignored(www, tmp_path, monkeypatch):
    """A hostile file at the old cache slot (weights/<torchvision name>) is never read."""
    root, base, log = www
    state, data, digest = _resnet_file(tmp_path, 3)
    name = f"resnet18-{digest[:8]}.pth"
    (root / name).write_bytes(data)
    _, hostile, _ = _resnet_file(tmp_path, 4)
    (weights_cache() / name).write_bytes(hostile)
    monkeypatch.setitem(backbones.IMAGENET_WEIGHTS, "resnet18", WeightsFile("resnet18", f"{base}/{name}", sha256_prefix=digest[:8]))
    with pytest.raises(ModelError, match="not in the weights cache"):
        get_backbone("resnet18", offline=True)
    b = get_backbone("resnet18")
    assert torch.equal(b.conv1.weight, state["conv1.weight"]) and log == [f"/{name}"]


def test_full_sha256_entry_checked_and_refused_on_mismatch(www, tmp_path, monkeypatch):
    root, base, log = www
    state, data, digest = _resnet_file(tmp_path, 5)
    (root / "r.pth").write_bytes(data)
    entry = WeightsFile("resnet18", f"{base}/r.pth", sha256=digest, size=len(data))
    monkeypatch.setitem(backbones.IMAGENET_WEIGHTS, "resnet18", entry)
    cached_path(digest).parent.mkdir(parents=True)
    cached_path(digest).write_bytes(b"not the weights")
    b = get_backbone("resnet18")
    assert torch.equal(b.layer4[1].conv2.weight, state["layer4.1.conv2.weight"]) and len(log) == 1
    # the mirror serves other bytes: checksum mismatch, nothing cached
    wrong = WeightsFile("resnet18", f"{base}/r.pth", sha256="0" * 64)
    monkeypatch.setitem(backbones.IMAGENET_WEIGHTS, "resnet18", wrong)
    with pytest.raises(DownloadError, match="checksum mismatch"):
        get_backbone("resnet18")
    assert not cached_path("0" * 64).exists()
    with pytest.raises(ValueError, match="full sha256 or a sha256_prefix"):
        WeightsFile("x", "http://h/x.pth")


def test_user_url_needs_its_sha256(www, tmp_path):
    root, base, log = www
    state, data, digest = _resnet_file(tmp_path, 6)
    (root / "mine.pth").write_bytes(data)
    with pytest.raises(ModelError, match=r"has no full SHA-256: append '#sha256=<64 hex digits>'"):
        get_backbone("resnet18", weights=f"{base}/mine.pth")
    assert log == []
    b = get_backbone("resnet18", weights=f"{base}/mine.pth#sha256={digest.upper()}")
    assert torch.equal(b.conv1.weight, state["conv1.weight"]) and b.weights_source == f"{base}/mine.pth"
    assert cached_path(digest).read_bytes() == data
    with pytest.raises(DownloadError, match="checksum mismatch"):
        get_backbone("resnet18", weights=f"{base}/mine.pth#sha256={'1' * 64}")
    with pytest.raises(ModelError, match="refused: this load is offline"):
        get_backbone("resnet18", weights=f"{base}/mine.pth#sha256={digest}", offline=True)
    assert len(log) == 2


def test_weights_found_in_torch_hub_cache_before_any_download(www, tmp_path, monkeypatch):
    """A user's torchvision file in $TORCH_HOME/hub/checkpoints is used as it is: no request, nothing copied."""
    root, base, log = www
    state, data, digest = _resnet_file(tmp_path, 6)
    name = f"resnet18-{digest[:8]}.pth"
    (root / name).write_bytes(data)
    torch_home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    hub_file = torch_home / "hub" / "checkpoints" / name
    hub_file.parent.mkdir(parents=True)
    hub_file.write_bytes(data)
    assert torch.hub.get_dir() == str(torch_home / "hub")
    entry = WeightsFile("resnet18", f"{base}/{name}", sha256_prefix=digest[:8])
    monkeypatch.setitem(backbones.IMAGENET_WEIGHTS, "resnet18", entry)
    assert fetch_weights(entry) == hub_file and fetch_weights(entry, offline=True) == hub_file
    b = get_backbone("resnet18", offline=True)
    assert torch.equal(b.conv1.weight, state["conv1.weight"]) and log == []
    assert not cached_path(digest).exists() and not (weights_cache() / TRUST_FILE).exists()
    # a full-hash entry: the same file counts only when its whole SHA-256 matches
    assert hub_checkpoint(WeightsFile("resnet18", f"{base}/{name}", sha256=digest)) == hub_file
    assert hub_checkpoint(WeightsFile("resnet18", f"{base}/{name}", sha256="1" * 64)) is None
    # a trusted full hash (recorded on a first download) that disagrees with the hub file: not used
    assert hub_checkpoint(entry, trusted="f" * 64) is None


def test_wrong_file_in_torch_hub_cache_is_left_alone_and_not_used(www, tmp_path, monkeypatch):
    root, base, log = www
    state, data, digest = _resnet_file(tmp_path, 7)
    name = f"resnet18-{digest[:8]}.pth"
    (root / name).write_bytes(data)
    _, other, _ = _resnet_file(tmp_path, 8)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    hub_file = tmp_path / "th" / "hub" / "checkpoints" / name
    hub_file.parent.mkdir(parents=True)
    hub_file.write_bytes(other)      # right name, other bytes: the prefix does not match
    monkeypatch.setitem(backbones.IMAGENET_WEIGHTS, "resnet18",
                        WeightsFile("resnet18", f"{base}/{name}", sha256_prefix=digest[:8]))
    with pytest.raises(ModelError, match=r"not in the weights cache .* nor \(with the right hash\) at .*th/hub/checkpoints"):
        get_backbone("resnet18", offline=True)
    b = get_backbone("resnet18")     # downloaded from the table's URL instead
    assert torch.equal(b.conv1.weight, state["conv1.weight"]) and log == [f"/{name}"]
    assert hub_file.read_bytes() == other    # torch's cache is the user's: never rewritten or deleted
