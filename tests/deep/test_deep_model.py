"""SaliencyNetwork, its SaliencyModel adapter, checkpoints, load_encoder, the built-in model and `salscope predict`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from salscope.errors import ModelError
from salscope.models.backbones import get_backbone
from salscope.models.decoders import build_decoder
from salscope.models.builtin import builtin_card
from salscope.models.checkpoint import export_decoder, load_checkpoint, load_module_state
from salscope.models.deep import DeepSaliency, SaliencyNetwork, images_to_batch
from salscope.models.factory import encoder as load_encoder


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    enc = get_backbone("efficientnet_lite0", weights="imagenet")  # offline weights: a decoder-only export can rebuild it
    ch = {i.name: i.channels for i in enc.feature_info}
    dec = build_decoder("readout", ch, ["block4", "block15"])
    return SaliencyNetwork(enc, dec, (48, 64), encoder_spec={"name": "efficientnet_lite0", "weights": "imagenet"}).eval()


def _img(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_mixed_sizes_need_a_resize_policy(tiny_model):
    with pytest.raises(ModelError, match=r"mixed sizes \[\(30, 40\), \(48, 64\)\].*input_size"):
        images_to_batch([_img(48, 64), _img(30, 40)])
    batch = images_to_batch([_img(48, 64), _img(30, 40)], (24, 32))
    assert batch.shape == (2, 3, 24, 32) and 0.0 <= float(batch.min()) and float(batch.max()) <= 1.0
    # Prediction resizes each image to input_size and answers at each image's own size.
    maps = DeepSaliency(tiny_model).predict([_img(48, 64), _img(30, 40, 1), _img(48, 64, 2)])
    assert [m.shape for m in maps] == [(48, 64), (30, 40), (48, 64)]
    assert all(m.dtype == np.float64 and abs(m.sum() - 1.0) < 1e-5 for m in maps)


def test_adapter_log_density_and_centre_prior_switch(tiny_model):
    model = DeepSaliency(tiny_model)
    img = _img(48, 64)
    logd = model.log_density(img)
    np.testing.assert_allclose(np.exp(logd), model.saliency_map(img), rtol=1e-6)
    assert model.center_prior
    model.center_prior = False
    assert not tiny_model.decoder.center_prior
    model.center_prior = True


def test_state_dict_errors_name_the_keys(tiny_model):
    dec = tiny_model.decoder
    sd = dict(dec.state_dict())
    sd["readout.0.weight"] = torch.zeros(3, 3, 1, 1)
    sd["extra.weight"] = torch.zeros(1)
    del sd["blur.log_sigma"]
    with pytest.raises(ModelError, match=r"missing keys \['blur.log_sigma'\].*unexpected keys \['extra.weight'\]"
                                         r".*readout.0.weight \(3, 3, 1, 1\) \(expected \(16, 360, 1, 1\)\)"):
        load_module_state(dec, sd, "test.pt", "'readout' decoder")


def test_export_load_and_load_encoder_round_trip(tiny_model, tmp_path):
    path = export_decoder(tiny_model, tmp_path / "dec.pt", card={"note": "test"})
    assert path.stat().st_size < 2_000_000
    back = load_checkpoint(path)
    img = _img(48, 64, 3)
    np.testing.assert_allclose(DeepSaliency(back).saliency_map(img), DeepSaliency(tiny_model).saliency_map(img), rtol=1e-5)
    random = SaliencyNetwork(get_backbone("efficientnet_lite0", weights=None), tiny_model.decoder, (48, 64),
                               encoder_spec={"name": "efficientnet_lite0", "weights": None})
    with pytest.raises(ModelError, match="random weights"):
        export_decoder(random, tmp_path / "random.pt")
    enc = load_encoder("efficientnet_lite0", weights=None)
    assert enc.layer_names[-1] == "head"
    with pytest.raises(ModelError, match="unknown encoder.*efficientnet_lite0"):
        load_encoder("alexnet")
    with pytest.raises(ModelError, match="does not exist"):
        load_encoder(tmp_path / "missing.ckpt")
    bogus = tmp_path / "bogus.pt"
    torch.save({"state_dict": {}}, bogus)
    with pytest.raises(ModelError, match="not a salscope checkpoint"):
        load_checkpoint(bogus)


def test_builtin_model_ships_with_a_card_and_predicts(data_root):
    from salscope.data import load_image
    from salscope.models import get_model

    card = builtin_card()
    for key in ("command", "train_split", "seed", "test_scores", "baselines"):
        assert key in card
    assert card["command"].startswith("salscope train")
    cb = card["baselines"]["center_bias_fitted_on_train"]["scores"]
    assert all(card["test_scores"][k] > cb[k] for k in ("auc", "sauc", "nss", "cc"))
    model = get_model("builtin")
    image = load_image(data_root / "osie" / "stimuli" / "1001.jpg")
    smap = model.saliency_map(image)
    assert smap.shape == image.shape[:2] and abs(smap.sum() - 1) < 1e-6


def test_predict_cli_writes_maps_and_overlays(tiny_model, tmp_path, data_root):
    from salscope.cli import main

    ckpt = export_decoder(tiny_model, tmp_path / "m.pt")
    images = [str(data_root / "osie" / "stimuli" / f"{i}.jpg") for i in (1001, 1002)]
    out = tmp_path / "out"
    assert main(["predict", *images, "--out", str(out), "--model", str(ckpt), "--format", "png,npy", "--overlay"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["1001.npy", "1001.png", "1001_overlay.png",
                                                     "1002.npy", "1002.png", "1002_overlay.png"]
    m = np.load(out / "1001.npy")
    assert m.shape == (600, 800) and abs(m.sum() - 1) < 1e-6
    from PIL import Image

    png = np.asarray(Image.open(out / "1001.png"))
    assert png.shape == (600, 800) and png.min() == 0 and png.max() == 255
    assert main(["predict", images[0], "--out", str(out), "--format", "gif"]) == 2
