"""The neuron browser's data: planted detectors, a 'fine-tuned' swap, and thumbnails that show where a channel fires."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from salscope.analysis.neurons.browser import browser_data, largest_gain, pick_regions
from salscope.analysis.neurons.analysis import analyse_neurons
from salscope.errors import AnalysisError
from salscope.report.browser import thumbnail_files

MASK = (32, 40)


@pytest.fixture(scope="module")
def two(planted, planted_model, swapped_model):
    """Pretrained (planted) and 'saliency' (channels 0 and 1 swapped) analysed over the same images."""
    ds, regions = planted
    kw = dict(input_size=None, batch_size=4, mask_size=MASK)
    results = {"pretrained": analyse_neurons(planted_model, ds, regions, ["conv", "deep"], name="pretrained", **kw),
               "saliency": analyse_neurons(swapped_model, ds, regions, ["conv", "deep"], name="saliency", **kw)}
    return results, {"pretrained": planted_model, "saliency": swapped_model}


@pytest.fixture(scope="module")
def browser(two, planted, tmp_path_factory):
    results, models = two
    ds, regions = planted
    out = tmp_path_factory.mktemp("browser") / "browser"
    data = browser_data(results, models, ds, regions, out, labels={"saliency": "II (saliency)"}, n_images=3,
                        thumb_size=80)
    return data, out


def test_pick_regions_takes_each_tables_best_in_turn_one_per_image():
    a = np.array([[5.0], [4.0], [3.0], [np.nan], [1.0]])
    b = np.array([[0.0], [1.0], [2.0], [9.0], [8.0]])
    image = ["i0", "i0", "i1", "i2", "i3"]
    # a's best (0), b's best (3), a's next on a new image (2: region 1 shares i0), b's next (4)
    assert pick_regions([a, b], image, 0, 4) == [0, 3, 2, 4]
    assert pick_regions([a, b], image, 0, 2) == [0, 3]
    assert pick_regions([a], image, 0, 9) == [0, 2, 4]          # NaN and repeated images skipped


def test_units_carry_every_encoders_scores_and_the_swap_shows_as_a_change(browser, two):
    data, out = browser
    results, _ = two
    cats = data["categories"]
    assert [r["key"] for r in data["roles"]] == ["pretrained", "saliency"] and data["reference"] == "pretrained"
    assert data["roles"][1]["label"] == "II (saliency)"
    assert [lay["name"] for lay in data["layers"]] == ["conv", "deep"]
    # channel 4 never fires: not a unit; the five scored ones are
    assert sorted(u["channel"] for u in data["units"] if u["layer"] == 0) == [0, 1, 2, 3, 5]
    unit = next(u for u in data["units"] if u["layer"] == 0 and u["channel"] == 0)
    head, text = cats.index("person head"), cats.index("text")
    pre = results["pretrained"].category_scores("conv").scores
    assert unit["scores"]["pretrained"][head] == pytest.approx(pre[head, 0], abs=1e-3)
    assert unit["scores"]["pretrained"][head] > 3 > unit["scores"]["saliency"][head]      # lost person head
    assert unit["scores"]["saliency"][text] > 3 > unit["scores"]["pretrained"][text]      # became a text detector
    # its images: pretrained's best region is a person head, the swapped model's a text region
    assert [r["category"] for r in unit["regions"][:2]] == ["person head", "text"]
    assert len({r["image"] for r in unit["regions"]}) == 3
    # fires: images with an activation above the channel's Network Dissection threshold (top 0.5 %)
    assert 1 <= unit["fires"]["pretrained"] <= 12
    assert json.loads((out / "data.json").read_text())["units"][0]["channel"] == data["units"][0]["channel"]


def test_largest_gain_finds_the_swapped_channel(two):
    results, _ = two
    gain = largest_gain(results, "pretrained", "saliency", "conv", "person head")
    assert gain["channel"] == 1 and gain["gain"] > 3          # channel 1 took over person head
    assert largest_gain(results, "pretrained", "saliency", "conv", "text")["channel"] == 0
    assert largest_gain(results, "pretrained", "saliency", "conv", "no such category") is None


def test_thumbnails_show_the_image_only_where_the_channel_fires(browser, planted):
    data, out = browser
    ds, regions = planted
    files = thumbnail_files(data)
    assert files and all((out / f).is_file() for f in files)
    assert sorted(p.relative_to(out).as_posix() for p in (out / "thumbs").rglob("*.jpg")) == sorted(files)
    unit = next(u for u in data["units"] if u["layer"] == 0 and u["channel"] == 0)
    first = unit["regions"][0]                      # a person-head (red) square, pretrained's best region
    for role, colour_ok in (("pretrained", True), ("saliency", False)):
        thumb = np.asarray(Image.open(out / f"thumbs/conv/0-0-{role}.jpg").convert("RGB")).astype(int)
        assert thumb.shape[1] == 80
        mask = next(r.mask for r in regions[first["image"]] if r.instance == first["instance"])
        small = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(thumb.shape[1::-1], Image.NEAREST)) > 0
        lit = thumb.sum(2) > 60
        outline = (thumb[..., 0] > 180) & (thumb[..., 1] > 150) & (thumb[..., 2] < 140)
        red = (thumb[..., 0] > 120) & (thumb[..., 1] < 90) & ~outline
        # pretrained: the red square shows through, little else is lit; swapped: channel 0 fires on blue, not red
        assert (red.sum() > 3) == colour_ok
        assert outline.sum() > 4                      # the region is outlined in both rows
        if colour_ok:
            assert (lit & ~outline & ~_dilate(small, 2)).mean() < 0.08
    assert max((out / f).stat().st_size for f in files) < 4000


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    out = mask.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out |= np.roll(np.roll(mask, dy, 0), dx, 1)
    return out


def test_mismatched_inputs_are_refused(two, planted, tmp_path):
    results, models = two
    ds, regions = planted
    with pytest.raises(AnalysisError, match="same keys"):
        browser_data(results, {"pretrained": models["pretrained"]}, ds, regions, tmp_path / "b")
    with pytest.raises(AnalysisError, match="n_images"):
        browser_data(results, models, ds, regions, tmp_path / "b", n_images=0)
    assert not (tmp_path / "b").exists()
