"""COCO instance annotations: polygons, uncompressed and compressed RLE (decoded here, no pycocotools).

References
----------
Lin, T.-Y. et al. "Microsoft COCO: Common Objects in Context", ECCV 2014 (RLE format;
``maskApi.c`` of pycocotools for the compressed string encoding).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.path import Path as MplPath

from salscope.data.regions.base import CATEGORY_CODES, Region, Regions, check_against
from salscope.errors import DataError


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
    check_against(out, stimuli)
    return out
