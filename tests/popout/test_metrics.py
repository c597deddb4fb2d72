"""Odd-one-out metrics on hand-made maps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salscope.errors import MetricError
from salscope.metrics.popout import fixations_to_find, global_saliency_index, max_saliency_ratios


def _disc(shape, x, y, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (xx - x) ** 2 + (yy - y) ** 2 <= r * r


# A 100×100 "array": target at (80, 80), distractors at (20, 20), (50, 20), (20, 50), (50, 50).
SHAPE = (100, 100)
TARGET = _disc(SHAPE, 80, 80, 5)
DISTRACTORS = [(20, 20), (50, 20), (20, 50), (50, 50)]
DMASK = np.zeros(SHAPE, bool)
for _x, _y in DISTRACTORS:
    DMASK |= _disc(SHAPE, _x, _y, 5)


def test_peak_on_target_is_found_in_one_fixation():
    smap = np.zeros(SHAPE)
    smap[TARGET] = 1.0
    smap[78:83, 79] = 2.0  # the maximum lies inside the target
    res = fixations_to_find(smap, TARGET, ior_radius=6)
    assert res.found and res.n_fixations == 1
    assert (res.xs[0], res.ys[0]) == (79.0, 78.0)


def test_three_distractors_ranked_first_need_four_fixations():
    smap = np.zeros(SHAPE)
    smap[_disc(SHAPE, 80, 80, 5)] = 0.5
    for value, (x, y) in zip((0.9, 0.8, 0.7), DISTRACTORS[:3]):
        smap[y, x] = value + 0.05  # a peak at each distractor's centre, two more pixels within its disc
        smap[y + 2, x + 1] = value + 0.04
        smap[y - 3, x] = value + 0.03
    res = fixations_to_find(smap, TARGET, ior_radius=6)
    assert res.found and res.n_fixations == 4
    np.testing.assert_array_equal(res.xs[:3], [20, 50, 20])
    np.testing.assert_array_equal(res.ys[:3], [20, 20, 50])
    # Without inhibition of return covering the distractor, its side peaks cost extra fixations.
    res_small = fixations_to_find(smap, TARGET, ior_radius=0.5)
    assert res_small.found and res_small.n_fixations == 10


def test_cap_and_unfound_searches():
    smap = np.zeros(SHAPE)
    for value, (x, y) in zip((0.9, 0.8, 0.7), DISTRACTORS[:3]):
        smap[y, x] = value
    smap[80, 80] = 0.5
    res = fixations_to_find(smap, TARGET, ior_radius=6, max_fixations=2)
    assert not res.found and res.n_fixations == 2 and len(res.xs) == 2
    # A map that is zero on the target, suppressed around it before it is reached.
    line = np.array([[0.0, 0.0, 0.0, 1.0, 0.0]])
    tmask = np.array([[False, False, False, False, True]])
    res = fixations_to_find(line, tmask, ior_radius=2)
    # fixation 1 at col 3 suppresses cols 1..4 (target included); fixation 2 at col 0; then nothing is left
    assert not res.found and res.n_fixations == 2
    np.testing.assert_array_equal(res.xs, [3, 0])


def test_flat_map_scans_in_raster_order():
    smap = np.ones((10, 10))
    tmask = np.zeros((10, 10), bool)
    tmask[0, 9] = True
    res = fixations_to_find(smap, tmask, ior_radius=2)
    # (0,0) suppresses cols 0..2 of row 0, next argmax (0,3) → cols 1..5, (0,6) → 4..8, then (0,9).
    assert res.found and res.n_fixations == 4


@settings(max_examples=40, deadline=None)
@given(rank=st.integers(0, 4), seed=st.integers(0, 10_000))
def test_rank_of_the_target_peak_is_the_fixation_count(rank, seed):
    """Items with distinct peak values: the target is found after exactly rank + 1 fixations."""
    rng = np.random.default_rng(seed)
    centres = [(80, 80)] + DISTRACTORS
    values = np.linspace(1.0, 0.2, 5)
    order = [c for c in centres[1:]]
    rng.shuffle(order)
    order.insert(rank, centres[0])
    smap = rng.uniform(0, 0.01, SHAPE)
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    for v, (x, y) in zip(values, order):
        # a cone of radius 6 peaking at the item centre (noise cannot move the peak off it)
        smap += v * np.clip(1.0 - np.hypot(xx - x, yy - y) / 6.0, 0.0, None)
    res = fixations_to_find(smap, TARGET, ior_radius=7)
    assert res.found and res.n_fixations == rank + 1


def test_global_saliency_index_values():
    smap = np.zeros(SHAPE)
    t = np.argwhere(TARGET)
    smap[tuple(t[: len(t) // 2].T)] = 1.0
    smap[tuple(t[len(t) // 2 :].T)] = 0.5
    smap[DMASK] = 0.25
    # target mean = (n1·1 + n2·0.5)/n, distractors 0.25
    n1, n = len(t) // 2, len(t)
    st_ = (n1 * 1.0 + (n - n1) * 0.5) / n
    expected = (st_ - 0.25) / (st_ + 0.25)
    assert global_saliency_index(smap, TARGET, DMASK) == pytest.approx(expected)
    # invariant to offset and positive scale (maps are min–max normalised)
    assert global_saliency_index(3.0 * smap - 7.0, TARGET, DMASK) == pytest.approx(expected)
    # all saliency on the distractors → −1; constant map → 0
    assert global_saliency_index(DMASK.astype(float), TARGET, DMASK) == pytest.approx(-1.0)
    assert global_saliency_index(TARGET.astype(float), TARGET, DMASK) == pytest.approx(1.0)
    assert global_saliency_index(np.full(SHAPE, 4.2), TARGET, DMASK) == 0.0


def test_max_saliency_ratios_values():
    smap = np.zeros(SHAPE)
    smap[80, 80] = 1.0
    smap[20, 20] = 0.5
    smap[5, 95] = 0.25  # background
    msr_t, msr_b = max_saliency_ratios(smap, TARGET, DMASK)
    assert msr_t == pytest.approx(2.0) and msr_b == pytest.approx(0.25)
    msr_t, msr_b = max_saliency_ratios(smap + 10.0, TARGET, DMASK)  # offset-invariant
    assert msr_t == pytest.approx(2.0) and msr_b == pytest.approx(0.25)
    smap[20, 20] = 0.0
    assert max_saliency_ratios(smap, TARGET, DMASK)[0] == math.inf
    assert max_saliency_ratios(np.ones(SHAPE), TARGET, DMASK) == (1.0, 1.0)


def test_bad_inputs_raise_metric_errors():
    smap = np.zeros(SHAPE)
    with pytest.raises(MetricError, match="target_mask: shape"):
        fixations_to_find(smap, TARGET[:50], ior_radius=5)
    with pytest.raises(MetricError, match="NaN"):
        fixations_to_find(np.full(SHAPE, np.nan), TARGET, ior_radius=5)
    with pytest.raises(MetricError, match="target_mask is empty"):
        fixations_to_find(smap, np.zeros(SHAPE, bool), ior_radius=5)
    with pytest.raises(MetricError, match="ior_radius"):
        fixations_to_find(smap, TARGET, ior_radius=-1)
    with pytest.raises(MetricError, match="max_fixations"):
        fixations_to_find(smap, TARGET, ior_radius=1, max_fixations=0)
    with pytest.raises(MetricError, match="overlap"):
        global_saliency_index(smap, TARGET, TARGET | DMASK)
    with pytest.raises(MetricError, match="H×W map"):
        global_saliency_index(np.zeros((2, 2, 3)), TARGET, DMASK)
    with pytest.raises(MetricError, match="background_mask is empty"):
        max_saliency_ratios(smap, TARGET, DMASK, background_mask=np.zeros(SHAPE, bool))
