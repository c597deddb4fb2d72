"""Specs of every source the factory knows, written once per session: a decoder checkpoint and user files."""

from __future__ import annotations

import textwrap

import pytest
import torch

from salscope.models.backbones import get_backbone
from salscope.models.checkpoint import export_decoder
from salscope.models.decoders import build_decoder
from salscope.models.deep import SaliencyNetwork

# A user's own file: a saliency module (log-density output) and an encoder module, both hand-written.
USER_FILE = textwrap.dedent('''
    import torch
    from torch import nn


    class Blobs(nn.Module):
        """Log-density of a brightness map: log_softmax over pixels of a 1x1 conv on the image."""

        output = "log_density"

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 1, 1)
            with torch.no_grad():
                self.conv.weight.fill_(1.0)
                self.conv.bias.zero_()

        def forward(self, x):
            y = self.conv(x)[:, 0]
            return torch.log_softmax(y.flatten(1), dim=1).view_as(y)


    class Brightness(nn.Module):
        """A saliency map (no density): the mean of the normalised channels."""

        def forward(self, x):
            return x.mean(dim=1)


    def make_density():
        return Blobs()


    def make_map():
        return Brightness()


    def not_a_module():
        return 42
''')


@pytest.fixture(scope="session")
def user_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("user") / "mymodels.py"
    path.write_text(USER_FILE)
    return path


@pytest.fixture(scope="session")
def decoder_ckpt(tmp_path_factory):
    """A decoder-only checkpoint over the shipped (offline) efficientnet_lite0 ImageNet encoder."""
    torch.manual_seed(0)
    enc = get_backbone("efficientnet_lite0", weights="imagenet")
    dec = build_decoder("readout", {i.name: i.channels for i in enc.feature_info}, ["block4", "block15"])
    net = SaliencyNetwork(enc, dec, (48, 64), encoder_spec={"name": "efficientnet_lite0", "weights": "imagenet"})
    return export_decoder(net.eval(), tmp_path_factory.mktemp("ckpt") / "tiny.pt")
