"""BMS: surroundedness behaviour, edge cases, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from salscope.errors import ModelError
from salscope.models.classical.bms import BMS, _surrounded
from salscope.models import get_model


def test_surrounded_components_eight_connected():
    mask = np.zeros((9, 9), bool)
    mask[3:6, 3:6] = True  # enclosed square
    mask[0:2, 7:9] = True  # touches the border
    mask[6, 6] = True  # touches the square diagonally: same 8-connected component
    out = _surrounded(mask)
    assert out[4, 4] and out[6, 6]
    assert not out[0, 8] and not out[1, 7]
    # The background touches the border: no surrounded part of ~mask.
    assert not _surrounded(~mask).any()


def test_enclosed_blob_is_salient_not_border_touching_one():
    img = np.full((120, 160, 3), 200, np.uint8)
    img[50:70, 70:90] = (20, 20, 20)  # surrounded dark square
    img[0:30, 0:160] = (20, 20, 20)  # dark band touching the border
    smap = BMS().saliency_map(img)
    assert smap.shape == (120, 160)
    assert smap[55:65, 75:85].mean() > 3 * smap[5:20, 20:140].mean()
    row, col = np.unravel_index(np.argmax(smap), smap.shape)
    assert 40 <= row <= 80 and 60 <= col <= 100


def test_osie_image_range_and_determinism(data_root):
    img = np.asarray(Image.open(data_root / "osie" / "stimuli" / "1001.jpg").convert("RGB"))
    a = get_model("bms").saliency_map(img)
    assert a.shape == (600, 800) and a.dtype == np.float64
    assert 0.0 <= a.min() and a.max() <= 255.0 and a.max() > 100.0
    assert np.array_equal(a, get_model("bms").saliency_map(img))


@pytest.mark.parametrize("shape", [(8, 8), (1, 1), (1, 500), (300, 7), (33, 47, 4), (40, 60)])
def test_any_size_grey_rgba(shape):
    img = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    smap = BMS().saliency_map(img)
    assert smap.shape == shape[:2] and np.all(np.isfinite(smap))


def test_constant_image_gives_zeros():
    assert np.array_equal(BMS().saliency_map(np.full((30, 40, 3), 10, np.uint8)), np.zeros((30, 40)))


@pytest.mark.parametrize("kwargs", [{"color_space": "rgb"}, {"color_space": "luv"}, {"whitening": False}, {"swap_red_blue": False}])
def test_options_run(kwargs):
    img = np.random.default_rng(1).integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
    smap = BMS(**kwargs).saliency_map(img)
    assert smap.shape == (60, 80) and np.ptp(smap) > 0


def test_bad_params():
    with pytest.raises(ModelError, match="dilation_width_1"):
        BMS(dilation_width_1=4)
    with pytest.raises(ModelError, match="color_space"):
        BMS(color_space="hsv")
    with pytest.raises(ModelError, match="center_bias"):
        BMS(center_prior=True)
