"""What every loader shares: reading MATLAB/JSON/text files with errors that name the file, ppd checks, image listings.

Each failure raises :class:`~salscope.errors.DataError` naming the file and what to do.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.io as sio

from salscope.data.fixations import Fixations
from salscope.data.stimuli import IMAGE_SUFFIXES, Stimuli, load_map
from salscope.errors import DataError


def loadmat(path: Path, **kwargs):
    """The variables of MATLAB file ``path`` (``scipy.io.loadmat``); :class:`DataError` naming the file otherwise."""
    if not path.is_file():
        raise DataError(f"fixation file {path} does not exist; check the data set folder or re-fetch it")
    try:
        return sio.loadmat(str(path), **kwargs)
    except Exception as exc:  # scipy raises ValueError/TypeError/MatReadError on bad files
        raise DataError(f"cannot read MATLAB file {path} ({exc}); the file is corrupt: replace it") from exc


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path`` (a leading BOM is dropped); :class:`DataError` naming the file otherwise."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{what} {path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                        "re-save it as UTF-8") from exc
    except OSError as exc:
        raise DataError(f"cannot read {what} {path} ({exc})") from exc


def read_json(path: Path, what: str):
    """The parsed JSON document of ``path``; :class:`DataError` naming the file if it is not UTF-8 JSON."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise DataError(f"{what} {path} is not valid JSON ({exc}); fix or replace the file") from exc


def check_ppd(value, where: str) -> float:
    """``value`` as pixels per degree of visual angle: a finite number > 0; :class:`DataError` naming ``where`` otherwise."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not np.isfinite(value) or value <= 0:
        raise DataError(f"{where}: ppd (pixels per degree of visual angle) is {value!r}; give a number > 0, "
                        "e.g. 24 for an 800 px wide image spanning about 33 degrees")
    return float(value)


def stimuli_for(paths: list[Path], what: str) -> Stimuli:
    if not paths:
        raise DataError(f"{what}: no images found")
    return Stimuli(paths)


def points_from_map(m: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.nonzero(np.asarray(m) > threshold)
    return cols.astype(np.float64), rows.astype(np.float64)


def fixations_from_maps(maps: list[Path], names: list[str], sizes, threshold: float, hint: str = "") -> Fixations:
    """Fixations at the pixels of binary fixation-map images above ``threshold``, one map per image.

    ``names`` label the images in errors; a map whose size differs from its
    image's raises :class:`DataError` (``hint`` is appended to the message).
    """
    parts = []
    for i, (mp, name) in enumerate(zip(maps, names)):
        m = load_map(mp)
        if m.shape != sizes[i]:
            raise DataError(f"fixation map {mp} is {m.shape[1]}x{m.shape[0]} but {name} is "
                            f"{sizes[i][1]}x{sizes[i][0]}{hint}")
        fx, fy = points_from_map(m, threshold)
        parts.append(Fixations(fx, fy, np.full(fx.size, i)))
    return Fixations.concatenate(parts)


def drop_or_raise(fix: Fixations, sizes, drop_outside: bool, where: str) -> tuple[Fixations, int]:
    if not drop_outside:
        fix.check_bounds(sizes, where)
        return fix, 0
    hw = np.asarray(sizes, dtype=np.int64).reshape(-1, 2)
    h, w = hw[fix.n, 0], hw[fix.n, 1]
    inside = (fix.col >= 0) & (fix.col < w) & (fix.row >= 0) & (fix.row < h)
    return fix[inside], int((~inside).sum())


def image_files(folder: Path) -> list[Path]:
    """The image files of ``folder`` (by suffix), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
