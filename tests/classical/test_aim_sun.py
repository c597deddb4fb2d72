"""AIM and SUN: the FastICA learner, the shipped filter banks, and the models' behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from salscope.errors import ModelError
from salscope.models.classical.aim import AIM
from salscope.models.classical.ica import (
    CONFIGS,
    fastica,
    fit_generalized_gaussian,
    load_filter_bank,
    sample_patches,
    valid_responses,
)
from salscope.models.classical.sun import SUN
from salscope.models import get_model


def test_fastica_recovers_mixing_of_synthetic_sources():
    rng = np.random.default_rng(0)
    n = 20000
    sources = np.stack(
        [rng.laplace(size=n), rng.uniform(-1, 1, size=n), rng.standard_t(3, size=n), np.sign(rng.standard_normal(n)) * rng.exponential(size=n) ** 2],
        axis=1,
    )
    mixing = rng.standard_normal((4, 4))
    x = sources @ mixing.T + 3.0
    res = fastica(x, 4, seed=0)
    assert res["converged"] == 1
    perm = res["unmixing"] @ mixing  # should be a scaled permutation
    perm = np.abs(perm) / np.abs(perm).max(axis=1, keepdims=True)
    assert np.array_equal(np.sort(perm.argmax(axis=1)), np.arange(4))
    off_diagonal = np.sort(perm, axis=1)[:, :-1]
    assert off_diagonal.max() < 0.05
    # Unmixing then mixing reproduces the centred data.
    recon = (x - res["mean"]) @ res["unmixing"].T @ res["mixing"].T
    assert np.allclose(recon, x - res["mean"], atol=1e-8)


def test_fastica_is_deterministic_and_validates():
    x = np.random.default_rng(1).laplace(size=(500, 3))
    a, b = fastica(x, 2, seed=3), fastica(x, 2, seed=3)
    assert np.array_equal(a["unmixing"], b["unmixing"])
    with pytest.raises(ModelError, match="n_components"):
        fastica(x, 4)


def test_generalized_gaussian_fit():
    rng = np.random.default_rng(2)
    sigma, theta = fit_generalized_gaussian(rng.laplace(scale=2.0, size=200000))
    assert sigma == pytest.approx(2.0, rel=0.02) and theta == pytest.approx(1.0, rel=0.03)
    sigma, theta = fit_generalized_gaussian(rng.normal(scale=3.0, size=200000))
    assert sigma == pytest.approx(3.0 * np.sqrt(2.0), rel=0.02) and theta == pytest.approx(2.0, rel=0.03)


def test_sample_patches_and_valid_responses():
    rng = np.random.default_rng(4)
    img = rng.random((30, 40, 3))
    patches = sample_patches([img], 5, 50, seed=0)
    assert patches.shape == (50, 75)
    filters = rng.standard_normal((3, 5, 5, 3))
    (start, resp), = list(valid_responses(img, filters))
    assert start == 0 and resp.shape == (3, 26, 36)
    # Direct correlation at one position.
    assert resp[1, 7, 9] == pytest.approx(float(np.sum(filters[1] * img[7:12, 9:14])), abs=1e-9)


@pytest.mark.parametrize("kind", ["aim", "sun"])
def test_shipped_filter_banks_have_documented_shape(kind):
    bank = load_filter_bank(kind)
    size = CONFIGS[kind]["patch_size"]
    k = bank["filters"].shape[0]
    assert bank["filters"].shape == (k, size, size, 3) and bank["filters"].dtype == np.float32
    assert 10 <= k <= CONFIGS[kind]["max_components"]
    assert bank["mean"].shape == (size, size, 3)
    assert int(bank["seed"]) == CONFIGS[kind]["seed"] and int(bank["n_patches"]) == CONFIGS[kind]["n_patches"]
    assert "astronaut" in list(bank["images"])
    if kind == "sun":
        assert bank["ggd_sigma"].shape == (k,) and np.all(bank["ggd_sigma"] > 0)
        # Natural-image ICA responses are sparse: shapes well below the Gaussian's 2.
        assert np.median(bank["ggd_theta"]) < 1.5


def _texture(odd: str) -> tuple[np.ndarray, tuple[slice, slice]]:
    """Vertical grey grating (period 6 px) with one odd 24×24 patch.

    ``odd='orientation'``: the patch is the same grating turned horizontal;
    ``odd='colour'``: the patch is the same grating tinted red.
    """
    h, w = 160, 200
    yy, xx = np.mgrid[0:h, 0:w]
    grey = 128 + 20 * np.sin(2 * np.pi * xx / 6.0)
    img = np.repeat(grey[:, :, None], 3, axis=2)
    region = (slice(90, 114), slice(40, 64))
    if odd == "orientation":
        img[region] = np.repeat((128 + 20 * np.sin(2 * np.pi * yy / 6.0))[:, :, None], 3, axis=2)[region]
    else:
        img[region] = img[region] + np.array([70.0, -50.0, -50.0])
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), region


# AIM adapts its densities to the image, so any odd patch stands out strongly; SUN's
# densities come from natural images, so the (rare) high-contrast grating is salient
# everywhere and the odd colour patch only adds to it. Measured ratios (inside/outside):
# AIM orientation 4.0, AIM colour 4.2, SUN colour 1.55.
@pytest.mark.parametrize(
    ("name", "odd", "min_ratio"), [("aim", "orientation", 2.5), ("aim", "colour", 2.5), ("sun", "colour", 1.3)]
)
def test_odd_patch_on_uniform_texture_is_salient(name, odd, min_ratio):
    img, region = _texture(odd)
    smap = get_model(name).saliency_map(img)
    assert smap.shape == img.shape[:2] and np.all(np.isfinite(smap))
    inside = smap[region].mean()
    outside = smap[20:60, 120:180].mean()  # texture away from the patch and the borders
    assert inside > min_ratio * outside
    row, col = np.unravel_index(np.argmax(smap), smap.shape)
    assert 80 <= row <= 124 and 30 <= col <= 74


@pytest.mark.parametrize("cls", [AIM, SUN])
@pytest.mark.parametrize("shape", [(8, 8), (1, 1), (5, 120), (60, 7), (33, 47, 4)])
def test_any_size_grey_rgba(cls, shape):
    img = np.random.default_rng(5).integers(0, 256, size=shape, dtype=np.uint8)
    smap = cls().saliency_map(img)
    assert smap.shape == shape[:2] and np.all(np.isfinite(smap))


@pytest.mark.parametrize("cls", [AIM, SUN])
def test_constant_image_and_determinism(cls):
    model = cls()
    assert np.array_equal(model.saliency_map(np.full((40, 50, 3), 90, np.uint8)), np.zeros((40, 50)))
    img = np.random.default_rng(6).integers(0, 256, size=(50, 70, 3), dtype=np.uint8)
    assert np.array_equal(model.saliency_map(img), cls().saliency_map(img))


def test_bad_arguments(tmp_path):
    with pytest.raises(ModelError, match="center_bias"):
        AIM(center_prior=True)
    with pytest.raises(ModelError, match="does not exist"):
        SUN(filters=str(tmp_path / "missing.npz"))
    np.savez(tmp_path / "bad.npz", filters=np.zeros((2, 4, 4, 3)))
    with pytest.raises(ModelError, match="odd p"):
        AIM(filters=str(tmp_path / "bad.npz"))
    with pytest.raises(ModelError, match="bins"):
        AIM(bins=1)
