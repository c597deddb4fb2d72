"""The chunked pixel sums and the tiled gold density equal their whole-map formulas (to 1e-12)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

import salscope.metrics as M
from salscope.metrics.density import fixation_density
from salscope.metrics.passes import density_affine, floored_affine, pixel_sums


def _maps(seed):
    rng = np.random.default_rng(seed)
    g = rng.random(1531) ** 3
    yield "smooth", rng.random(1531), g
    yield "ties", rng.integers(0, 3, 1531).astype(float), g
    yield "negative", rng.normal(size=1531), g
    yield "offset", 1e3 + rng.random(1531), g
    yield "constant", np.full(1531, 4.0), g
    yield "zero", np.zeros(1531), np.where(g > 0.5, g, 0.0)


@pytest.mark.parametrize("chunk", [1, 100, 1 << 15])
def test_pixel_sums_equal_the_whole_map_formulas(chunk):
    for name, s, g in _maps(chunk):
        ms, mg = s.mean(), g.mean()
        floors = (floored_affine(s.min(), 1e-20, s.sum(), s.size), floored_affine(g.min(), 1e-20))
        dens = (density_affine(s, s.min(), s.sum()), density_affine(g, g.min(), g.sum()))
        got = pixel_sums(s, g, s_mean=ms, g_mean=mg, kld=floors, sim=dens, chunk=chunk)
        a = s - s.min() + 1e-20 if s.min() < 0 else s + 1e-20
        b = g + 1e-20
        p, q = M.to_density(s.reshape(1, -1)).ravel(), M.to_density(g.reshape(1, -1)).ravel()
        want = {"ss": ((s - ms) ** 2).sum(), "gg": ((g - mg) ** 2).sum(), "sg": ((s - ms) * (g - mg)).sum(),
                "a": a.sum(), "b": b.sum(), "blog": (b * np.log(b / a)).sum(), "sim": np.minimum(p, q).sum()}
        for key, value in want.items():
            np.testing.assert_allclose(got[key], value, rtol=1e-12, atol=1e-300, err_msg=f"{name} {key}")
    assert pixel_sums(np.ones(5)) == {}


@pytest.mark.parametrize(("shape", "sigma", "block"), [((37, 53), 3.0, 150), ((61, 45), 4.5, 16), ((9, 200), 2.0, 7)])
def test_fixation_density_equals_scipy_gaussian_filter(shape, sigma, block):
    rng = np.random.default_rng(1)
    rows, cols = rng.integers(0, shape[0], 40), rng.integers(0, shape[1], 40)
    rows[:3], cols[:3] = 0, shape[1] - 1  # a corner fixated three times: kernels cut by two borders
    counts = np.zeros(shape)
    np.add.at(counts, (rows, cols), 1.0)
    want = gaussian_filter(counts, sigma, mode="constant", truncate=4.0)
    want /= want.sum()
    got = fixation_density(rows, cols, shape, sigma, block=block)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)
    assert got.min() >= 0 and abs(got.sum() - 1) < 1e-14
