"""SALICON loader: the official JSON's 1-based [row, col] points and the 2017 .mat's 1-based [x, y] columns.

The expected fixation maps are built here the way each original reader builds them:

* salicon-api ``salicon/salicon.py``, ``SALICON.buildFixMap(anns, doBlur=False)``:
  ``for y, x in merged_fixations: sal_map[y-1][x-1] = 1``;
* pysaliency ``external_datasets/salicon.py``: ``xs = gaze['fixations'][:, 0] - 1``,
  ``ys = gaze['fixations'][:, 1] - 1`` (MATLAB, one-based).
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import scipy.io as sio
from PIL import Image

from salscope.data.loaders import load_dataset, load_salicon
from salscope.errors import DataError

H, W = 6, 9  # not square, so a transposed reading lands elsewhere or outside
NAMES = ["COCO_val2014_000000000001.jpg", "COCO_val2014_000000000002.jpg"]


def _images(root, split="val"):
    for name in NAMES:
        p = root / "images" / split / name
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((H, W, 3), 128, np.uint8)).save(p)


def _api_fix_map(anns, image_id):
    """salicon-api buildFixMap(doBlur=False) for one image: [y, x] points, 1-based."""
    sal_map = np.zeros((H, W))
    for ann in anns:
        if ann["image_id"] == image_id:
            for y, x in ann["fixations"]:
                sal_map[y - 1][x - 1] = 1
    return sal_map


# [row, col] points, 1-based: corners, the last row (6) and the last column (9)
ANNS = [
    {"id": 1, "image_id": 1, "worker_id": 307, "fixations": [[1, 1], [6, 9], [2, 8], [6, 3]]},
    {"id": 2, "image_id": 1, "worker_id": 12, "fixations": [[4, 9]]},
    {"id": 3, "image_id": 2, "worker_id": 444, "fixations": [[5, 2], [1, 7]]},
]


def _doc():
    return {"type": "fixations",
            "images": [{"id": k + 1, "file_name": n, "width": W, "height": H} for k, n in enumerate(NAMES)],
            "annotations": copy.deepcopy(ANNS)}


def test_json_points_are_one_based_row_col_as_salicon_api_reads_them(tmp_path):
    root = tmp_path / "sal"
    _images(root)
    (root / "fixations_val2014.json").write_text(json.dumps(_doc()))
    ds = load_salicon(root, "val")
    assert len(ds.fixations) == 7
    for k, image_id in enumerate((1, 2)):
        np.testing.assert_array_equal(ds.fixations.fixation_map(k, (H, W)), _api_fix_map(ANNS, image_id))
    f = ds.fixations.for_image(0)
    # [6, 9] (last row, last column) is x = 8, y = 5
    assert f.x.tolist() == [0.0, 8.0, 7.0, 2.0, 8.0] and f.y.tolist() == [0.0, 5.0, 1.0, 5.0, 3.0]
    assert f.subject.tolist() == [307, 307, 307, 307, 12] and f.order.tolist() == [0, 1, 2, 3, 0]


def test_json_point_beyond_the_image_is_an_error_or_dropped(tmp_path):
    root = tmp_path / "sal"
    _images(root)
    doc = _doc()
    doc["annotations"][2]["fixations"].append([7, 1])  # row 7 of a 6-row image
    (root / "annotations").mkdir()
    (root / "annotations" / "fixations_val2014.json").write_text(json.dumps(doc))
    with pytest.raises(DataError, match="outside"):
        load_salicon(root, "val")
    ds = load_salicon(root, "val", drop_outside=True)
    assert ds.meta["dropped_outside"] == 1 and len(ds.fixations) == 7
    np.testing.assert_array_equal(ds.fixations.fixation_map(1, (H, W)), _api_fix_map(ANNS, 2))


@pytest.mark.parametrize("points, fragment", [
    ([1, 2, 3, 4], r"shape \(4,\)"),
    ([[1, 2, 3]], r"shape \(1, 3\)"),
    ([["a", "b"]], "not a list of"),
])
def test_json_points_of_the_wrong_shape_are_errors(tmp_path, points, fragment):
    root = tmp_path / "sal"
    _images(root)
    doc = _doc()
    doc["annotations"][0]["fixations"] = points
    (root / "fixations_val2014.json").write_text(json.dumps(doc))
    with pytest.raises(DataError, match=fragment) as err:
        load_salicon(root, "val")
    assert "fixations_val2014.json" in str(err.value) and "annotation 1" in str(err.value)


def _gaze(*observers):
    gaze = np.zeros((len(observers), 1), dtype=[("location", object), ("timestamp", object), ("fixations", object)])
    for k, pts in enumerate(observers):
        gaze[k, 0] = (np.zeros((1, 2)), np.zeros((1, 1)), np.asarray(pts, dtype=np.float64))
    return gaze


def _pysaliency_fix_map(gaze):
    """pysaliency's reading of a 2017 .mat: x = fixations[:, 0] - 1, y = fixations[:, 1] - 1."""
    m = np.zeros((H, W))
    for g in gaze.ravel():
        pts = np.asarray(g["fixations"])
        m[(pts[:, 1] - 1).astype(int), (pts[:, 0] - 1).astype(int)] = 1
    return m


def test_mat_points_are_one_based_x_y_columns_as_pysaliency_reads_them(tmp_path):
    root = tmp_path / "sal"
    _images(root)
    (root / "fixations" / "val").mkdir(parents=True)
    # [x, y] = [column, row], 1-based: (9, 6) is the bottom-right pixel, (9, 1) the top-right
    gazes = [_gaze([[9, 6], [1, 1], [3, 2]], [[9, 1]]), _gaze([[2, 6]])]
    for name, gaze in zip(NAMES, gazes):
        sio.savemat(root / "fixations" / "val" / name.replace(".jpg", ".mat"), {"gaze": gaze})
    ds = load_salicon(root, "val")
    for k, gaze in enumerate(gazes):
        np.testing.assert_array_equal(ds.fixations.fixation_map(k, (H, W)), _pysaliency_fix_map(gaze))
    f = ds.fixations.for_image(0)
    assert f.x.tolist() == [8.0, 0.0, 2.0, 8.0] and f.y.tolist() == [5.0, 0.0, 1.0, 0.0]
    assert f.subject.tolist() == [0, 0, 0, 1]
    # a .mat whose fixations are not K x 2
    sio.savemat(root / "fixations" / "val" / NAMES[1].replace(".jpg", ".mat"), {"gaze": _gaze([[1, 2, 3]])})
    with pytest.raises(DataError, match=r"000000000002.mat: gaze\(1\).fixations has shape \(1, 3\)"):
        load_salicon(root, "val")


def test_train_split_is_recognised_and_test_split_refused(tmp_path):
    root = tmp_path / "sal"
    _images(root, "train")
    (root / "fixations_train2014.json").write_text(json.dumps(_doc()))
    ds = load_dataset(root)
    assert ds.name == "salicon-train"
    np.testing.assert_array_equal(ds.fixations.fixation_map(0, (H, W)), _api_fix_map(ANNS, 1))
    with pytest.raises(DataError, match="split"):
        load_salicon(root, "test")
