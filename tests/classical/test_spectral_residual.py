"""Spectral residual: fidelity to Hou & Zhang's MATLAB recipe, edge cases, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from salscope.errors import ModelError, SalscopeError
from salscope.models.classical.spectral_residual import (
    SpectralResidual,
    imfilter_gaussian,
    imresize,
    mat2gray,
)
from salscope.models import get_model

IMAGE_IDS = ("1001", "1023", "1050", "1100")  # the images of the MATLAB reference maps


def area_150x200(smap: np.ndarray) -> np.ndarray:
    """The reference README's area average of a 600×800 map to 150×200."""
    return smap.reshape(150, 4, 200, 4).mean(axis=(1, 3))


@pytest.mark.parametrize("image_id", IMAGE_IDS)
def test_matches_matlab_getsr(image_id, matlab_maps, osie_images):
    smap = get_model("spectral_residual").saliency_map(osie_images[image_id])
    assert smap.shape == (600, 800) and smap.dtype == np.float64
    ours = area_150x200(smap)
    ref = matlab_maps[f"spectral_residual_{image_id}"].astype(np.float64)
    r = np.corrcoef(ours.ravel(), ref.ravel())[0, 1]
    # Measured: r = 1.0000000, max |difference| 1.1e-7 over the four images (float32 reference).
    assert r > 0.999999
    assert np.abs(ours - ref).max() < 1e-6


def test_imresize_matches_matlab_conventions():
    # Shrinking a constant keeps it (weights sum to one); an 8×8 ramp halved is averaged.
    assert np.allclose(imresize(np.full((10, 12), 3.0), scale=0.5), 3.0)
    ramp = np.tile(np.arange(8, dtype=float), (8, 1))
    half = imresize(ramp, scale=0.5)
    assert half.shape == (4, 4)
    # Antialiased bicubic is symmetric about the centre: columns mirror around 3.5.
    assert np.allclose(half[:, 0] + half[:, 3], 7.0) and np.allclose(half[:, 1] + half[:, 2], 7.0)
    assert imresize(np.zeros((3, 5)), output_shape=(7, 11)).shape == (7, 11)


def test_even_gaussian_anchor_like_matlab():
    # MATLAB anchors a 10-tap kernel at element 5 (1-based): output i reads inputs
    # i-4..i+5, so a delta at index 20 reaches outputs 15..24.
    delta = np.zeros((41, 41))
    delta[20, 20] = 1.0
    out = imfilter_gaussian(delta, 10, 2.5)
    rows = np.nonzero(out[:, 20] > 0)[0]
    assert rows.min() == 15 and rows.max() == 24
    assert out.sum() == pytest.approx(1.0)


def test_mat2gray_constant_is_zero():
    assert np.array_equal(mat2gray(np.full((3, 3), 7.0)), np.zeros((3, 3)))


@pytest.mark.parametrize("shape", [(8, 8), (1, 1), (5, 300), (300, 7), (33, 47, 4), (20, 30)])
def test_any_size_grey_rgba(shape):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=shape, dtype=np.uint8)
    smap = SpectralResidual().saliency_map(img)
    assert smap.shape == shape[:2]
    assert np.all(np.isfinite(smap))


def test_constant_image_gives_zeros():
    smap = SpectralResidual().saliency_map(np.full((60, 80, 3), 128, np.uint8))
    assert np.array_equal(smap, np.zeros((60, 80)))


def test_deterministic_and_odd_patch_salient():
    img = np.full((120, 160), 100, np.uint8)
    img[50:62, 110:122] = 250
    a = SpectralResidual().saliency_map(img)
    b = SpectralResidual().saliency_map(img)
    assert np.array_equal(a, b)
    row, col = np.unravel_index(np.argmax(a), a.shape)
    assert 40 <= row <= 72 and 100 <= col <= 132


def test_center_prior_switch_and_bad_params():
    with pytest.raises(ModelError, match="center_bias"):
        SpectralResidual(center_prior=True)
    with pytest.raises(SalscopeError, match="map_width"):
        SpectralResidual(map_width=0)
    with pytest.raises(ModelError, match="image"):
        SpectralResidual().saliency_map(np.zeros((4, 4, 2), np.uint8))


def test_imresize_blocks_and_uint8_input_match_dense_product():
    from salscope.metrics.resize import resize_matrix

    img = np.random.default_rng(3).integers(0, 256, size=(1100, 1300, 2), dtype=np.uint8)
    out = imresize(img, output_shape=(1500, 70))  # taller than one 1024-row block
    my = resize_matrix(1100, 1500, 1500 / 1100)
    mx = resize_matrix(1300, 70, 70 / 1300)
    dense = np.stack([my @ img[:, :, c].astype(float) @ mx.T for c in range(2)], axis=2)
    assert out.shape == (1500, 70, 2) and out.dtype == np.float64
    assert np.allclose(out, dense, atol=1e-9)
    assert np.allclose(imresize(img[:, :, 0], scale=0.1), imresize(img[:, :, 0].astype(float), scale=0.1), atol=1e-9)
