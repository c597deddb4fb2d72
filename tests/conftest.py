"""Shared fixtures: the real data, quiet progress bars, isolated cache and settings, planted models, model specs."""

from __future__ import annotations

import os
import textwrap
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import settings
from PIL import Image
from torch import nn

from salscope.models.backbones import get_backbone
from salscope.models.backbones.base import Backbone, FeatureInfo
from salscope.models.checkpoint import export_decoder
from salscope.models.decoders import build_decoder
from salscope.models.deep import SaliencyNetwork

# Property tests draw the same examples on every run (a CI failure can be replayed) and have no
# per-example deadline (timings on a shared 2-core machine vary tenfold).
settings.register_profile("salscope", derandomize=True, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "salscope"))

os.environ.setdefault("SALSCOPE_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

_DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The data root ($SALSCOPE_DATA, else ../shared/data); skips when absent."""
    root = Path(os.environ.get("SALSCOPE_DATA") or _DEFAULT_DATA)
    if not (root / "osie").is_dir():
        pytest.skip(f"real data not found at {root} (set SALSCOPE_DATA to the folder holding osie/)")
    return root


@pytest.fixture(scope="session")
def reference_root() -> Path:
    """../shared/reference (metric vectors, MATLAB classical maps); skips when absent."""
    root = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
    if not root.is_dir():
        pytest.skip(f"reference outputs not found at {root}")
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own SALSCOPE_CACHE, TORCH_HOME and config folder, so nothing leaks into ~/.cache or
    ~/.config (a data root that worked is remembered in $XDG_CONFIG_HOME/salscope/settings.toml)."""
    monkeypatch.setenv("SALSCOPE_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(scope="session")
def osie(data_root):
    """The OSIE data set (700 images, 98,321 fixations), loaded once per session."""
    from salscope.data.loaders import load_osie

    return load_osie(data_root)


@pytest.fixture(scope="session")
def osie_regions(data_root, osie):
    """The OSIE salient-region masks (150 images, 760 instances): dict image_id -> Regions."""
    from salscope.data.regions import load_voc_regions

    folder = data_root / "osie-regions"
    if not folder.is_dir():
        pytest.skip(f"region annotations not found at {folder}")
    return load_voc_regions(folder, osie.stimuli)


@pytest.fixture()
def www(tmp_path):
    """(root folder, base URL, request log) of a quiet logging file server."""
    root = tmp_path / "www"
    root.mkdir()
    log: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

        def do_GET(self):
            log.append(self.path)
            super().do_GET()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", log
    httpd.shutdown()
    httpd.server_close()


# -- planted region detectors (neuron analyses, own encoders) ----------------------------------------
# Synthetic images with planted region detectors for the neuron-analysis tests.
# 
# Each 64×80 image is grey noise with three 8×8 squares: red ("person head"),
# blue ("text") and green ("object"). :class:`Planted` is a tiny Backbone whose
# channel 0 responds to red, 1 to blue, 2 to green, 3 to bright background,
# 4 never fires (all zeros) and 5 responds to dark pixels. ``swap=True`` swaps the
# roles of channels 0 and 1 (a "fine-tuned" model whose channel 0 turned into a
# text detector).

H, W, SQ = 64, 80, 8
CATS = [("person head", 1, (230, 20, 20)), ("text", 37, (20, 20, 230)), ("object", 27, (20, 200, 20))]


class Planted(Backbone):
    name = "planted"
    mean = (0.0, 0.0, 0.0)
    std = (1.0, 1.0, 1.0)

    def __init__(self, swap: bool = False):
        super().__init__()
        self.pool = nn.AvgPool2d(4)
        self.conv = nn.Conv2d(3, 6, 1)
        w = torch.zeros(6, 3)
        b = torch.zeros(6)
        w[0] = torch.tensor([1.0, -0.5, -0.5]); b[0] = -0.2
        w[1] = torch.tensor([-0.5, -0.5, 1.0]); b[1] = -0.2
        w[2] = torch.tensor([-0.5, 1.0, -0.5]); b[2] = -0.2
        w[3] = torch.tensor([1.0, 1.0, 1.0]) / 3; b[3] = -0.45
        w[5] = -torch.tensor([1.0, 1.0, 1.0]) / 3; b[5] = 0.3
        if swap:
            w[[0, 1]] = w[[1, 0]]
        with torch.no_grad():
            self.conv.weight.copy_(w[:, :, None, None])
            self.conv.bias.copy_(b)
        self.relu = nn.ReLU()
        self.pool2 = nn.AvgPool2d(2)
        self._set_stages([
            (FeatureInfo("conv", 6, 4), [self.pool, self.conv, self.relu]),
            (FeatureInfo("deep", 6, 8), [self.pool2]),
        ])


def make_planted(folder, n_images: int = 12, seed: int = 0):
    """Write the images; return (Dataset, regions dict)."""
    from salscope.data.dataset import Dataset
    from salscope.data.fixations import Fixations
    from salscope.data.regions import Region, Regions
    from salscope.data.stimuli import Stimuli

    rng = np.random.default_rng(seed)
    paths, regions, xs, ys, ns = [], {}, [], [], []
    for i in range(n_images):
        img = np.clip(rng.normal(110, 25, (H, W, 1)) + rng.normal(0, 4, (H, W, 3)), 0, 255)
        # non-overlapping squares on a 3-column layout with random jitter
        instances = []
        for k, (cat, code, colour) in enumerate(CATS):
            r0 = int(rng.integers(4, H - SQ - 4))
            c0 = int(rng.integers(k * W // 3 + 1, (k + 1) * W // 3 - SQ - 1))
            shade = rng.uniform(0.75, 1.0, (SQ, SQ, 1))
            img[r0:r0 + SQ, c0:c0 + SQ] = np.asarray(colour) * shade
            mask = np.zeros((H, W), bool)
            mask[r0:r0 + SQ, c0:c0 + SQ] = True
            instances.append(Region(k + 1, cat, code, mask))
            fx = rng.uniform(c0, c0 + SQ - 1, 6)
            fy = rng.uniform(r0, r0 + SQ - 1, 6)
            xs += fx.tolist(); ys += fy.tolist(); ns += [i] * 6
        xs += rng.uniform(0, W - 1, 10).tolist(); ys += rng.uniform(0, H - 1, 10).tolist(); ns += [i] * 10
        image_id = f"img{i:02d}"
        path = folder / f"{image_id}.png"
        Image.fromarray(img.astype(np.uint8)).save(path)
        paths.append(path)
        regions[image_id] = Regions(image_id, instances, (H, W))
    ds = Dataset("planted", Stimuli(paths), Fixations(xs, ys, ns))
    return ds, regions


@pytest.fixture(scope="session")
def planted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    return make_planted(folder)


@pytest.fixture(scope="session")
def planted_model():
    return Planted().eval()


@pytest.fixture(scope="session")
def swapped_model():
    return Planted(swap=True).eval()


# -- model specs of every source the factory knows (written once per session) -----------------------
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
