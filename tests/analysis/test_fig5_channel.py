"""``salscope dissect`` and the study choose the paper's Fig. 5 channel by one rule (fig5_channel)."""

from __future__ import annotations

import pytest

from salscope.analysis.neurons.analysis import analyse_neurons, compare_neurons, fig5_channel
from salscope.cli import main
from salscope.models.factory import parse_spec


@pytest.fixture()
def fake_loaders(planted, planted_model, swapped_model, monkeypatch):
    import salscope.cli.dissect as dissect
    import salscope.data as data

    ds, regions = planted
    monkeypatch.setattr(data, "load_dataset", lambda name, data_dir=None: ds)
    monkeypatch.setattr(dissect, "_load_regions", lambda spec, stimuli, data_dir: regions)
    def fake(specs, weights):
        return [(parse_spec(planted_model, label=s), swapped_model if s == "saliency" else planted_model) for s in specs]

    monkeypatch.setattr(dissect, "_encoders", fake)
    return ds, regions


def test_dissect_and_study_pick_the_same_fig5_channel(fake_loaders, planted_model, swapped_model, tmp_path, capsys):
    ds, regions = fake_loaders
    kw = dict(input_size=(64, 80), mask_size=(32, 40), batch_size=4, max_images=6)
    results = {"pretrained": analyse_neurons(planted_model, ds, regions, ["conv", "deep"], name="pretrained", **kw),
               "saliency": analyse_neurons(swapped_model, ds, regions, ["conv", "deep"], name="saliency", **kw)}
    study_pick = fig5_channel(compare_neurons(results, reference="pretrained"), "saliency", "deep", "person head")
    # the swapped model's channel 1 became the red (person-head) detector: the largest person-head gain
    assert study_pick == ("deep", 1, "person head")
    out = tmp_path / "out"
    rc = main(["dissect", "--model", "pretrained", "--model", "saliency", "--layers", "conv,deep", "--max-images", "6",
               "--out", str(out), "--input-size", "80x64", "--mask-size", "40x32", "--batch-size", "4"])
    assert rc == 0, capsys.readouterr().err
    assert [p.name for p in out.glob("channel_*.png")] == [f"channel_{study_pick[0]}_{study_pick[1]}.png"]
