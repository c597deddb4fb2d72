"""The report's galleries: what each picture shows, on planted images, maps and search arrays."""

from __future__ import annotations

import numpy as np
from PIL import Image

from salscope.analysis.gallery import colour_map, natural_gallery, pick_arrays, popout_gallery, spread
from salscope.data.popout import make_search_array


class _Red:
    """A 'model' whose map is the image's redness (it finds the planted red squares)."""

    name = "red"

    def saliency_map(self, image):
        img = image.astype(float)
        return img[..., 0] - img[..., 1:].mean(-1)


class _Peak:
    """A map with one bump at ``(x, y)``."""

    def __init__(self, name, where):
        self.name, self.where = name, where

    def saliency_map(self, image):
        h, w = image.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        x, y = self.where
        return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 50.0)


class _Set:
    def __init__(self, arrays):
        self.arrays = arrays
        self.entries = [{"name": f"a{i}", "dimension": a.meta["dimension"], "level": a.meta["level"]}
                        for i, a in enumerate(arrays)]

    def __getitem__(self, i):
        return self.arrays[i]


def test_spread_and_colour_map():
    assert spread(list(range(10)), 3) == [0, 4, 9] and spread([5, 6], 4) == [5, 6] and spread([], 3) == []
    assert (colour_map(np.ones((4, 5))) == colour_map(np.zeros((4, 5)))).all()        # flat: one colour
    rgb = colour_map(np.arange(20.0).reshape(4, 5))
    assert rgb.shape == (4, 5, 3) and rgb[-1, -1].sum() > rgb[0, 0].sum()          # bright = salient


def test_natural_gallery_shows_fixations_density_and_each_map(planted, tmp_path):
    ds, _ = planted
    g = natural_gallery([_Red()], ds, [0, 5], tmp_path, scores={("red", "img00"): 2.5}, metric="NSS", width=80)
    assert g["columns"] == ["image", "fixations", "fixation density", "red"]
    assert [r["label"] for r in g["rows"]] == ["img00", "img05"]
    cells = g["rows"][0]["cells"]
    assert cells[1]["label"] == f"{len(ds.fixations.for_image(0).x)} fixations" and cells[3]["label"] == "NSS 2.50"
    assert g["rows"][1]["cells"][3]["label"] == ""                                    # no score given
    image = np.asarray(Image.open(cells[0]["path"])).astype(int)
    dots = np.asarray(Image.open(cells[1]["path"])).astype(int)
    assert image.shape == (64, 80, 3)
    fix = ds.fixations.for_image(0)
    changed = np.abs(dots - image).sum(-1) > 60
    r, c = np.clip(np.round(fix.y).astype(int), 0, 63), np.clip(np.round(fix.x).astype(int), 0, 79)
    assert changed[r, c].mean() > 0.8 and changed.mean() < 0.5                       # dots at the fixations only
    # the red model's map is brightest on the red square (the planted 'person head')
    red = np.asarray(Image.open(cells[3]["path"])).astype(int).sum(-1)
    rim = (image[..., 0] > 150) & (image[..., 1] < 80)
    assert red[rim].mean() > red[~rim].mean() + 100


def test_popout_gallery_marks_the_first_fixation_and_says_if_it_hit(tmp_path):
    arrays = [make_search_array("colour", 3, set_size=9, image_size=(120, 120), item_size=10, seed=1),
              make_search_array("size", 2, set_size=9, image_size=(120, 120), item_size=10, seed=2)]
    pset = _Set(arrays)
    assert pick_arrays(pset.entries, ["a0", "a1"]) == [0, 1]
    assert pick_arrays(pset.entries + [{"name": "a2", "dimension": "colour", "level": 4}], ["a0", "a2"]) == [2]
    target = arrays[0].target_xy
    centres, _, t = arrays[0].items()
    other = tuple(centres[(t + 1) % len(centres)])
    g = popout_gallery({"oracle": _Peak("oracle", target), "off": _Peak("off", other)}, pset, [0], tmp_path, width=120)
    assert g["columns"] == ["array", "target", "oracle", "off"] and g["rows"][0]["label"] == "colour L3"
    labels = [c["label"] for c in g["rows"][0]["cells"]]
    assert labels[2:] == ["first fixation on target", "first fixation elsewhere"]
    # the target picture circles the target in red, the array itself has no red ring
    ring = np.asarray(Image.open(g["rows"][0]["cells"][1]["path"])).astype(int)
    plain = np.asarray(Image.open(g["rows"][0]["cells"][0]["path"])).astype(int)
    assert (np.abs(ring - plain).sum(-1) > 80).sum() > 20
