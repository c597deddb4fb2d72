"""Image signature: fidelity to signatureSal.m (DKL and Lab), edge cases, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from salscope.errors import ModelError
from salscope.models.classical.signature import ImageSignature, rgb2dkl, rgb2lab
from salscope.models import get_model

IMAGE_IDS = ("1001", "1023", "1050", "1100")  # the images of the MATLAB reference maps


@pytest.mark.parametrize("image_id", IMAGE_IDS)
@pytest.mark.parametrize(("color_space", "suffix"), [("dkl", "dkl"), ("lab", "lab_octave_d65")])
def test_matches_matlab_signaturesal(image_id, color_space, suffix, matlab_maps, osie_images):
    smap = get_model("signature", color_space=color_space).saliency_map(osie_images[image_id])
    assert smap.shape == (600, 800)
    ours = smap.reshape(150, 4, 200, 4).mean(axis=(1, 3))
    ref = matlab_maps[f"signature_{image_id}_{suffix}"].astype(np.float64)
    r = np.corrcoef(ours.ravel(), ref.ravel())[0, 1]
    # Measured: r = 1.0000000, max |difference| 1.6e-7 (DKL) and 1.5e-7 (Lab); reference is float32.
    assert r > 0.999999
    assert np.abs(ours - ref).max() < 1e-6


def test_default_is_lab():
    assert get_model("signature").color_space == "lab"


def test_colour_transforms_reference_values():
    # sRGB white is L=100, a=b=0; pure red is (53.24, 80.09, 67.20) in D65 Lab.
    lab = rgb2lab(np.array([[[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]]))
    assert np.allclose(lab[0, 0], [100.0, 0.0, 0.0], atol=0.01)
    assert np.allclose(lab[0, 1], [53.24, 80.09, 67.20], atol=0.02)
    # DKL: grey levels have (near) zero red–green and blue–yellow; luminance grows.
    dkl = rgb2dkl(np.array([[[0.2, 0.2, 0.2], [0.8, 0.8, 0.8]]]))
    assert dkl[0, 1, 0] > dkl[0, 0, 0]
    assert np.all(np.abs(dkl[0, :, 1]) < 0.05 * np.abs(dkl[0, :, 0]).max() + 0.05)


@pytest.mark.parametrize("color_space", ["lab", "dkl", "rgb"])
@pytest.mark.parametrize("shape", [(8, 8), (1, 1), (5, 300), (300, 7), (33, 47, 4)])
def test_any_size_grey_rgba(color_space, shape):
    img = np.random.default_rng(1).integers(0, 256, size=shape, dtype=np.uint8)
    smap = ImageSignature(color_space=color_space).saliency_map(img)
    assert smap.shape == shape[:2]
    assert np.all(np.isfinite(smap))


def test_constant_image_gives_zeros():
    smap = ImageSignature().saliency_map(np.full((48, 64, 3), 200, np.uint8))
    assert np.array_equal(smap, np.zeros((48, 64)))


def test_deterministic_and_odd_patch_salient():
    img = np.full((120, 160, 3), (90, 120, 90), np.uint8)
    img[30:42, 20:32] = (230, 40, 40)
    a = ImageSignature().saliency_map(img)
    assert np.array_equal(a, ImageSignature().saliency_map(img))
    row, col = np.unravel_index(np.argmax(a), a.shape)
    assert 20 <= row <= 52 and 10 <= col <= 42


def test_bad_params():
    with pytest.raises(ModelError, match="color_space"):
        ImageSignature(color_space="hsv")
    with pytest.raises(ModelError, match="center_bias"):
        ImageSignature(center_prior=True)
