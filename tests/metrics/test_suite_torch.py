"""The batched torch suite equals the numpy suite (ranks exactly, sums to 1e-12) on device='cpu'."""

from __future__ import annotations

import numpy as np
import pytest

from salscope.errors import MetricError
from salscope.metrics.suite import SUITE_METRICS, GoldStats, tuebingen_suite
from salscope.metrics.suite_torch import tuebingen_suite_torch

H, W = 19, 27


def _batch(seed):
    rng = np.random.default_rng(seed)
    maps = np.stack([
        rng.random((H, W)),                                # smooth
        rng.integers(0, 4, (H, W)).astype(np.float64),     # ties
        np.full((H, W), -2.0),                             # constant (negative)
        rng.normal(size=(H, W)),                           # negatives
        np.zeros((H, W)),                                  # all zero
    ])
    golds = rng.random(maps.shape) ** 4
    golds /= golds.sum(axis=(1, 2), keepdims=True)
    n = rng.integers(0, maps.shape[0], 200)
    rows, cols = rng.integers(0, H, n.size), rng.integers(0, W, n.size)
    rows[:3], cols[:3], n[:3] = rows[0], cols[0], 0  # a pixel fixated three times
    return maps, golds, n, rows, cols


@pytest.mark.parametrize("seed", [0, 1])
def test_torch_suite_equals_numpy_suite(seed):
    maps, golds, n, rows, cols = _batch(seed)
    all_flat = rows * W + cols
    fixations = [(rows[n == b], cols[n == b]) for b in range(maps.shape[0])]
    own = [all_flat[n == b] for b in range(maps.shape[0])]
    got = tuebingen_suite_torch(maps, fixations, golds=golds, negatives=(all_flat, own), device="cpu")
    for b in range(maps.shape[0]):
        want = tuebingen_suite(maps[b], *fixations[b], SUITE_METRICS, gold=GoldStats(golds[b]), negatives=(all_flat, own[b]))
        for name in ("auc", "sauc"):  # integer counts: the same bits
            np.testing.assert_array_equal(got[b][name], want[name], err_msg=f"{name} image {b}")
        for name in ("auc_judd", "nss", "cc", "kld", "sim"):
            np.testing.assert_allclose(got[b][name], want[name], rtol=0, atol=1e-12, err_msg=f"{name} image {b}")
    assert np.all(got[2]["auc"] == 0.5) and np.all(got[2]["nss"] == 0) and got[2]["cc"] == 0.0


def test_torch_suite_subset_and_bad_input():
    maps, golds, n, rows, cols = _batch(2)
    fixations = [(rows[n == b], cols[n == b]) for b in range(maps.shape[0])]
    only = tuebingen_suite_torch(maps, fixations, ["nss", "auc_judd"])  # no golds, no negatives needed
    assert all(set(d) == {"nss", "auc_judd"} for d in only)
    bad = maps.copy()
    bad[1, 0, 0] = np.inf
    with pytest.raises(MetricError, match="NaN/inf"):
        tuebingen_suite_torch(bad, fixations, ["nss"])
    with pytest.raises(MetricError, match="golds"):
        tuebingen_suite_torch(maps, fixations, ["cc"])
    with pytest.raises(MetricError, match="negatives"):
        tuebingen_suite_torch(maps, fixations, ["sauc"])
    with pytest.raises(MetricError, match="fixation sets"):
        tuebingen_suite_torch(maps, fixations[:2], ["nss"])
    with pytest.raises(MetricError, match="not in the suite"):
        tuebingen_suite_torch(maps, fixations, ["emd"])
