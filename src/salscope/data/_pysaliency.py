"""pysaliency interop: the arrays behind ``Fixations``/``Stimuli.{from,to}_pysaliency`` and ``read_hdf5``.

The half pixel
--------------
salscope puts pixel centres at integers: the pixel of a fixation is
``floor(x + 0.5)``, so pixel ``i`` spans ``[i - 0.5, i + 0.5)``. pysaliency
indexes maps with ``int(x)`` (``Fixations.x_int``), so its pixel ``i`` spans
``[i, i + 1)``: integers are pixel corners. The same pixel is therefore
``x_pysaliency = x_salscope + 0.5`` (and ``y`` alike); every conversion here
shifts by :data:`PIXEL_SHIFT` so that both libraries score the same pixels.
Both floor and ``int`` agree for the non-negative values a fixation inside its
image has, and ``(x + 0.5) - 0.5`` gives back the same pixel in floating point.

pysaliency and h5py are optional: they are imported when a conversion needs
them, and a missing one raises :class:`DataError` saying what to install.

Units: salscope durations are milliseconds; pysaliency's (``duration``, from
the ``durations`` scanpath attribute its loaders write) are seconds.

References
----------
pysaliency 0.2.22, ``datasets.py``: ``Fixations``/``FixationTrains``/``Stimuli``/
``FileStimuli`` and their ``to_hdf5``/``read_hdf5`` (the layouts read here).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from salscope.errors import DataError

#: ``x_pysaliency = x_salscope + PIXEL_SHIFT`` (same for y).
PIXEL_SHIFT = 0.5
MS_PER_SECOND = 1000.0
_FIXATION_TYPES = {"Fixations": ("1.0",), "FixationTrains": ("1.0", "1.1", "1.2")}
_STIMULI_TYPES = {"Stimuli": ("1.0", "1.1"), "FileStimuli": ("1.0", "2.0", "2.1")}


def require_pysaliency() -> Any:
    """Import pysaliency, or :class:`DataError` saying how to install it."""
    try:
        import pysaliency  # noqa: PLC0415 (optional dependency, imported at the edge)
    except ImportError as exc:
        raise DataError(f"this conversion needs pysaliency, which is not installed ({exc}): pip install pysaliency "
                        "(salscope itself does not need it)") from exc
    return pysaliency


def require_h5py() -> Any:
    """Import h5py, or :class:`DataError` saying how to install it."""
    try:
        import h5py  # noqa: PLC0415 (optional dependency)
    except ImportError as exc:
        raise DataError(f"reading and writing HDF5 files needs h5py, which is not installed ({exc}): pip install h5py "
                        "(or pip install 'salscope[h5py]')") from exc
    return h5py


# --------------------------------------------------------------------------- fixations


def _order_from_history(x_hist: np.ndarray, lengths: np.ndarray, trains: bool) -> np.ndarray:
    """salscope ``order`` from pysaliency's history length; -1 where pysaliency has no history at all.

    ``FixationTrains`` always know the position in the scanpath (``lengths``);
    flat ``Fixations`` made without history (``create_without_history``) carry
    an all-NaN history and cannot tell a first fixation from an unknown one.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    has_history = x_hist.ndim == 2 and x_hist.shape[1] > 0 and bool(np.isfinite(x_hist).any())
    return lengths if (trains or has_history) else np.full(lengths.size, -1, dtype=np.int64)


def _duration_ms(attributes: dict[str, np.ndarray], size: int) -> np.ndarray:
    for name in ("duration", "durations"):
        value = attributes.get(name)
        if value is not None and np.shape(value) == (size,):
            return np.asarray(value, dtype=np.float64) * MS_PER_SECOND
    return np.full(size, np.nan)


def fixation_arrays_from_pysaliency(fixations: Any) -> dict[str, np.ndarray]:
    """``x, y, n, subject, order, duration`` (salscope's conventions) of a pysaliency ``Fixations``.

    ``x - 0.5``, ``y - 0.5``; ``subjects`` as ``subject``; ``order`` is the
    history length (the position in the scanpath) or -1 without history;
    ``duration`` (seconds) becomes milliseconds.
    """
    try:
        x, y, n = (np.asarray(getattr(fixations, k), dtype=np.float64) for k in ("x", "y", "n"))
        subjects = np.asarray(fixations.subjects)
        x_hist = np.asarray(fixations.x_hist, dtype=np.float64)
        lengths = np.asarray(fixations.lengths)
    except AttributeError as exc:
        raise DataError(f"from_pysaliency: expected a pysaliency Fixations, got a {type(fixations).__name__} ({exc})") from exc
    names = [a for a in getattr(fixations, "__attributes__", []) if a != "subjects"]
    attributes = {a: np.asarray(getattr(fixations, a)) for a in names if hasattr(fixations, a)}
    return {
        "x": x - PIXEL_SHIFT,
        "y": y - PIXEL_SHIFT,
        "n": n.astype(np.int64),
        "subject": subjects.astype(np.int64),
        "order": _order_from_history(x_hist, lengths, hasattr(fixations, "train_xs")),
        "duration": _duration_ms(attributes, x.size),
    }


def _history(values: np.ndarray, n: np.ndarray, subject: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per fixation, the earlier fixations of its scanpath (same image and subject): ``(N, max order)`` arrays.

    Entry ``[i, j]`` is the fixation of order ``j`` of ``i``'s scanpath for
    ``j < order[i]``, NaN elsewhere (and where that fixation is not in the set).
    """
    size = order.size
    width = max(1, int(order.max(initial=0)))
    hist = [np.full((size, width), np.nan) for _ in values]
    known = order >= 0
    if not known.any():
        return tuple(hist)
    # one integer key per (image, subject, order), sorted once; predecessors found with searchsorted
    s_codes = np.unique(subject, return_inverse=True)[1].astype(np.int64)
    span = int(order.max()) + 1
    key = (n.astype(np.int64) * (s_codes.max() + 1) + s_codes) * span + np.where(known, order, 0)
    idx = np.flatnonzero(known)
    sort = idx[np.argsort(key[idx], kind="stable")]
    sorted_keys = key[sort]
    base = key - np.where(known, order, 0)
    for j in range(width):
        rows = np.flatnonzero(order > j)
        if not rows.size:
            break
        want = base[rows] + j
        pos = np.clip(np.searchsorted(sorted_keys, want), 0, sorted_keys.size - 1)
        hit = sorted_keys[pos] == want
        src = sort[pos[hit]]
        for h, v in zip(hist, values):
            h[rows[hit], j] = v[src]
    return tuple(hist)


def fixations_to_pysaliency(x, y, n, subject, order, duration) -> Any:
    """A pysaliency ``Fixations`` of salscope's arrays (``x + 0.5``, ``y + 0.5``), with scanpath histories.

    ``t`` is the position in the scanpath (as pysaliency's own OSIE loader
    sets it), the history of a fixation its scanpath's earlier fixations, and
    known durations become a ``duration`` attribute in seconds.
    """
    pysaliency = require_pysaliency()
    order = np.asarray(order, dtype=np.int64)
    xs, ys = np.asarray(x, dtype=np.float64) + PIXEL_SHIFT, np.asarray(y, dtype=np.float64) + PIXEL_SHIFT
    t = np.where(order >= 0, order, 0).astype(np.float64)
    x_hist, y_hist, t_hist = _history((xs, ys, t), np.asarray(n), np.asarray(subject), order)
    duration = np.asarray(duration, dtype=np.float64)
    attributes = {"duration": duration / MS_PER_SECOND} if np.isfinite(duration).any() else None
    return pysaliency.Fixations(xs, ys, t, x_hist, y_hist, t_hist, np.asarray(n, dtype=np.int64),
                                np.asarray(subject, dtype=np.int64), attributes=attributes)


# --------------------------------------------------------------------------- stimuli


def stimuli_to_pysaliency(paths: list[Path], ids: list[str], upright: list[bool], load: Any) -> Any:
    """A pysaliency ``FileStimuli`` of the files (attribute ``ids``), or in-memory ``Stimuli`` if one needs EXIF rotation.

    pysaliency reads files with imageio, which does not apply the EXIF
    orientation; so when an image is stored sideways the decoded (upright)
    arrays are handed over instead, with the file names as the ``filenames``
    attribute (which pysaliency's precomputed models read).
    """
    pysaliency = require_pysaliency()
    filenames = [os.fspath(p) for p in paths]
    if all(upright):
        return pysaliency.FileStimuli(filenames, attributes={"ids": list(ids)})
    return pysaliency.Stimuli([load(i) for i in range(len(paths))], attributes={"ids": list(ids), "filenames": filenames})


def _write_png_images(arrays: list[np.ndarray], folder: Path | None, where: str) -> list[Path]:
    from PIL import Image  # noqa: PLC0415

    from salscope.io import atomic_path  # noqa: PLC0415

    if folder is None:
        raise DataError(f"{where}: these stimuli are arrays, not files; pass folder= to write them there as PNG files "
                        "(salscope's Stimuli are files)")
    folder = Path(folder)
    paths = [folder / f"{i:05d}.png" for i in range(len(arrays))]
    taken = [p for p in paths if p.exists()]
    if taken:
        raise DataError(f"{where}: {taken[0]} already exists; pass an empty folder= (nothing was written)")
    for i, (arr, dest) in enumerate(zip(arrays, paths)):
        arr = np.asarray(arr)
        if arr.dtype != np.uint8 or not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3, 4))):
            raise DataError(f"{where}: stimulus {i} is a {arr.dtype} array of shape {arr.shape}; expected uint8 H×W or H×W×3")
        with atomic_path(dest, suffix=".png") as tmp:
            Image.fromarray(arr[:, :, 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr).save(tmp, format="PNG")
    return paths


def _ids(attributes: dict[str, Any], paths: list[Path]) -> list[str] | None:
    ids = attributes.get("ids")
    if ids is not None and len(ids) == len(paths):
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]
    stems = [p.stem for p in paths]
    return stems if len(set(stems)) == len(stems) else None


def stimuli_paths_from_pysaliency(stimuli: Any, folder: str | os.PathLike | None) -> tuple[list[Path], list[str] | None]:
    """``(image files, ids or None)`` of pysaliency stimuli; in-memory stimuli are written to ``folder`` as PNGs first.

    Files: ``FileStimuli.filenames``, or a ``filenames`` attribute whose files
    all exist. ids: an ``ids`` attribute, else the file stems when unique,
    else None (the caller numbers them).
    """
    attributes = dict(getattr(stimuli, "attributes", {}) or {})
    if hasattr(stimuli, "filenames"):
        paths = [Path(os.fsdecode(f)) for f in stimuli.filenames]
    elif "filenames" in attributes and all(Path(os.fsdecode(f)).is_file() for f in attributes["filenames"]):
        paths = [Path(os.fsdecode(f)) for f in attributes["filenames"]]
    elif hasattr(stimuli, "stimuli"):
        paths = _write_png_images([np.asarray(s) for s in stimuli.stimuli], None if folder is None else Path(folder),
                                  "Stimuli.from_pysaliency")
        ids = attributes.get("ids")
        return paths, None if ids is None else [str(i) for i in ids]
    else:
        raise DataError(f"Stimuli.from_pysaliency: expected pysaliency Stimuli or FileStimuli, got a {type(stimuli).__name__}")
    return paths, _ids(attributes, paths)


# --------------------------------------------------------------------------- HDF5 (no pysaliency needed)


def _text(value: Any) -> str:
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf8")
    return str(value)


def _attribute_list(node: Any) -> list[str]:
    raw = node.attrs.get("__attributes__")
    return [] if raw is None else list(json.loads(_text(raw)))


def _fixations_from_hdf5(node: Any, kind: str, where: str) -> dict[str, np.ndarray]:
    if kind == "Fixations":
        data = {k: node[k][...] for k in ("x", "y", "x_hist", "n", "subjects")}
        x_hist = np.asarray(data["x_hist"], dtype=np.float64)
        lengths = np.isfinite(x_hist).sum(axis=-1) if x_hist.ndim == 2 else np.zeros(data["x"].size, np.int64)
        attributes = {a: node[a][...] for a in _attribute_list(node) if a != "subjects" and a in node}
        x, y = np.asarray(data["x"], np.float64), np.asarray(data["y"], np.float64)
        return {"x": x - PIXEL_SHIFT, "y": y - PIXEL_SHIFT, "n": np.asarray(data["n"]).astype(np.int64),
                "subject": np.asarray(data["subjects"]).astype(np.int64),
                "order": _order_from_history(x_hist, lengths, trains=False), "duration": _duration_ms(attributes, x.size)}
    # FixationTrains: one row per scanpath, NaN-padded; pysaliency flattens them row by row
    train_xs = np.asarray(node["train_xs"][...], dtype=np.float64)
    train_ys = np.asarray(node["train_ys"][...], dtype=np.float64)
    rows, cols = np.nonzero(np.isfinite(train_xs))
    n = np.asarray(node["train_ns"][...]).astype(np.int64)[rows]
    subject = np.asarray(node["train_subjects"][...]).astype(np.int64)[rows]
    attributes = {a: node[a][...] for a in _attribute_list(node) if a not in ("subjects", "scanpath_index") and a in node}
    if "scanpath_fixation_attributes" in node:
        group = node["scanpath_fixation_attributes"]
        mapping = json.loads(_text(node.attrs.get("scanpath_attribute_mapping", "{}")))
        for name in _attribute_list(group):
            attributes[mapping.get(name, name)] = np.asarray(group[name][...], dtype=np.float64)[rows, cols]
    return {"x": train_xs[rows, cols] - PIXEL_SHIFT, "y": train_ys[rows, cols] - PIXEL_SHIFT, "n": n, "subject": subject,
            "order": cols.astype(np.int64), "duration": _duration_ms(attributes, rows.size)}


def _stimuli_from_hdf5(node: Any, kind: str, path: Path, folder: str | os.PathLike | None) -> tuple[list[Path], list[str] | None]:
    attributes = {}
    for a in _attribute_list(node):
        value = node[a][...]
        attributes[a] = [_text(v) for v in value.ravel()] if value.dtype.kind in "OSU" else value
    if kind == "Stimuli":
        size = int(node.attrs["size"])
        arrays = [node[str(i)][...] for i in range(size)]
        paths = _write_png_images(arrays, None if folder is None else Path(folder), f"pysaliency file {path}")
        ids = attributes.get("ids")
        return paths, None if ids is None else [str(i) for i in ids]
    names = [_text(f) for f in node["filenames"][...]]
    version = _text(node.attrs["version"])
    # from version 2.0 on, pysaliency stores file names relative to the HDF5 file's folder
    paths = [path.parent / f if version >= "2.0" else Path(f) for f in names]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"pysaliency file {path} names {len(missing)} stimulus file(s) that do not exist (first: {missing[0]}); "
                        "keep the images where they were when the file was written, relative to it")
    return paths, _ids(attributes, paths)


def read_hdf5(path: str | os.PathLike, group: str | None = None, folder: str | os.PathLike | None = None,
              expect: str | None = None) -> tuple[str, Any]:
    """Read a pysaliency HDF5 file (or ``group`` in it): ``("fixations", arrays)`` or ``("stimuli", (paths, ids))``.

    Types read: ``Fixations`` 1.0, ``FixationTrains`` 1.0–1.2, ``Stimuli``
    1.0–1.1 (arrays; written to ``folder`` as PNG files) and ``FileStimuli``
    1.0–2.1 (file names). ``expect`` ("fixations" or "stimuli") refuses the
    other kind before reading. pysaliency itself is not needed, h5py is.
    """
    h5py = require_h5py()
    path = Path(path)
    if not path.is_file():
        raise DataError(f"pysaliency file {path} does not exist")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"cannot read {path} as HDF5 ({exc}); is it a file written by pysaliency's to_hdf5?") from exc
    where = f"pysaliency file {path}" + (f", group {group!r}" if group else "")
    with handle:
        if group is not None and group not in handle:
            raise DataError(f"{where}: no such group; groups here: {', '.join(sorted(handle.keys()))}")
        node = handle[group] if group is not None else handle
        if "type" not in node.attrs:
            keys = ", ".join(sorted(node.keys())[:8])
            raise DataError(f"{where} has no 'type' attribute, so it was not written by pysaliency's to_hdf5 "
                            f"(top-level entries: {keys}); pass group= if the data sit in a group")
        kind, version = _text(node.attrs["type"]), _text(node.attrs.get("version", ""))
        known = {**_FIXATION_TYPES, **_STIMULI_TYPES}
        if kind not in known:
            raise DataError(f"{where} holds pysaliency type {kind!r}; salscope reads {', '.join(known)}")
        if version not in known[kind]:
            raise DataError(f"{where} holds {kind} version {version!r}; salscope reads versions {', '.join(known[kind])}")
        family = "fixations" if kind in _FIXATION_TYPES else "stimuli"
        if expect is not None and family != expect:
            reader = "Fixations" if family == "fixations" else "Stimuli"
            raise DataError(f"{where} holds {kind}, not {expect}; read it with {reader}.read_hdf5")
        try:
            if family == "fixations":
                return family, _fixations_from_hdf5(node, kind, where)
            return "stimuli", _stimuli_from_hdf5(node, kind, path, folder)
        except KeyError as exc:
            raise DataError(f"{where} ({kind} {version}) lacks the entry {exc}; the file is incomplete: write it again") from exc
