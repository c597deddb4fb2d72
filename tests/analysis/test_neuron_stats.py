"""Planted answers for the neuron statistics: permutation null, Holm, image bootstrap, cross-fitting, AUC.

The tables are small and synthetic: 40 images with 3-4 annotated regions each,
6 categories, 64 channels, region scores i.i.d. N(0, 1) unless a channel is
planted.
"""

from __future__ import annotations

import numpy as np
import pytest

from salscope.analysis.neurons.stats import (bootstrap_gain, category_means, cross_fitted, holm, holm_reject,
                                            permutation_null, selectivity, top_k_and_count)
from salscope.analysis.neurons.region_nss import aggregate_categories
from salscope.errors import AnalysisError, SalscopeError

CATS = ["person head", "text", "object", "animal", "face", "car"]
HEAD, TEXT = CATS.index("person head"), CATS.index("text")


def noise_table(seed: int, n_images: int = 40, n_ch: int = 64, sd: float = 1.0, cats: list[str] = CATS):
    """(R, C) N(0, sd²) scores, region categories and images (3 or 4 regions per image)."""
    rng = np.random.default_rng(seed)
    per = rng.integers(3, 5, n_images)
    img = np.repeat([f"img{i:03d}" for i in range(n_images)], per)
    cat = rng.choice(cats, img.size)
    return rng.normal(0.0, sd, (img.size, n_ch)), cat, img


# ---------------------------------------------------------------------------------------------------------------
# The vectorised aggregation is aggregate_categories' "instance" aggregation
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_category_means_equal_aggregate_categories(seed):
    rng = np.random.default_rng(seed)
    s, cat, img = noise_table(seed)
    cat = np.where(rng.random(cat.size) < 0.1, "not listed", cat)  # regions of an unreported category
    s[rng.random(s.shape[0]) < 0.1] = np.nan          # regions without fixations
    s[:, [3, 17]] = np.nan                            # skipped channels
    s[rng.random(s.shape) < 0.02] = np.nan            # scattered NaN cells (not separable)
    cats = CATS + ["never annotated"]
    fires = np.isfinite(s).any(0)
    ref = aggregate_categories(s, list(cat), cats, fires=fires, top_k=10, threshold=0.5)
    ours = category_means(s, cat, cats)
    np.testing.assert_allclose(ours, ref.scores, rtol=1e-12, atol=1e-12)
    assert np.isnan(ours[-1]).all() and np.isnan(ours[:, 3]).all()
    top, count = top_k_and_count(ours, 10, 0.5)
    np.testing.assert_allclose(top, ref.top_k_mean, rtol=1e-12)
    np.testing.assert_array_equal(count, ref.count)
    # the same numbers through the permutation null's and cross-fitting's kernels
    pn = permutation_null(s, cat, cats, threshold=0.5, n_perm=3)
    cf = cross_fitted(s, cat, img, cats, threshold=0.5, n_repeats=1)
    for res in (pn, cf):
        np.testing.assert_allclose(res.observed_top_k, ref.top_k_mean, rtol=1e-12)
        np.testing.assert_array_equal(res.observed_count, ref.count)
    # a channel mask equals aggregate_categories' `fires`
    mask = fires & (np.arange(s.shape[1]) % 2 == 0)
    ref2 = aggregate_categories(s, list(cat), cats, fires=mask)
    np.testing.assert_allclose(category_means(s, cat, cats, channels=mask), ref2.scores, rtol=1e-12)


def test_permutation_observed_equals_aggregate_categories():
    s, cat, _ = noise_table(3)
    ref = aggregate_categories(s, list(cat), CATS, threshold=0.4)
    res = permutation_null(s, cat, CATS, threshold=0.4, n_perm=20)
    np.testing.assert_allclose(res.observed_top_k, ref.top_k_mean, rtol=1e-12)
    np.testing.assert_array_equal(res.observed_count, ref.count)
    np.testing.assert_array_equal(res.n_instances, ref.n_instances)


# ---------------------------------------------------------------------------------------------------------------
# Holm
# ---------------------------------------------------------------------------------------------------------------

def test_holm_hand_example():
    # sorted: .005*4 = .02, .01*3 = .03, .03*2 = .06, .04*1 = .04 -> max so far .06
    p = [0.01, np.nan, 0.04, 0.03, 0.005]
    np.testing.assert_allclose(holm(p), [0.03, np.nan, 0.06, 0.06, 0.02])
    np.testing.assert_array_equal(holm_reject(p, 0.05), [True, False, False, False, True])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])  # capped at 1
    # along an axis, each row its own family
    two = np.array([[0.01, 0.04, 0.03, 0.005], [0.2, 0.2, np.nan, 0.01]])
    np.testing.assert_allclose(holm(two, axis=1)[1], [0.4, 0.4, np.nan, 0.03])
    np.testing.assert_allclose(holm(two.T, axis=0).T, holm(two, axis=1))
    rng = np.random.default_rng(0)
    q = rng.random(30)
    adj = holm(q)
    order = np.argsort(q)
    assert (np.diff(adj[order]) >= 0).all() and (adj >= q).all() and (adj <= 1).all()
    with pytest.raises(AnalysisError, match=r"\[0, 1\]"):
        holm([0.2, 1.5])
    with pytest.raises(AnalysisError, match="alpha"):
        holm_reject([0.2], alpha=5)


# ---------------------------------------------------------------------------------------------------------------
# Permutation null
# ---------------------------------------------------------------------------------------------------------------

def test_permutation_null_is_uniform_under_noise():
    # T = 0.3 so that noise means of ~23 instances cross it (the counts are not all 0).
    p_count, p_top, any_holm = [], [], 0
    for seed in range(50):
        s, cat, _ = noise_table(seed)
        res = permutation_null(s, cat, CATS, threshold=0.3, n_perm=99, seed=seed)
        assert res.p_count.min() >= 1 / 100 and res.p_top_k.max() <= 1
        p_count.append(res.p_count)
        p_top.append(res.p_top_k)
        any_holm += bool(holm_reject(res.p_count).any() or holm_reject(res.p_top_k).any())
    p_count, p_top = np.concatenate(p_count), np.concatenate(p_top)
    assert (p_count < 0.05).mean() <= 0.12 and (p_top < 0.05).mean() <= 0.12
    assert 0.35 < p_top.mean() < 0.65   # roughly uniform
    assert any_holm <= 5                # Holm rejects nothing in most seeds


def plant_text_channel(s, cat, channel=0, value=3.0):
    s = s.copy()
    s[cat == "text", channel] = value
    return s


def test_planted_category_channel_is_found():
    s, cat, img = noise_table(11)
    s = plant_text_channel(s, cat)
    res = permutation_null(s, cat, CATS, n_perm=999, seed=1)
    assert res.observed_count[TEXT] == 1 and res.p_count[TEXT] < 0.01 and res.p_top_k[TEXT] < 0.01
    others = np.arange(len(CATS)) != TEXT
    assert (res.p_count[others] > 0.05).all() and (res.p_top_k[others] > 0.05).all()
    assert holm_reject(res.p_top_k).tolist() == [c == "text" for c in CATS]
    sel = selectivity(s, cat, img, CATS)
    assert sel.selective[TEXT, 0] and sel.selective.sum() == 1
    assert sel.auc[TEXT, 0] == 1.0 and sel.selective_count.tolist() == [int(c == "text") for c in CATS]
    rows = {r["category"]: r for r in sel.to_rows()}
    assert rows["text"]["selective_channels"] == [0]
    prow = {r["category"]: r for r in res.to_rows()}["text"]
    assert prow["count_above_t"] == 1 and prow["p_count"] < 0.01 and prow["n_perm"] == 999


def test_generic_fixation_channel_raises_counts_but_not_excess_or_selectivity():
    s, cat, img = noise_table(12)
    s = plant_text_channel(s, cat)
    rng = np.random.default_rng(5)
    generic = 3.0 + 0.3 * rng.normal(size=(s.shape[0], 1))   # fixation-predictive on every region
    with_g = np.hstack([s, generic])
    a = permutation_null(s, cat, CATS, n_perm=499, seed=2)
    b = permutation_null(with_g, cat, CATS, n_perm=499, seed=2)
    np.testing.assert_array_equal(b.observed_count, a.observed_count + 1)
    np.testing.assert_allclose(b.null_count_mean, a.null_count_mean + 1, atol=1e-12)
    np.testing.assert_allclose(b.count_excess, a.count_excess, atol=1e-12)
    others = np.arange(len(CATS)) != TEXT
    assert (np.abs(b.count_excess[others]) < 0.2).all()
    sa = selectivity(s, cat, img, CATS)
    sb = selectivity(with_g, cat, img, CATS)
    assert (sb.count_above_t == sa.count_above_t + 1).all()
    np.testing.assert_array_equal(sb.selective_count, sa.selective_count)
    assert not sb.selective[:, -1].any()
    assert (np.abs(sb.auc[:, -1] - 0.5) < 0.3).all()


def test_small_category_crosses_t_more_often_by_chance():
    rng = np.random.default_rng(21)
    s, cat, img = noise_table(21, n_ch=256, sd=1.5)
    cat = rng.choice(["animal", "face", "car", "object"], cat.size)
    idx = rng.permutation(cat.size)
    cat[idx[:3]], cat[idx[3:63]] = "rare", "common"
    cats = ["rare", "common", "animal", "face", "car", "object"]
    res = permutation_null(s, cat, cats, n_perm=999, seed=3)
    assert res.n_instances[:2].tolist() == [3, 60]
    assert res.observed_count[0] > res.observed_count[1] + 3
    # the null knows: a mean of 3 noisy instances crosses T far more often than a mean of 60
    assert res.null_count_mean[0] > res.null_count_mean[1] + 5
    assert abs(res.count_excess[0]) < 2.5 * res.null_count_sd[0]
    assert abs(res.count_excess[1]) < 2.5 * max(res.null_count_sd[1], 0.2)
    assert res.p_count[0] > 0.05


def test_permutation_null_deterministic_across_chunks_and_empty_categories():
    s, cat, _ = noise_table(4)
    s[:5] = np.nan
    cats = CATS + ["none here"]
    a = permutation_null(s, cat, cats, threshold=0.3, n_perm=50, seed=9, chunk=7)
    b = permutation_null(s, cat, cats, threshold=0.3, n_perm=50, seed=9, chunk=64)
    np.testing.assert_allclose(a.null_top_k, b.null_top_k, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(a.null_count, b.null_count)
    assert np.isnan(a.p_count[-1]) and np.isnan(a.p_top_k[-1]) and np.isnan(a.count_excess[-1])
    assert a.n_instances[-1] == 0 and a.to_rows()[-1]["p_count"] is None
    c = permutation_null(s, cat, cats, threshold=0.3, n_perm=50, seed=10)
    assert not np.array_equal(a.null_count, c.null_count)
    # a permutation keeps every category's number of instances
    assert a.n_instances[:-1].sum() == np.isfinite(s).any(1).sum()


# ---------------------------------------------------------------------------------------------------------------
# Image bootstrap of the gain
# ---------------------------------------------------------------------------------------------------------------

def test_bootstrap_gain_planted_contrast():
    before, cat, img = noise_table(30)
    after = np.random.default_rng(31).normal(size=before.shape)   # the same regions in another model
    after[cat == "person head"] += 1.0
    res = bootstrap_gain(before, after, cat, img, CATS, n_boot=500, seed=0)
    assert res.contrast == ("person head", "text")
    assert res.contrast_ci[0] > 0 and res.contrast_ci[0] < 1.0 < res.contrast_ci[1]
    assert abs(res.gain[HEAD] - 1) < 0.3 and res.rank[0] == "person head"
    assert res.gain_ci[HEAD, 0] > 0.5 and res.gain_ci[TEXT, 0] < 0 < res.gain_ci[TEXT, 1]
    assert res.contrast_boot.shape == (500,) and res.contrast_dropped == 0
    np.testing.assert_allclose(res.contrast_diff, res.gain[HEAD] - res.gain[TEXT])
    rows = {r["category"]: r for r in res.to_rows()}
    assert rows["person head"]["rank"] == 1 and rows["person head"]["gain_lo"] > 0.5


def test_bootstrap_gain_null_coverage():
    covered = 0
    for seed in range(30):
        before, cat, img = noise_table(100 + seed)
        after = np.random.default_rng(500 + seed).normal(size=before.shape)
        res = bootstrap_gain(before, after, cat, img, CATS, n_boot=200, seed=seed)
        covered += res.contrast_ci[0] <= 0 <= res.contrast_ci[1]
    assert covered >= 27


@pytest.mark.parametrize("with_nan", [False, True])
def test_bootstrap_resamples_images_not_regions(with_nan):
    before, cat, img = noise_table(40, n_images=12)
    rng = np.random.default_rng(41)
    after = rng.normal(size=before.shape) + (cat == "text")[:, None]
    if with_nan:  # scattered NaN cells and one region without fixations: the general (non-separable) path
        before[rng.random(before.shape) < 0.05] = np.nan
        after[1] = np.nan
    n_boot, seed = 4, 7
    res = bootstrap_gain(before, after, cat, img, CATS, n_boot=n_boot, seed=seed)
    # redo the draws by hand: images in sorted order, uniform doubles -> indices, every region of a drawn image
    ids = np.unique(img)
    draws = (np.random.default_rng(seed).random((n_boot, ids.size)) * ids.size).astype(int)
    for b in range(n_boot):
        rows = np.concatenate([np.flatnonzero(img == ids[i]) for i in draws[b]])
        ref_b = aggregate_categories(before[rows], list(cat[rows]), CATS)
        ref_a = aggregate_categories(after[rows], list(cat[rows]), CATS)
        np.testing.assert_allclose(res.gain_boot[b], ref_a.top_k_mean - ref_b.top_k_mean, rtol=1e-10)
    ref_b, ref_a = aggregate_categories(before, list(cat), CATS), aggregate_categories(after, list(cat), CATS)
    np.testing.assert_allclose(res.gain, ref_a.top_k_mean - ref_b.top_k_mean, rtol=1e-10)


def test_bootstrap_drops_resamples_without_the_category():
    before, cat, img = noise_table(50)
    cat = np.where(cat == "car", "object", cat)
    cat[img == "img000"] = "car"                 # "car" lives in one image of 40
    after = np.random.default_rng(51).normal(size=before.shape)
    res = bootstrap_gain(before, after, cat, img, CATS, n_boot=400, seed=0, contrast=("car", "text"))
    car = CATS.index("car")
    # P(an image is not drawn in 40 draws) = (1 - 1/40)^40 = 0.363
    assert abs(res.n_dropped[car] / 400 - 0.363) < 0.07
    assert res.n_dropped[[k for k in range(len(CATS)) if k != car]].sum() == 0
    assert res.contrast_dropped == res.n_dropped[car] and np.isfinite(res.gain_ci[car]).all()
    assert np.isnan(res.gain_boot[:, car]).sum() == res.n_dropped[car]


# ---------------------------------------------------------------------------------------------------------------
# Cross-fitting
# ---------------------------------------------------------------------------------------------------------------

def test_cross_fitting_removes_the_winners_curse():
    s, cat, img = noise_table(60)
    res = cross_fitted(s, cat, img, CATS, n_repeats=20, seed=0)
    # the top 10 of 64 noisy means of ~12 instances: about 1.3 standard errors (0.29) above 0
    assert (res.in_sample_top_k > 0.3).all() and (res.in_sample_top_k > res.cross_top_k + 0.25).all()
    assert (np.abs(res.cross_top_k) < 0.15).all()
    assert (res.n_folds == 40).all() and (res.observed_top_k > 0.2).all()
    planted = plant_text_channel(s, cat)
    res2 = cross_fitted(planted, cat, img, CATS, n_repeats=20, seed=0)
    assert res2.cross_top_k[TEXT] > 0.25 and res2.cross_count[TEXT] >= 0.95
    others = np.arange(len(CATS)) != TEXT
    assert (res2.cross_count[others] < 0.1).all()
    row = {r["category"]: r for r in res2.to_rows()}["text"]
    assert row["count_above_t"] == 1 and row["n_repeats"] == 20


def test_cross_fitting_splits_by_image():
    # Each image adds its own offset to every channel of its 4 regions, all of one category: a split
    # by region carries an image's offset into the held-out half, a split by image does not.
    rng = np.random.default_rng(71)
    n_img = 60
    img = np.repeat([f"img{i:03d}" for i in range(n_img)], 4)
    cat = np.repeat(rng.choice(CATS, n_img), 4)
    s = np.repeat(rng.normal(0, 1.0, (n_img, 64)), 4, axis=0) + rng.normal(0, 0.3, (img.size, 64))
    by_image = cross_fitted(s, cat, img, CATS, n_repeats=20, seed=1)
    by_region = cross_fitted(s, cat, np.arange(img.size), CATS, n_repeats=20, seed=1)  # one "image" per region
    assert (by_image.in_sample_top_k > 0.4).all()
    assert np.abs(by_image.cross_top_k).mean() < 0.15 and (np.abs(by_image.cross_top_k) < 0.3).all()
    assert by_region.cross_top_k.mean() > 0.2 and (by_region.cross_top_k > by_image.cross_top_k + 0.1).all()


# ---------------------------------------------------------------------------------------------------------------
# Selectivity
# ---------------------------------------------------------------------------------------------------------------

def test_selectivity_auc_matches_pairwise_definition():
    s, cat, img = noise_table(80, n_ch=8)
    s[:, 2] = np.round(s[:, 2])   # ties count one half
    sel = selectivity(s, cat, img, CATS, threshold=0.0)
    for k, name in enumerate(CATS):
        imgs = np.unique(img[cat == name])
        pos = s[cat == name]
        neg = s[(cat != name) & np.isin(img, imgs)]
        pair = (pos[:, None, :] > neg[None]).mean((0, 1)) + 0.5 * (pos[:, None, :] == neg[None]).mean((0, 1))
        np.testing.assert_allclose(sel.auc[k], pair, rtol=1e-12)
        assert sel.n_positive[k] == len(pos) and sel.n_negative[k] == len(neg) and sel.n_images[k] == imgs.size
    assert ((sel.p >= 0) & (sel.p <= 1)).all() and (sel.p_holm >= sel.p).all()
    # a high AUC is not enough: the aggregated score must be above T too
    assert not (sel.selective & ~(sel.scores > 0.0)).any()


def test_selectivity_unused_channels_and_missing_negatives():
    s, cat, img = noise_table(81, n_ch=8)
    s[:, 5] = np.nan
    cat[img == "img000"] = "alone"          # every region of img000 is "alone": no negatives in its image
    cat[(cat == "alone") & (img != "img000")] = "car"
    sel = selectivity(s, cat, img, CATS + ["alone"])
    assert np.isnan(sel.auc[:, 5]).all() and not sel.selective[:, 5].any()
    assert sel.n_negative[-1] == 0 and np.isnan(sel.auc[-1]).all() and sel.selective_count[-1] == 0


# ---------------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------------

def test_bad_input_names_the_argument():
    s, cat, img = noise_table(90, n_ch=8)
    with pytest.raises(SalscopeError, match="region_category"):
        permutation_null(s, cat[:-1], CATS)
    with pytest.raises(AnalysisError, match="region_scores"):
        permutation_null(s[0], cat, CATS)
    with pytest.raises(AnalysisError, match="channels"):
        permutation_null(s, cat, CATS, channels=np.ones(3, dtype=bool))
    with pytest.raises(AnalysisError, match="n_perm"):
        permutation_null(s, cat, CATS, n_perm=0)
    with pytest.raises(AnalysisError, match="categories"):
        permutation_null(s, cat, ["text", "text"])
    with pytest.raises(AnalysisError, match="contrast"):
        bootstrap_gain(s, s, cat, img, CATS, contrast=("person head", "dog"))
    with pytest.raises(AnalysisError, match="same regions"):
        bootstrap_gain(s, s[:-1], cat, img, CATS)
    with pytest.raises(AnalysisError, match="region_image"):
        cross_fitted(s, cat, None, CATS)
    with pytest.raises(AnalysisError, match="at least 2"):
        cross_fitted(s, cat, np.zeros(len(cat)), CATS)
    with pytest.raises(AnalysisError, match="no channel"):
        selectivity(np.full_like(s, np.nan), cat, img, CATS)



def test_every_statistic_checks_its_inputs_with_one_rule():
    """One validation for all five statistics: the same bad input gives the same message naming the argument."""
    s, cat, img = noise_table(91, n_ch=8)
    n = len(cat)
    calls = {
        "category_means": lambda s, c, i: category_means(s, c, CATS),
        "permutation_null": lambda s, c, i: permutation_null(s, c, CATS, n_perm=5, region_image=i),
        "bootstrap_gain": lambda s, c, i: bootstrap_gain(s, s, c, i, CATS, n_boot=5),
        "cross_fitted": lambda s, c, i: cross_fitted(s, c, i, CATS, n_repeats=2),
        "selectivity": lambda s, c, i: selectivity(s, c, i, CATS),
    }
    for name, call in calls.items():
        with pytest.raises(AnalysisError, match=rf"^region_category: {n - 1} entries for {n} region rows"):
            call(s, cat[:-1], img)
        with pytest.raises(AnalysisError, match=r"expected an \(R regions × C channels\) table, got shape \(8,\)"):
            call(s[0], cat, img)
        with pytest.raises(AnalysisError, match="^channels: no channel left to test"):
            call(np.full_like(s, np.nan), cat, img)
        if name != "category_means":
            with pytest.raises(AnalysisError, match=rf"^region_image: {n - 1} entries for {n} region rows"):
                call(s, cat, img[:-1])
    with pytest.raises(AnalysisError, match=r"^before \(\d+, 8\) and after \(\d+, 7\) must score the same regions"):
        bootstrap_gain(s, s[:, :7], cat, img, CATS)

def test_cross_fitted_gain_removes_the_winners_curse():
    """No real gain, but the 'after' model is noisier on head regions: in-sample top-k inflates its gain, cross-fitting
    does not (Kriegeskorte et al. 2009)."""
    from salscope.analysis.neurons.stats import bootstrap_gain

    rng = np.random.default_rng(3)
    n_img, per, n_ch = 40, 3, 128
    cats = np.array(["person head", "text", "other"] * n_img)
    imgs = np.repeat(np.arange(n_img), per)
    before = rng.normal(0, 0.3, (n_img * per, n_ch))
    after = rng.normal(0, 0.3, (n_img * per, n_ch))
    after[cats == "person head"] = rng.normal(0, 1.5, ((cats == "person head").sum(), n_ch))
    kw = dict(top_k=10, n_boot=200, seed=0)
    naive = bootstrap_gain(before, after, cats, imgs, ["person head", "text", "other"], **kw)
    fair = bootstrap_gain(before, after, cats, imgs, ["person head", "text", "other"], selection="cross_fitted", **kw)
    assert naive.contrast_ci[0] > 0.2                          # in-sample: a "head over text" effect from noise alone
    assert fair.contrast_ci[0] <= 0 <= fair.contrast_ci[1]     # cross-fitted: no effect
    assert abs(fair.contrast_diff) < 0.15
    # a planted real gain survives cross-fitting
    planted = after.copy()
    planted[cats == "person head", :5] += 2.0
    real = bootstrap_gain(before, planted, cats, imgs, ["person head", "text", "other"], selection="cross_fitted", **kw)
    assert real.contrast_ci[0] > 0.5
