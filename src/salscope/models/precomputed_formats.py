"""Precomputed saliency maps on disk: find the file of a stimulus in a map folder, and read it.

A map folder is what ``salscope predict`` writes, what pysaliency's
``SaliencyMapModelFromDirectory`` / ``ModelFromDirectory`` read and what the
MIT/Tübingen saliency benchmark takes as a submission: one file per stimulus,
named after it, in any of :data:`MAP_FILE_SUFFIXES`, possibly in subfolders
that repeat the stimuli's own (CAT2000's ``<Category>/<image>``).

How a stimulus finds its file (pysaliency's ``get_keys_from_filenames``): every
file of the folder, subfolders included, is keyed by its path relative to the
folder without suffix (``Action/001``). A stimulus ``…/Stimuli/Action/001.jpg``
takes the longest trailing part of its own path without suffix that is a key
(``Stimuli/Action/001``, then ``Action/001``, then ``001``); failing that, its
image id (salscope's ``<image id>.<suffix>`` layout, e.g. CAT2000's id
``Action/001``). Two files with one key (``1002.npy`` and ``1002.png``) are an
error: which one is meant cannot be told.

References
----------
pysaliency 0.2.22 ``precomputed_models.py``: ``SaliencyMapModelFromDirectory``,
``SaliencyMapModelFromFiles._load_file`` (``.png``/``.jpg``/``.jpeg``/``.tiff``
images, ``.npy``, ``.mat`` with exactly one variable).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import numpy as np

from salscope.data.stimuli import MAP_SUFFIXES, load_map
from salscope.errors import DataError, ModelError

#: Map files read: salscope's (:data:`salscope.data.stimuli.MAP_SUFFIXES`) and MATLAB ``.mat`` (pysaliency reads those too).
MAP_FILE_SUFFIXES = tuple(MAP_SUFFIXES) + (".mat",)


def index_map_folder(folder: str | os.PathLike) -> dict[str, Path]:
    """``{key: file}`` of every map file under ``folder`` (subfolders too); key = relative path without suffix, ``/``-separated.

    :class:`ModelError` for a missing folder or one without map files,
    :class:`DataError` for two files with the same key.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"map folder {folder} does not exist")
    files: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if not (path.is_file() and path.suffix.lower() in MAP_FILE_SUFFIXES) or path.name.startswith("."):
            continue
        rel = path.relative_to(folder)
        key = rel.with_suffix("").as_posix()
        if key in files:
            raise DataError(
                f"map folder {folder} has two maps for image '{key}': {files[key].relative_to(folder).as_posix()} and "
                f"{rel.as_posix()}; keep one of them (move the other out of the folder)"
            )
        files[key] = path
    if not files:
        raise ModelError(f"map folder {folder} holds no {'/'.join(MAP_FILE_SUFFIXES)} files; put one map per image id there")
    return files


def map_keys(image_id: str, stimulus_path: str | os.PathLike | None = None) -> list[str]:
    """The keys a stimulus may be found under, in the order they are tried (see the module docstring)."""
    keys: list[str] = []
    if stimulus_path is not None:
        parts = PurePosixPath(Path(stimulus_path).with_suffix("").as_posix()).parts
        parts = tuple(p for p in parts if p not in ("/", ""))
        keys.extend("/".join(parts[i:]) for i in range(len(parts)))
    key = PurePosixPath(str(image_id)).as_posix()
    if key not in keys:
        keys.append(key)
    return keys


def find_map_file(files: dict[str, Path], image_id: str, stimulus_path: str | os.PathLike | None = None) -> Path | None:
    """The file of a stimulus among ``files`` (:func:`index_map_folder`), or None."""
    for key in map_keys(image_id, stimulus_path):
        if key in files:
            return files[key]
    return None


def _load_mat(path: Path) -> np.ndarray:
    from scipy.io import loadmat  # noqa: PLC0415 (scipy.io only for .mat maps)

    try:
        data = loadmat(path)
    except (ValueError, OSError, NotImplementedError) as exc:
        raise DataError(f"cannot read map {path} ({exc}); save it with scipy.io.savemat or MATLAB's save -v7") from exc
    names = [k for k in data if not k.startswith("__")]
    if len(names) != 1:
        raise DataError(f"map {path} holds {len(names)} variables ({', '.join(names) or 'none'}); a map file holds exactly one")
    arr = np.asarray(data[names[0]])
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or arr.ndim != 2 or arr.size == 0:
        raise DataError(f"map {path}: variable '{names[0]}' is a {arr.dtype} array of shape {arr.shape}; a map is a numeric H×W array")
    m = arr.astype(np.float64)
    if not np.isfinite(m).all():
        raise DataError(f"map {path} holds {int((~np.isfinite(m)).sum())} NaN/Inf value(s); replace them with numbers")
    return m


def read_map_file(path: str | os.PathLike) -> np.ndarray:
    """A map file as float64 ``H×W``: ``.mat`` (its one variable) here, the rest by :func:`salscope.data.stimuli.load_map`."""
    path = Path(path)
    if path.suffix.lower() == ".mat":
        if not path.is_file():
            raise DataError(f"map file {path} does not exist")
        return _load_mat(path)
    return load_map(path)

