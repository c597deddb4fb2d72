"""labelme JSON annotations (one file per image; polygons, rectangles, circles)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from salscope.data.regions.base import CATEGORY_CODES, Region, Regions, check_against
from salscope.errors import DataError


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
    check_against(out, stimuli)
    return out
