"""A generic folder of images with fixations as CSV, JSON or binary fixation-map PNGs (salscope's own layout)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from salscope.data.dataset import Dataset
from salscope.data.fixations import Fixations
from salscope.data.loaders._common import check_ppd, fixations_from_maps, image_files, read_json, read_text, stimuli_for
from salscope.errors import DataError

_FOLDER_JSON_LAYOUT = ('{"<image id>": [[x, y], ...]} or {"<image id>": [{"x": .., "y": ..[, "subject", "order", '
                       '"duration"]}, ...]}')


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _folder_csv(src: Path, index_of) -> Fixations:
    """Fixations from a generic folder's ``fixations.csv`` (header ``image,x,y[,subject,order,duration]``)."""
    reader = csv.reader(io.StringIO(read_text(src, "fixation table"), newline=""))
    header = [h.strip() for h in next(reader, [])]
    if not {"image", "x", "y"} <= set(header):
        raise DataError(f"{src}: needs a header with columns image,x,y[,subject,order,duration] (found {header})")
    if len(set(header)) != len(header):
        raise DataError(f"{src}: header {header} names a column twice; keep one of each")
    at = {h: k for k, h in enumerate(header)}
    cols: dict[str, list] = {"image": [], "x": [], "y": [], "subject": [], "order": [], "duration": []}
    for row in reader:
        line = reader.line_num
        if not row or all(not v.strip() for v in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{src} line {line}: {len(row)} field(s) but the header has {len(header)} "
                            f"({','.join(header)}); give every column (leave optional ones empty)")
        cols["image"].append(index_of(row[at["image"]].strip(), f"{src} line {line}"))
        for name, kind, default in (("x", float, None), ("y", float, None), ("subject", int, -1),
                                    ("order", int, -1), ("duration", float, np.nan)):
            text = row[at[name]].strip() if name in at else ""
            if not text:
                if default is None:
                    raise DataError(f"{src} line {line}: empty '{name}'; every fixation needs x and y")
                cols[name].append(default)
                continue
            try:
                value = kind(text)
            except ValueError:
                raise DataError(f"{src} line {line}: '{name}' = {text!r} is not a{'n integer' if kind is int else ' number'}") from None
            if kind is float and name != "duration" and not np.isfinite(value):
                raise DataError(f"{src} line {line}: '{name}' = {text!r} is not finite")
            cols[name].append(value)
    return Fixations(cols["x"], cols["y"], cols["image"], cols["subject"], cols["order"], cols["duration"])


def _folder_json(src: Path, index_of) -> Fixations:
    """Fixations from a generic folder's ``fixations.json`` (the two layouts of :data:`_FOLDER_JSON_LAYOUT`)."""
    doc = read_json(src, "fixation file")
    if not isinstance(doc, dict):
        raise DataError(f"{src}: the top level is a JSON {type(doc).__name__}; expected an object {_FOLDER_JSON_LAYOUT}")
    parts = []
    for image, items in doc.items():
        i = index_of(image, str(src))
        where = f"{src}: image {image!r}"
        if not isinstance(items, list):
            raise DataError(f"{where}: fixations are a JSON {type(items).__name__}; expected a list, as in {_FOLDER_JSON_LAYOUT}")
        if not items:
            continue
        if all(isinstance(it, dict) for it in items):
            xs, ys, subj, order, dur = [], [], [], [], []
            for k, it in enumerate(items):
                for key in ("x", "y"):
                    if not _is_number(it.get(key)) or not np.isfinite(it[key]):
                        raise DataError(f"{where}: fixation {k} has {key}={it.get(key)!r}; every fixation needs finite "
                                        "numbers x and y")
                for key, out, default, ok in (("subject", subj, -1, float.is_integer), ("order", order, -1, float.is_integer),
                                              ("duration", dur, np.nan, lambda v: True)):
                    v = it.get(key, default)
                    if v is None:
                        v = default
                    if not _is_number(v) or not ok(float(v)):
                        raise DataError(f"{where}: fixation {k} has {key}={v!r}; expected a{'n integer' if key != 'duration' else ' number'}")
                    out.append(v)
                xs.append(it["x"])
                ys.append(it["y"])
            parts.append(Fixations(xs, ys, np.full(len(xs), i), subj, order, dur))
        elif all(isinstance(it, list) and len(it) == 2 and all(_is_number(v) and np.isfinite(v) for v in it) for it in items):
            pts = np.asarray(items, dtype=np.float64)
            parts.append(Fixations(pts[:, 0], pts[:, 1], np.full(len(pts), i)))
        else:
            if all(_is_number(v) for v in items):
                kind = f"a flat list of {len(items)} numbers"
            else:
                k = next(k for k, it in enumerate(items)
                         if not (isinstance(it, list) and len(it) == 2 and all(_is_number(v) and np.isfinite(v) for v in it)))
                kind = f"item {k} = {items[k]!r:.40}"
            raise DataError(f"{where}: found {kind} ({str(items)[:60]}); expected a list of [x, y] pairs or of "
                            f"{{\"x\": .., \"y\": ..}} objects, as in {_FOLDER_JSON_LAYOUT}")
    return Fixations.concatenate(parts)


def load_folder(path: str | os.PathLike, *, name: str | None = None) -> Dataset:
    """Load a generic folder: images plus fixations as CSV, JSON or binary fixation-map PNGs.

    Layout (coordinates in salscope's convention: 0-based, x = column)::

        <path>/images/<id>.<jpg|png|...>       (or stimuli/)
        <path>/fixations.csv                    UTF-8, header image,x,y[,subject,order,duration];
                                                every row has every column (optional ones may be empty)
        <path>/fixations.json                   {"<id>": [[x, y], ...]}
                                                or {"<id>": [{"x":..,"y":..[,"subject","order","duration"]}, ...]}
        <path>/fixation_maps/<id>.png           non-zero pixel = one fixation
        <path>/meta.json                        optional: {"ppd": .., "name": ..}

    Exactly one of the three fixation sources must be present. A file that is not
    UTF-8, a CSV row with missing fields, or JSON of another shape (such as a
    flat list ``[x1, y1, x2, y2]``) raises :class:`DataError` naming the file,
    the line or image id, and the expected layout.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"data folder {root} does not exist")
    img_dir = next((d for d in (root / "images", root / "stimuli") if d.is_dir()), None)
    if img_dir is None:
        raise DataError(f"{root} has no images/ (or stimuli/) folder")
    stimuli = stimuli_for(image_files(img_dir), f"folder {img_dir}")
    pos = {i: k for k, i in enumerate(stimuli.ids)}
    sources = [p for p in (root / "fixations.csv", root / "fixations.json", root / "fixation_maps") if p.exists()]
    if len(sources) != 1:
        raise DataError(f"{root}: need exactly one of fixations.csv, fixations.json, fixation_maps/ (found "
                        f"{[p.name for p in sources] or 'none'})")
    src = sources[0]

    def index_of(image: str, where: str) -> int:
        key = Path(str(image)).stem
        if key not in pos:
            raise DataError(f"{where}: image {image!r} is not in {img_dir}")
        return pos[key]

    if src.name == "fixations.csv":
        fix = _folder_csv(src, index_of)
    elif src.name == "fixations.json":
        fix = _folder_json(src, index_of)
    else:
        maps = []
        for image_id in stimuli.ids:
            mp = next((src / f"{image_id}{ext}" for ext in (".png", ".PNG") if (src / f"{image_id}{ext}").is_file()), None)
            if mp is None:
                raise DataError(f"no fixation map {src / (image_id + '.png')} for image {image_id}")
            maps.append(mp)
        fix = fixations_from_maps(maps, [f"image {i}" for i in stimuli.ids], stimuli.sizes, 0)
    meta: dict = {"source": str(root)}
    if (root / "meta.json").is_file():
        extra = read_json(root / "meta.json", "meta file")
        if not isinstance(extra, dict):
            raise DataError(f"{root / 'meta.json'}: expected a JSON object such as {{\"ppd\": 24, \"name\": \"mine\"}}")
        if "ppd" in extra:
            extra["ppd"] = check_ppd(extra["ppd"], str(root / "meta.json"))
        meta.update(extra)
    return Dataset(name or meta.get("name") or root.name, stimuli, fix, meta)
