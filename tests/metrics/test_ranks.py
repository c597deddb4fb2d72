"""The sort-free rank kernel gives the sort-based counts exactly, and the AUCs built on it are unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import salscope.metrics as M
from salscope.metrics.ranks import SortedRanks, ValueRanks, rank_counts
from salscope.metrics.suite import MapStats, tuebingen_suite


def _sorted_counts(values, queries):
    s = np.sort(np.asarray(values, dtype=np.float64).ravel())
    return np.searchsorted(s, queries, side="left"), np.searchsorted(s, queries, side="right")


def _assert_same(values, queries, index=None, **kw):
    ranks = ValueRanks(np.asarray(values, dtype=np.float64).ravel(), queries, **kw)
    got = ranks.counts(index)
    want = _sorted_counts(values if index is None else np.asarray(values).ravel()[index], queries)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    return ranks


def _maps(seed):
    rng = np.random.default_rng(seed)
    yield "smooth", rng.random(3000)
    yield "few levels", rng.integers(0, 4, 3000).astype(np.float64)
    yield "uint8 levels", rng.integers(0, 256, 3000).astype(np.float64)
    yield "rounded", np.round(rng.random(3000), 2)
    yield "negative", rng.normal(size=3000)
    yield "far from zero", 1e6 + rng.random(3000) * 1e-3
    yield "tiny", rng.random(3000) * 1e-300
    yield "constant", np.full(3000, 2.5)
    yield "zeros and -0", np.where(rng.random(3000) < 0.5, 0.0, -0.0)
    yield "huge range", rng.normal(size=3000) * 1e307  # span overflows: the direct fallback


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_counts_equal_searchsorted_on_the_sorted_map(seed):
    rng = np.random.default_rng(100 + seed)
    for name, values in _maps(seed):
        fixated = values[rng.integers(0, values.size, 60)]  # the map at fixations, duplicates included
        others = rng.normal(size=5) * (np.abs(values).max() or 1.0)  # values absent from the map
        for queries in (fixated, np.concatenate([fixated, others]), fixated[:1]):
            ranks = _assert_same(values, queries)
            # a multiset subset (the other images' fixations) with the same buckets
            _assert_same(values, queries, index=rng.integers(0, values.size, 700))
            _assert_same(values, queries, index=np.zeros(0, dtype=np.int64))
        if name == "constant":
            assert ranks.counts()[0][0] == 0 and ranks.counts()[1][0] == values.size


def test_queries_sharing_a_bucket_and_edges_of_the_range():
    rng = np.random.default_rng(7)
    values = rng.random(5000)
    # neighbouring floats, queries at the ends and one ulp beyond them, and a coarse grid of buckets so
    # that several queries fall in one bucket (the searchsorted step) as well as one per bucket
    q = np.array([values.min(), np.nextafter(values.min(), -1), values.max(), np.nextafter(values.max(), 2), 0.5,
                  np.nextafter(0.5, 1), np.nextafter(0.5, 0)])
    values[:3] = q[4:]
    for buckets in (2, 7, 1 << 16):
        ranks = _assert_same(values, np.concatenate([q, values[:40]]), buckets=buckets)
        _assert_same(values, np.concatenate([q, values[:40]]), index=rng.integers(0, values.size, 300), buckets=buckets)
    assert not ValueRanks(values, q, buckets=2)._single and ranks._single is False  # both exact paths exercised
    assert ValueRanks(values, values[10:50])._single


def test_rank_counts_is_the_one_call_form_and_sorted_ranks_agree():
    rng = np.random.default_rng(3)
    m = rng.integers(0, 9, (30, 41)).astype(float)
    q = m.ravel()[rng.integers(0, m.size, 50)]
    want = _sorted_counts(m, q)
    for got in (rank_counts(m, q), SortedRanks(np.sort(m.ravel()), q, lambda i: np.sort(m.ravel()[i])).counts()):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 60), elements=st.one_of(st.integers(-3, 3).map(float), st.floats(-1e3, 1e3))),
    st.lists(st.integers(0, 59), min_size=1, max_size=12),
    st.lists(st.floats(-2e3, 2e3), max_size=3),
)
def test_counts_property(values, picks, extra):
    queries = np.concatenate([values[[p % values.size for p in picks]], np.asarray(extra, dtype=np.float64)])
    _assert_same(values, queries)
    _assert_same(values, queries, index=np.asarray(picks) % values.size)


# --------------------------------------------------------------- the metrics on top of the kernel


def _auc_by_sort(smap, rows, cols, negatives):
    """The straightforward rank AUC: sort the negatives, searchsorted each positive."""
    pos = smap[rows, cols]
    s = np.sort(negatives)
    left, right = np.searchsorted(s, pos, side="left"), np.searchsorted(s, pos, side="right")
    return (left + 0.5 * (right - left)) / s.size


def _judd_by_sort(smap, rows, cols):
    """AUC-Judd (tuebingen) written out: thresholds at the positives, unfixated pixels as negatives."""
    values = smap.ravel()
    flat = rows * smap.shape[1] + cols
    keep = np.ones(values.size, bool)
    keep[flat] = False
    neg, pos = np.sort(values[keep]), np.sort(values[flat])
    t = pos[::-1]
    tp = (pos.size - np.searchsorted(pos, t, side="left")) / pos.size
    fp = (neg.size - np.searchsorted(neg, t, side="left")) / neg.size
    return float(np.trapezoid(np.r_[0.0, tp, 1.0], np.r_[0.0, fp, 1.0]))


@pytest.mark.parametrize("kind", ["smooth", "ties", "constant", "negative"])
def test_auc_family_equals_the_sort_based_formulas(kind):
    rng = np.random.default_rng(11)
    h, w = 37, 53
    smap = {"smooth": rng.random((h, w)), "ties": rng.integers(0, 3, (h, w)).astype(float),
            "constant": np.full((h, w), -1.25), "negative": rng.normal(size=(h, w))}[kind]
    rows, cols = rng.integers(0, h, 80), rng.integers(0, w, 80)
    rows[:4], cols[:4] = rows[0], cols[0]  # a pixel fixated four times
    orows, ocols = rng.integers(0, h, 400), rng.integers(0, w, 400)
    xs, ys = cols.astype(float), rows.astype(float)
    uniform = M.auc(smap, xs, ys, per_fixation=True)
    np.testing.assert_array_equal(uniform, _auc_by_sort(smap, rows, cols, smap.ravel()))
    shuffled = M.shuffled_auc(smap, xs, ys, ocols.astype(float), orows.astype(float), per_fixation=True)
    np.testing.assert_array_equal(shuffled, _auc_by_sort(smap, rows, cols, smap[orows, ocols]))
    judd = M.auc_judd(smap, xs, ys)
    assert judd == _judd_by_sort(smap, rows, cols)
    # passing the sorted map (the old path) gives the same bits
    assert judd == M.auc_judd(smap, xs, ys, sorted_map=np.sort(smap.ravel()))
    np.testing.assert_array_equal(uniform, M.auc(smap, xs, ys, per_fixation=True, sorted_map=np.sort(smap.ravel())))
    if kind == "constant":
        assert np.all(uniform == 0.5) and np.all(shuffled == 0.5) and judd == 0.5


def test_a_reused_map_switches_to_one_sort_with_the_same_values():
    rng = np.random.default_rng(5)
    smap = rng.integers(0, 6, (20, 30)).astype(float)
    stats = MapStats(smap, remember=True)
    all_flat = rng.integers(0, smap.size, 300)
    for image in range(3):
        own = all_flat[image * 100 : (image + 1) * 100]
        rows, cols = own // 30, own % 30
        kinds = type(stats.ranks(smap.ravel()[own])).__name__
        stats._uses -= 1  # the probe above counted as a use
        reused = tuebingen_suite(stats, rows, cols, ["auc", "sauc", "auc_judd"], negatives=(all_flat, own))
        fresh = tuebingen_suite(smap, rows, cols, ["auc", "sauc", "auc_judd"], negatives=(all_flat, own))
        assert kinds == ("ValueRanks" if image == 0 else "SortedRanks")
        for name in fresh:
            np.testing.assert_array_equal(reused[name], fresh[name], err_msg=name)
