"""Galleries of saliency maps for the report: the image, where people looked, and each model's map.

- :func:`natural_gallery`: per natural image the image, its fixations (all
  observers), their density (the evaluation's gold map) and each model's map,
  with the model's score on that image under it.
- :func:`popout_gallery`: per search array the array, its target (circled) and
  each model's map with the model's first fixation (the map's maximum) marked
  and whether it lands on the target (the item-level rule of
  :func:`salscope.analysis.popout.score_search_array` by default).

Maps are min–max normalised per image and drawn with the ``magma`` colour map
(bright = salient), resized to ``width`` pixels and written as JPEG (a few KB
each). Both functions return a JSON-able description (columns, rows of cells
with ``path``, ``alt`` and ``label``) that the report renders as a grid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw

from salscope.errors import AnalysisError
from salscope.io import write_bytes
from salscope.names import slug

GALLERY_WIDTH = 200
JPEG_QUALITY = 80


def _resized(image: np.ndarray, width: int) -> Image.Image:
    h, w = image.shape[:2]
    return Image.fromarray(image).resize((width, max(1, round(h * width / w))), Image.BILINEAR)


def colour_map(smap: np.ndarray) -> np.ndarray:
    """``smap`` min–max normalised and coloured with ``magma``: uint8 ``H×W×3`` (a flat map is black)."""
    from matplotlib import colormaps  # noqa: PLC0415

    m = np.asarray(smap, dtype=np.float64)
    m = np.where(np.isfinite(m), m, np.nanmin(m) if np.isfinite(m).any() else 0.0)
    lo, hi = float(m.min()), float(m.max())
    norm = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
    return (colormaps["magma"](norm)[..., :3] * 255).astype(np.uint8)


def _save(img: Image.Image, dest: Path) -> str:
    import io  # noqa: PLC0415

    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    write_bytes(dest, buf.getvalue())
    return str(dest)


def _dots(img: Image.Image, xs: np.ndarray, ys: np.ndarray, scale: float, colour=(255, 40, 40)) -> Image.Image:
    draw = ImageDraw.Draw(img)
    for x, y in zip(np.asarray(xs) * scale, np.asarray(ys) * scale):
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colour, outline=(255, 255, 255))
    return img


def spread(values: Sequence[Any], n: int) -> list[Any]:
    """``n`` items of ``values`` evenly spaced from the first to the last (all of them when there are fewer)."""
    if n < 1 or not values:
        return []
    keep = sorted(set(np.linspace(0, len(values) - 1, min(n, len(values))).round().astype(int).tolist()))
    return [values[k] for k in keep]


def natural_gallery(models: Sequence[Any], dataset: Any, indices: Sequence[int], out_dir: str | Path, *,
                    scores: Mapping[tuple[str, str], float] | None = None, metric: str = "",
                    width: int = GALLERY_WIDTH) -> dict[str, Any]:
    """Image, fixations, fixation density and each model's map for the images ``indices`` of ``dataset``.

    ``models``: anything :func:`salscope.analysis.evaluation.resolve_model`
    accepts except ``inter_observer`` (the density column is the human map).
    ``scores[(model, image_id)]``: the value written under a map (``metric``
    names it).
    """
    from salscope.analysis.evaluation import InterObserver, resolve_model  # noqa: PLC0415

    sources = [src for src in (resolve_model(m) for m in models) if not isinstance(src, InterObserver)]
    if not sources:
        raise AnalysisError("natural_gallery: no model to show")
    out_dir = Path(out_dir)
    columns = ["image", "fixations", "fixation density"] + [s.name for s in sources]
    rows = []
    for i in indices:
        image = dataset.stimuli[i]
        image_id = str(dataset.ids[i])
        fix = dataset.fixations.for_image(i)
        scale = width / image.shape[1]
        stem = out_dir / slug(image_id)
        cells = [{"path": _save(_resized(image, width), stem.with_name(f"{stem.name}-image.jpg")),
                  "alt": f"image {image_id}", "label": ""},
                 {"path": _save(_dots(_resized(image, width), fix.x, fix.y, scale),
                                stem.with_name(f"{stem.name}-fixations.jpg")),
                  "alt": f"image {image_id} with its {len(fix.x)} fixations", "label": f"{len(fix.x)} fixations"}]
        ppd = (getattr(dataset, "meta", None) or {}).get("ppd")
        # the evaluation's gold map: 1° of visual angle (image width / 32 when the data set gives no ppd)
        if not len(fix.x):
            density = np.zeros(image.shape[:2])
        elif ppd:
            density = dataset.fixations.density(i, image.shape[:2], sigma_deg=1.0, ppd=ppd)
        else:
            density = dataset.fixations.density(i, image.shape[:2], sigma_px=image.shape[1] / 32)
        cells.append({"path": _save(_resized(colour_map(density), width), stem.with_name(f"{stem.name}-density.jpg")),
                      "alt": f"fixation density of image {image_id}", "label": "humans"})
        for src in sources:
            smap = src.predict(dataset, i, image)[0]
            value = (scores or {}).get((src.name, image_id))
            label = f"{metric} {value:.2f}" if value is not None and np.isfinite(value) else ""
            cells.append({"path": _save(_resized(colour_map(smap), width),
                                        stem.with_name(f"{stem.name}-{slug(src.name)}.jpg")),
                          "alt": f"{src.name}'s saliency map of image {image_id}", "label": label})
        rows.append({"label": image_id, "cells": cells})
    return {"columns": columns, "rows": rows, "width": width}


def pick_arrays(entries: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[int]:
    """Index of one evaluated array per dimension: the first at that dimension's largest level (strongest pop-out)."""
    chosen = set(names)
    best: dict[str, tuple[int, int]] = {}
    for i, e in enumerate(entries):
        if e["name"] not in chosen:
            continue
        level = int(e.get("level", 0))
        if e["dimension"] not in best or level > best[e["dimension"]][0]:
            best[e["dimension"]] = (level, i)
    return [i for _, i in best.values()]


def popout_gallery(models: Mapping[str, Any], pset: Any, indices: Sequence[int], out_dir: str | Path, *,
                   hit: str = "item", width: int = GALLERY_WIDTH) -> dict[str, Any]:
    """Array, target and each model's map with its first fixation, for the arrays ``indices`` of ``pset``.

    ``models``: ``{name: model with saliency_map(image)}`` (centre priors off, as
    the pop-out evaluation builds them).
    """
    from salscope.analysis.popout.scoring import score_search_array  # noqa: PLC0415

    if not models:
        raise AnalysisError("popout_gallery: no model to show")
    out_dir = Path(out_dir)
    columns = ["array", "target"] + list(models)
    rows = []
    for i in indices:
        array = pset[i]
        name = str(pset.entries[i]["name"])
        meta = array.meta
        scale = width / array.image.shape[1]
        stem = out_dir / slug(name)
        tx, ty = array.target_xy
        r = (array.target_radius + 4) * scale
        target = _resized(array.image, width)
        ImageDraw.Draw(target).ellipse((tx * scale - r, ty * scale - r, tx * scale + r, ty * scale + r),
                                       outline=(230, 0, 0), width=2)
        cells = [{"path": _save(_resized(array.image, width), stem.with_name(f"{stem.name}-array.jpg")),
                  "alt": f"search array {name}", "label": ""},
                 {"path": _save(target, stem.with_name(f"{stem.name}-target.jpg")),
                  "alt": f"search array {name} with its target circled", "label": "target"}]
        for label, model in models.items():
            smap = np.asarray(model.saliency_map(array.image), dtype=np.float64)
            row = score_search_array(smap, array, hit=hit)
            y, x = np.unravel_index(int(np.argmax(smap)), smap.shape)
            pic = _resized(colour_map(smap), width)
            draw = ImageDraw.Draw(pic)
            cx, cy = (x + 0.5) * scale, (y + 0.5) * scale
            draw.line((cx - 6, cy, cx + 6, cy), fill=(0, 255, 255), width=2)
            draw.line((cx, cy - 6, cx, cy + 6), fill=(0, 255, 255), width=2)
            cells.append({"path": _save(pic, stem.with_name(f"{stem.name}-{slug(label)}.jpg")),
                          "alt": f"{label}'s saliency map of search array {name}, its first fixation marked",
                          "label": "first fixation on target" if row["found_first"] else "first fixation elsewhere"})
        rows.append({"label": f"{meta.get('dimension', '')} L{meta.get('level', '')}", "cells": cells})
    return {"columns": columns, "rows": rows, "width": width, "hit": hit}
