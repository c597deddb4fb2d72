"""Issue 19: malformed files read by the data loaders raise DataError naming the file, and are left unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from salscope.data.loaders import load_folder, load_salicon
from salscope.errors import DataError, SalscopeError

LATIN1 = "image,x,y\ncafé,1,2\n".encode("latin-1")  # é as one byte 0xE9: not UTF-8


def _folder(root):
    for name, (h, w) in (("a", (10, 12)), ("1001", (10, 12))):
        p = root / "images" / f"{name}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(p)


def _salicon(root):
    p = root / "images" / "val" / "COCO_val2014_000000000001.jpg"
    p.parent.mkdir(parents=True)
    Image.fromarray(np.zeros((6, 9, 3), np.uint8)).save(p)


def _salicon_doc(annotations):
    return json.dumps({"images": [{"id": 1, "file_name": "COCO_val2014_000000000001.jpg"}],
                       "annotations": annotations}).encode()


CASES = [
    # generic folder, fixations.json
    ("folder", "fixations.json", b'{"1001": [1, 2, 3, 4]}', "image '1001': found a flat list of 4 numbers"),
    ("folder", "fixations.json", b'[[1, 2]]', "the top level is a JSON list; expected an object"),
    ("folder", "fixations.json", b'{"a": {"x": 1, "y": 2}}', "image 'a': fixations are a JSON dict; expected a list"),
    ("folder", "fixations.json", b'{"a": [{"x": 1}]}', "image 'a': fixation 0 has y=None"),
    ("folder", "fixations.json", b'{"a": [{"x": 1, "y": 2, "subject": 1.5}]}', "fixation 0 has subject=1.5"),
    ("folder", "fixations.json", b'{"a": [[1, 2], [3]]}', r"image 'a': found item 1 = \[3\]"),
    ("folder", "fixations.json", b'{"a": [[1, NaN]]}', "item 0 = "),
    ("folder", "fixations.json", b'{"a": [[1, 2]', "is not valid JSON"),
    ("folder", "fixations.json", '{"café": [[1, 2]]}'.encode("latin-1"), "is not UTF-8 text"),
    # generic folder, fixations.csv
    ("folder", "fixations.csv", LATIN1, "is not UTF-8 text"),
    ("folder", "fixations.csv", b"image,x,y\na,1\n", "line 2: 2 field\\(s\\) but the header has 3"),
    ("folder", "fixations.csv", b"image,x,y\na,1,2\na,1,2,3\n", "line 3: 4 field\\(s\\) but the header has 3"),
    ("folder", "fixations.csv", b"image,x,y\na,abc,2\n", "line 2: 'x' = 'abc' is not a number"),
    ("folder", "fixations.csv", b"image,x,y\na,1,\n", "line 2: empty 'y'"),
    ("folder", "fixations.csv", b"image,x,y,subject\na,1,2,1.5\n", "'subject' = '1.5' is not an integer"),
    ("folder", "fixations.csv", b"image,x,yy\na,1,2\n", "needs a header with columns image,x,y"),
    ("folder", "fixations.csv", b"", "needs a header with columns image,x,y"),
    ("folder", "fixations.csv", b"image,x,y\na,inf,2\n", "'x' = 'inf' is not finite"),
    # generic folder, meta.json (with a valid fixations.csv)
    ("folder", "meta.json", b'["ppd", 24]', "meta.json: expected a JSON object"),
    ("folder", "meta.json", b'{"ppd": 24', "is not valid JSON"),
    ("folder", "meta.json", '{"name": "é"}'.encode("latin-1"), "is not UTF-8 text"),
    # SALICON JSON
    ("salicon", "fixations_val2014.json", "{é".encode("latin-1"), "is not UTF-8 text"),
    ("salicon", "fixations_val2014.json", b'{"images": []}', "needs 'images' with id and file_name"),
    ("salicon", "fixations_val2014.json", b'{"images": [{"file_name": "x.jpg"}], "annotations": []}', "'id'"),
    ("salicon", "fixations_val2014.json", _salicon_doc([{"id": 4, "fixations": [[1, 1]]}]), "has no integer 'image_id'"),
    ("salicon", "fixations_val2014.json", _salicon_doc([{"id": 4, "image_id": 1, "fixations": [1, 1, 2, 2]}]),
     r"annotation 4: 'fixations' has shape \(4,\); expected a list of \[row, col\] pairs"),
    ("salicon", "fixations_val2014.json", _salicon_doc([{"id": 4, "image_id": 1, "worker_id": "w", "fixations": []}]),
     "worker_id 'w' is not an integer"),
]


@pytest.mark.parametrize("layout, name, content, fragment", CASES, ids=[f"{c[0]}-{c[1]}-{k}" for k, c in enumerate(CASES)])
def test_malformed_file_is_a_data_error_naming_it(tmp_path, layout, name, content, fragment):
    root = tmp_path / "set"
    if layout == "folder":
        _folder(root)
        if name == "meta.json":
            (root / "fixations.csv").write_text("image,x,y\na,1,2\n")
        load = lambda: load_folder(root)  # noqa: E731
    else:
        _salicon(root)
        load = lambda: load_salicon(root, "val")  # noqa: E731
    path = root / name
    path.write_bytes(content)
    with pytest.raises(SalscopeError, match=fragment) as err:
        load()
    assert isinstance(err.value, DataError)
    assert str(path) in str(err.value)
    assert path.read_bytes() == content  # the input is left as it was


def test_flat_list_message_gives_the_expected_layout(tmp_path):
    root = tmp_path / "set"
    _folder(root)
    (root / "fixations.json").write_text('{"1001": [1, 2, 3, 4]}')
    with pytest.raises(DataError) as err:
        load_folder(root)
    msg = str(err.value)
    assert "fixations.json" in msg and "'1001'" in msg and '[[x, y], ...]' in msg and '{"x": .., "y": ..' in msg


def test_utf8_with_bom_and_optional_columns_still_load(tmp_path):
    root = tmp_path / "set"
    _folder(root)
    (root / "fixations.csv").write_bytes("\ufeffimage,x,y,subject,order,duration\na,1,2,,,\n1001,3.5,4,2,0,250\n\n".encode("utf-8"))
    ds = load_folder(root)
    assert ds.fixations.x.tolist() == [1.0, 3.5] and ds.fixations.subject.tolist() == [-1, 2]
    assert ds.fixations.order.tolist() == [-1, 0] and np.isnan(ds.fixations.duration[0]) and ds.fixations.duration[1] == 250
    (root / "fixations.csv").unlink()
    (root / "fixations.json").write_text('{"a": [], "1001": [{"x": 1, "y": 2, "duration": null}]}')
    ds = load_folder(root)
    assert ds.ids == ["1001", "a"] and ds.fixations.n.tolist() == [0] and np.isnan(ds.fixations.duration[0])


@pytest.mark.parametrize("content, message", [
    (b"image_id,scene\n1001,beach\xff\n", "is not UTF-8"),
    (b"image_id,scene\n1001\n", "line 2: expected the columns"),
    (b"image_id,scene\n1001,beach,extra\n", "line 2: expected the columns"),
])
def test_scene_labels_bad_files(tmp_path, content, message):
    from salscope.data.scenes import load_scene_labels
    from salscope.errors import DataError

    path = tmp_path / "labels.csv"
    path.write_bytes(content)

    class _Stimuli:
        ids = ["1001"]

    with pytest.raises(DataError, match=message):
        load_scene_labels(path, _Stimuli())
    assert path.read_bytes() == content
