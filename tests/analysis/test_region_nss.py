"""Region NSS: the closed form equals upsample → z-score → salscope.metrics.nss; aggregation by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from salscope.analysis.neurons.region_nss import (aggregate_categories, interpolation_matrix, region_fixations, region_nss,
                                          region_nss_literal)
from salscope.errors import AnalysisError
from salscope.metrics import nss


def test_interpolation_matrix_is_torch_bilinear():
    m = torch.rand(5, 7, dtype=torch.float64)
    up = F.interpolate(m[None, None], size=(23, 31), mode="bilinear", align_corners=False)[0, 0]
    np.testing.assert_allclose((interpolation_matrix(5, 23) @ m @ interpolation_matrix(7, 31).T).numpy(), up.numpy(),
                               atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 9), st.integers(2, 9), st.sampled_from(["tuebingen", "mit"]))
def test_closed_form_equals_literal_recipe(seed, h, w, convention):
    rng = np.random.default_rng(seed)
    big_h, big_w = int(rng.integers(h, 70)), int(rng.integers(w, 90))
    fmap = torch.from_numpy(np.maximum(rng.normal(0, 1, (4, h, w)), 0))
    fmap[3] = 0.0  # silent on this image
    masks = np.zeros((3, big_h, big_w), bool)
    masks[0, : big_h // 2, : big_w // 2] = True
    masks[1, big_h // 3:, big_w // 3:] = True  # overlaps region 0
    masks[2, 0, 0] = True  # likely without fixations
    n = 60
    xs = rng.uniform(-0.49, big_w - 0.51, n)
    ys = rng.uniform(-0.49, big_h - 0.51, n)
    xs[:5], ys[:5] = xs[5], ys[5]  # duplicated fixations: counted under tuebingen, once under mit
    fix = region_fixations(masks, xs, ys, convention)
    fast = region_nss(fmap, fix, convention).numpy()
    # Literal: dataset-wide min–max first (any positive affine map), then upsample + z-score at region fixations.
    lo = fmap.amin((1, 2)) - torch.from_numpy(rng.uniform(0, 1, 4))
    hi = fmap.amax((1, 2)) + torch.from_numpy(rng.uniform(0.1, 1, 4))
    slow = region_nss_literal(fmap, lo, hi, masks, xs, ys, convention)
    np.testing.assert_allclose(fast[:3], slow[:3], rtol=1e-7, atol=1e-9)
    # flat map: 0 under tuebingen (pysaliency's guard), NaN under mit (NSS.m), NaN without fixations
    has = fix.n_fixations > 0
    assert np.all(fast[3, has] == 0) if convention == "tuebingen" else np.isnan(fast[3]).all()
    assert np.isnan(fast[:, ~has]).all()


def test_region_score_is_metrics_nss_on_the_upsampled_map():
    rng = np.random.default_rng(3)
    fmap = torch.from_numpy(rng.random((2, 6, 8)))
    mask = np.zeros((1, 48, 64), bool)
    mask[0, 10:30, 5:40] = True
    xs, ys = rng.uniform(5, 39, 25), rng.uniform(10, 29, 25)
    up = F.interpolate(fmap[None], size=(48, 64), mode="bilinear", align_corners=False)[0].numpy()
    got = region_nss(fmap, region_fixations(mask, xs, ys)).numpy()[:, 0]
    np.testing.assert_allclose(got, [nss(up[0], xs, ys), nss(up[1], xs, ys)], rtol=1e-10)


def test_region_fixations_counts():
    masks = np.zeros((2, 10, 10), bool)
    masks[0, :5] = True
    masks[1, 3:] = True
    xs = np.array([1.0, 1.0, 2.4, 7.0])
    ys = np.array([1.0, 1.0, 4.0, 8.0])  # (1,1) twice, (2,4) in both, (7,8) in region 1
    t = region_fixations(masks, xs, ys, "tuebingen")
    m = region_fixations(masks, xs, ys, "mit")
    assert t.n_fixations.tolist() == [3, 2] and m.n_fixations.tolist() == [2, 2]
    np.testing.assert_allclose(t.weights.sum(1), [1.0, 1.0])


def test_aggregate_by_hand():
    # 4 regions (R) × 3 channels; categories a, b; images i1, i2.
    s = np.array([[1.0, 2.0, 0.0],
                  [3.0, 0.0, 0.0],
                  [2.0, 1.0, 5.0],
                  [np.nan, np.nan, np.nan]])  # region without fixations
    cat = ["a", "a", "a", "b"]
    img = ["i1", "i1", "i2", "i2"]
    nfix = [1, 3, 4, 0]
    fires = np.array([True, True, False])
    inst = aggregate_categories(s, cat, ["a", "b"], fires=fires, top_k=1, threshold=1.5)
    np.testing.assert_allclose(inst.scores[0, :2], [2.0, 1.0])
    assert np.isnan(inst.scores[0, 2]) and np.isnan(inst.scores[1]).all()
    assert inst.ranking[0].tolist() == [0, 1, 2] and inst.count.tolist() == [1, 0]
    assert inst.top_k_mean[0] == 2.0 and np.isnan(inst.top_k_mean[1]) and inst.n_instances.tolist() == [3, 0]
    fix = aggregate_categories(s, cat, ["a", "b"], fires=fires, n_fixations=nfix, aggregation="fixation", top_k=2)
    np.testing.assert_allclose(fix.scores[0, :2], [(1 + 9 + 8) / 8, (2 + 0 + 4) / 8])
    assert fix.top_k_mean[0] == pytest.approx(((18 / 8) + (6 / 8)) / 2)
    per_img = aggregate_categories(s, cat, ["a", "b"], region_image=img, aggregation="image")
    np.testing.assert_allclose(per_img.scores[0], [(2.0 + 2.0) / 2, (1.0 + 1.0) / 2, (0.0 + 5.0) / 2])


def test_bad_arguments():
    with pytest.raises(AnalysisError, match="aggregation='median'"):
        aggregate_categories(np.zeros((1, 2)), ["a"], ["a"], aggregation="median")
    with pytest.raises(AnalysisError, match="n_fixations"):
        aggregate_categories(np.zeros((1, 2)), ["a"], ["a"], aggregation="fixation")
    with pytest.raises(AnalysisError, match="top_k=0"):
        aggregate_categories(np.zeros((1, 2)), ["a"], ["a"], top_k=0)
    with pytest.raises(AnalysisError, match="convention='matlab'"):
        region_fixations(np.zeros((1, 4, 4), bool), [1.0], [1.0], "matlab")
    with pytest.raises(AnalysisError, match=r"\(C, h, w\)"):
        region_nss(torch.zeros(4, 4), region_fixations(np.zeros((1, 4, 4), bool), [1.0], [1.0]))
