"""MIT1003, CAT2000 and generic-folder loaders on small files written in each release's format."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io as sio
from PIL import Image

from salscope.data.fixation_detection import detect_fixations
from salscope.data.loaders import CAT2000_CATEGORIES, load_cat2000, load_dataset, load_folder, load_mit1003
from salscope.errors import DataError


def _img(path, h, w):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(path)


def _gaze(points, samples_each=60, rate=240.0):
    """Raw 240 Hz samples dwelling at each point (1-based coordinates), with a 2-sample jump between."""
    xs, ys = [], []
    for (x, y) in points:
        xs += [x] * samples_each
        ys += [y] * samples_each
    return np.column_stack([xs, ys]).astype(np.float64)


def test_detect_fixations_hand_example():
    # 3 dwells of 60 samples (250 ms) at 240 Hz; a blink (-1,-1) of 30 samples in the middle of the second
    eye = _gaze([(10, 10), (50, 20), (30, 40)])
    eye[80:110] = -1
    fx, fy, start, dur = detect_fixations(eye[:, 0], eye[:, 1], 100, 80, rate_hz=240.0, ppd=35.0)
    # the blink splits the second dwell into 60..78 (19 slow samples, 79 ms) and 110..118 (9): both < 100 ms, dropped
    assert fx.tolist() == [10.0, 30.0] and fy.tolist() == [10.0, 40.0]
    # the last sample of a dwell precedes a jump: speed there is high, so 59 samples count
    np.testing.assert_allclose(dur, [59 / 240 * 1000, 60 / 240 * 1000])
    np.testing.assert_allclose(start, [0.0, 120 / 240 * 1000])


def test_mit1003_data_and_maps(tmp_path):
    root = tmp_path / "mit"
    _img(root / "ALLSTIMULI" / "i1.jpeg", 60, 100)
    _img(root / "ALLSTIMULI" / "i2.jpeg", 80, 50)
    for subj, pts in (("ajs", [(51, 31), (11, 21), (81, 51)]), ("emb", [(51, 31), (21, 41)])):
        (root / "DATA" / subj).mkdir(parents=True)
        sio.savemat(root / "DATA" / subj / "i1.mat", {"i1": {"DATA": {"eyeData": _gaze(pts)}}})
        sio.savemat(root / "DATA" / subj / "i2.mat", {"i2": {"DATA": {"eyeData": _gaze([(25, 40), (5.5, 70.5)])}}})
    ds = load_mit1003(root)
    assert ds.ids == ["i1", "i2"] and ds.meta["n_subjects"] == 2 and ds.meta["ppd"] == 35.0
    f = ds.fixations.for_image(0)
    # first (central) fixation dropped; 1-based -> 0-based
    assert f.x.tolist() == [10.0, 80.0, 20.0] and f.y.tolist() == [20.0, 50.0, 40.0]
    assert f.subject.tolist() == [0, 0, 1] and f.order.tolist() == [0, 1, 0]
    assert ds.fixations.for_image(1).x.tolist() == [4.5, 4.5]
    # maps
    fm = np.zeros((60, 100), np.uint8)
    fm[5, 7] = fm[30, 60] = 255
    (root / "ALLFIXATIONMAPS").mkdir()
    Image.fromarray(fm).save(root / "ALLFIXATIONMAPS" / "i1_fixPts.jpg", quality=100)
    Image.fromarray(np.zeros((80, 50), np.uint8)).save(root / "ALLFIXATIONMAPS" / "i2_fixPts.jpg", quality=100)
    dm = load_mit1003(root, source="maps")
    assert sorted(zip(dm.fixations.x.tolist(), dm.fixations.y.tolist())) == [(7.0, 5.0), (60.0, 30.0)]
    sio.savemat(root / "DATA" / "ajs" / "i1.mat", {"other": {"x": 1}, "more": 2})
    with pytest.raises(DataError, match="i1.mat"):
        load_mit1003(root)


def test_cat2000(tmp_path):
    root = tmp_path / "cat"
    for c, name in (("Action", "001"), ("Social", "002")):
        _img(root / "Stimuli" / c / f"{name}.jpg", 36, 64)
        m = np.zeros((36, 64), np.uint8)
        m[3, 4] = 1
        if c == "Social":
            m[10, 60] = 1
        (root / "FIXATIONLOCS" / c).mkdir(parents=True)
        sio.savemat(root / "FIXATIONLOCS" / c / f"{name}.mat", {"fixLocs": m})
    ds = load_cat2000(root)
    assert len(CAT2000_CATEGORIES) == 20 and ds.meta["categories"] == CAT2000_CATEGORIES
    assert ds.ids == ["Action/001", "Social/002"]
    assert [ds.meta["categories"][k] for k in ds.meta["category"]] == ["Action", "Social"]
    assert len(ds.fixations) == 3
    f = ds.fixations.for_image(1)
    assert sorted(zip(f.x.tolist(), f.y.tolist())) == [(4.0, 3.0), (60.0, 10.0)]
    assert load_dataset(root).name == "cat2000"
    (root / "Stimuli" / "Cats").mkdir()
    with pytest.raises(DataError, match="Cats"):
        load_cat2000(root)


def test_folder_csv_json_maps(tmp_path):
    root = tmp_path / "f"
    _img(root / "images" / "a.png", 20, 30)
    _img(root / "images" / "b.jpg", 10, 10)
    (root / "fixations.csv").write_text("image,x,y,subject,duration\na.png,1.5,2.0,3,200\nb,9.0,9.0,,\na,29.4,0,1,100\n")
    (root / "meta.json").write_text(json.dumps({"ppd": 12.5, "name": "mine"}))
    ds = load_folder(root)
    assert ds.name == "mine" and ds.meta["ppd"] == 12.5
    assert ds.fixations.n.tolist() == [0, 1, 0] and ds.fixations.subject.tolist() == [3, -1, 1]
    assert np.isnan(ds.fixations.duration[1]) and ds.fixations.duration[0] == 200
    assert load_dataset(root).name == "mine"
    (root / "fixations.csv").write_text("image,x,y\nc,1,1\n")
    with pytest.raises(DataError, match="'c'"):
        load_folder(root)
    (root / "fixations.csv").write_text("image,x,y\na,30,1\n")
    with pytest.raises(DataError, match="outside"):
        load_folder(root)
    (root / "fixations.csv").unlink()
    (root / "fixations.json").write_text(json.dumps({"a": [[1, 2], [3, 4]], "b": [{"x": 5, "y": 6, "subject": 2}]}))
    ds = load_folder(root)
    assert ds.fixations.x.tolist() == [1, 3, 5] and ds.fixations.subject.tolist() == [-1, -1, 2]
    (root / "fixation_maps").mkdir()
    with pytest.raises(DataError, match="exactly one"):
        load_folder(root)
    (root / "fixations.json").unlink()
    m = np.zeros((20, 30), np.uint8)
    m[4, 5] = 255
    Image.fromarray(m).save(root / "fixation_maps" / "a.png")
    Image.fromarray(np.zeros((10, 11), np.uint8)).save(root / "fixation_maps" / "b.png")
    with pytest.raises(DataError, match="11x10"):
        load_folder(root)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "fixation_maps" / "b.png")
    ds = load_folder(root)
    assert ds.fixations.x.tolist() == [5.0] and ds.fixations.y.tolist() == [4.0]


def test_load_dataset_names(data_root, tmp_path):
    assert len(load_dataset("osie", data_root)) == 700
    with pytest.raises(DataError, match="mit1003"):
        load_dataset("mit1003", tmp_path)
    with pytest.raises(DataError, match="unknown data set"):
        load_dataset("nonsense-set")
