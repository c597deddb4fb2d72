"""The one model factory: every spec form, labels, errors, and a contract run over every registered model."""

from __future__ import annotations

import numpy as np
import pytest

from salscope.errors import ModelError
from salscope.models import available_models, parse_spec, saliency_model
from salscope.models.checkpoint import SCHEMA_VERSION, CheckpointRecord, split_checkpoint
from salscope.models.factory import encoder, parse_specs
from salscope.models.module import ModuleSaliency
from salscope.models.precomputed import PrecomputedMaps


@pytest.mark.parametrize("text, role, label, kind, source, target", [
    ("gbvs", "saliency", "gbvs", "classical", "registry", "gbvs"),
    ("center_bias", "saliency", "center_bias", "baseline", "registry", "center_bias"),
    ("builtin", "saliency", "builtin", "deep", "registry", "builtin"),
    ("inter_observer", "saliency", "inter_observer", "baseline", "inter_observer", "inter_observer"),
    ("ckpt:runs/a/checkpoints/best.ckpt", "saliency", "best", "deep", "checkpoint", "runs/a/checkpoints/best.ckpt"),
    ("runs/a/best.pt", "saliency", "best", "deep", "checkpoint", "runs/a/best.pt"),        # the suffix shorthand
    ("a=runs/a/checkpoints/best.ckpt", "saliency", "a", "deep", "checkpoint", "runs/a/checkpoints/best.ckpt"),
    ("maps:out/maps", "saliency", "maps", "precomputed", "maps", "out/maps"),
    ("mine=maps:out/maps", "saliency", "mine", "precomputed", "maps", "out/maps"),
    ("lib/my_net.py:build", "saliency", "my_net", "deep", "file", "lib/my_net.py"),
    ("vgg16", "encoder", "vgg16", "deep", "backbone", "vgg16"),
    ("builtin", "encoder", "builtin", "deep", "registry", "builtin"),
    ("timm:resnet50", "encoder", "resnet50", "deep", "timm", "resnet50"),
    ("pre=ckpt:x/last.ckpt", "encoder", "pre", "deep", "checkpoint", "x/last.ckpt"),
    ("runs/a=b/best.ckpt", "saliency", "best", "deep", "checkpoint", "runs/a=b/best.ckpt"),  # '=' inside a path
])
def test_every_spec_form_parses_to_one_typed_spec(text, role, label, kind, source, target):
    s = parse_spec(text, role=role)
    assert (s.label, s.kind, s.source, s.target) == (label, kind, source, target)


def test_a_folder_is_maps_only_where_no_model_has_its_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gbvs").mkdir()
    (tmp_path / "mymaps").mkdir()
    assert parse_spec("gbvs").source == "registry"           # a registered name wins …
    assert parse_spec("maps:gbvs").source == "maps"          # … the prefix says the folder
    assert parse_spec("mymaps").source == "maps"


def test_unknown_specs_and_wrong_roles_say_what_is_valid():
    with pytest.raises(ModelError, match=r"unknown model 'nope'; valid names: aim, bms, builtin.*ckpt:PATH.*maps:DIR"):
        parse_spec("nope")
    with pytest.raises(ModelError, match=r"unknown encoder 'gbvs'; valid: builtin, efficientnet_lite0"):
        parse_spec("gbvs", role="encoder")
    with pytest.raises(ModelError, match="timm models are encoders"):
        parse_spec("timm:resnet50")
    with pytest.raises(ModelError, match="not an encoder"):
        parse_spec("inter_observer", role="encoder")
    with pytest.raises(ModelError, match="empty model spec"):
        parse_spec(" ")


def test_labels_must_be_unique_and_the_error_says_how_to_name_them():
    with pytest.raises(ModelError, match=r"two models share the label 'best' \(a/best.ckpt and b/best.ckpt\); "
                                         r"name them LABEL=SPEC \(e.g. a=a/best.ckpt b=b/best.ckpt\)"):
        parse_specs(["a/best.ckpt", "b/best.ckpt"])
    assert [s.label for s in parse_specs(["x=a/best.ckpt", "y=b/best.ckpt"])] == ["x", "y"]
    assert [s.label for s in parse_specs(["a/best.ckpt", "b/best.ckpt"], labels=["one", "two"])] == ["one", "two"]
    with pytest.raises(ModelError, match="1 label.*2 model"):
        parse_specs(["gbvs", "bms"], labels=["x"])


def _builtin_names() -> list[str]:
    from salscope.models.registry import registered

    return [n for n in available_models() if registered(n).factory.__module__.startswith("salscope.")]


@pytest.mark.parametrize("name", _builtin_names())
def test_contract_of_every_registered_model(name):
    """Each registered model: the spec's kind is the model's, its map has the image's shape, finite, and it
    is built with its centre prior off exactly when its registration says it can be."""
    spec = parse_spec(name)
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    model = saliency_model(spec)
    assert model.kind == spec.kind and model.name == name
    smap = model.saliency_map(image)
    assert smap.shape == (48, 64) and np.isfinite(smap).all()
    if spec.center_prior_switch:
        assert saliency_model(spec, center_prior=False).center_prior is False
    else:
        with pytest.raises(ModelError, match="centre prior"):
            saliency_model(spec, center_prior=False)
    labelled = saliency_model(parse_spec(f"renamed={name}"))
    assert labelled.name == "renamed"


def test_user_file_models_predict_and_validate(user_file):
    image = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    dens = saliency_model(f"{user_file}:make_density")
    assert isinstance(dens, ModuleSaliency) and dens.kind == "deep" and dens.has_log_density and dens.name == "mymodels"
    logd = dens.log_density(image)
    assert logd.shape == (20, 30)
    assert np.exp(logd).sum() == pytest.approx(1.0, abs=1e-9)
    # the module's log-density is a softmax of the summed normalised channels: brighter pixels more likely
    x = (image / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    want = x.sum(axis=2) - np.log(np.exp(x.sum(axis=2)).sum())
    np.testing.assert_allclose(logd, want, atol=2e-5)
    plain = saliency_model(f"own={user_file}:make_map")
    assert plain.name == "own" and not plain.has_log_density
    np.testing.assert_allclose(plain.saliency_map(image), x.mean(axis=2), atol=2e-6)
    with pytest.raises(ModelError, match=r"returned a int, not a torch.nn.Module"):
        saliency_model(f"{user_file}:not_a_module")
    with pytest.raises(ModelError, match=r"has no function 'missing'; it defines: .*make_density"):
        saliency_model(f"{user_file}:missing")
    with pytest.raises(ModelError, match=r"does not exist or is not a .py file"):
        saliency_model(f"{user_file.parent / 'nope.py'}:make_map")


def test_maps_and_baselines_are_not_predicting_models(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((3, 4)))
    with pytest.raises(ModelError, match="folder of precomputed maps.*predicts nothing"):
        saliency_model(f"maps:{tmp_path}")
    with pytest.raises(ModelError, match="baseline that only `salscope evaluate` scores"):
        saliency_model("inter_observer")
    from salscope.models.factory import precomputed

    maps = precomputed(f"m={tmp_path}")
    assert isinstance(maps, PrecomputedMaps) and maps.name == "m" and maps.kind == "precomputed"


def test_checkpoint_spec_forms_give_one_model(decoder_ckpt):
    image = np.random.default_rng(2).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    a = saliency_model(f"ckpt:{decoder_ckpt}")
    b = saliency_model(str(decoder_ckpt))
    c = saliency_model(f"mine={decoder_ckpt}", center_prior=False)
    assert (a.name, b.name, c.name, c.center_prior) == ("tiny", "tiny", "mine", False)
    np.testing.assert_array_equal(a.saliency_map(image), b.saliency_map(image))
    enc = encoder(f"ckpt:{decoder_ckpt}")
    assert enc.layer_names[-1] == "head"
    with pytest.raises(ModelError, match="unknown option"):
        saliency_model(f"ckpt:{decoder_ckpt}", sigma=3)


def test_checkpoint_record_is_versioned(decoder_ckpt):
    import torch

    ckpt = torch.load(decoder_ckpt, weights_only=True)
    assert ckpt["salscope"]["schema"] == SCHEMA_VERSION
    record, state = split_checkpoint(ckpt, "x")
    assert record.decoder_only and record.kind == "saliency" and record.input_size == (48, 64)
    assert CheckpointRecord.from_dict(record.to_dict(), "x") == record
    legacy = {k: v for k, v in ckpt["salscope"].items() if k != "schema"}      # files written before the version
    assert CheckpointRecord.from_dict(legacy, "old.pt").schema == 1
    with pytest.raises(ModelError, match=r"written by a newer salscope \(record schema 9.*upgrade"):
        CheckpointRecord.from_dict({**ckpt["salscope"], "schema": 9}, "new.pt")
    with pytest.raises(ModelError, match=r"salscope.kind is 'banana'"):
        CheckpointRecord.from_dict({**ckpt["salscope"], "kind": "banana"}, "bad.pt")
