"""VOC-style class/instance PNG pairs (the layout of OSIE-SR and ``data/osie-regions``).

``SegmentationClass/<id>.png`` holds a category code per pixel,
``SegmentationObject/<id>.png`` instance ids 1..K (0 = background), optionally
with ``regions.json`` (per-instance category, code and extra fields) and
``categories.json``. Label maps are read on first use, so loading 150 images'
annotations costs only the JSON parse and PNG headers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from salscope.data.regions.base import CATEGORY_NAMES, Region, Regions, check_against
from salscope.errors import DataError


def _read_png_header_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as im:
            return int(im.size[1]), int(im.size[0])
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"cannot read label image {path} ({exc}); replace the file") from exc


def _read_label_png(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "P", "I", "I;16"):
                raise DataError(f"label image {path} has mode {im.mode}; a one-channel label PNG is needed")
            return np.asarray(im)
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"cannot read label image {path} ({exc}); replace the file") from exc


def _load_categories(folder: Path) -> dict[int, str]:
    path = folder / "categories.json"
    if not path.is_file():
        return dict(CATEGORY_NAMES)
    try:
        items = json.loads(path.read_text())
        return {int(it["code"]): str(it["name"]) for it in items}
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: expected a list of {{'name', 'code'}} objects ({exc})") from exc


def load_voc_regions(folder: str | os.PathLike, stimuli=None) -> dict[str, Regions]:
    """Load VOC-style class/instance PNG pairs from ``folder`` → ``{image_id: Regions}``.

    For each ``SegmentationObject/<id>.png``, instance ``k``'s mask is ``obj == k``
    and its code is the (single) value of ``SegmentationClass/<id>.png`` under it.
    When ``regions.json`` exists it lists the instances (category, code, extra
    fields) and is checked against the PNGs when a mask is first read. With
    ``stimuli`` given, every annotated image must be one of them, of the same size.
    """
    folder = Path(folder)
    cls_dir, obj_dir = folder / "SegmentationClass", folder / "SegmentationObject"
    for d in (cls_dir, obj_dir):
        if not d.is_dir():
            raise DataError(f"region folder {folder} lacks {d.name}/; expected VOC-style SegmentationClass/ and SegmentationObject/")
    names = _load_categories(folder)
    listing = None
    if (folder / "regions.json").is_file():
        try:
            listing = json.loads((folder / "regions.json").read_text())
        except ValueError as exc:
            raise DataError(f"{folder / 'regions.json'} is not valid JSON ({exc})") from exc
    out: dict[str, Regions] = {}
    for obj_path in sorted(obj_dir.glob("*.png")):
        image_id = obj_path.stem
        cls_path = cls_dir / obj_path.name
        if not cls_path.is_file():
            raise DataError(f"{obj_path} has no class map {cls_path}; each instance PNG needs its class PNG")
        shape = _read_png_header_size(obj_path)
        if _read_png_header_size(cls_path) != shape:
            raise DataError(f"{cls_path} and {obj_path} differ in size; both must be the image's size")
        out[image_id] = _voc_regions(image_id, obj_path, cls_path, shape, names,
                                     None if listing is None else listing.get(image_id))
    if listing is not None:
        extra = sorted(set(listing) - set(out))
        if extra:
            raise DataError(f"{folder / 'regions.json'} lists images without PNGs: {extra[:5]}")
    if not out:
        raise DataError(f"no annotation PNGs in {obj_dir}")
    check_against(out, stimuli)
    return out


def _voc_regions(image_id, obj_path, cls_path, shape, names, listed) -> Regions:
    cache: dict[str, np.ndarray] = {}

    def maps() -> tuple[np.ndarray, np.ndarray]:
        if "obj" not in cache:
            obj, cls = _read_label_png(obj_path), _read_label_png(cls_path)
            if (obj > 0).sum() != ((obj > 0) & (cls > 0)).sum() or (cls > 0).sum() != (obj > 0).sum():
                raise DataError(f"{obj_path} and {cls_path}: non-zero pixels differ; each instance pixel needs a class")
            if listed is not None:
                found = set(np.unique(obj[obj > 0]).tolist())
                expected = {int(it["instance"]) for it in listed}
                if found != expected:
                    raise DataError(f"{obj_path} holds instances {sorted(found)} but regions.json lists "
                                    f"{sorted(expected)} for image {image_id}; make them agree")
            cache["obj"], cache["cls"] = obj, cls
        return cache["obj"], cache["cls"]

    def check_instance(k: int, code: int) -> np.ndarray:
        obj, cls = maps()
        m = obj == k
        codes = np.unique(cls[m])
        if codes.size != 1 or int(codes[0]) != code:
            raise DataError(f"{image_id}: instance {k} has class codes {codes.tolist()} in {cls_path}, expected [{code}]")
        return m

    if listed is not None:
        instances = []
        for it in listed:
            try:
                k, code = int(it["instance"]), int(it["code"])
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"regions.json, image {image_id}: entry {it} lacks instance/code ({exc})") from exc
            cat = str(it.get("category", names.get(code, str(code))))
            attrs = {a: v for a, v in it.items() if a not in ("instance", "category", "code")}
            instances.append(Region(k, cat, code, mask_fn=lambda k=k, code=code: check_instance(k, code), attrs=attrs))
    else:
        obj, cls = maps()
        # the class of an instance is the class value at its first pixel (checked in full on mask access)
        values, first = np.unique(obj.ravel(), return_index=True)
        keep = values > 0
        instances = []
        for k, pos in zip(values[keep].tolist(), first[keep].tolist()):
            code = int(cls.ravel()[pos])
            instances.append(Region(k, names.get(code, str(code)), code,
                                    mask_fn=lambda k=k, code=code: check_instance(k, code)))
    return Regions(image_id, instances, shape, source=str(obj_path), _label_fn=lambda: maps()[0])
