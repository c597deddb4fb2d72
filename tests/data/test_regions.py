"""Region annotations (VOC PNG pairs, labelme, COCO polygons/RLE) and scene labels."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from salscope.data import Stimuli
from salscope.data.regions import (
    CATEGORIES, load_labelme, load_regions, load_voc_regions, rle_counts_to_string, rle_decode,
    rle_encode, rle_string_to_counts,
)
from salscope.data.scenes import load_scene_labels
from salscope.errors import DataError


def test_categories_constant():
    assert len(CATEGORIES) == 12
    assert CATEGORIES[0] == ("person head", 1) and CATEGORIES[-1] == ("other", 73)


def test_osie_regions_counts(osie_regions):
    assert len(osie_regions) == 150
    counts = Counter(r.category for regs in osie_regions.values() for r in regs)
    assert sum(counts.values()) == 760
    # the README's table
    assert counts["person head"] == 103 and counts["object"] == 165 and counts["plant"] == 23
    r = osie_regions["1001"]
    assert [x.category for x in r][:3] == ["object", "drink", "food"]
    assert r[0].attrs["n_fixations"] == 23 and r[0].attrs["source"] == "manual-box+grabcut"
    m = r[0].mask
    assert m.shape == (600, 800) and m.dtype == bool and m.sum() == 11602
    inst = r.instance_map()
    assert np.array_equal(inst == 1, m)
    assert len(r.by_category("food")) == 3


def test_osie_regions_fixation_count(osie, osie_regions):
    # regions.json's n_fixations counts fixations with no dilation inside the final mask
    # or within 8 px of background; at least the in-mask count can not exceed it.
    k = osie.index("1001")
    f = osie.fixations.for_image(k)
    inst = osie_regions["1001"].instance_map()
    inside = np.bincount(inst[f.row, f.col], minlength=10)
    for r in osie_regions["1001"]:
        assert 0 < inside[r.instance] <= r.attrs["n_fixations"]


def _write_voc(folder, cls, obj, listing=None):
    (folder / "SegmentationClass").mkdir(parents=True)
    (folder / "SegmentationObject").mkdir()
    Image.fromarray(cls.astype(np.uint8)).save(folder / "SegmentationClass" / "a.png")
    Image.fromarray(obj.astype(np.uint8)).save(folder / "SegmentationObject" / "a.png")
    if listing is not None:
        (folder / "regions.json").write_text(json.dumps({"a": listing}))


def test_voc_without_listing_and_errors(tmp_path):
    cls = np.zeros((4, 6), np.uint8)
    obj = np.zeros((4, 6), np.uint8)
    cls[1:3, 1:3], obj[1:3, 1:3] = 37, 1
    cls[0, 5], obj[0, 5] = 1, 2
    _write_voc(tmp_path / "v", cls, obj)
    regs = load_voc_regions(tmp_path / "v")["a"]
    assert [(r.instance, r.category, r.code, r.area) for r in regs] == [(1, "text", 37, 4), (2, "person head", 1, 1)]
    # mask size != image size
    Image.fromarray(np.zeros((4, 7, 3), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(DataError, match="7x4"):
        load_voc_regions(tmp_path / "v", Stimuli([tmp_path / "a.png"]))
    # listing that disagrees with the PNG
    cls2, obj2 = cls.copy(), obj.copy()
    _write_voc(tmp_path / "w", cls2, obj2, [{"instance": 1, "category": "text", "code": 37}])
    with pytest.raises(DataError, match="regions.json lists"):
        load_voc_regions(tmp_path / "w")["a"][0].mask
    # instance spanning two classes
    cls3 = cls.copy()
    cls3[1, 1] = 27
    _write_voc(tmp_path / "x", cls3, obj)
    with pytest.raises(DataError, match="class codes"):
        [r.mask for r in load_voc_regions(tmp_path / "x")["a"]]
    with pytest.raises(DataError, match="SegmentationClass"):
        load_voc_regions(tmp_path)


def test_rle_hand_examples():
    # 3x2 mask, column-major pixels: [0,0,1 | 1,1,0] -> runs 2 zeros, 3 ones, 1 zero
    mask = np.array([[0, 1], [0, 1], [1, 0]], bool)
    assert rle_encode(mask)["counts"] == [2, 3, 1]
    np.testing.assert_array_equal(rle_decode({"size": [3, 2], "counts": [2, 3, 1]}), mask)
    # compressed strings worked out by hand from pycocotools' rleToString
    assert rle_counts_to_string([2, 3, 1]) == "231"
    assert rle_counts_to_string([2, 3, 1, 4]) == "2311"  # 4th stored as 4 - 3
    assert rle_counts_to_string([5, 1, 1, 0]) == "511O"  # 0 - 1 = -1 -> 31 + 48
    assert rle_string_to_counts("511O") == [5, 1, 1, 0]
    assert rle_counts_to_string([100]) == "T3"  # 100 = 4 + 3*32: chr((4 | 0x20) + 48) = 'T', then chr(3 + 48)
    rng = np.random.default_rng(0)
    m = rng.random((37, 23)) < 0.3
    runs = rle_encode(m)["counts"]
    assert rle_string_to_counts(rle_counts_to_string(runs)) == runs
    np.testing.assert_array_equal(rle_decode({"size": [37, 23], "counts": rle_counts_to_string(runs)}), m)
    with pytest.raises(DataError, match="pixels"):
        rle_decode({"size": [3, 3], "counts": [2, 3]})


def test_coco_and_labelme(tmp_path):
    m_rle = np.zeros((10, 12), bool)
    m_rle[2:5, 3:9] = True
    coco = {
        "images": [{"id": 7, "file_name": "img7.jpg", "height": 10, "width": 12}],
        "categories": [{"id": 3, "name": "Text"}, {"id": 99, "name": "sign"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 3, "segmentation": [[2, 1, 6, 1, 6, 4, 2, 4]]},
            {"id": 2, "image_id": 7, "category_id": 99,
             "segmentation": {"size": [10, 12], "counts": rle_counts_to_string(rle_encode(m_rle)["counts"])}},
        ],
    }
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    regs = load_regions(tmp_path / "coco.json")["img7"]
    assert [(r.category, r.code) for r in regs] == [("Text", 37), ("sign", 99)]
    # the polygon [2,6]x[1,4] in corner coordinates covers columns 2..5, rows 1..3
    expect = np.zeros((10, 12), bool)
    expect[1:4, 2:6] = True
    np.testing.assert_array_equal(regs[0].mask, expect)
    np.testing.assert_array_equal(regs[1].mask, m_rle)

    lm = {"imagePath": "../images/pic.jpg", "imageHeight": 10, "imageWidth": 12, "shapes": [
        {"label": "person head", "points": [[1, 1], [4, 3]], "shape_type": "rectangle", "group_id": None},
        {"label": "food-2", "points": [[8, 5], [10, 5], [10, 8], [8, 8]], "shape_type": "polygon"},
        {"label": "food-2", "points": [[0, 8], [1, 8], [1, 9]], "shape_type": "polygon", "group_id": 4},
        {"label": "food-2", "points": [[5, 8], [6, 8], [6, 9]], "shape_type": "polygon", "group_id": 4},
    ]}
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "pic.json").write_text(json.dumps(lm))
    regs = load_labelme(tmp_path / "lm")["pic"]
    assert [(r.instance, r.category, r.code) for r in regs] == [(1, "person head", 1), (2, "food", 57), (3, "food", 57)]
    assert regs[0].area == 4 * 3  # PIL fills the rectangle including its edges: columns 1..4, rows 1..3
    assert regs[1].area == 3 * 4
    assert regs[2].mask[8:10, 0:2].any() and regs[2].mask[8:10, 5:7].any()
    lm["shapes"][0]["label"] = "spaceship"
    (tmp_path / "lm" / "pic.json").write_text(json.dumps(lm))
    with pytest.raises(DataError, match="spaceship"):
        load_labelme(tmp_path / "lm")


def test_scene_labels(osie, tmp_path):
    labels, names = load_scene_labels(_scenes_csv(osie), osie.stimuli)
    assert names == ["animal", "home", "nature", "object", "portrait", "public", "sports", "urban", "water"]
    assert np.bincount(labels).tolist() == [55, 84, 56, 155, 107, 52, 48, 70, 73]
    assert names[labels[0]] == "object" and names[labels[1]] == "home"
    sub = osie.split("val").stimuli
    with pytest.raises(DataError, match="allow_extra"):
        load_scene_labels(_scenes_csv(osie), sub)
    sl, _ = load_scene_labels(_scenes_csv(osie), sub, allow_extra=True)
    assert sl.size == 70
    bad = tmp_path / "l.csv"
    bad.write_text("image_id,scene\n1001,object\n9999,home\n")
    with pytest.raises(DataError, match="9999"):
        load_scene_labels(bad, osie.stimuli.subset([0]))


def _scenes_csv(osie):
    path = osie.stimuli.paths[0].parents[2] / "osie-scenes" / "labels.csv"
    if not path.is_file():
        pytest.skip("osie-scenes/labels.csv not found")
    return path
