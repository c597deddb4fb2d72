"""Bring your own encoder: a hand-written nn.Module (FILE.py:FACTORY) and timm's feature_info contract.

The hand-written module is VGG-16's first two blocks written as a plain ``nn.Sequential`` (torchvision's
``features.N`` names) with the weights of the registered ``vgg16`` backbone: dissecting its ``features.3`` and
``features.8`` must give the same tables as the backbone's ``conv1_2`` and ``conv2_2``.
"""

from __future__ import annotations

import sys
import textwrap
import types

import numpy as np
import pytest
import torch
from torch import nn

from salscope.analysis.representation.compare import compare_models
from salscope.analysis.neurons.analysis import analyse_neurons
from salscope.cli import main
from salscope.errors import ModelError
from salscope.models.backbones import get_backbone
from salscope.models.backbones.foreign import ModuleEncoder, TimmEncoder
from salscope.models.factory import encoder

VGG_FILE = textwrap.dedent('''
    import os
    import torch
    from torch import nn


    def vgg_blocks():
        f = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
                          nn.MaxPool2d(2, 2), nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(128, 128, 3, padding=1), nn.ReLU())
        net = nn.Module()
        net.features = f
        net.forward = lambda x: f(x)
        net.feature_layers = ["features.3", "features.8"]
        net.load_state_dict(torch.load(os.environ["VGG_BLOCKS"], weights_only=True))
        return net
''')


@pytest.fixture(scope="module")
def vgg_pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own")
    torch.manual_seed(3)
    vgg = get_backbone("vgg16", weights=None)
    keep = {k: v for k, v in vgg.state_dict().items() if k.startswith("features.") and int(k.split(".")[1]) <= 7}
    torch.save(keep, folder / "blocks.pt")
    (folder / "own.py").write_text(VGG_FILE)
    return vgg, folder


def test_file_factory_dissects_like_the_registered_backbone(vgg_pair, planted, monkeypatch):
    vgg, folder = vgg_pair
    monkeypatch.setenv("VGG_BLOCKS", str(folder / "blocks.pt"))
    ds, regions = planted
    own = encoder(f"{folder / 'own.py'}:vgg_blocks")
    assert isinstance(own, ModuleEncoder) and own.layer_names == ["features.3", "features.8"]
    assert [(i.channels, i.stride) for i in own.feature_info] == [(64, 1), (128, 2)]
    kw = dict(input_size=(32, 40), mask_size=(16, 20), batch_size=4, max_images=6)
    mine = analyse_neurons(own, ds, regions, ["features.3", "features.8"], name="own", **kw)
    ref = analyse_neurons(vgg, ds, regions, ["conv1_2", "conv2_2"], name="vgg16", **kw)
    for a, b in (("features.3", "conv1_2"), ("features.8", "conv2_2")):
        la, lb = mine.layer(a), ref.layer(b)
        np.testing.assert_allclose(la.region_scores, lb.region_scores, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(la.fires, lb.fires)
        np.testing.assert_allclose(la.dissection.iou, lb.dissection.iou, rtol=1e-5, atol=1e-7)
        ca, cb = mine.category_scores(a), ref.category_scores(b)
        np.testing.assert_array_equal(ca.count, cb.count)
        np.testing.assert_allclose(ca.top_k_mean, cb.top_k_mean, rtol=1e-5)
    with pytest.raises(ModelError, match=r"unknown layer\(s\) 'conv1_2'.*valid layers: features, features.0"):
        own.check_layers(["conv1_2"])


def test_file_factory_through_the_dissect_command(vgg_pair, planted, monkeypatch, tmp_path, capsys):
    import json

    import salscope.cli.dissect as dissect
    import salscope.data as data

    vgg, folder = vgg_pair
    monkeypatch.setenv("VGG_BLOCKS", str(folder / "blocks.pt"))
    ds, regions = planted
    monkeypatch.setattr(data, "load_dataset", lambda name, data_dir=None: ds)
    monkeypatch.setattr(dissect, "_load_regions", lambda spec, stimuli, data_dir: regions)
    out = tmp_path / "out"
    rc = main(["dissect", "--model", f"mine={folder / 'own.py'}:vgg_blocks", "--layers", "features.8", "--max-images", "4",
               "--input-size", "40x32", "--mask-size", "20x16", "--no-figures", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    meta = json.loads((out / "mine" / "results.json").read_text())
    assert meta["model"] == "mine" and meta["settings"]["kind"] == "deep"
    assert meta["settings"]["model_spec"].endswith("own.py:vgg_blocks")


def test_layers_command_lists_the_names_dissect_takes(vgg_pair, monkeypatch, capsys):
    _, folder = vgg_pair
    monkeypatch.setenv("VGG_BLOCKS", str(folder / "blocks.pt"))
    assert main(["layers", f"{folder / 'own.py'}:vgg_blocks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split() for line in lines[1:]] == [["features.3", "64", "1"], ["features.8", "128", "2"]]
    assert main(["layers", f"{folder / 'own.py'}:vgg_blocks", "--all"]) == 0
    assert "features.5" in capsys.readouterr().out
    assert main(["layers", "gbvs"]) == 2
    assert "unknown encoder 'gbvs'" in capsys.readouterr().err


class _FakeFeatureInfo:
    """timm's FeatureInfo contract: get_dicts() with module, num_chs, reduction."""

    def __init__(self, dicts):
        self._dicts = dicts

    def get_dicts(self):
        return [dict(d) for d in self._dicts]

    def channels(self):
        return [d["num_chs"] for d in self._dicts]

    def reduction(self):
        return [d["reduction"] for d in self._dicts]


class _FeaturesOnly(nn.Module):
    """What ``timm.create_model(name, features_only=True)`` returns: a list of feature maps."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.stage1 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.feature_info = _FakeFeatureInfo([{"module": "stem", "num_chs": 8, "reduction": 2},
                                              {"module": "stage1", "num_chs": 16, "reduction": 4}])
        self.pretrained_cfg = {"mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)}

    def forward(self, x):
        a = self.stem(x)
        return [a, self.stage1(a)]


@pytest.fixture()
def fake_timm(monkeypatch):
    calls = []
    mod = types.ModuleType("timm")

    def create_model(name, **kwargs):
        calls.append((name, kwargs))
        if name != "tiny_net":
            raise RuntimeError(f"Unknown model ({name})")
        torch.manual_seed(0)
        return _FeaturesOnly()

    mod.create_model = create_model
    monkeypatch.setitem(sys.modules, "timm", mod)
    return calls


def test_timm_models_by_name_through_feature_info(fake_timm, tmp_path):
    enc = encoder("timm:tiny_net", weights=None)
    assert isinstance(enc, TimmEncoder)
    assert fake_timm == [("tiny_net", {"features_only": True})]
    assert [(i.name, i.channels, i.stride) for i in enc.feature_info] == [("stem", 8, 2), ("stage1", 16, 4)]
    x = torch.rand(2, 3, 32, 32)
    acts = enc(enc.normalize(x), layers=["stage1"])
    assert list(acts) == ["stage1"] and acts["stage1"].shape == (2, 16, 8, 8)
    ref = enc.model((x - 0.5) / 0.25)[1]                       # the pretrained_cfg's mean/std
    torch.testing.assert_close(acts["stage1"], ref)
    assert set(enc.layer_parameters("stem")) == {"model.stem.weight", "model.stem.bias"}
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"")
    encoder("timm:tiny_net", weights=str(weights))
    assert fake_timm[-1][1] == {"features_only": True, "pretrained": True, "pretrained_cfg_overlay": {"file": str(weights)}}
    with pytest.raises(ModelError, match="does not let timm download"):
        encoder("timm:tiny_net")                                  # weights="imagenet" by default
    with pytest.raises(ModelError, match=r"timm could not build 'other'"):
        encoder("timm:other", weights=None)


def test_timm_absent_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)              # import timm raises ImportError
    with pytest.raises(ModelError, match=r"needs timm.*pip install 'salscope\[timm\]'"):
        encoder("timm:resnet50", weights=None)


def test_compare_takes_own_modules_and_timm_encoders(fake_timm, planted):
    ds, _ = planted
    a = encoder("timm:tiny_net", weights=None)
    b = encoder("timm:tiny_net", weights=None)
    res = compare_models({"a": a, "b": b}, ds.stimuli, ["stem", "stage1"], size=(32, 32), batch_size=4, n_boot=0)
    diag = res.diagonal("a", "b")
    np.testing.assert_allclose(diag, [1.0, 1.0], atol=1e-6)   # the same weights: CKA 1 on every layer
