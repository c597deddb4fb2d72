"""Images read upright by their EXIF orientation, and image files found among files, folders and globs."""

from __future__ import annotations

from pathlib import PurePosixPath

import numpy as np
import pytest
from PIL import Image

from salscope.data import Stimuli, load_image
from salscope.data.image_files import find_images
from salscope.errors import DataError


def exif_jpeg(path, orientation, size=(20, 10)):
    """A W×H JPEG with a white block in its stored top-left corner and EXIF orientation ``orientation``."""
    w, h = size
    a = np.zeros((h, w, 3), np.uint8)
    a[:3, :4] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(a).save(path, "JPEG", quality=100, exif=exif)
    return path


@pytest.mark.parametrize("orientation, shape, rotate", [(1, (10, 20), 0), (3, (10, 20), 2), (6, (20, 10), -1), (8, (20, 10), 1)])
def test_exif_orientation_is_applied_on_load_and_in_sizes(tmp_path, orientation, shape, rotate):
    path = exif_jpeg(tmp_path / f"o{orientation}.jpg", orientation)
    with Image.open(path) as raw:                     # the stored pixels, as PIL decodes them without EXIF
        stored = np.asarray(raw.convert("RGB"))
    img = load_image(path)
    assert img.shape == shape + (3,)
    np.testing.assert_array_equal(img, np.rot90(stored, k=rotate))   # 6: 90° clockwise, 8: counter-clockwise
    assert Stimuli([path]).sizes == [shape]            # header sizes agree with the decoded image
    if orientation == 6:                               # the stored top-left block is now top-right
        assert img[:4, -3:].min() > 200 and img[-4:, :3].max() < 50


def test_broken_or_out_of_range_exif_reads_as_upright(tmp_path):
    bad = tmp_path / "bad.jpg"
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(bad, "JPEG", exif=b"Exif\x00\x00garbage")
    for path in (bad, exif_jpeg(tmp_path / "nine.jpg", 9, size=(6, 4))):   # orientation 9 does not exist
        assert load_image(path).shape == (4, 6, 3) and Stimuli([path]).sizes == [(4, 6)]


def _tree(root):
    for rel in ("a.png", "b.JPG", "notes.txt", ".DS_Store", "sub/c.png", "sub/deeper/d.jpeg", "sub/readme.md"):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.suffix.lower() in (".png", ".jpg", ".jpeg"):
            Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(p, "PNG" if p.suffix == ".png" else "JPEG")
        else:
            p.write_text("not an image")
    return root


def test_a_folder_gives_its_images_and_counts_the_rest(tmp_path):
    root = _tree(tmp_path / "imgs")
    got = find_images([root])
    assert got.paths == [root / "a.png", root / "b.JPG"] and got.names == [PurePosixPath("a.png"), PurePosixPath("b.JPG")]
    assert sorted(p.name for p in got.skipped) == [".DS_Store", "notes.txt"]
    deep = find_images([root], recursive=True)
    assert [str(n) for n in deep.names] == ["a.png", "b.JPG", "sub/c.png", "sub/deeper/d.jpeg"]
    assert len(deep.skipped) == 3
    with pytest.raises(DataError, match=r"2 input\(s\) are not image files \(.*\); .*drop --strict to skip them"):
        find_images([root], strict=True)


def test_globs_files_and_duplicates(tmp_path):
    root = _tree(tmp_path / "imgs")
    got = find_images([str(root / "*.png"), str(root / "a.png"), str(root / "**" / "*.png")])
    assert got.paths == [root / "a.png", root / "sub" / "c.png"] and not got.skipped   # a.png taken once
    assert find_images([str(root / "*")]).skipped == [root / "notes.txt"]              # folders a glob matches are passed over
    with pytest.raises(DataError, match=r"the pattern '.*\*\.gif' matches no file"):
        find_images([str(root / "*.gif")])
    with pytest.raises(DataError, match="input .*missing.jpg does not exist"):
        find_images([str(root / "missing.jpg")])
    with pytest.raises(DataError, match="no image files among the inputs"):
        find_images([root / "notes.txt"])
