"""Region annotations: one :class:`Regions` (a list of :class:`Region` instances) per image.

Three formats, one module each, load into the same objects (:mod:`~salscope.data.regions.base`):

* :mod:`~salscope.data.regions.voc` — VOC-style class/instance PNG pairs
  (``SegmentationClass/<id>.png`` holding a category code per pixel,
  ``SegmentationObject/<id>.png`` holding instance ids 1..K, 0 = background),
  optionally with ``regions.json`` (per-instance category, code and extra fields)
  and ``categories.json`` — the layout of OSIE-SR and of ``data/osie-regions``.
  Label maps are read on first use, so loading 150 images' annotations costs
  only the JSON parse and PNG headers.
* :mod:`~salscope.data.regions.labelme` — labelme JSON (one file per image;
  polygons, rectangles, circles).
* :mod:`~salscope.data.regions.coco` — COCO JSON (polygons, uncompressed and
  compressed RLE; RLE decoding is implemented here, no pycocotools).

Instance masks are bool ``H×W`` and must match the image size. :func:`load_regions`
tells the format of a path.

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
from pathlib import Path

from salscope.data.regions.base import CATEGORIES, CATEGORY_CODES, CATEGORY_NAMES, Region, Regions
from salscope.data.regions.coco import load_coco, rle_counts_to_string, rle_decode, rle_encode, rle_string_to_counts
from salscope.data.regions.labelme import load_labelme
from salscope.data.regions.voc import load_voc_regions
from salscope.errors import DataError

__all__ = [
    "CATEGORIES", "CATEGORY_CODES", "CATEGORY_NAMES", "Region", "Regions", "load_coco", "load_labelme",
    "load_regions", "load_voc_regions", "rle_counts_to_string", "rle_decode", "rle_encode", "rle_string_to_counts",
]


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
