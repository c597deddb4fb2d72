"""Region annotations: one :class:`Regions` (a list of :class:`Region` instances) per image.

Three formats load into the same objects:

* VOC-style class/instance PNG pairs (``SegmentationClass/<id>.png`` holding a
  category code per pixel, ``SegmentationObject/<id>.png`` holding instance ids
  1..K, 0 = background), optionally with ``regions.json`` (per-instance category,
  code and extra fields) and ``categories.json`` — the layout of OSIE-SR and of
  ``data/osie-regions``. Label maps are read on first use, so loading 150 images'
  annotations costs only the JSON parse and PNG headers.
* labelme JSON (one file per image; polygons, rectangles, circles).
* COCO JSON (polygons, uncompressed and compressed RLE; RLE decoding is
  implemented here, no pycocotools).

Instance masks are bool ``H×W`` and must match the image size.

References
----------
He, S., Tavakoli, H. R., Borji, A., Mi, Y., Pugeault, N. "Understanding and
Visualizing Deep Visual Saliency Models", CVPR 2019 (the 12 categories of OSIE-SR).
Lin, T.-Y. et al. "Microsoft COCO: Common Objects in Context", ECCV 2014 (RLE format;
``maskApi.c`` of pycocotools for the compressed string encoding).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from salscope.errors import DataError

#: The paper's 12 salient-region categories, as (name, code) — codes as in OSIE-SR.
CATEGORIES: list[tuple[str, int]] = [
    ("person head", 1), ("person part", 10), ("animal head", 16), ("animal part", 22),
    ("object", 27), ("text", 37), ("symbol", 46), ("vehicle", 51), ("food", 57),
    ("plant", 63), ("drink", 68), ("other", 73),
]
CATEGORY_CODES: dict[str, int] = dict(CATEGORIES)
CATEGORY_NAMES: dict[int, str] = {c: n for n, c in CATEGORIES}


class Region:
    """One annotated instance: ``instance`` id, ``category`` name, ``code`` and a bool ``mask``.

    The mask may be given or computed on first access (``mask_fn``), so a set of
    annotations does not hold every mask in memory at once. ``attrs`` keeps extra
    fields of the annotation file (``source``, ``n_fixations``, ...).
    """

    __slots__ = ("instance", "category", "code", "attrs", "_mask", "_mask_fn")

    def __init__(self, instance: int, category: str, code: int, mask: np.ndarray | None = None,
                 *, mask_fn: Callable[[], np.ndarray] | None = None, attrs: dict | None = None):
        if mask is None and mask_fn is None:
            raise DataError(f"Region {instance}: give a mask or a mask_fn")
        self.instance = int(instance)
        self.category = str(category)
        self.code = int(code)
        self.attrs = dict(attrs or {})
        self._mask = None if mask is None else np.asarray(mask, dtype=bool)
        self._mask_fn = mask_fn

    @property
    def mask(self) -> np.ndarray:
        if self._mask is not None:
            return self._mask
        return np.asarray(self._mask_fn(), dtype=bool)

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    def __repr__(self) -> str:
        return f"Region(instance={self.instance}, category={self.category!r}, code={self.code})"


@dataclass
class Regions:
    """The annotated instances of one image, with the image's ``shape`` (H, W)."""

    image_id: str
    instances: list[Region]
    shape: tuple[int, int]
    source: str = ""
    _label_fn: Callable[[], np.ndarray] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.instances)

    def __iter__(self) -> Iterator[Region]:
        return iter(self.instances)

    def __getitem__(self, k: int) -> Region:
        return self.instances[k]

    @property
    def categories(self) -> list[str]:
        return [r.category for r in self.instances]

    def by_category(self, category: str) -> list[Region]:
        """The instances of one category name."""
        return [r for r in self.instances if r.category == category]

    def instance_map(self) -> np.ndarray:
        """int64 ``H×W`` map: instance id per pixel, 0 = background (later instances on top)."""
        if self._label_fn is not None:
            return self._label_fn().astype(np.int64)
        out = np.zeros(self.shape, dtype=np.int64)
        for r in self.instances:
            out[r.mask] = r.instance
        return out

    def check_shape(self, shape: Sequence[int], where: str = "") -> None:
        """:class:`DataError` unless the masks are ``shape = (H, W)`` (the image's size)."""
        h, w = int(shape[0]), int(shape[1])
        if tuple(self.shape) != (h, w):
            raise DataError(
                f"regions of image {self.image_id}{' (' + where + ')' if where else ''}: masks are "
                f"{self.shape[1]}x{self.shape[0]} but the image is {w}x{h} (WxH); annotate at the image's size"
            )


def _check_against(regions: dict[str, Regions], stimuli) -> None:
    if stimuli is None:
        return
    ids = stimuli.ids
    sizes = stimuli.sizes
    pos = {i: k for k, i in enumerate(ids)}
    for image_id, reg in regions.items():
        if image_id not in pos:
            raise DataError(f"regions for image {image_id!r} ({reg.source}) but the stimuli have no such image; "
                            "check the file names or pass the matching stimuli")
        reg.check_shape(sizes[pos[image_id]], reg.source)


def _read_png_header_size(path: Path) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(im.size[1]), int(im.size[0])
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"cannot read label image {path} ({exc}); replace the file") from exc


def _read_label_png(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

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
    _check_against(out, stimuli)
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


# --------------------------------------------------------------------------- labelme
def _category_of(label: str, categories: dict[str, int]) -> tuple[str, int]:
    key = label.strip().lower()
    if key in categories:
        return key, categories[key]
    # labelme users often number instances: "person head-2", "text 3"
    base = key.rstrip("0123456789").rstrip(" -_#")
    if base in categories:
        return base, categories[base]
    raise DataError(f"label {label!r} is not a known category ({', '.join(categories)}); "
                    "rename it or pass categories={name: code}")


def _pil_mask(shape: tuple[int, int], draw: Callable) -> np.ndarray:
    from PIL import Image, ImageDraw

    im = Image.new("1", (shape[1], shape[0]), 0)
    draw(ImageDraw.Draw(im))
    return np.asarray(im, dtype=bool)


def _labelme_shape_mask(shape: tuple[int, int], sh: dict, path: Path) -> np.ndarray:
    pts = np.asarray(sh.get("points", []), dtype=np.float64).reshape(-1, 2)
    kind = sh.get("shape_type") or "polygon"
    xy = [tuple(p) for p in pts.tolist()]
    if kind == "polygon" and len(xy) >= 3:
        return _pil_mask(shape, lambda d: d.polygon(xy, outline=1, fill=1))
    if kind == "rectangle" and len(xy) == 2:
        (x0, y0), (x1, y1) = xy
        box = [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]
        return _pil_mask(shape, lambda d: d.rectangle(box, outline=1, fill=1))
    if kind == "circle" and len(xy) == 2:
        (cx, cy), (px, py) = xy
        r = float(np.hypot(px - cx, py - cy))
        return _pil_mask(shape, lambda d: d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=1, fill=1))
    raise DataError(f"{path}: shape {sh.get('label')!r} of type {kind!r} with {len(xy)} points cannot be filled; "
                    "use polygon (>= 3 points), rectangle or circle")


def load_labelme(paths: str | os.PathLike | Sequence[str | os.PathLike], stimuli=None,
                 categories: dict[str, int] | None = None) -> dict[str, Regions]:
    """Load labelme JSON files (a file, a folder of them, or a list) → ``{image_id: Regions}``.

    Each shape is one instance; shapes sharing a ``group_id`` and label are merged
    into one instance. Labels map to category codes through ``categories``
    (default: the paper's 12, case-insensitive, trailing instance numbers ignored).
    Shapes are filled as labelme itself does (PIL polygon fill with outline).
    The image id is the stem of ``imagePath``.
    """
    cats = {k.lower(): int(v) for k, v in (categories or CATEGORY_CODES).items()}
    if isinstance(paths, (str, os.PathLike)):
        p = Path(paths)
        files = sorted(p.glob("*.json")) if p.is_dir() else [p]
    else:
        files = [Path(p) for p in paths]
    if not files:
        raise DataError(f"no labelme .json files in {paths}")
    out: dict[str, Regions] = {}
    for path in files:
        try:
            doc = json.loads(path.read_text())
            shape = (int(doc["imageHeight"]), int(doc["imageWidth"]))
            shapes = doc["shapes"]
        except FileNotFoundError:
            raise DataError(f"labelme file {path} does not exist") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{path} is not a labelme JSON (needs imageHeight, imageWidth, shapes): {exc}") from exc
        image_id = Path(str(doc.get("imagePath") or path.stem).replace("\\", "/")).stem
        groups: dict[Any, list[dict]] = {}
        for k, sh in enumerate(shapes):
            gid = sh.get("group_id")
            key = (sh.get("label"), gid) if gid is not None else ("__single__", k)
            groups.setdefault(key, []).append(sh)
        instances = []
        for inst, members in enumerate(groups.values(), start=1):
            name, code = _category_of(str(members[0].get("label", "")), cats)
            mask = np.zeros(shape, dtype=bool)
            for sh in members:
                mask |= _labelme_shape_mask(shape, sh, path)
            instances.append(Region(inst, name, code, mask, attrs={"label": members[0].get("label")}))
        if image_id in out:
            raise DataError(f"two labelme files annotate image {image_id!r} ({path}); keep one per image")
        out[image_id] = Regions(image_id, instances, shape, source=str(path))
    _check_against(out, stimuli)
    return out


# --------------------------------------------------------------------------- COCO
def rle_string_to_counts(s: str | bytes) -> list[int]:
    """Decode a COCO compressed RLE string into run lengths.

    Each count is stored as a LEB128-like sequence of 6-bit characters (offset 48):
    5 data bits and a continuation bit (0x20); the last chunk's bit 0x10 is the sign.
    From the third count on, the stored value is the difference to the count two
    places back (pycocotools ``rleFrString``).
    """
    if isinstance(s, bytes):
        s = s.decode("ascii")
    counts: list[int] = []
    p, n = 0, len(s)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                raise DataError("COCO RLE string ends inside a count; the annotation is truncated")
            c = ord(s[p]) - 48
            if not 0 <= c < 64:
                raise DataError(f"COCO RLE string has an invalid character {s[p]!r}")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rle_counts_to_string(counts: Sequence[int]) -> str:
    """Encode run lengths as a COCO compressed RLE string (inverse of :func:`rle_string_to_counts`)."""
    out = []
    for i, c in enumerate(counts):
        x = int(c) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5
            more = (x != -1) if (ch & 0x10) else (x != 0)
            if more:
                ch |= 0x20
            out.append(chr(ch + 48))
    return "".join(out)


def rle_decode(rle: dict) -> np.ndarray:
    """COCO RLE (``{"size": [h, w], "counts": list | str}``) → bool ``H×W`` mask.

    Runs alternate 0, 1, 0, ... starting with zeros, over the pixels in column-major
    (Fortran) order; they must sum to ``h * w``.
    """
    try:
        h, w = (int(v) for v in rle["size"])
        counts = rle["counts"]
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"COCO RLE needs 'size' [h, w] and 'counts' ({exc})") from exc
    if isinstance(counts, (str, bytes)):
        counts = rle_string_to_counts(counts)
    counts = np.asarray(counts, dtype=np.int64)
    if (counts < 0).any() or counts.sum() != h * w:
        raise DataError(f"COCO RLE counts sum to {int(counts.sum())} with negatives={bool((counts < 0).any())}, "
                        f"but the mask has {h}x{w}={h * w} pixels; the annotation is corrupt")
    values = (np.arange(counts.size) % 2).astype(bool)
    flat = np.repeat(values, counts)
    return flat.reshape(w, h).T.copy()


def rle_encode(mask: np.ndarray) -> dict:
    """bool ``H×W`` mask → COCO RLE with uncompressed ``counts`` (column-major runs, zeros first)."""
    m = np.asarray(mask, dtype=bool)
    flat = m.T.ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs = [0] + runs
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": runs}


def _polygon_mask(shape: tuple[int, int], polys: Sequence[Sequence[float]]) -> np.ndarray:
    from matplotlib.path import Path as MplPath

    h, w = shape
    mask = np.zeros(shape, dtype=bool)
    for poly in polys:
        xy = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        if xy.shape[0] < 3:
            raise DataError(f"COCO polygon with {xy.shape[0]} points; a polygon needs at least 3")
        # COCO polygons are in pixel-corner coordinates (pixel i spans [i, i+1)); a pixel
        # belongs to the region when its centre (i + 0.5) is inside the polygon. Only the
        # polygon's bounding box is tested.
        c0, c1 = max(int(np.floor(xy[:, 0].min())), 0), min(int(np.ceil(xy[:, 0].max())), w)
        r0, r1 = max(int(np.floor(xy[:, 1].min())), 0), min(int(np.ceil(xy[:, 1].max())), h)
        if c1 <= c0 or r1 <= r0:
            continue
        cc, rr = np.meshgrid(np.arange(c0, c1) + 0.5, np.arange(r0, r1) + 0.5)
        inside = MplPath(xy).contains_points(np.column_stack([cc.ravel(), rr.ravel()]))
        mask[r0:r1, c0:c1] |= inside.reshape(r1 - r0, c1 - c0)
    return mask


def load_coco(json_path: str | os.PathLike, stimuli=None, categories: dict[str, int] | None = None) -> dict[str, Regions]:
    """Load COCO instance annotations (polygons and RLE) → ``{image_id: Regions}``.

    The image id is the stem of ``file_name``. A COCO category whose name is one of
    ``categories`` (default: the paper's 12) takes that code; otherwise the COCO
    ``category_id`` is the code. Instances are numbered 1..K per image in file order.
    """
    path = Path(json_path)
    cats = {k.lower(): int(v) for k, v in (categories or CATEGORY_CODES).items()}
    try:
        doc = json.loads(path.read_text())
        images = {int(im["id"]): im for im in doc["images"]}
        coco_cats = {int(c["id"]): str(c["name"]) for c in doc.get("categories", [])}
        anns = doc["annotations"]
    except FileNotFoundError:
        raise DataError(f"COCO file {path} does not exist") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path} is not a COCO annotation file (needs images, annotations): {exc}") from exc
    out: dict[str, Regions] = {}
    by_image: dict[int, list[dict]] = {}
    for a in anns:
        by_image.setdefault(int(a["image_id"]), []).append(a)
    for img_id, im in images.items():
        image_id = Path(str(im.get("file_name", img_id))).stem
        shape = (int(im["height"]), int(im["width"]))
        instances = []
        for k, a in enumerate(by_image.get(img_id, []), start=1):
            cid = int(a["category_id"])
            name = coco_cats.get(cid, str(cid))
            code = cats.get(name.lower(), cid)
            seg = a.get("segmentation")
            if isinstance(seg, dict):
                mask = rle_decode(seg)
                if mask.shape != shape:
                    raise DataError(f"{path}: annotation {a.get('id')} RLE is {mask.shape[1]}x{mask.shape[0]} "
                                    f"but image {image_id} is {shape[1]}x{shape[0]} (WxH)")
            elif isinstance(seg, list) and seg:
                mask = _polygon_mask(shape, seg)
            else:
                raise DataError(f"{path}: annotation {a.get('id')} has no polygon or RLE segmentation")
            instances.append(Region(k, name, code, mask, attrs={"coco_id": a.get("id"), "iscrowd": a.get("iscrowd", 0)}))
        out[image_id] = Regions(image_id, instances, shape, source=str(path))
    missing = sorted(set(by_image) - set(images))
    if missing:
        raise DataError(f"{path}: annotations refer to unknown image ids {missing[:5]}")
    _check_against(out, stimuli)
    return out


def load_regions(path: str | os.PathLike, stimuli=None) -> dict[str, Regions]:
    """Load regions in whichever format ``path`` holds (VOC folder, labelme file/folder, COCO JSON)."""
    p = Path(path)
    if p.is_dir() and (p / "SegmentationObject").is_dir():
        return load_voc_regions(p, stimuli)
    if p.is_dir():
        return load_labelme(p, stimuli)
    if p.suffix.lower() == ".json" and p.is_file():
        try:
            doc = json.loads(p.read_text())
        except ValueError as exc:
            raise DataError(f"{p} is not valid JSON ({exc})") from exc
        if isinstance(doc, dict) and "annotations" in doc:
            return load_coco(p, stimuli)
        return load_labelme(p, stimuli)
    raise DataError(f"cannot tell the region format of {p}: expected a VOC folder, labelme JSON(s) or a COCO JSON")
