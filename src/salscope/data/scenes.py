"""Scene-class labels per image (CSV ``image_id,scene``), aligned with a :class:`Stimuli`."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from salscope.errors import DataError


def load_scene_labels(csv_path: str | os.PathLike, stimuli, *, allow_extra: bool = False,
                      class_names: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Read ``image_id,scene`` rows → (int64 label per stimulus, class names).

    ``labels[i]`` is the index into ``class_names`` of the scene of ``stimuli[i]``.
    Class names are sorted alphabetically unless ``class_names`` fixes the order.
    Every stimulus must have exactly one label; a CSV id that is not among the
    stimuli is an error unless ``allow_extra=True`` (e.g. when ``stimuli`` is a split).
    """
    path = Path(csv_path)
    if not path.is_file():
        raise DataError(f"scene label file {path} does not exist; point to labels.csv (columns image_id,scene)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV") from None
    except OSError as exc:
        raise DataError(f"{path} could not be read ({exc.strerror}); check its permissions") from None
    import io  # noqa: PLC0415

    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"image_id", "scene"} <= set(reader.fieldnames):
            raise DataError(f"{path}: needs a header with columns image_id,scene (found {reader.fieldnames})")
        table: dict[str, str] = {}
        for line, row in enumerate(reader, start=2):
            if None in row or any(v is None for v in row.values()):
                raise DataError(f"{path}, line {line}: expected the columns {reader.fieldnames}, got a row of another "
                                "length; fix that row")
            image_id, scene = (row["image_id"] or "").strip(), (row["scene"] or "").strip()
            if not image_id or not scene:
                raise DataError(f"{path}, line {line}: empty image_id or scene")
            if image_id in table:
                raise DataError(f"{path}, line {line}: image {image_id} labelled twice; keep one row per image")
            table[Path(image_id).stem] = scene
    ids = stimuli.ids
    known = set(ids)
    extra = sorted(set(table) - known)
    if extra and not allow_extra:
        raise DataError(f"{path}: {len(extra)} image id(s) not among the stimuli, e.g. {extra[:5]}; fix the ids "
                        "or pass allow_extra=True when labelling a subset")
    missing = [i for i in ids if i not in table]
    if missing:
        raise DataError(f"{path}: no scene label for {len(missing)} image(s), e.g. {missing[:5]}; add rows for them")
    names = sorted({table[i] for i in ids} if class_names is None else class_names)
    if class_names is not None:
        names = list(class_names)
        unknown = sorted({table[i] for i in ids} - set(names))
        if unknown:
            raise DataError(f"{path}: scene classes {unknown} are not in class_names={names}")
    pos = {n: k for k, n in enumerate(names)}
    labels = np.array([pos[table[i]] for i in ids], dtype=np.int64)
    return labels, names
