"""Where salscope finds data sets and keeps its cache.

``SALSCOPE_DATA`` (or ``--data-dir``) points at a folder holding one sub-folder
per data set (``osie/``, ``osie-regions/``, ``osie-scenes/``, ...).
``SALSCOPE_CACHE`` (default ``~/.cache/salscope``) holds downloads and weights.
"""

from __future__ import annotations

import os
from pathlib import Path

from salscope.errors import DataError

DATA_ENV = "SALSCOPE_DATA"
CACHE_ENV = "SALSCOPE_CACHE"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The data root: ``override`` if given, else ``$SALSCOPE_DATA``.

    Raises :class:`DataError` naming both settings when neither is set or the
    folder does not exist.
    """
    value = override if override is not None else os.environ.get(DATA_ENV)
    if not value:
        raise DataError(
            f"no data folder set: pass --data-dir DIR or set {DATA_ENV}=DIR "
            "(a folder with one sub-folder per data set, e.g. DIR/osie)"
        )
    path = Path(value).expanduser()
    if not path.is_dir():
        source = "--data-dir" if override is not None else DATA_ENV
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise DataError(f"data folder {path} (from {source}) {what}; point {source} at an existing folder")
    return path


def dataset_dir(name: str, override: str | os.PathLike | None = None) -> Path:
    """The folder of data set ``name`` under the data root; error if missing."""
    root = data_dir(override)
    path = root / name
    if not path.is_dir():
        raise DataError(
            f"data set '{name}' not found: looked for {path}; "
            f"put it there or fetch it with `salscope data fetch {name}`"
        )
    return path


def cache_dir() -> Path:
    """The cache root (created on demand): ``$SALSCOPE_CACHE`` or ``~/.cache/salscope``."""
    path = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "salscope").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
