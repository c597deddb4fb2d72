"""SALICON (Jiang et al. 2015): mouse-contingent "fixations" on COCO images, JSON (2015) or MATLAB (2017) release."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from salscope.data.dataset import Dataset
from salscope.data.fixations import Fixations
from salscope.data.loaders._common import drop_or_raise, image_files, loadmat, read_json, stimuli_for
from salscope.errors import DataError

SALICON_PPD = 24.0  # not an eye-tracker set-up: mouse tracking on 640x480 images; nominal


def _salicon_json_points(points, path: Path, ann_id) -> np.ndarray:
    """K×2 ``(x, y)`` from a SALICON JSON annotation's ``fixations``: 1-based ``[row, col]`` pairs.

    salicon-api ``salicon/salicon.py`` (NUS-VIP), ``SALICON.buildFixMap``:
    ``for y, x in merged_fixations: sal_map[y-1][x-1] = 1``.
    """
    try:
        pts = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: annotation {ann_id}: 'fixations' is not a list of [row, col] number pairs ({exc})") from exc
    if pts.size == 0:
        return np.zeros((0, 2))
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise DataError(f"{path}: annotation {ann_id}: 'fixations' has shape {pts.shape}; expected a list of "
                        "[row, col] pairs (1-based, as salicon-api's buildFixMap reads them)")
    return np.column_stack([pts[:, 1] - 1.0, pts[:, 0] - 1.0])


def _salicon_mat_points(entry, path: Path, observer: int) -> np.ndarray:
    """K×2 ``(x, y)`` from one ``gaze`` entry of a SALICON 2017 ``.mat`` file: 1-based ``[x, y]`` columns.

    pysaliency ``external_datasets/salicon.py`` (``_get_SALICON_fixations``) reads
    ``gaze[k]['fixations'][:, 0] - 1`` as x and ``[:, 1] - 1`` as y ("matlab: one-based indexing").
    """
    try:
        pts = np.asarray(entry["fixations"], dtype=np.float64)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise DataError(f"{path}: gaze({observer + 1}) has no numeric 'fixations' field as in the SALICON 2017 "
                        f"release ({exc})") from exc
    if pts.size == 0:
        return np.zeros((0, 2))
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise DataError(f"{path}: gaze({observer + 1}).fixations has shape {pts.shape}; expected K x 2 [x, y] (1-based)")
    return pts - 1.0


def load_salicon(path: str | os.PathLike, split: str = "train", *, drop_outside: bool = False) -> Dataset:
    """Load a SALICON split (Jiang et al. 2015): images plus mouse-contingent "fixations".

    Images: ``images/<split>/*.jpg`` (or ``<split>/*.jpg``). Fixations, first found of:

    * ``fixations_<split>2014.json`` (also under ``annotations/``): the COCO-style
      release read by the official ``salicon-api``: ``images`` (id, file_name,
      width, height) and ``annotations`` (image_id, worker_id, ``fixations``: a list
      of points). The API's ``SALICON.buildFixMap`` sets ``map[y-1][x-1] = 1`` for
      each ``[y, x]`` point, so a point is ``[row, column]`` in 1-based pixels; it
      becomes ``x = column - 1``, ``y = row - 1``.
    * ``fixations/<split>/<name>.mat`` (2017 release): a struct array ``gaze`` with
      one entry per observer whose ``fixations`` field is K×2 ``[x, y]`` (column,
      row) in 1-based MATLAB pixels, converted with ``- 1`` (as pysaliency's
      ``external_datasets/salicon.py`` reads it: ``fixations[:, 0] - 1`` is x).

    Points outside the image raise :class:`DataError` unless ``drop_outside=True``,
    which drops them and records how many in ``meta["dropped_outside"]``.

    References
    ----------
    Jiang, M., Huang, S., Duan, J., Zhao, Q. "SALICON: Saliency in Context", CVPR 2015.
    """
    root = Path(path)
    if split not in ("train", "val"):
        raise DataError(f"load_salicon: split must be 'train' or 'val' (the test split has no fixations), not {split!r}")
    img_dir = next((d for d in (root / "images" / split, root / split) if d.is_dir()), None)
    if img_dir is None:
        raise DataError(f"SALICON folder {root} lacks images/{split}/; point to the unpacked release")
    json_path = next((p for p in (root / f"fixations_{split}2014.json", root / "annotations" / f"fixations_{split}2014.json")
                      if p.is_file()), None)
    paths = image_files(img_dir)
    stimuli = stimuli_for(paths, f"SALICON {img_dir}")
    pos = {p.name: i for i, p in enumerate(paths)}
    parts = []
    if json_path is not None:
        doc = read_json(json_path, "SALICON fixation file")
        try:
            images = {int(im["id"]): im["file_name"] for im in doc["images"]}
            anns = list(doc["annotations"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{json_path} is not a SALICON fixation file (needs 'images' with id and file_name, "
                            f"and a list 'annotations'): {exc!r}") from exc
        order_in_image: dict[int, int] = {}
        for a in anns:
            try:
                image_id = int(a["image_id"])
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"{json_path}: annotation {a!r:.80} has no integer 'image_id'") from exc
            name = images.get(image_id)
            if name is None or name not in pos:
                raise DataError(f"{json_path}: annotation {a.get('id')} refers to image {image_id} "
                                f"({name}) which is not in {img_dir}")
            i = pos[name]
            pts = _salicon_json_points(a.get("fixations", []), json_path, a.get("id"))
            try:
                subj = int(a.get("worker_id", order_in_image.get(i, 0)))
            except (TypeError, ValueError) as exc:
                raise DataError(f"{json_path}: annotation {a.get('id')}: worker_id {a.get('worker_id')!r} "
                                "is not an integer") from exc
            order_in_image[i] = order_in_image.get(i, 0) + 1
            parts.append(Fixations(pts[:, 0], pts[:, 1], np.full(len(pts), i), np.full(len(pts), subj), np.arange(len(pts))))
        fix_source = str(json_path)
    else:
        mat_dir = root / "fixations" / split
        if not mat_dir.is_dir():
            raise DataError(f"SALICON folder {root}: neither fixations_{split}2014.json nor fixations/{split}/ found")
        for i, p in enumerate(paths):
            f = mat_dir / f"{p.stem}.mat"
            gaze = loadmat(f).get("gaze")
            if gaze is None:
                raise DataError(f"{f} has no struct 'gaze' as in the SALICON 2017 release")
            for j, g in enumerate(np.asarray(gaze).ravel()):
                pts = _salicon_mat_points(g, f, j)
                parts.append(Fixations(pts[:, 0], pts[:, 1], np.full(len(pts), i), np.full(len(pts), j), np.arange(len(pts))))
        fix_source = str(mat_dir)
    fix = Fixations.concatenate(parts)
    fix, dropped = drop_or_raise(fix, stimuli.sizes, drop_outside, f"SALICON {fix_source}")
    meta = {"ppd": SALICON_PPD, "split": split, "source": fix_source, "dropped_outside": dropped,
            "reference": "Jiang et al., SALICON: Saliency in Context, CVPR 2015"}
    return Dataset(f"salicon-{split}", stimuli, fix, meta, validate=False)
