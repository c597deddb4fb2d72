"""Search-array generator: determinism, masks, feature differences, layout, bad input."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from salscope.data.popout import (
    DIMENSIONS,
    LEVELS,
    PRESETS,
    PopoutSet,
    benchmark_specs,
    generate_benchmark,
    grid_shape,
    items_from_meta,
    lch_to_srgb,
    load_popout_set,
    load_search_array,
    make_search_array,
    render_items,
    save_search_array,
)
from salscope.errors import ConfigError, DataError, SalscopeError

SMALL = {"image_size": (160, 160), "item_size": 14.0, "jitter": 3.0}


def _hue_distance(a: float, b: float) -> float:
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


def _orientation_distance(a: float, b: float) -> float:
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


# ----------------------------------------------------------------------------- determinism


def test_same_seed_same_bytes_for_every_file(tmp_path):
    for dim in DIMENSIONS:
        a = make_search_array(dim, 2, set_size=16, seed=11, **SMALL)
        b = make_search_array(dim, 2, set_size=16, seed=11, **SMALL)
        pa = save_search_array(a, tmp_path / "a", dim)
        pb = save_search_array(b, tmp_path / "b", dim)
        for key in ("image", "target", "distractors", "meta"):
            assert pa[key].read_bytes() == pb[key].read_bytes(), (dim, key)
    c = make_search_array("colour", 2, set_size=16, seed=12, **SMALL)
    assert not np.array_equal(c.image, make_search_array("colour", 2, set_size=16, seed=11, **SMALL).image)


def test_benchmark_is_byte_identical_across_runs(tmp_path):
    generate_benchmark(tmp_path / "one", preset="quick", seed=3)
    generate_benchmark(tmp_path / "two", preset="quick", seed=3)
    files = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "two").iterdir())
    assert len(files) == 48 * 4 + 1  # image, two masks, json per image + index.json
    for name in files:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    pset = load_popout_set(tmp_path / "one")
    assert len(pset) == 48
    assert sorted({e["dimension"] for e in pset.entries}) == sorted(DIMENSIONS)
    assert {e["set_size"] for e in pset.entries} == {9, 25}
    arr = pset[5]
    assert arr.image.shape == (256, 256, 3)
    assert arr.meta["seed"] == benchmark_specs("quick", 3)[5]["seed"]
    # The recorded seed regenerates the image exactly.
    spec = benchmark_specs("quick", 3)[5]
    again = make_search_array(**{k: v for k, v in spec.items() if k != "name"})
    assert np.array_equal(again.image, arr.image)


def test_default_preset_size():
    specs = benchmark_specs("default")
    p = PRESETS["default"]
    assert len(specs) == sum(len(v) for v in LEVELS.values()) * len(p["set_sizes"]) * p["repeats"] == 288
    assert len({s["seed"] for s in specs}) == 288
    assert len({s["name"] for s in specs}) == 288


# ----------------------------------------------------------------------------- masks


@pytest.mark.parametrize("dim", DIMENSIONS)
def test_target_mask_is_exactly_the_target_alone(dim):
    arr = make_search_array(dim, 3, set_size=9, seed=5, **SMALL)
    items = items_from_meta(arr.meta)
    target = items[0]
    assert target.role == "target"
    # Re-render the target alone, white on black: every pixel it touches differs from black
    # (smallest coverage 1/16 of 255 rounds to 16).
    white = dataclasses.replace(target, color=(255.0, 255.0, 255.0))
    alone, alone_mask, _ = render_items([white], arr.image.shape[:2], (0, 0, 0), arr.meta["supersample"])
    assert np.array_equal(alone.any(axis=2), arr.target_mask)
    assert np.array_equal(alone_mask, arr.target_mask)
    # Same for each distractor and its instance id.
    for d in items[1:]:
        white = dataclasses.replace(d, color=(255.0, 255.0, 255.0))
        alone, _, ids = render_items([white], arr.image.shape[:2], (0, 0, 0), arr.meta["supersample"])
        assert np.array_equal(alone.any(axis=2), arr.distractor_ids == d.instance)
    assert sorted(np.unique(arr.distractor_ids)) == list(range(9))
    # Outside every item the image is exactly the background.
    outside = ~arr.target_mask & (arr.distractor_ids == 0)
    assert np.all(arr.image[outside] == np.rint(arr.meta["background"]).astype(np.uint8))
    # The target's centre pixel is fully covered: exactly its colour.
    tx, ty = arr.target_xy
    centre = arr.image[int(np.floor(ty + 0.5)), int(np.floor(tx + 0.5))]
    assert np.array_equal(centre, np.rint(arr.meta["target"]["color"]).astype(np.uint8))


def test_masks_survive_save_and_load(tmp_path):
    arr = make_search_array("orientation", 1, set_size=25, seed=2, **SMALL)
    save_search_array(arr, tmp_path, "x")
    back = load_search_array(tmp_path, "x")
    assert np.array_equal(back.image, arr.image)
    assert np.array_equal(back.target_mask, arr.target_mask)
    assert np.array_equal(back.distractor_ids, arr.distractor_ids)
    assert back.meta["dimension"] == "orientation" and back.meta["schema_version"] == 1


# ----------------------------------------------------------------------------- features


@pytest.mark.parametrize("level", range(4))
def test_feature_differences_match_the_level(level):
    col = make_search_array("colour", level, set_size=9, seed=level, **SMALL).meta
    assert _hue_distance(col["target_hue"], col["distractor_hue"]) == pytest.approx(LEVELS["colour"][level])
    ori = make_search_array("orientation", level, set_size=9, seed=level, **SMALL).meta
    assert _orientation_distance(ori["target_orientation"], ori["distractor_orientation"]) == pytest.approx(
        LEVELS["orientation"][level]
    )
    size = make_search_array("size", level, set_size=9, seed=level, **SMALL)
    area_t = size.target_mask.sum()
    area_d = np.mean([np.sum(size.distractor_ids == i) for i in range(1, 9)])
    # Areas include the anti-aliased rim, so compare loosely with the squared diameter ratio.
    assert area_t / area_d == pytest.approx(LEVELS["size"][level] ** 2, rel=0.15)
    shape = make_search_array("shape", level, set_size=9, seed=level, **SMALL)
    assert shape.meta["target"]["sides"] == LEVELS["shape"][level]
    lum = make_search_array("luminance", level, set_size=9, seed=level, **SMALL)
    tx, ty = lum.target_xy
    d0 = lum.meta["distractors"][0]
    t_val = int(lum.image[round(ty), round(tx), 0])
    d_val = int(lum.image[round(d0["y"]), round(d0["x"]), 0])
    assert t_val > d_val
    assert t_val == round(lch_to_srgb(60.0 + LEVELS["luminance"][level], 0.0, 0.0)[0])


def test_shape_targets_have_the_distractors_area():
    for level, sides in enumerate(LEVELS["shape"]):
        arr = make_search_array("shape", level, set_size=4, seed=1, image_size=(200, 200), item_size=40.0, jitter=0.0)
        # coverage-weighted area: reconstruct from pixel values between background and item grey
        bg = arr.meta["background"][0]
        fg = arr.meta["target"]["color"][0]
        alpha = (arr.image[:, :, 0].astype(float) - bg) / (fg - bg)
        area_t = alpha[arr.target_mask].sum()
        area_d = alpha[arr.distractor_ids == 1].sum()
        assert area_t == pytest.approx(area_d, rel=0.02), sides
        assert area_d == pytest.approx(np.pi * 20.0**2, rel=0.02)


def test_conjunction_target_shares_each_feature_with_a_distractor_type():
    for seed in range(5):
        m = make_search_array("conjunction", 3, set_size=25, seed=seed, **SMALL).meta
        dist = {(tuple(d["color"]), d["orientation"]) for d in m["distractors"]}
        assert len(dist) == 2
        t = (tuple(m["target"]["color"]), m["target"]["orientation"])
        assert t not in dist
        assert t[0] in {c for c, _ in dist} and t[1] in {o for _, o in dist}
        counts = [sum((tuple(d["color"]), d["orientation"]) == k for d in m["distractors"]) for k in dist]
        assert sorted(counts) == [12, 12]


def test_target_position_is_uniform_over_the_grid():
    cells = [make_search_array("size", 3, set_size=9, seed=s, image_size=(96, 96), item_size=8.0).meta["target"]["cell"]
             for s in range(360)]
    counts = np.bincount(cells, minlength=9)
    assert counts.sum() == 360 and counts.min() > 0
    assert stats.chisquare(counts).pvalue > 0.001
    # With a full grid the centre cell is no more likely than a corner.
    assert abs(counts[4] - 40) < 25


@settings(max_examples=25, deadline=None)
@given(
    dim=st.sampled_from(DIMENSIONS),
    level=st.integers(0, 3),
    set_size=st.integers(3, 30),
    seed=st.integers(0, 2**31 - 1),
)
def test_generated_layouts_are_consistent(dim, level, set_size, seed):
    arr = make_search_array(dim, level, set_size=set_size, seed=seed, image_size=(240, 240), item_size=12.0, jitter=2.0)
    assert arr.image.dtype == np.uint8 and arr.image.shape == (240, 240, 3)
    assert arr.target_mask.any()
    assert not np.any(arr.target_mask & (arr.distractor_ids > 0))
    assert set(np.unique(arr.distractor_ids)) == set(range(set_size))
    assert len(arr.meta["distractors"]) == set_size - 1
    rows, cols = grid_shape(set_size)
    assert rows * cols >= set_size and arr.meta["grid"] == [rows, cols]
    # Target mask centred on the recorded target position.
    ys, xs = np.nonzero(arr.target_mask)
    tx, ty = arr.target_xy
    assert abs(xs.mean() - tx) < 1.0 and abs(ys.mean() - ty) < 1.0


# ----------------------------------------------------------------------------- bad input


def test_items_that_do_not_fit_raise():
    with pytest.raises(ConfigError, match="items do not fit.*7×7 grid"):
        make_search_array("size", 3, set_size=49, image_size=(200, 200), item_size=20.0)
    with pytest.raises(ConfigError, match="items do not fit"):
        make_search_array("colour", 0, set_size=4, image_size=(40, 40), item_size=10.0, jitter=8.0)


def test_unknown_dimension_and_bad_levels_raise():
    with pytest.raises(ConfigError, match="dimension 'motion' is unknown.*colour, orientation"):
        make_search_array("motion", 0)
    for bad in (4, -1, 1.5, "2", True):
        with pytest.raises(ConfigError, match="out of range for dimension 'colour'.*0..3"):
            make_search_array("colour", bad)
    with pytest.raises(ConfigError, match="set_size"):
        make_search_array("colour", 0, set_size=1)
    with pytest.raises(ConfigError, match="set_size ≥ 3"):
        make_search_array("conjunction", 0, set_size=2)
    with pytest.raises(ConfigError, match="background"):
        make_search_array("colour", 0, background=(0, 0, 300))
    with pytest.raises(ConfigError, match="preset 'huge' is unknown"):
        benchmark_specs("huge")


def test_broken_sets_raise_data_errors(tmp_path):
    with pytest.raises(DataError, match="index.json not found.*salscope popout generate"):
        PopoutSet(tmp_path)
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(DataError, match="not a pop-out index"):
        PopoutSet(tmp_path)
    arr = make_search_array("colour", 1, set_size=9, seed=0, **SMALL)
    save_search_array(arr, tmp_path, "a")
    (tmp_path / "a_target.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="a_target.png"):
        load_search_array(tmp_path, "a")
    (tmp_path / "index.json").write_text(json.dumps({"images": [{"name": "a"}]}))
    with pytest.raises(SalscopeError):
        PopoutSet(tmp_path)[0]
