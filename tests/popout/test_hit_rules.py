"""Hit rules (item / disc / ink) and the target's saliency rank, on maps with known answers."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salscope.analysis.popout.scoring import evaluate_popout, score_search_array, write_popout_results
from salscope.analysis.popout.results import PER_IMAGE_FIELDS, load_popout_results
from salscope.cli import main
from salscope.data.popout import (
    SearchArray,
    benchmark_specs,
    generate_benchmark,
    load_popout_set,
    load_search_array,
    make_search_array,
    save_search_array,
)
from salscope.errors import AnalysisError, DataError, MetricError
from salscope.metrics.popout import (
    fixations_to_find,
    fixations_to_find_item,
    item_saliency,
    nearest_item_labels,
    target_rank,
)
from salscope.models.base import SaliencyModel
from salscope.models.registry import register_model


def _upsample(low: np.ndarray, shape: tuple[int, int], align_corners: bool) -> np.ndarray:
    """Bilinear upsampling as ``torch.nn.functional.interpolate(mode="bilinear", align_corners=...)``."""
    (h, w), (lh, lw) = shape, low.shape
    if align_corners:
        ys, xs = np.arange(h) * (lh - 1) / (h - 1), np.arange(w) * (lw - 1) / (w - 1)
    else:  # half-pixel centres, clamped at the border
        ys = np.clip((np.arange(h) + 0.5) * lh / h - 0.5, 0, lh - 1)
        xs = np.clip((np.arange(w) + 0.5) * lw / w - 0.5, 0, lw - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, lh - 1), np.minimum(x0 + 1, lw - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = low[y0][:, x0] * (1 - fx) + low[y0][:, x1] * fx
    bottom = low[y1][:, x0] * (1 - fx) + low[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def coarse_oracle(array: SearchArray, stride: int, align_corners: bool = False) -> np.ndarray:
    """A deep-model-like map: 0.5 on the feature cell of every distractor, 1 on the target's, upsampled."""
    h, w = array.target_mask.shape
    low = np.zeros((h // stride, w // stride))
    centres, _, target = array.items()
    for k, (x, y) in enumerate(centres):
        low[int((y + 0.5) // stride), int((x + 0.5) // stride)] = 1.0 if k == target else 0.5
    return _upsample(low, (h, w), align_corners)


class CoarseOracle(SaliencyModel):
    """Needs the array, not just the image: looks the image up among the arrays it was given."""

    name = "coarse_oracle"

    def __init__(self, arrays, stride):
        self.by_bytes = {a.image.tobytes(): a for a in arrays}
        self.stride = stride

    def saliency_map(self, image):
        return coarse_oracle(self.by_bytes[np.ascontiguousarray(image).tobytes()], self.stride)


def _arrays(preset: str, keep=lambda spec: True) -> list[SearchArray]:
    specs = [s for s in benchmark_specs(preset) if keep(s)]
    return [make_search_array(**{k: v for k, v in s.items() if k != "name"}) for s in specs]


@pytest.fixture(scope="module")
def quick_arrays():
    return _arrays("quick")


# Measured fractions of ink hits for these maps on the quick preset (48 arrays): half-pixel 0.65 (stride 16),
# 0.19 (32); align-corners 0.15 (16), 0.06 (32). The item rule finds every target first.
@pytest.mark.parametrize(
    ("stride", "align_corners", "ink_at_most"),
    [(16, False, 0.70), (32, False, 0.25), (16, True, 0.25), (32, True, 0.10)],
)
def test_coarse_maps_find_the_target_first_under_the_item_rule_only(quick_arrays, stride, align_corners, ink_at_most):
    item, ink, ranks = [], [], []
    for arr in quick_arrays:
        smap = coarse_oracle(arr, stride, align_corners)
        a = score_search_array(smap, arr, hit="item")
        b = score_search_array(smap, arr, hit="ink")
        item.append(a["found_first"])
        ink.append(b["found_first"])
        ranks.append(a["target_rank"])
        assert a["target_rank"] == b["target_rank"]  # the rank does not depend on the hit rule
    assert np.mean(item) >= 0.95
    assert np.mean(ranks) == 1.0  # the target's cell is the map's maximum: strictly the most salient item
    assert np.mean(ink) <= ink_at_most
    assert np.mean(item) - np.mean(ink) >= 0.3


def test_coarse_stride32_maps_on_the_default_preset():
    # Repeat 0 of the default preset: 72 arrays of 384 × 384, every dimension, level and set size (9, 25, 49).
    arrays = _arrays("default", keep=lambda spec: spec["name"].endswith("_r0"))
    assert len(arrays) == 72
    item, ink = [], []
    for a in arrays:  # the search functions score_search_array calls, without GSI/NSS/AUC
        smap = coarse_oracle(a, 32)
        centres, _, target = a.items()
        item.append(fixations_to_find_item(smap, centres, target, labels=a.item_labels()).n_fixations == 1)
        ink.append(fixations_to_find(smap, a.target_mask, a.ior_radius, max_fixations=1).found)
    assert np.mean(item) >= 0.95
    assert np.mean(ink) <= 0.3  # measured 0.21 over the whole default preset


def test_peak_on_a_distractor_is_not_found_first():
    arr = make_search_array("size", 3, set_size=9, image_size=(96, 96), item_size=8.0, jitter=2.0, seed=4)
    centres, cells, target = arr.items()
    d = (target + 1) % 9
    yy, xx = np.mgrid[:96, :96]

    def bump(k, height):
        return height * np.exp(-((xx - centres[k, 0]) ** 2 + (yy - centres[k, 1]) ** 2) / (2 * 4.0**2))

    smap = bump(d, 1.0) + bump(target, 0.6)
    row = score_search_array(smap, arr, hit="item")
    assert row["found_first"] is False and row["found"] is True
    assert row["n_fixations"] == 2 and row["target_rank"] == 2.0
    assert row["target_rank_norm"] == pytest.approx(1 / 8)
    # Peak on the distractor, target below every other item: rank 9 = last, normalised 1.
    smap2 = bump(d, 1.0) + sum(bump(k, 0.5) for k in range(9) if k not in (d, target)) + bump(target, 0.1)
    row2 = score_search_array(smap2, arr, hit="item")
    assert row2["found_first"] is False and row2["target_rank"] == 9.0 and row2["target_rank_norm"] == 1.0
    assert row2["n_fixations"] == 9


# Four items on a 40×40 image: centres (10, 10), (30, 10), (10, 30), (30, 30); the Voronoi cells are quadrants.
CENTRES = np.array([[10.0, 10.0], [30.0, 10.0], [10.0, 30.0], [30.0, 30.0]])


def test_nearest_item_labels_are_the_quadrants():
    lab = nearest_item_labels((40, 40), CENTRES)
    assert lab[0, 0] == 0 and lab[0, 39] == 1 and lab[39, 0] == 2 and lab[39, 39] == 3
    assert lab[19, 19] == 0 and lab[19, 21] == 1 and lab[21, 19] == 2 and lab[21, 21] == 3
    assert lab[20, 20] == 0  # equidistant from all four: the lowest index
    assert np.bincount(lab.ravel()).tolist() == [21 * 21, 19 * 21, 21 * 19, 19 * 19]


def test_target_rank_is_exact_on_a_hand_built_array():
    smap = np.zeros((40, 40))
    smap[5, 5], smap[12, 33], smap[35, 8], smap[28, 28] = 0.3, 0.9, 0.6, 0.6  # item maxima 0.3, 0.9, 0.6, 0.6
    smap[25:40, 25:40] += 0.01 * (smap[25:40, 25:40] == 0)  # item 3's mean rises, its max stays 0.6
    np.testing.assert_allclose(item_saliency(smap, CENTRES), [0.3, 0.9, 0.6, 0.6])
    assert target_rank(smap, CENTRES, 1) == (1.0, 0.0)
    assert target_rank(smap, CENTRES, 0) == (4.0, 1.0)
    assert target_rank(smap, CENTRES, 2) == (2.5, 0.5)  # tied with item 3: ranks 2 and 3 shared
    # Mean over the region: item 3 holds 0.6 + 15·15 − 1 pixels of 0.01 over 19·19 pixels.
    means = item_saliency(smap, CENTRES, reduce="mean")
    assert means[3] == pytest.approx((0.6 + 0.01 * (15 * 15 - 1)) / (19 * 19))
    assert means[0] == pytest.approx(0.3 / (21 * 21))
    # By the mean, item 3 (0.0079) beats item 1 (0.9 / 399 = 0.0023): the max's winner ranks 2nd.
    assert target_rank(smap, CENTRES, 3, reduce="mean") == (1.0, 0.0)
    assert target_rank(smap, CENTRES, 1, reduce="mean") == (2.0, pytest.approx(1 / 3))
    # Disc regions of radius 3 miss every peak but item 3's (at distance 2√2 from its centre).
    np.testing.assert_allclose(item_saliency(smap, CENTRES, region="disc", radius=3), [0, 0, 0, 0.6])
    assert target_rank(np.ones((40, 40)), CENTRES, 2) == (2.5, 0.5)  # constant map: chance
    with pytest.raises(MetricError, match="region='disc' needs a finite radius"):
        item_saliency(smap, CENTRES, region="disc")
    with pytest.raises(MetricError, match="target_index=4"):
        target_rank(smap, CENTRES, 4)
    with pytest.raises(MetricError, match="reduce='median'"):
        item_saliency(smap, CENTRES, reduce="median")


def _brute_force_item_search(smap, centres, target, max_fixations):
    """The item-level search step by step: argmax, nearest item, suppress its region."""
    s = smap.astype(np.float64).copy()
    lab = nearest_item_labels(s.shape, centres)
    visited = []
    for k in range(1, max_fixations + 1):
        if np.all(s == -np.inf):
            return False, k - 1, visited
        r, c = divmod(int(np.argmax(s)), s.shape[1])
        item = int(np.argmin(((centres - [c, r]) ** 2).sum(axis=1)))
        visited.append(item)
        if item == target:
            return True, k, visited
        s[lab == item] = -np.inf
    return False, max_fixations, visited


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    levels=st.sampled_from([3, 1000]),  # 3 grey levels: many ties
    target=st.integers(0, 3),
    cap=st.integers(1, 6),
)
def test_item_search_equals_the_step_by_step_simulation(seed, levels, target, cap):
    rng = np.random.default_rng(seed)
    smap = rng.integers(0, levels, size=(40, 40)).astype(np.float64)
    res = fixations_to_find_item(smap, CENTRES, target, max_fixations=cap)
    found, n, visited = _brute_force_item_search(smap, CENTRES, target, cap)
    assert (res.found, res.n_fixations, res.items.tolist()) == (found, n, visited)
    # Each fixation is its item's first maximal pixel in raster order.
    lab = nearest_item_labels((40, 40), CENTRES)
    for x, y, item in zip(res.xs, res.ys, res.items):
        assert lab[int(y), int(x)] == item and smap[int(y), int(x)] == smap[lab == item].max()
    if cap >= 4:
        assert res.found and res.n_fixations == len(set(visited))


def test_disc_rule_with_a_known_radius():
    # 41-px cells, no jitter: every centre sits on a pixel centre (41c + 20).
    arr = make_search_array("size", 0, set_size=9, image_size=(123, 123), item_size=20.0, jitter=0.0, seed=1)
    tx, ty = arr.target_xy
    assert tx.is_integer() and ty.is_integer()
    r_target = arr.target_radius
    assert r_target == pytest.approx(20.0 * 1.2 / 2)  # size level 0: diameter ratio 1.2
    # A peak 14 px right of the target centre: off the ink (radius 12), inside a 15 px disc, same item.
    px, py = int(tx + 14), int(ty)
    smap = np.zeros((123, 123))
    smap[py, px] = 1.0
    assert not arr.target_mask[py, px]
    assert score_search_array(smap, arr, hit="ink")["found_first"] is False
    assert score_search_array(smap, arr, hit="disc")["found_first"] is False  # default radius 12 < 14
    assert score_search_array(smap, arr, hit="disc", disc_radius=15.0)["found_first"] is True
    assert score_search_array(smap, arr, hit="disc", disc_radius=14.0)["found_first"] is True
    assert score_search_array(smap, arr, hit="disc", disc_radius=13.9)["found_first"] is False
    assert score_search_array(smap, arr, hit="item")["found_first"] is True
    disc = arr.target_disc(15.0)
    yy, xx = np.mgrid[:123, :123]
    assert disc.sum() == np.sum((xx - tx) ** 2 + (yy - ty) ** 2 <= 225)
    assert disc[int(ty), int(tx + 15)] and not disc[int(ty), int(tx + 16)]
    with pytest.raises(AnalysisError, match="disc_radius=5.0 applies to hit='disc' only"):
        score_search_array(smap, arr, hit="item", disc_radius=5.0)
    with pytest.raises(AnalysisError, match="hit='pixel' is unknown"):
        score_search_array(smap, arr, hit="pixel")


def test_items_come_from_the_metadata_in_cell_order(tmp_path):
    arr = make_search_array("colour", 2, set_size=7, image_size=(96, 96), item_size=8.0, seed=5)
    centres, cells, target = arr.items()
    assert list(cells) == sorted(cells) and len(set(cells.tolist())) == 7  # 7 of the 3×3 cells, raster order
    assert cells[target] == arr.meta["target"]["cell"]
    assert tuple(centres[target]) == arr.target_xy
    every = [(arr.meta["target"]["x"], arr.meta["target"]["y"])] + [(d["x"], d["y"]) for d in arr.meta["distractors"]]
    expected = sorted(every, key=lambda p: (int((p[1] + 0.5) // 32), int((p[0] + 0.5) // 32)))  # 32-px cells
    np.testing.assert_array_equal(centres, np.array(expected))
    save_search_array(arr, tmp_path, "a")
    back = load_search_array(tmp_path, "a")
    np.testing.assert_array_equal(back.items()[0], centres)
    assert back.items()[2] == target
    no_grid = {k: v for k, v in arr.meta.items() if k != "grid"}
    bad = SearchArray(arr.image, arr.target_mask, arr.distractor_ids, no_grid)
    with pytest.raises(DataError, match="lack the item layout"):
        bad.items()
    moved = dict(arr.meta, target={**arr.meta["target"], "cell": (arr.meta["target"]["cell"] + 1) % 9})
    with pytest.raises(DataError, match="inconsistent"):
        SearchArray(arr.image, arr.target_mask, arr.distractor_ids, moved).items()


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("popout_hit")
    generate_benchmark(out, preset="quick", seed=0)
    return out


def _pipeline_overall(results, kinds):
    """study/pipeline.py stage_popout's own overall table, copied: by_dimension rows weighted by n_images."""
    overall: dict[str, list[dict]] = {}
    for row in results.by_dimension():
        row = {"model": row["model"], "kind": kinds.get(row["model"], "deep"),
               **{k: v for k, v in row.items() if k != "model"}}
        if row["dimension"] != "conjunction":
            overall.setdefault(row["model"], []).append(row)
    out = []
    for model, rows in overall.items():
        n = sum(r["n_images"] for r in rows)
        out.append({
            "model": model, "kind": rows[0]["kind"], "n_images": n,
            "fraction_first": sum(r["fraction_first"] * r["n_images"] for r in rows) / n,
            "fraction_found": sum(r["fraction_found"] * r["n_images"] for r in rows) / n,
            "mean_fixations": sum(r["mean_fixations"] * r["n_images"] for r in rows) / n,
        })
    return out


def test_evaluate_with_each_rule_and_the_pipeline_overall(small_set):
    pset = load_popout_set(small_set)
    arrays = list(pset)
    model = CoarseOracle(arrays, stride=32)
    by_rule = {hit: evaluate_popout([model], small_set, hit=hit) for hit in ("item", "ink", "disc")}
    item = by_rule["item"]
    assert item.hit == "item" and set(PER_IMAGE_FIELDS) <= set(item.per_image[0])
    assert all(r["found_first"] and r["target_rank"] == 1.0 and r["target_rank_norm"] == 0.0 for r in item.per_image)
    ov = item.overall()[0]
    assert ov["fraction_first"] == 1.0 and ov["mean_target_rank"] == 1.0 and ov["fraction_rank1"] == 1.0
    assert ov["hit"] == "item" and ov["n_images"] == 40 and ov["conjunction_fraction_first"] == 1.0
    assert by_rule["ink"].overall()[0]["fraction_first"] <= 0.25
    assert by_rule["disc"].overall()[0]["hit"] == "disc"
    for rule, res in by_rule.items():
        assert all(r["hit"] == rule for r in res.by_dimension() + res.summary)
        assert {"fraction_first", "fraction_found", "mean_fixations", "mean_gsi", "mean_target_rank",
                "fraction_rank1"} <= set(res.by_dimension()[0])
    # overall(kinds=..., default_kind="deep") is the pipeline's table, plus more columns.
    kinds = {"coarse_oracle": "deep"}
    for kw in ({"kinds": kinds, "default_kind": "deep"}, {"kinds": {}, "default_kind": "deep"}):
        ours = by_rule["ink"].overall(**kw)
        for theirs, mine in zip(_pipeline_overall(by_rule["ink"], kinds), ours, strict=True):
            for key, value in theirs.items():
                assert mine[key] == (pytest.approx(value, rel=1e-12) if isinstance(value, float) else value), key
    assert by_rule["ink"].overall()[0]["kind"] == "other"  # recorded kind of a test-module model
    assert by_rule["ink"].overall(kinds={"coarse_oracle": "classical"})[0]["kind"] == "classical"
    everything = item.overall(exclude=())[0]
    assert everything["n_images"] == 48
    with pytest.raises(AnalysisError, match="exclude"):
        item.overall(exclude="conjunction")
    with pytest.raises(AnalysisError, match="hit='pixel' is unknown"):
        evaluate_popout([model], small_set, hit="pixel")


def test_results_with_ranks_round_trip_and_old_results_still_load(small_set, tmp_path):
    model = CoarseOracle(list(load_popout_set(small_set)), 16)
    res = evaluate_popout([model], small_set, hit="disc", disc_radius=9.0, spread_images=12)
    write_popout_results(res, tmp_path / "r")
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["hit"] == "disc" and summary["disc_radius"] == 9.0
    back = load_popout_results(tmp_path / "r")
    assert back.hit == "disc" and back.disc_radius == 9.0
    assert [r["target_rank"] for r in back.per_image] == [r["target_rank"] for r in res.per_image]
    assert back.markdown() == res.markdown() and "Hit rule: `disc`" in res.markdown()
    # A results folder written before ranks and the hit option: no rank columns, no "hit" key.
    old = tmp_path / "old"
    old.mkdir()
    rows = list(csv.DictReader((tmp_path / "r" / "per_image.csv").open()))
    keep = [k for k in rows[0] if k not in ("target_rank", "target_rank_norm")]
    with (old / "per_image.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, keep, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    (old / "summary.json").write_text(json.dumps({k: v for k, v in summary.items() if k not in ("hit", "disc_radius")}))
    legacy = load_popout_results(old)
    assert legacy.hit == "ink" and legacy.summary[0]["mean_target_rank"] is None
    assert legacy.by_dimension()[0]["fraction_rank1"] is None and legacy.overall()[0]["mean_target_rank"] is None
    assert "Hit rule: `ink`" in legacy.markdown()
    write_popout_results(legacy, tmp_path / "legacy_again")  # figures draw without the rank panel


class Constant(SaliencyModel):
    name = "constant"

    def __init__(self, center_prior: bool = False):
        self.center_prior = center_prior

    def saliency_map(self, image):
        return np.ones(image.shape[:2])


@register_model("test_constant_map", center_prior_switch=True)
def _constant_factory(center_prior: bool = True):
    return Constant(center_prior=center_prior)


def test_cli_hit_option(small_set, tmp_path, capsys):
    args = ["popout", "evaluate", "--model", "test_constant_map", "--set", str(small_set),
            "--spread-images", "6"]
    assert main(args + ["--out", str(tmp_path / "d"), "--hit", "disc", "--disc-radius", "8"]) == 0
    out = capsys.readouterr().out
    assert "hit rule: disc" in out and "by the first fixation, mean target rank" in out
    assert json.loads((tmp_path / "d" / "summary.json").read_text())["hit"] == "disc"
    # A constant map: every item ties, so the target's rank is chance, (n + 1) / 2.
    res = load_popout_results(tmp_path / "d")
    assert all(r["target_rank"] == (r["set_size"] + 1) / 2 for r in res.per_image)
    assert main(args + ["--out", str(tmp_path / "x"), "--hit", "pixel"]) == 2
    assert "hit='pixel' is unknown" in capsys.readouterr().err
