"""Property tests (hypothesis): ranges, invariances and symmetries the metrics promise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import salscope.metrics as M

SETTINGS = settings(max_examples=40, deadline=None)

# integer-valued maps: positive affine maps with power-of-two scale stay exact in float64
int_maps = arrays(np.float64, st.tuples(st.integers(2, 7), st.integers(2, 7)), elements=st.integers(0, 12).map(float))
real_maps = arrays(
    np.float64, st.tuples(st.integers(2, 7), st.integers(2, 7)), elements=st.floats(-5, 5, allow_nan=False, width=32)
)


@st.composite
def map_and_fixations(draw, maps=int_maps):
    smap = draw(maps)
    h, w = smap.shape
    k = draw(st.integers(1, 6))
    xs = np.array(draw(st.lists(st.integers(0, w - 1), min_size=k, max_size=k)), dtype=float)
    ys = np.array(draw(st.lists(st.integers(0, h - 1), min_size=k, max_size=k)), dtype=float)
    return smap, xs, ys


def _has_unfixated(smap, xs, ys):
    return np.unique(ys * smap.shape[1] + xs).size < smap.size


@SETTINGS
@given(map_and_fixations(real_maps), st.sampled_from(["tuebingen", "mit"]))
def test_aucs_lie_in_unit_interval(data, convention):
    smap, xs, ys = data
    values = [M.auc(smap, xs, ys, convention=convention), M.auc_borji(smap, xs, ys, convention=convention, seed=0)]
    values.append(M.shuffled_auc(smap, xs, ys, xs[::-1], ys, convention=convention, seed=0))
    if _has_unfixated(smap, xs, ys):
        # AUC_Judd.m without its jitter can leave [0, 1] on tied values (e.g. map [[-1, 0], [0, 0]] with
        # three fixated pixels gives -1/6, as the MATLAB code does): the property holds with the jitter
        values.append(M.auc_judd(smap, xs, ys, convention=convention, jitter=convention == "mit", seed=0))
    for v in values:
        assert np.isnan(v) or 0.0 <= v <= 1.0


@SETTINGS
@given(map_and_fixations(), st.sampled_from([0.25, 2.0, 8.0]), st.integers(-20, 20))
def test_auc_is_invariant_to_positive_affine_maps(data, scale, shift):
    smap, xs, ys = data
    other = scale * smap + shift
    assert M.auc(other, xs, ys) == M.auc(smap, xs, ys)
    assert M.shuffled_auc(other, xs, ys, xs[::-1], ys[::-1]) == M.shuffled_auc(smap, xs, ys, xs[::-1], ys[::-1])
    if _has_unfixated(smap, xs, ys):
        assert M.auc_judd(other, xs, ys) == M.auc_judd(smap, xs, ys)
        mit = M.auc_judd(smap, xs, ys, convention="mit")
        assert M.auc_judd(other, xs, ys, convention="mit") == pytest.approx(mit, abs=1e-12, nan_ok=True)


@SETTINGS
@given(map_and_fixations(real_maps), st.floats(0.01, 100), st.floats(-100, 100))
def test_nss_and_cc_are_invariant_to_positive_affine_maps(data, scale, shift):
    smap, xs, ys = data
    other = scale * smap + shift
    if np.ptp(smap) < 1e-3:  # near-constant: the affine image may round to constant
        return
    assert M.nss(other, xs, ys) == pytest.approx(M.nss(smap, xs, ys), abs=1e-7)
    gold = np.arange(smap.size, dtype=float).reshape(smap.shape) ** 2
    assert M.cc(other, gold) == pytest.approx(M.cc(smap, gold), abs=1e-7)


@SETTINGS
@given(real_maps, st.data())
def test_cc_and_sim_are_symmetric(a, data):
    b = data.draw(arrays(np.float64, a.shape, elements=st.floats(-5, 5, allow_nan=False, width=32)))
    assert M.cc(a, b) == pytest.approx(M.cc(b, a), abs=1e-12)
    assert M.sim(a, b) == pytest.approx(M.sim(b, a), abs=1e-12)
    assert -1 - 1e-12 <= M.cc(a, b) <= 1 + 1e-12
    assert 0 <= M.sim(a, b) <= 1 + 1e-12


@SETTINGS
@given(real_maps)
def test_kld_is_zero_and_sim_one_for_identical_maps(a):
    assert M.kld(a, a) == pytest.approx(0.0, abs=1e-12)
    assert M.sim(a, a) == pytest.approx(1.0, abs=1e-12)
