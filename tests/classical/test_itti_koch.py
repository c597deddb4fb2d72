"""Itti-Koch-Niebur: agreement with GBVS's ittikochmap.m (run under Octave) and awkward inputs."""

from __future__ import annotations

import numpy as np
import pytest

from salscope.errors import ModelError
from salscope.models.classical.itti_koch import IttiKoch
from salscope.models import get_model

IDS = ("1001", "1023", "1050", "1100")  # the images of the MATLAB reference maps


@pytest.mark.parametrize("image_id", IDS)
def test_native_map_matches_matlab(matlab_maps, osie_images, image_id):
    """out.master_map of ittikochmap(img) under Octave: measured r > 0.9999999, max |diff| 2.2e-7 - 5.6e-7."""
    ours = IttiKoch().native_map(osie_images[image_id])
    ref = matlab_maps[f"ittikoch_{image_id}"]
    assert ours.shape == ref.shape == (75, 100)
    assert np.corrcoef(ours.ravel(), ref.ravel())[0, 1] >= 0.9999999
    assert np.abs(ours - ref).max() <= 5e-6


def test_defaults_and_registry():
    model = get_model("itti_koch")
    assert isinstance(model, IttiKoch)
    assert (model.channels, model.center_levels, model.delta_levels) == ("CIO", (2, 3), (2,))
    assert (model.normalization_type, model.normalize_top_channel_maps, model.blurfrac) == (3, True, 0.0)
    assert model.salmap_size(600, 800) == (75, 100)
    assert model.salmap_size(480, 640) == (60, 80)


def test_saliency_map_full_size_and_deterministic(osie_images):
    img = osie_images["1100"]
    a, b = IttiKoch().saliency_map(img), IttiKoch().saliency_map(img)
    assert a.shape == (600, 800) and a.min() == 0.0 and a.max() == 1.0
    assert np.array_equal(a, b)


def test_center_prior_switch_only_touches_the_border(osie_images):
    img = osie_images["1001"]
    on, off = IttiKoch().native_map(img), IttiKoch(center_prior=False).native_map(img)
    assert not np.allclose(on, off)
    assert off[0].mean() > 2 * on[0].mean()  # the outermost row is attenuated by 1/5 when on
    inner_on, inner_off = on[4:-4, 4:-4], off[4:-4, 4:-4]
    assert np.corrcoef(inner_on.ravel(), inner_off.ravel())[0, 1] > 0.999


@pytest.mark.parametrize("shape", [(8, 8, 3), (8, 8), (8, 8, 4), (3, 500, 3)])
def test_tiny_grey_rgba_images(shape):
    img = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    out = IttiKoch().saliency_map(img)
    assert out.shape == shape[:2] and np.isfinite(out).all()


def test_float_rgba_equals_uint8_rgb(osie_images):
    rgb = osie_images["1023"][:200, :300]
    rgba = np.concatenate([rgb / 255.0, np.ones(rgb.shape[:2] + (1,))], axis=2)
    np.testing.assert_array_equal(IttiKoch().saliency_map(rgba), IttiKoch().saliency_map(rgb))


@pytest.mark.parametrize("value", [0, 128, 255])
def test_constant_image_no_nan(value):
    out = IttiKoch().saliency_map(np.full((160, 200, 3), value, dtype=np.uint8))
    assert np.isfinite(out).all() and out.max() == 0.0


def test_huge_image_bounded():
    model = IttiKoch()
    assert model.working_size(9000, 12000) == (1536, 2048)
    img = np.random.default_rng(3).integers(0, 256, (400, 4100, 3), dtype=np.uint8)
    assert model.native_map(img).shape == (25, 256)  # 1/8 of the 200x2048 working image
    out = model.saliency_map(img)
    assert out.shape == (400, 4100) and np.isfinite(out).all()


@pytest.mark.parametrize("kwargs", [{"salmap_fraction": 0.0}, {"center_levels": (1,)},
                                    {"delta_levels": (0,)}, {"channels": ""}])
def test_bad_parameters(kwargs):
    with pytest.raises(ModelError):
        IttiKoch(**kwargs)
