"""Paired bootstrap: covers a planted difference, contains 0 without one."""

from __future__ import annotations

import numpy as np
import pytest

from salscope.analysis.intervals import paired_bootstrap
from salscope.errors import AnalysisError


def test_planted_difference_is_covered_and_excludes_zero():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 200)                  # shared unit difficulty, removed by the pairing
    a, b = base + 0.2 + rng.normal(0, 0.1, 200), base + rng.normal(0, 0.1, 200)
    d, lo, hi = paired_bootstrap(a, b, n_boot=2000, seed=1)
    assert lo < 0.2 < hi and lo > 0.1
    assert d == pytest.approx(np.mean(a - b))


def test_no_difference_contains_zero_most_of_the_time():
    hits = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        a, b = rng.normal(0, 1, 60), rng.normal(0, 1, 60)
        _, lo, hi = paired_bootstrap(a, b, n_boot=500, seed=seed)
        hits += lo <= 0 <= hi
    assert hits >= 34                               # nominal 95 %: 38 of 40


def test_no_interval_and_bad_shapes():
    assert paired_bootstrap([1.0, 2.0], [0.0, 0.0], n_boot=0) == (1.5, None, None)
    with pytest.raises(AnalysisError, match="same length"):
        paired_bootstrap([1.0, 2.0], [1.0])
