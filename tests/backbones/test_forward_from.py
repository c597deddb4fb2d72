"""Running a backbone from a given stage on (the frozen-trunk cache of set-ups II/III relies on it)."""

from __future__ import annotations

import pytest
import torch

from salscope.errors import ModelError
from salscope.models.backbones import get_backbone

torch.set_num_threads(1)


@pytest.mark.parametrize("name, start, layers, weights", [
    ("vgg16", "conv4_1", ["conv4_3", "conv5_1", "conv5_3"], None),
    ("efficientnet_lite0", "block13", ["block13", "block15", "head"], "imagenet"),
    ("efficientnet_lite0", "block0", None, None),
])
def test_forward_from_equals_forward(name, start, layers, weights):
    torch.manual_seed(0)
    net = get_backbone(name, weights=weights).eval()
    x = torch.randn(2, 3, 48, 64, generator=torch.Generator().manual_seed(1))
    prev = net.previous_layer(start)
    with torch.no_grad():
        full = net(x, layers=[prev] + (layers or net.layer_names[net.layer_names.index(start):]))
        part = net.forward_from(full[prev], start, layers)
        via_kw = net(full[prev], layers=layers, start=start)
    expected_names = layers or net.layer_names[net.layer_names.index(start):]
    assert list(part) == expected_names and list(via_kw) == expected_names
    for layer in expected_names:
        assert part[layer].shape == full[layer].shape
        torch.testing.assert_close(part[layer], full[layer], rtol=0, atol=0)
        torch.testing.assert_close(via_kw[layer], full[layer], rtol=0, atol=0)


def test_forward_from_rejects_bad_names_and_inputs():
    torch.manual_seed(0)
    net = get_backbone("vgg16", weights=None).eval()
    h = torch.zeros(1, 512, 6, 8)  # conv4_3's activation: the input of conv5_1
    assert net.previous_layer("conv5_1") == "conv4_3" and net.previous_layer("conv1_1") is None
    with pytest.raises(ModelError, match="unknown layer 'conv9'.*valid layers: conv1_1"):
        net.forward_from(h, "conv9", ["conv5_3"])
    with pytest.raises(ModelError, match="'conv4_3'.*lie before start='conv5_1'"):
        net.forward_from(h, "conv5_1", ["conv4_3", "conv5_3"])
    with pytest.raises(ModelError, match="first stage.*without start"):
        net.forward_from(torch.zeros(1, 3, 8, 8), "conv1_1", ["conv1_2"])
    with pytest.raises(ModelError, match=r"activation of 'conv4_3' \(B×512×h×w\), got \(1, 256, 6, 8\)"):
        net.forward_from(torch.zeros(1, 256, 6, 8), "conv5_1", ["conv5_3"])
    with pytest.raises(ModelError, match="unknown layer.*'nope'"):
        net.forward_from(h, "conv5_1", ["nope"])
