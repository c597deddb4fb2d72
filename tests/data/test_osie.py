"""OSIE loader: exact counts, the coordinate convention, splits, bad inputs."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from salscope.data import Dataset, Fixations, Stimuli, load_image, split_indices
from salscope.data.loaders import load_osie
from salscope.errors import DataError, SalscopeError


def test_osie_counts(osie):
    assert len(osie) == 700
    assert len(osie.fixations) == 98_321
    assert osie.ids[0] == "1001" and osie.ids[-1] == "1700"
    assert osie.meta["n_subjects"] == 15
    # 15 subjects on every image, 10,500 scanpaths
    pairs = np.unique(osie.fixations.n * 100 + osie.fixations.subject)
    assert pairs.size == 10_500
    assert len(osie.fixations.for_image(0)) == 141
    assert osie.stimuli.sizes == [(600, 800)] * 700


def test_osie_coordinates_match_upstream_pixels(osie):
    f = osie.fixations.for_image(0).for_subjects([0])
    # fixations.mat, 1001.jpg, subject 1, first fixation: fix_x = 395.5, fix_y = 265.7 (1-based).
    assert f.x[0] == pytest.approx(394.5) and f.y[0] == pytest.approx(264.7)
    # MATLAB round(395.5) = 396 -> 0-based column 395; round(265.7) = 266 -> row 265.
    assert (f.col[0], f.row[0]) == (395, 265)
    assert f.order[0] == 0 and f.duration[0] == 246.0
    # pysaliency's tests pin the 1-based means 401.466 / 283.583.
    assert osie.fixations.x.mean() + 1 == pytest.approx(401.466, abs=1e-3)
    assert osie.fixations.y.mean() + 1 == pytest.approx(283.583, abs=1e-3)
    assert osie.fixations.x.min() == pytest.approx(0.2) and osie.fixations.x.max() == pytest.approx(798.2)


def test_single_fixation_scanpaths(osie):
    f = osie.fixations
    key = f.n * 100 + f.subject
    _, counts = np.unique(key, return_counts=True)
    assert int((counts == 1).sum()) == 6
    assert counts.max() == 22
    assert np.all(f.duration >= 20) and f.duration.max() == 1975


def test_fixation_map_and_density(osie):
    f = osie.fixations
    m = f.fixation_map(0, (600, 800))
    c = f.fixation_map(0, (600, 800), counts=True)
    assert c.sum() == 141
    assert m[265, 395] == 1.0 and set(np.unique(m)) == {0.0, 1.0}
    assert m.sum() == np.unique(f.for_image(0).row * 800 + f.for_image(0).col).size
    d = f.density(0, (600, 800), sigma_deg=1.0, ppd=osie.meta["ppd"])
    assert d.sum() == pytest.approx(1.0)
    d2 = f.density(0, (600, 800), sigma_px=24.0)
    np.testing.assert_allclose(d, d2)
    # the blur spreads mass: the peak of the density is far below the peak count share
    assert d.max() < c.max() / c.sum()
    with pytest.raises(DataError, match="ppd"):
        f.density(0, (600, 800), sigma_deg=1.0)
    with pytest.raises(DataError, match="outside"):
        f.fixation_map(0, (100, 100))


def test_split_default_and_determinism(osie):
    parts = split_indices(700, seed=0)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [490, 70, 140]
    allidx = np.concatenate(list(parts.values()))
    assert np.array_equal(np.sort(allidx), np.arange(700))
    again = split_indices(700, seed=0)
    for k in parts:
        assert np.array_equal(parts[k], again[k])
    other = split_indices(700, seed=1)
    assert not np.array_equal(parts["test"], other["test"])
    # pinned: the split is defined by sha256 keys, so it never changes between versions.
    test = osie.split("test")
    assert test.ids[:5] == ["1002", "1012", "1014", "1031", "1033"]
    train = osie.split("train")
    assert len(train) == 490 and len(train.fixations) == 68_983
    # fixations were re-indexed: image k of the subset has the original image's fixations
    k = 3
    orig = osie.index(train.ids[k])
    np.testing.assert_array_equal(train.fixations.for_image(k).x, osie.fixations.for_image(orig).x)
    with pytest.raises(DataError, match="split"):
        osie.split("training")


def test_missing_dir(tmp_path):
    with pytest.raises(DataError, match="osie"):
        load_osie(tmp_path)


def test_missing_stimulus(tmp_path, data_root):
    (tmp_path / "osie" / "eye").mkdir(parents=True)
    shutil.copy(data_root / "osie" / "eye" / "fixations.mat", tmp_path / "osie" / "eye")
    (tmp_path / "osie" / "stimuli").mkdir()
    with pytest.raises(DataError, match="700 stimulus file"):
        load_osie(tmp_path)


def test_corrupt_jpeg(tmp_path, data_root):
    src = (data_root / "osie" / "stimuli" / "1001.jpg").read_bytes()
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(src[: len(src) // 3])
    s = Stimuli([bad])
    assert s.sizes == [(600, 800)]  # the header survives
    with pytest.raises(DataError, match="bad.jpg"):
        s[0]
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(DataError, match="junk.jpg"):
        Stimuli([junk]).sizes
    with pytest.raises(DataError, match="nothere.png"):
        load_image(tmp_path / "nothere.png")


def test_image_modes_become_rgb(tmp_path):
    from PIL import Image

    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    rgba = np.zeros((3, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    Image.fromarray(np.full((3, 4, 3), 100, np.uint8)).convert("CMYK").save(tmp_path / "c.jpg", quality=100)
    s = Stimuli.from_folder(tmp_path)
    assert s.ids == ["a", "c", "g"]
    a, c, g = s[0], s[1], s[2]
    for im in (a, c, g):
        assert im.dtype == np.uint8 and im.shape == (3, 4, 3)
    np.testing.assert_array_equal(g[..., 1], grey)
    assert a[0, 0].tolist() == [200, 0, 0]
    assert np.abs(c.astype(int) - 100).max() <= 3


def test_bad_fixations(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((10, 20, 3), np.uint8)).save(tmp_path / "im.png")
    stim = Stimuli([tmp_path / "im.png"])
    with pytest.raises(DataError, match="NaN"):
        Fixations([1.0, np.nan], [2.0, 3.0], [0, 0])
    ok = Dataset("t", stim, Fixations([0.0, 19.49], [-0.5, 9.4], [0, 0]))
    assert ok.fixations.col.tolist() == [0, 19] and ok.fixations.row.tolist() == [0, 9]
    with pytest.raises(DataError, match="outside their image") as err:
        Dataset("t", stim, Fixations([19.5], [0.0], [0]))
    assert isinstance(err.value, SalscopeError)
    with pytest.raises(DataError, match="image index 1"):
        Dataset("t", stim, Fixations([1.0], [1.0], [1]))
