"""Bad input raises MetricError naming the argument; degenerate input has defined values."""

from __future__ import annotations

import numpy as np
import pytest

import salscope.metrics as M
from salscope.errors import MetricError, SalscopeError

RNG = np.random.default_rng(0)
SMAP = RNG.random((6, 8))
XS, YS = np.array([1.0, 4.0, 7.0]), np.array([0.0, 3.0, 5.0])


def test_metric_error_is_a_salscope_error():
    assert issubclass(MetricError, SalscopeError)


def test_shape_mismatch_is_an_error_unless_the_convention_resizes():
    big_gold = RNG.random((12, 16))
    for fn in (M.cc, M.kld, M.sim):
        with pytest.raises(MetricError, match="convention='mit'"):
            fn(SMAP, big_gold)
        assert np.isfinite(fn(SMAP + 1.0, big_gold, convention="mit"))  # + 1: bicubic overshoot stays positive
    with pytest.raises(MetricError, match="12x16"):
        M.nss(SMAP, XS, YS, shape=(12, 16))
    # mit: map resized to the fixation grid, same answer as resizing by hand
    resized = M.imresize(SMAP, (12, 16))
    assert M.nss(SMAP, XS, YS, shape=(12, 16), convention="mit") == M.nss(resized, XS, YS, convention="mit")
    assert M.auc_judd(SMAP, XS, YS, shape=(12, 16), convention="mit") == M.auc_judd(resized, XS, YS, convention="mit")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_a_map_is_an_error(bad):
    smap = SMAP.copy()
    smap[2, 3] = bad
    calls = [
        lambda: M.auc(smap, XS, YS),
        lambda: M.auc_judd(smap, XS, YS),
        lambda: M.auc_borji(smap, XS, YS, convention="mit"),
        lambda: M.shuffled_auc(smap, XS, YS, XS[::-1], YS),
        lambda: M.nss(smap, XS, YS),
        lambda: M.cc(smap, SMAP),
        lambda: M.kld(SMAP, smap),
        lambda: M.sim(smap, SMAP),
        lambda: M.emd(smap, SMAP),
        lambda: M.information_gain(smap, SMAP, XS, YS),
    ]
    for call in calls:
        with pytest.raises(MetricError, match="NaN/inf"):
            call()


def test_constant_map_has_defined_values():
    const = np.full((6, 8), 3.0)
    assert M.auc(const, XS, YS) == 0.5
    assert M.auc_judd(const, XS, YS) == 0.5
    assert M.auc_borji(const, XS, YS) == 0.5
    assert M.shuffled_auc(const, XS, YS, XS[::-1], YS) == 0.5
    assert M.nss(const, XS, YS) == 0.0
    assert M.cc(const, SMAP) == 0.0
    assert M.sim(const, np.ones((6, 8))) == pytest.approx(1.0)
    assert M.kld(np.ones((6, 8)), const) == pytest.approx(0.0, abs=1e-15)
    # the legacy MATLAB code returns NaN here, and so does convention="mit"
    assert np.isnan(M.nss(const, XS, YS, convention="mit"))
    assert np.isnan(M.auc_judd(const, XS, YS, convention="mit"))


def test_no_fixations_is_an_error_at_the_metric_level():
    empty = np.array([])
    for fn in (M.auc, M.auc_judd, M.nss):
        with pytest.raises(MetricError, match="no fixations"):
            fn(SMAP, empty, empty)
    with pytest.raises(MetricError, match="other_xs"):
        M.shuffled_auc(SMAP, XS, YS, empty, empty)


@pytest.mark.parametrize(("x", "y"), [(8.0, 0.0), (-0.6, 1.0), (0.0, 5.5), (2.0, -1.0)])
def test_fixations_outside_the_image_are_an_error(x, y):
    xs, ys = np.append(XS, x), np.append(YS, y)
    for fn in (M.auc, M.auc_judd, M.nss):
        with pytest.raises(MetricError, match="outside the 8x6"):
            fn(SMAP, xs, ys)


def test_pixel_convention_rounds_half_up():
    # x = 0.49 -> column 0, x = 0.5 -> column 1 (pixel centres at integers)
    smap = np.array([[0.0, 1.0]])
    assert M.nss(smap, [0.49], [0.0]) == -1.0
    assert M.nss(smap, [0.5], [0.0]) == 1.0


def test_unknown_convention_and_options_are_errors():
    with pytest.raises(MetricError, match="convention='matlab'"):
        M.nss(SMAP, XS, YS, convention="matlab")
    with pytest.raises(MetricError, match="nonfixations"):
        M.auc(SMAP, XS, YS, nonfixations="random")
    with pytest.raises(MetricError, match="seed"):
        M.auc_judd(SMAP, XS, YS, jitter=True)
    with pytest.raises(MetricError, match="by="):
        M.average([np.ones(2)], by="subject")


def test_information_gain_needs_normalised_log_densities():
    logd = np.log(SMAP / SMAP.sum())
    base = np.full(SMAP.shape, -np.log(SMAP.size))
    assert M.information_gain(logd, base, XS, YS) == pytest.approx(
        np.mean((logd[YS.astype(int), XS.astype(int)] + np.log(48)) / np.log(2)), abs=1e-12
    )
    with pytest.raises(MetricError, match="sums to"):
        M.information_gain(SMAP, base, XS, YS)


def test_jittered_auc_judd_is_reproducible_by_seed():
    ties = np.round(SMAP * 3)
    a = M.auc_judd(ties, XS, YS, jitter=True, seed=5)
    assert a == M.auc_judd(ties, XS, YS, jitter=True, seed=5)
    assert 0 <= a <= 1


def test_emd_refuses_huge_grids_and_matches_a_shift():
    with pytest.raises(MetricError, match="downsize"):
        M.emd(np.ones((80, 80)), np.ones((80, 80)))
    a = np.zeros((5, 5))
    b = np.zeros((5, 5))
    a[1, 1] = 1.0
    b[1, 4] = 1.0
    assert M.emd(a, b) == pytest.approx(3.0)
    assert M.emd(a, b, convention="mit", downsize=1) == pytest.approx(3.0)
