"""Planted detectors: region NSS and IoU find them; streaming equals the literal two-pass recipe."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from salscope.analysis.neurons.capture import layer_activations, to_input
from salscope.analysis.neurons.dissection import dissect_literal, resize_mask_nearest
from salscope.analysis.neurons.analysis import NeuronResults, analyse_neurons, compare_neurons
from salscope.analysis.neurons.region_nss import region_nss_literal

MASK = (32, 40)


@pytest.fixture(scope="module")
def results(planted, planted_model):
    ds, regions = planted
    return analyse_neurons(planted_model, ds, regions, ["conv", "deep"], input_size=None, batch_size=5,
                           mask_size=MASK, bins=512)


def test_region_nss_picks_planted_channels(results):
    cats = results.categories
    assert cats == ["person head", "object", "text"]  # ordered by code
    for layer in ("conv", "deep"):
        cs = results.category_scores(layer)
        assert cs.ranking[cats.index("person head"), 0] == 0
        assert cs.ranking[cats.index("text"), 0] == 1
        assert cs.ranking[cats.index("object"), 0] == 2
        # the planted channel is far above T on its own category and below it elsewhere
        assert cs.scores[cats.index("person head"), 0] > 3.0
        assert cs.scores[cats.index("text"), 0] < 1.5
        assert cs.count[cats.index("person head")] >= 1
        # channel 4 is all zeros: skipped, never ranked or counted
        ln = results.layer(layer)
        assert not ln.fires[4] and ln.fires[[0, 1, 2, 3, 5]].all()
        assert np.isnan(cs.scores[:, 4]).all()
        assert set(cs.ranking[:, -1]) == {4}


def test_iou_picks_planted_channels(results):
    cats = results.categories
    d = results.layer("conv").dissection
    best_cat, best_iou = d.best()
    assert cats[best_cat[0]] == "person head" and cats[best_cat[1]] == "text" and cats[best_cat[2]] == "object"
    assert (best_iou[:2] > 0.04).all()
    assert np.argmax(d.iou[:, cats.index("person head")]) == 0
    det = results.iou_detectors("conv")
    assert det[0, cats.index("person head")] and not det[0, cats.index("text")]
    assert not det[4].any()  # a silent channel detects nothing


def test_streaming_equals_two_pass_recipe(planted, planted_model, results):
    """One pass (no min–max before scoring, histogram IoU) == literal min–max → upsample → z-score → NSS."""
    ds, regions = planted
    feats = []
    for i in range(len(ds)):
        x = to_input(planted_model, [ds.stimuli[i]], None)
        feats.append(layer_activations(planted_model, x, ["conv"])["conv"][0])
    allf = torch.stack(feats)
    lo, hi = allf.amin((0, 2, 3)).double(), allf.amax((0, 2, 3)).double()
    rows = []
    cmasks = []
    for i, image_id in enumerate(ds.ids):
        masks = np.stack([r.mask for r in regions[image_id]])
        f = ds.fixations.for_image(i)
        rows.append(region_nss_literal(feats[i], lo, hi, masks, f.x, f.y).T)
        cm = np.zeros((3,) + MASK, bool)
        for r in regions[image_id]:
            cm[results.categories.index(r.category)] |= resize_mask_nearest(r.mask, MASK)
        cmasks.append(cm)
    literal = np.concatenate(rows)
    streamed = results.layer("conv").region_scores
    fires = results.layer("conv").fires
    np.testing.assert_allclose(streamed[:, fires], literal[:, fires], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(results.layer("conv").act_max, hi.numpy(), rtol=1e-6)
    # Network Dissection: thresholds are within one bin of the exact order statistic ...
    d = results.layer("conv").dissection
    raw = allf.permute(1, 0, 2, 3).reshape(6, -1).double().numpy()
    for c in np.flatnonzero(fires):
        exact_t = np.quantile(raw[c], 0.995, method="inverted_cdf")
        width = 2.0 ** np.ceil(np.log2((hi[c] - lo[c]).item() / 256)) * 2  # coarsest grid 512 bins may reach
        assert abs(d.threshold[c] - exact_t) <= width
    # ... and at a bin edge the streamed intersection/union counts equal the literal ones exactly.
    from salscope.analysis.neurons.dissection import DissectionAccumulator

    acc = DissectionAccumulator(6, 3, MASK, bins=512)
    for i in range(0, len(feats), 5):
        acc.add(torch.stack(feats[i:i + 5]), cmasks[i:i + 5])
    assert len(acc.segments) == 5  # images 0 | 1 | 2-3 | 4-7 | 8-11
    edges = acc.up.edges().numpy()
    pos = np.argmax(edges >= d.threshold[:, None], axis=1)
    t_edge = np.maximum(edges[np.arange(6), np.maximum(pos - 1, 0)], 1e-6)
    plan = acc.refine_plan(torch.from_numpy(t_edge))
    for start, end, _ in plan:  # second pass over the segments cut above a threshold
        for j in range(start, end):
            acc.add_refine(feats[j], cmasks[j], j, threshold=t_edge)
    streamed_edge = acc.result(threshold=t_edge)
    assert streamed_edge.exact.all()
    exact_edge = dissect_literal(feats, cmasks, MASK, threshold=t_edge)
    np.testing.assert_allclose(streamed_edge.intersection, exact_edge.intersection, atol=1e-9)
    np.testing.assert_allclose(streamed_edge.union, exact_edge.union, atol=1e-9)
    np.testing.assert_allclose(d.mask_area, exact_edge.mask_area)


def test_upsampled_above_equals_dense_thresholding():
    from salscope.analysis.neurons.dissection import upsampled_above

    gen = torch.Generator().manual_seed(0)
    for h, w, big_h, big_w in [(7, 7, 112, 112), (28, 28, 112, 112), (5, 9, 37, 50), (3, 4, 3, 4)]:
        f = torch.relu(torch.randn(6, h, w, generator=gen))
        cut = torch.rand(6, generator=gen) * 1.5
        cut[0] = -1.0  # everything
        ch, pix, v = upsampled_above(f, cut, (big_h, big_w))
        u = torch.nn.functional.interpolate(f[None], size=(big_h, big_w), mode="bilinear", align_corners=False)[0]
        u = u.reshape(6, -1)
        c2, p2 = (u > cut[:, None]).nonzero(as_tuple=True)
        assert set(zip(ch.tolist(), pix.tolist())) == set(zip(c2.tolist(), p2.tolist()))
        np.testing.assert_allclose(v.numpy(), u[ch, pix].numpy(), atol=1e-5)


def test_overlapping_categories_count_in_both():
    from salscope.analysis.neurons.dissection import DissectionAccumulator

    gen = torch.Generator().manual_seed(1)
    feats = [torch.relu(torch.randn(3, 6, 6, generator=gen)) for _ in range(6)]
    masks = []
    for i in range(6):
        m = np.zeros((2, 12, 12), bool)
        m[0, :8, :8] = True
        m[1, 4:, 4:] = True  # overlaps category 0 on [4:8, 4:8]
        masks.append(m)
    acc = DissectionAccumulator(3, 2, (12, 12), bins=64)
    for f, m in zip(feats, masks):
        acc.add(f[None], [m])
    t = np.array([0.5, 0.8, 1.0])
    for start, end, _ in acc.refine_plan(torch.from_numpy(t)):
        for j in range(start, end):
            acc.add_refine(feats[j], masks[j], j, threshold=t)
    got, want = acc.result(threshold=t), dissect_literal(feats, masks, (12, 12), threshold=t)
    np.testing.assert_allclose(got.intersection, want.intersection, atol=1e-6, rtol=0.02)
    np.testing.assert_allclose(got.union, want.union, rtol=0.02)


def test_aggregations_differ_but_agree_on_planted(results):
    for how in ("instance", "fixation", "image"):
        cs = results.category_scores("conv", aggregation=how)
        assert cs.ranking[results.categories.index("person head"), 0] == 0
    # by hand: fixation-weighted mean and per-image-first mean of channel 0 over the "person head" regions
    s0 = results.layer("conv").region_scores[:, 0].astype(np.float64)
    sel = np.array([r["category"] == "person head" for r in results.regions])
    n = np.array([r["n_fixations"] for r in results.regions], dtype=np.float64)
    k = results.categories.index("person head")
    fix = results.category_scores("conv", aggregation="fixation").scores[k, 0]
    assert fix == pytest.approx((s0[sel] * n[sel]).sum() / n[sel].sum(), rel=1e-6)
    inst = results.category_scores("conv", aggregation="instance").scores[k, 0]
    assert inst == pytest.approx(s0[sel].mean(), rel=1e-6)
    assert fix != pytest.approx(inst, rel=1e-6)  # background fixations on some squares make the weights differ


def test_save_load_roundtrip(results, tmp_path):
    results.save(tmp_path)
    back = NeuronResults.load(tmp_path)
    assert back.categories == results.categories and back.layer_names == ["conv", "deep"]
    np.testing.assert_array_equal(back.layer("conv").region_scores, results.layer("conv").region_scores)
    np.testing.assert_array_equal(back.layer("conv").dissection.iou, results.layer("conv").dissection.iou)
    meta = json.loads((tmp_path / "results.json").read_text())
    assert meta["schema_version"] == 1 and len(meta["regions"]) == 36
    rows = (tmp_path / "channels_conv.csv").read_text().splitlines()
    assert rows[1].startswith("conv,person head,1,0,")


def test_compare_finds_swapped_channels(planted, results, swapped_model):
    ds, regions = planted
    after = analyse_neurons(swapped_model, ds, regions, ["conv"], name="swapped", input_size=None, batch_size=12,
                            mask_size=MASK)
    cmp = compare_neurons({"planted": results, "swapped": after})
    assert cmp.changed_best("swapped", "conv") == 2
    best = cmp.best_category["swapped"]["conv"]
    cats = results.categories
    assert best[0] == cats.index("text") and best[1] == cats.index("person head")
    gained = {(c["channel"], c["category"]) for c in cmp.changes if c["change"] == "gained"}
    lost = {(c["channel"], c["category"]) for c in cmp.changes if c["change"] == "lost"}
    assert (0, "text") in gained and (0, "person head") in lost
    assert (1, "person head") in gained and (1, "text") in lost
    rows = [r for r in cmp.category_rows if r["layer"] == "conv"]
    assert all(r["count_change"] == 0 for r in rows)  # a permutation of channels keeps the counts


def test_figures_write_png_and_data(planted, planted_model, swapped_model, results, tmp_path):
    from salscope.analysis.neurons.figures import (before_after_bars, channel_before_after, count_heatmap,
                                                  masked_activation_maps)

    ds, _ = planted
    p = count_heatmap(results, tmp_path / "heat.png")
    data = json.loads(p.with_suffix(".json").read_text())
    assert p.stat().st_size > 1000
    assert data["counts"] == [results.category_scores(lay).count.tolist() for lay in ("conv", "deep")]
    p = masked_activation_maps(planted_model, ds, results, "conv", "person head", tmp_path / "masked.png",
                               n_channels=2, n_images=2)
    data = json.loads(p.with_suffix(".json").read_text())
    assert data["channels"][0] == 0
    first = [q for q in data["panels"] if q["channel"] == 0]
    # the red square is 1.25 % of the image: the masked panel shows a small part of it
    assert all(0 < q["visible_fraction"] < 0.1 for q in first)
    p = before_after_bars({"planted": results, "planted2": results}, "conv", tmp_path / "bars.png")
    assert json.loads(p.with_suffix(".json").read_text())["values"][0] == results.category_scores("conv").count.tolist()
    after = analyse_neurons(swapped_model, ds, planted[1], ["conv"], input_size=None, mask_size=MASK)
    p = channel_before_after({"before": planted_model, "after": swapped_model}, ds, {"before": results, "after": after},
                             "conv", 0, tmp_path / "ch0.png", n_images=2)
    data = json.loads(p.with_suffix(".json").read_text())
    assert data["category"] == "text" and len(data["panels"]) == 4


def test_capture_state_resumes(planted, planted_model, results):
    from salscope.analysis.neurons.capture import NeuronCapture, run_capture
    from salscope.analysis.neurons.analysis import results_from_capture

    ds, regions = planted
    cap = run_capture(planted_model, ds, regions, ["conv", "deep"], input_size=None, batch_size=5, mask_size=MASK,
                      bins=512)
    back = results_from_capture(NeuronCapture.from_state_dict(cap.state_dict()), "planted")
    cap.exact = {}   # the state holds the streaming accumulators (the exact small-set path is recomputed, not saved)
    streamed = results_from_capture(cap, "planted")
    for layer in ("conv", "deep"):
        np.testing.assert_array_equal(back.layer(layer).region_scores, results.layer(layer).region_scores)
        np.testing.assert_array_equal(back.layer(layer).dissection.iou, streamed.layer(layer).dissection.iou)


def test_small_sets_get_the_exact_two_pass_dissection(planted, planted_model):
    """When every map fits in memory the IoU uses the exact quantile (streaming histograms are coarse on few images)."""
    ds, regions = planted
    exact = analyse_neurons(planted_model, ds, regions, ["conv"], input_size=None, batch_size=5, mask_size=MASK, bins=16)
    assert exact.settings["dissection_exact"] == ["conv"]
    feats, cmasks = [], []
    from salscope.analysis.neurons.capture import prepare_image
    for i in range(len(ds)):
        image = ds.stimuli[i]
        feats.append(layer_activations(planted_model, to_input(planted_model, [image], None), ["conv"])["conv"][0])
        f = ds.fixations.for_image(i)
        cmasks.append(prepare_image(i, ds.ids[i], regions[ds.ids[i]], f.x, f.y, exact.categories, MASK, "tuebingen",
                                    image_shape=image.shape[:2]).category_masks)
    want = dissect_literal(feats, cmasks, MASK)
    got = exact.layer("conv").dissection
    np.testing.assert_allclose(got.threshold, want.threshold, rtol=1e-6)
    np.testing.assert_allclose(got.iou, want.iou)
    from salscope.analysis.neurons.capture import run_capture
    streamed = run_capture(planted_model, ds, regions, ["conv"], input_size=None, batch_size=5, mask_size=MASK, bins=16,
                           exact_cache_mb=0)
    assert streamed.exact == {}   # no budget: the one-pass histogram path, as before
