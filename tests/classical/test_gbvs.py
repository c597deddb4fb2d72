"""GBVS: agreement with Harel's MATLAB code (run under Octave), building blocks, awkward inputs."""

from __future__ import annotations

import numpy as np
import pytest

from salscope.errors import ModelError, SalscopeError
from salscope.models.classical import _features as F
from salscope.models.classical.gbvs import GBVS
from salscope.models import get_model

IDS = ("1001", "1023", "1050", "1100")  # the images of the MATLAB reference maps


@pytest.mark.parametrize("image_id", IDS)
def test_native_map_matches_matlab(matlab_maps, osie_images, image_id):
    """out.master_map of gbvs(img) under Octave: measured r 0.999991-0.999996, max |diff| 0.0046-0.011 (of 1)."""
    ours = GBVS().native_map(osie_images[image_id])
    ref = matlab_maps[f"gbvs_{image_id}"]
    assert ours.shape == ref.shape == (24, 32)
    assert np.corrcoef(ours.ravel(), ref.ravel())[0, 1] >= 0.99998
    assert np.abs(ours - ref).max() <= 0.015


@pytest.mark.parametrize("image_id", IDS)
def test_octave_resize_weights_reproduce_the_octave_run(matlab_maps, osie_images, image_id):
    """With Octave's unnormalised imresize weights the maps agree to float rounding (measured <= 3.8e-6)."""
    ours = GBVS(resize_weights="octave").native_map(osie_images[image_id])
    assert np.abs(ours - matlab_maps[f"gbvs_{image_id}"]).max() <= 2e-5


def test_saliency_map_is_resized_native_map(osie_images):
    model = GBVS()
    img = osie_images["1001"]
    full = model.saliency_map(img)
    native = model.native_map(img)
    assert full.shape == img.shape[:2] and full.dtype == np.float64
    assert full.min() == 0.0 and full.max() == 1.0
    # bicubic upsampling: area-averaging back down recovers the native map closely
    down = full.reshape(24, 25, 32, 25).mean(axis=(1, 3))
    assert np.corrcoef(down.ravel(), native.ravel())[0, 1] > 0.995


def test_registry_and_defaults():
    model = get_model("gbvs")
    assert isinstance(model, GBVS)
    assert (model.salmapmaxsize, model.channels, model.levels) == (32, "DIO", (2, 3, 4))
    assert (model.sigma_frac_act, model.sigma_frac_norm, model.tol, model.blurfrac) == (0.15, 0.06, 1e-4, 0.02)
    assert model.center_prior is True
    assert GBVS().salmap_size(600, 800) == (24, 32)
    assert GBVS().salmap_size(768, 1024) == (24, 32)
    assert GBVS().salmap_size(1000, 800) == (32, 26)  # 25.6 -> 26, MATLAB rounding


def test_center_prior_switch_moves_mass_to_borders(osie_images):
    img = osie_images["1001"]
    on, off = GBVS().native_map(img), GBVS(center_prior=False).native_map(img)
    assert np.corrcoef(on.ravel(), off.ravel())[0, 1] < 0.95  # measured 0.81

    def border_ratio(m):
        ring = np.ones_like(m, dtype=bool)
        ring[3:-3, 3:-3] = False
        return m[ring].mean() / m[~ring].mean()

    assert border_ratio(off) > 2 * border_ratio(on)


def test_deterministic(osie_images):
    img = osie_images["1023"]
    assert np.array_equal(GBVS().saliency_map(img), GBVS().saliency_map(img))


@pytest.mark.parametrize("shape", [(8, 8, 3), (8, 8), (8, 8, 1), (5, 300, 3), (130, 7, 4), (1, 1, 3)])
def test_tiny_and_odd_images(shape):
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    out = GBVS().saliency_map(img)
    assert out.shape == shape[:2]
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("value", [0, 77, 255])
def test_constant_image_gives_zeros_not_nan(value):
    out = GBVS().saliency_map(np.full((150, 200, 3), value, dtype=np.uint8))
    assert np.isfinite(out).all()
    assert out.max() == 0.0


def test_huge_image_is_downscaled_first():
    model = GBVS()
    assert model.working_size(6000, 8000) == (1536, 2048)
    assert model.working_size(600, 800) == (600, 800)
    assert model.working_size(64, 100) == (128, 200)
    img = np.random.default_rng(1).integers(0, 256, (400, 4100, 3), dtype=np.uint8)
    assert model.working_size(400, 4100) == (200, 2048)
    out = model.saliency_map(img)
    assert out.shape == (400, 4100) and np.isfinite(out).all()
    assert model.native_map(img).shape == (3, 32)  # from the 200x2048 working image


def test_grey_input_skips_colour_channels_like_the_original(osie_images):
    rgb = osie_images["1050"]
    grey = np.rint(rgb.astype(float) @ [0.299, 0.587, 0.114]).astype(np.uint8)
    a = GBVS().native_map(grey)
    b = GBVS(channels="IO").native_map(np.repeat(grey[..., None], 3, axis=2))
    assert np.array_equal(a, b)
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    assert np.array_equal(GBVS().native_map(rgba), GBVS().native_map(rgb))


@pytest.mark.parametrize("kwargs", [{"channels": "DIX"}, {"levels": (1, 2)}, {"normalization_type": 4},
                                    {"salmapmaxsize": 1}, {"min_image_size": 0},
                                    {"resize_weights": "scipy"}])
def test_bad_parameters_raise_model_error(kwargs):
    with pytest.raises(ModelError):
        GBVS(**kwargs)


def test_bad_image_raises_salscope_error():
    with pytest.raises(SalscopeError, match="image"):
        GBVS().saliency_map(np.zeros((4, 4, 2), dtype=np.uint8))


# -- building blocks --------------------------------------------------------------------------

def test_graph_activation_is_the_degree_of_the_dissimilarity_graph():
    """The activation chain is a random walk on a symmetric graph: its equilibrium is the node degree."""
    rng = np.random.default_rng(3)
    a = rng.random((6, 8))
    frame = F.GraphFrame.for_shape((6, 8))
    got = F.graph_activation(a, frame, 0.15, tol=1e-14)
    w = frame.weights(0.15) * np.abs(a.ravel()[:, None] - a.ravel()[None, :])
    expect = w.sum(axis=0) / w.sum()
    np.testing.assert_allclose(got.ravel(), expect, rtol=1e-8)
    assert F.graph_activation(np.full((6, 8), 0.3), frame, 0.15, 1e-4).max() == 0.0


def test_resize_matrix_follows_matlab_imresize():
    up = F.resize_matrix(4, 8)
    np.testing.assert_allclose(up.sum(axis=1), 1.0)
    # imresize([1 2 3 4], [1 8]) (bicubic, a = -0.5): first sample at u = 0.75, mirrored edge:
    # 0.2266*1 + 0.8672*1 - 0.0234*2 - 0.0703*2 = 0.90625
    out = up @ np.arange(1.0, 5.0)
    np.testing.assert_allclose(out[0], 0.90625)
    np.testing.assert_allclose(out[::-1], 5.0 - out)  # symmetric
    assert np.allclose(F.resize_matrix(5, 5), np.eye(5))
    raw = F.resize_matrix(37, 24, normalize=False)  # Octave: rows of the stretched kernel do not sum to 1
    assert 0.98 < raw.sum(axis=1).min() < 0.99 and 1.01 < raw.sum(axis=1).max() < 1.02
    down = F.resize_matrix(8, 4)  # antialiased shrink: kernel stretched to 8 taps
    assert (np.abs(down) > 1e-12).sum(axis=1).tolist() == [5, 7, 7, 5]  # 8 taps, edges folded
    # row 2: u = 3.5, taps 0.5*cubic(t/2) at t = 3.5..-3.5; the tap at index 0 mirrors onto index 1,
    # so the ramp 1..8 gives 3.5 - 0.01171875
    np.testing.assert_allclose((down @ np.arange(1.0, 9.0))[1:3], [3.48828125, 5.51171875])


def test_subsample_follows_mysubsample():
    a = np.arange(12 * 14, dtype=float).reshape(12, 14)
    s = F.subsample(a)
    assert s.shape == (6, 7)
    # interior output k weighs inputs 2k-2..2k+3 with [1 5 10 10 5 1]/32: a linear ramp lands half-way
    np.testing.assert_allclose(s[2, 3], a[4:6, 6:8].mean(), rtol=1e-6)
    np.testing.assert_allclose(F.subsample(np.full((20, 30), 0.7)), 0.7, rtol=1e-6)
    small = np.random.default_rng(0).random((10, 40))
    assert np.array_equal(F.subsample(small), small)  # <= 10 px: unchanged, as the original


def test_dkl_lookup_table_reproduces_rgb2dkl_entries():
    # entries 2, 3 and 128 of the 256-entry table in rgb2dkl.m
    np.testing.assert_allclose(F.DKL_LUT[1], [0.024974, 0.0077395, 0.042346], atol=2e-6)
    np.testing.assert_allclose(F.DKL_LUT[2, 1], 0.0077836, atol=2e-6)
    np.testing.assert_allclose(F.DKL_LUT[127], [0.28779, 0.29339, 0.33877], atol=2e-5)
    white = F.rgb2dkl(np.ones((1, 1)), np.ones((1, 1)), np.ones((1, 1)))[0, 0]
    black = F.rgb2dkl(np.zeros((1, 1)), np.zeros((1, 1)), np.zeros((1, 1)))[0, 0]
    assert white[0] > 0 > black[0]


def test_gabor_and_small_helpers():
    g = F.gabor_filter(45.0, 0.0)
    assert g.shape == (27, 27)
    assert abs(g.sum()) < 1e-10 and abs((g * g).sum() - 1) < 1e-12
    np.testing.assert_allclose(F.gabor_filter(90.0, 0.0), F.gabor_filter(0.0, 0.0).T, atol=1e-12)
    k = F.gauss_kernel(0.64, 2)
    assert k.shape == (3,) and abs(k.sum() - 1) < 1e-12
    att = F.attenuate_borders(np.ones((10, 10)), 4)
    np.testing.assert_allclose(att[0, 5], 0.2)
    np.testing.assert_allclose(att[4, 4], 1.0)
    np.testing.assert_allclose(att[0, 0], 0.04)
    peak = np.zeros((9, 9))
    peak[4, 4] = 1.0
    np.testing.assert_allclose(F.max_normalize_std(peak).max(), 1000.0)  # one maximum: M * M^2
    two = np.zeros((9, 9))
    two[2, 2], two[6, 6] = 1.0, 0.5
    np.testing.assert_allclose(F.max_normalize_std(two).max(), 10.0 * (10 - 7.5) ** 2)
