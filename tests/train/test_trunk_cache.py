"""Frozen-trunk cache of set-ups II and III: same training as recomputing the encoder every epoch."""

from __future__ import annotations

import pytest
import torch

from salscope.train import train
from salscope.train.cache import trunk_layers

from .conftest import state


def _close(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)


def _metrics_close(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and a
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-4, abs=1e-5), k


def test_trunk_layers_names_what_is_cached():
    from salscope.models.backbones import get_backbone

    enc = get_backbone("efficientnet_lite0", weights=None)
    readout = ["block4", "block10", "block15"]
    assert trunk_layers(enc, "block13", readout) == ["block12", "block4", "block10"]
    assert trunk_layers(enc, "block11", readout) == ["block10", "block4"]  # the previous layer is a decoder layer
    assert trunk_layers(enc, "block15", ["block15"]) == ["block14"]
    assert trunk_layers(enc, "stem", readout) is None  # nothing frozen in front of the first stage


def test_setup_saliency_with_trunk_cache_trains_as_without(tiny):
    from salscope.models.checkpoint import load_checkpoint

    kw = dict(setup="saliency", finetune_from="block13", epochs=2)  # readout over block4, block10, block15
    cached = train(tiny("cached", **kw))
    assert cached.cache_layers == ["block12", "block4", "block10"] and cached.cached_images == 6
    plain = train(tiny("plain", cache=False, **kw))
    assert plain.cache_layers is None and plain.cached_images == 0
    sc, sp = state(cached.last_checkpoint), state(plain.last_checkpoint)
    _close(sc, sp)
    _metrics_close(cached.metrics, plain.metrics)
    # Only blocks 13-15 and the decoder moved; the trunk in the checkpoint is the initial one, bit for bit.
    base = state(train(tiny("fixed")).last_checkpoint)
    moved = {k for k in sc if k.startswith("model.encoder.") and sc[k].dtype.is_floating_point
             and not torch.equal(sc[k], base[k])}
    assert moved and {k.split(".")[3] for k in moved} == {"13", "14", "15"}
    # The checkpoint holds the whole fine-tuned encoder: load_checkpoint gives the uncached run's model.
    mc, mp = load_checkpoint(cached.last_checkpoint), load_checkpoint(plain.last_checkpoint)
    _close(mc.state_dict(), mp.state_dict())
    # Resume with the cache (filled: nothing recomputed) continues exactly like an uncached run of 3 epochs.
    again = train(tiny("cached", resume=True, **{**kw, "epochs": 3}))
    assert again.cached_images == 0 and again.epochs_run == 3
    _close(state(again.last_checkpoint), state(train(tiny("plain", cache=False, resume=True,
                                                               **{**kw, "epochs": 3})).last_checkpoint))


def test_readout_with_its_previous_layer_in_the_decoder(tiny):
    kw = dict(setup="saliency", finetune_from="block11", layers=["block4", "block10", "block15"])
    cached = train(tiny("c11", **kw))
    assert cached.cache_layers == ["block10", "block4"]
    plain = train(tiny("p11", cache=False, **kw))
    _close(state(cached.last_checkpoint), state(plain.last_checkpoint))
    _metrics_close(cached.metrics, plain.metrics)


def test_setup_scene_with_trunk_cache_trains_as_without(tiny, data_root):
    from salscope.models.factory import encoder as load_encoder

    kw = dict(setup="scene", labels=str(data_root / "osie-scenes" / "labels.csv"), finetune_from="block13", epochs=2)
    cached = train(tiny("scene_c", **kw))
    assert cached.cache_layers == ["block12"] and cached.cached_images == 6
    plain = train(tiny("scene_p", cache=False, **kw))
    sc, sp = state(cached.last_checkpoint), state(plain.last_checkpoint)
    _close(sc, sp)
    _metrics_close(cached.metrics, plain.metrics)
    assert sc["head.fc.weight"].shape == (9, 320)
    ec, ep = load_encoder(cached.last_checkpoint), load_encoder(plain.last_checkpoint)
    _close(ec.state_dict(), ep.state_dict())
    assert torch.equal(ec.state_dict()["_blocks.12._project_conv.weight"],
                       sc["encoder._blocks.12._project_conv.weight"])
