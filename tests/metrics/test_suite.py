"""tuebingen_suite gives exactly the values of the single metrics (shared sort and statistics)."""

from __future__ import annotations

import numpy as np
import pytest

import salscope.metrics as M
from salscope.errors import MetricError
from salscope.metrics.suite import SUITE_METRICS, GoldStats, tuebingen_suite

H, W = 24, 31


def _case(kind: str, seed: int):
    rng = np.random.default_rng(seed)
    if kind == "smooth":
        smap = rng.random((H, W))
    elif kind == "ties":
        smap = rng.integers(0, 4, (H, W)).astype(np.float64)
    elif kind == "negative":
        smap = rng.normal(size=(H, W))
    elif kind == "constant":
        smap = np.full((H, W), 2.5)
    else:  # zero map
        smap = np.zeros((H, W))
    gold = M.to_density(rng.random((H, W)) ** 4)
    # 3 images' fixations on this grid; image 1 is scored, duplicates included
    n = rng.integers(0, 3, 90)
    rows, cols = rng.integers(0, H, n.size), rng.integers(0, W, n.size)
    dup = np.flatnonzero(n == 1)[:3]
    rows[dup], cols[dup] = rows[dup[0]], cols[dup[0]]
    return smap, gold, rows, cols, n


@pytest.mark.parametrize("kind", ["smooth", "ties", "negative", "constant", "zero"])
@pytest.mark.parametrize("seed", [0, 1])
def test_suite_equals_the_single_metrics_bit_for_bit(kind, seed):
    smap, gold, rows, cols, n = _case(kind, seed)
    own = n == 1
    xs, ys = cols[own].astype(float), rows[own].astype(float)
    flat = rows * W + cols
    got = tuebingen_suite(smap, rows[own], cols[own], SUITE_METRICS, gold=GoldStats(gold), negatives=(flat, flat[own]))
    expected = {
        "auc": M.auc(smap, xs, ys, per_fixation=True),
        "sauc": M.shuffled_auc(smap, xs, ys, cols[~own], rows[~own], per_fixation=True),
        "auc_judd": M.auc_judd(smap, xs, ys),
        "nss": M.nss(smap, xs, ys, per_fixation=True),
        "cc": M.cc(smap, gold),
        "kld": M.kld(smap, gold),
        "sim": M.sim(smap, gold),
    }
    assert set(got) == set(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)
    if kind in ("constant", "zero"):
        assert np.all(got["auc"] == 0.5) and np.all(got["nss"] == 0) and got["cc"] == 0.0


def test_suite_computes_only_what_is_asked_and_checks_input():
    smap, gold, rows, cols, n = _case("smooth", 3)
    only = tuebingen_suite(smap, rows, cols, ["nss", "auc"])  # no gold, no negatives needed
    assert set(only) == {"nss", "auc"}
    bad = smap.copy()
    bad[0, 0] = np.nan
    with pytest.raises(MetricError, match="NaN/inf"):
        tuebingen_suite(bad, rows, cols, ["nss"])
    with pytest.raises(MetricError, match="not in the suite"):
        tuebingen_suite(smap, rows, cols, ["emd"])
    with pytest.raises(MetricError, match="no fixations"):
        tuebingen_suite(smap, rows[:0], cols[:0], ["nss"])
    with pytest.raises(MetricError, match="negatives"):
        tuebingen_suite(smap, rows, cols, ["sauc"])


def test_map_stats_reused_for_another_image_give_fresh_values():
    from salscope.metrics.suite import MapStats

    smap, gold, rows, cols, n = _case("ties", 5)
    flat = rows * W + cols
    stats = MapStats(smap, remember=True)
    for image in (0, 1, 2):  # the same statistics serve three fixation sets
        own = n == image
        args = (rows[own], cols[own], SUITE_METRICS)
        kw = dict(gold=GoldStats(gold), negatives=(flat, flat[own]))
        reused, fresh = tuebingen_suite(stats, *args, **kw), tuebingen_suite(smap.copy(), *args, **kw)
        for name in SUITE_METRICS:
            np.testing.assert_array_equal(reused[name], fresh[name], err_msg=name)
    assert stats.equals(smap.copy()) and not stats.equals(smap + 1e-12) and not stats.equals(smap[:, :-1])
    smap[0, 0] += 1  # the caller changes its array: the private copy still knows the old values
    assert not stats.equals(smap)
