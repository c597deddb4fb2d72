"""Training runs end to end: seeds, exact resume, config guard, feature cache, set-ups II/III, early stopping."""

from __future__ import annotations

import csv

import pytest
import torch

from salscope.errors import ConfigError, DataError, ModelError, TrainError
from salscope.train import train

from .conftest import state


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_weights_and_exact_resume(tiny):
    a = train(tiny("a", epochs=2))
    b = train(tiny("b", epochs=2))
    sa, sb = state(a.last_checkpoint), state(b.last_checkpoint)
    assert _equal(sa, sb)
    # The decoder did learn something (weights moved away from their seeded initialisation).
    c = train(tiny("c", epochs=1))
    sc = state(c.last_checkpoint)
    assert not torch.equal(sc["model.decoder.readout.0.weight"], sa["model.decoder.readout.0.weight"])
    # Resume "c" (killed after epoch 1) up to epoch 2: identical to the uninterrupted run.
    c2 = train(tiny("c", epochs=2, resume=True))
    assert c2.epochs_run == 2
    assert _equal(state(c2.last_checkpoint), sa)
    # Another seed gives other weights.
    d = train(tiny("d", epochs=1, seed=1))
    assert not _equal(state(d.last_checkpoint), sc)
    # The CSV log has one validation row per epoch.
    rows = list(csv.DictReader(open(a.out_dir / "logs" / "metrics.csv")))
    assert len([r for r in rows if r.get("val_nss")]) == 2


def test_resume_guard_refuses_other_config_and_overwrite(tiny):
    train(tiny("r"))
    with pytest.raises(TrainError, match=r"lr: 0\.005 → 0\.001"):
        train(tiny("r", lr=1e-3, resume=True))
    with pytest.raises(TrainError, match="already holds a run.*--resume"):
        train(tiny("r"))


def test_feature_cache_gives_the_same_training_as_the_encoder(tiny):
    cached = train(tiny("cached", epochs=2))
    assert cached.cached_images == 6  # 4 train + 2 val, computed once
    again = train(tiny("cached2", epochs=1))
    assert again.cached_images == 0  # second run reads the cache
    plain = train(tiny("plain", epochs=2, cache=False))
    sa, sb = state(cached.last_checkpoint), state(plain.last_checkpoint)
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=1e-4, atol=1e-5)


def test_setup_saliency_finetunes_only_from_the_named_layer(tiny):
    base = train(tiny("fixed"))
    ft = train(tiny("ft", setup="saliency"))  # default depth: the deepest decoder layer, block15
    s0, s1 = state(base.last_checkpoint), state(ft.last_checkpoint)
    moved = {k for k in s0 if k.startswith("model.encoder.") and s0[k].dtype.is_floating_point
             and not torch.equal(s0[k], s1[k])}
    assert moved and all(k.startswith("model.encoder._blocks.15.") for k in moved)
    # The filled-in default does not break the resume guard.
    assert train(tiny("ft", setup="saliency", epochs=2, resume=True)).epochs_run == 2
    with pytest.raises(ModelError, match="unknown layer.*'conv9'.*valid layers: stem, block0"):
        train(tiny("bad", setup="saliency", finetune_from="conv9"))


def test_setup_scene_trains_a_classifier_and_its_encoder_loads(tiny, data_root, tmp_path):
    from salscope.models.factory import encoder as load_encoder

    labels = data_root / "osie-scenes" / "labels.csv"
    res = train(tiny("scene", setup="scene", labels=str(labels), finetune_from="block15"))
    assert "val_acc" in res.metrics and 0.0 <= res.metrics["val_acc"] <= 1.0
    sd = state(res.last_checkpoint)
    assert sd["head.fc.weight"].shape == (9, 320)  # 9 scene classes over block15, the deepest decoder layer
    enc = load_encoder(res.last_checkpoint)
    torch.testing.assert_close(enc.state_dict()["_blocks.15._project_conv.weight"],
                               sd["encoder._blocks.15._project_conv.weight"])
    bad = tmp_path / "labels.csv"
    bad.write_text(labels.read_text() + "9999,home\n")
    with pytest.raises(DataError, match="9999"):
        train(tiny("scene2", setup="scene", labels=str(bad)))
    with pytest.raises(ConfigError, match="needs a labels CSV"):
        tiny("scene3", setup="scene")


def test_early_stopping_stops_when_the_monitor_stalls(tiny):
    res = train(tiny("es", epochs=6, lr=1e-30, monitor="val_loss", patience=1))
    assert res.epochs_run < 6


def test_paper_preset():
    from salscope.train import TrainConfig

    cfg = TrainConfig.from_preset("paper", setup="saliency", backbone="vgg16", finetune_from="conv5_1")
    assert (cfg.lr, cfg.lr_decay, cfg.batch_size, cfg.epochs, cfg.input_size) == (5e-3, 0.8, 10, 20, (224, 224))
    assert (cfg.decoder, cfg.loss) == ("paper", "nss")
    with pytest.raises(ConfigError, match="valid presets: paper"):
        TrainConfig.from_preset("deepgaze")


def test_train_cli_runs_and_reports_bad_options(tmp_path, data_root):
    from salscope.cli import main

    out = tmp_path / "cli"
    args = ["train", "--weights", "none", "--input-size", "64x48", "--epochs", "1", "--batch-size", "2",
            "--max-images", "2", "--data-dir", str(data_root), "--out", str(out), "--threads", "1", "--no-progress"]
    assert main(args) == 0
    result = __import__("json").loads((out / "result.json").read_text())
    assert result["epochs_run"] == 1 and "val_nss" in result["metrics"]
    cfg = __import__("json").loads((out / "config.json").read_text())
    assert cfg["weights"] is None and cfg["input_size"] == [48, 64]
    assert main(args) == 2  # the folder holds a run and --resume was not given
    assert main(["train", "--setup", "fixed", "--finetune-from", "block15", "--out", str(tmp_path / "x")]) == 2
    assert main(["train", "--input-size", "big", "--out", str(tmp_path / "y")]) == 2
    assert main(["train", "--layers", "block4,nope", "--weights", "none", "--data-dir", str(data_root),
                 "--out", str(tmp_path / "z")]) == 2


def test_paper_decoder_with_weighted_nss_cc_loss(tiny):
    from salscope.models.checkpoint import load_checkpoint

    res = train(tiny("paper", decoder="paper", loss="nss:1,cc:0.5"))
    assert {"train_nss_loss", "train_cc_loss", "val_nss"} <= set(res.metrics)
    model = load_checkpoint(res.last_checkpoint)
    assert model.output == "saliency" and model.layers == ["block15"]
    w = model.decoder.conv.weight
    assert w.shape == (1, 320, 1, 1) and not torch.all(w == 1)  # trained away from the ones initialisation
