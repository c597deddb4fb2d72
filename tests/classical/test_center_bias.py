"""Centre bias: exact density, ML fit recovering known σ, cross-validation on OSIE."""

from __future__ import annotations

import numpy as np
import pytest

from salscope.errors import ModelError
from salscope.models.classical.center_bias import CenterBias
from salscope.models import get_model

H, W = 600, 800


def _draw(rng, n_fix, n_img, sx, sy, mx=0.5, my=0.5):
    x = rng.normal(mx * W - 0.5, sx * W, n_fix)
    y = rng.normal(my * H - 0.5, sy * H, n_fix)
    ok = (np.floor(x + 0.5) >= 0) & (np.floor(x + 0.5) < W) & (np.floor(y + 0.5) >= 0) & (np.floor(y + 0.5) < H)
    return x[ok], y[ok], rng.integers(0, n_img, n_fix)[ok]


def test_density_is_exact_and_normalised():
    model = CenterBias(sigma_x=0.2, sigma_y=0.3)
    img = np.zeros((60, 80, 3), np.uint8)
    ld = model.log_density(img)
    assert ld.shape == (60, 80)
    np.testing.assert_allclose(np.exp(ld).sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(model.saliency_map(img), np.exp(ld))
    # separable Gaussian centred on x0 = 0.5*80 - 0.5 = 39.5 with σ = 0.2*80 = 16 px
    np.testing.assert_allclose(ld[30, 39] - ld[30, 9], (30.5 ** 2 - 0.5 ** 2) / (2 * 16.0 ** 2), rtol=1e-10)
    assert np.unravel_index(ld.argmax(), ld.shape) in {(29, 39), (29, 40), (30, 39), (30, 40)}


def test_fit_recovers_sigma_of_synthetic_fixations():
    rng = np.random.default_rng(7)
    x, y, n = _draw(rng, 40000, 40, 0.15, 0.22)
    model = CenterBias.fit_fixations(x, y, n, [(H, W)] * 40, folds=4, seed=1)
    assert model.sigma_x == pytest.approx(0.15, rel=0.02)
    assert model.sigma_y == pytest.approx(0.22, rel=0.02)
    assert (model.mu_x, model.mu_y) == (0.5, 0.5)
    cv = model.cv
    assert cv["folds"] == 4 and len(cv["sigma_x"]) == 4
    assert np.ptp(cv["sigma_x"]) < 0.01
    # expected gain over uniform, bits: log2(W H) minus the entropy of the Gaussian truncated to the image
    from scipy.stats import truncnorm

    entropy = sum((truncnorm(-0.5 / s, 0.5 / s).entropy() + np.log(s * length)) / np.log(2)
                  for s, length in ((0.15, W), (0.22, H)))
    assert cv["mean_heldout_ig_bits"] == pytest.approx(np.log2(W * H) - entropy, abs=0.03)  # measured 0.974 vs 0.971


def test_fit_mean_recovers_an_offset_centre():
    rng = np.random.default_rng(8)
    x, y, n = _draw(rng, 30000, 30, 0.12, 0.1, mx=0.45, my=0.4)
    model = CenterBias.fit_fixations(x, y, n, [(H, W)] * 30, fit_mean=True)
    assert model.mu_x == pytest.approx(0.45, abs=0.005)
    assert model.mu_y == pytest.approx(0.40, abs=0.005)
    assert model.sigma_x == pytest.approx(0.12, rel=0.03)
    assert model.sigma_y == pytest.approx(0.10, rel=0.03)


def test_fit_on_osie_is_cross_validated(osie):
    """OSIE (700 images, 800x600): measured σx 0.238, σy 0.211 of the width/height, 0.52 bits/fix held out."""
    model = CenterBias.fit(osie, folds=5, seed=0)
    assert 0.2 < model.sigma_x < 0.28 and 0.17 < model.sigma_y < 0.25
    assert model.cv["mean_heldout_ig_bits"] > 0.4
    assert min(model.cv["heldout_ig_bits"]) > 0.3
    # the fitted σ beats a stated one on held-out data of every fold's kind
    stated = CenterBias(sigma_x=0.1, sigma_y=0.1)
    fx = osie.fixations
    sizes = np.asarray(osie.stimuli.sizes)[fx.n]
    assert model.log_likelihood(fx.col, fx.row, sizes).mean() > stated.log_likelihood(fx.col, fx.row, sizes).mean()


def test_registry_and_errors():
    model = get_model("center_bias", sigma_x=0.3)
    assert isinstance(model, CenterBias) and model.sigma_x == 0.3 and model.center_prior
    with pytest.raises(ModelError):
        CenterBias(sigma_x=0.0)
    with pytest.raises(ModelError):
        CenterBias(center_prior=False)
    with pytest.raises(ModelError, match="outside"):
        CenterBias.fit_fixations([900.0, 10.0], [10.0, 10.0], [0, 1], [(H, W)] * 2, folds=2)
    with pytest.raises(ModelError, match="folds"):
        CenterBias.fit_fixations([10.0, 10.0], [10.0, 10.0], [0, 1], [(H, W)] * 2, folds=3)
