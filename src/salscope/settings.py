"""Where salscope finds data sets, keeps its cache and remembers settings.

The data root is a folder holding one sub-folder per data set (``osie/``,
``osie-regions/``, ``osie-scenes/``, ...). One rule finds it, for every command,
the study and ``salscope data fetch`` (first match wins):

1. ``--data-dir DIR`` (the ``override`` argument of the functions here);
2. ``$SALSCOPE_DATA``;
3. the remembered root: ``data_dir`` in ``settings.toml`` of the config folder
   (``$XDG_CONFIG_HOME/salscope``, default ``~/.config/salscope``). It is
   written (atomically) each time a data set is found under a root given by 1
   or 2, or fetched into it — so after ``make study`` (whose Makefile sets
   ``SALSCOPE_DATA=../shared/data``) every command finds the same data without
   an export;
4. ``../shared/data`` beside the working folder, else beside the salscope
   checkout (the layout the Makefile assumes), when it exists;
5. ``<cache>/data``, where ``salscope data fetch`` downloads when nothing above
   is set, when it exists (for ``data fetch``: always, created on demand).

A root named by 1 or 2 must exist (except for ``data fetch``, which creates
it); a remembered root that no longer exists is passed over.
``salscope data list`` prints the root and which rule gave it.
``SALSCOPE_CACHE`` (default ``~/.cache/salscope``) holds downloads and weights.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from salscope import io
from salscope.errors import ConfigError, DataError

DATA_ENV = "SALSCOPE_DATA"
CACHE_ENV = "SALSCOPE_CACHE"
CONFIG_ENV = "XDG_CONFIG_HOME"
SETTINGS_FILE = "settings.toml"
#: The salscope checkout this module belongs to (rule 4 looks for ``../shared/data`` beside it).
CHECKOUT = Path(__file__).resolve().parents[2]
#: Where the sources of rules 1–5 are named in messages and in ``salscope data list``.
SOURCES = ("--data-dir", DATA_ENV, "remembered", "beside the working folder", "beside the checkout", "download folder")


@dataclass(frozen=True)
class DataRoot:
    """A data root and the rule that gave it (one of :data:`SOURCES`)."""

    path: Path
    source: str

    def describe(self) -> str:
        """The source in words, e.g. ``remembered in ~/.config/salscope/settings.toml``."""
        if self.source == DATA_ENV:
            return f"from ${DATA_ENV}"
        if self.source == "remembered":
            return f"remembered in {settings_path()}"
        if self.source.startswith("beside"):
            return f"../shared/data {self.source}"
        if self.source == "download folder":
            return f"the download folder under the cache (${CACHE_ENV})"
        return f"from {self.source}"


def config_dir() -> Path:
    """The config folder: ``$XDG_CONFIG_HOME/salscope``, default ``~/.config/salscope`` (not created here)."""
    base = os.environ.get(CONFIG_ENV) or str(Path.home() / ".config")
    return Path(base).expanduser() / "salscope"


def settings_path() -> Path:
    """``settings.toml`` in :func:`config_dir`."""
    return config_dir() / SETTINGS_FILE


def read_settings() -> dict:
    """The remembered settings (``{}`` when there is no file); :class:`ConfigError` naming a broken file."""
    path = settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"settings file {path} cannot be read ({exc}); fix its permissions or delete it") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid TOML ({exc}); fix it or delete it "
                          "(salscope writes it again)") from exc


def remember_data_root(path: str | os.PathLike) -> Path | None:
    """Store ``path`` (made absolute) as the remembered data root, atomically; the settings file, or None.

    Other top-level values of the file are kept. Remembering is a convenience:
    a config folder that cannot be written, or a file holding more than plain
    values (tables), is left as it is and None is returned.
    """
    root = Path(path).expanduser().resolve()
    try:
        current = read_settings()
    except ConfigError:
        return None
    if current.get("data_dir") == str(root):
        return settings_path()
    if any(isinstance(v, (dict, list)) for v in current.values()):
        return None  # not ours to rewrite
    current["data_dir"] = str(root)
    # a JSON string is a valid TOML basic string (same escapes); numbers and booleans are written as TOML's
    lines = ["# salscope settings, written by salscope (see `salscope data list`); safe to edit or delete"]
    lines += [f"{key} = {str(value).lower() if isinstance(value, bool) else json.dumps(value)}"
              for key, value in current.items()
              if key.replace("_", "").replace("-", "").isascii() and key.replace("_", "").replace("-", "").isalnum()
              and (isinstance(value, (str, int)) or (isinstance(value, float) and math.isfinite(value)))]
    try:
        return io.write_text(settings_path(), "\n".join(lines) + "\n")
    except OSError:
        return None


def _remembered() -> Path | None:
    value = read_settings().get("data_dir")
    if not isinstance(value, str) or not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_dir() else None


def _beside() -> list[tuple[Path, str]]:
    return [(Path.cwd().parent / "shared" / "data", "beside the working folder"),
            (CHECKOUT.parent / "shared" / "data", "beside the checkout")]


def find_data_root(override: str | os.PathLike | None = None, *, for_download: bool = False) -> DataRoot:
    """The data root by the module's rule, with the rule that gave it.

    ``for_download`` (``data fetch``): a root from ``--data-dir`` or
    ``$SALSCOPE_DATA`` need not exist yet, and when nothing else is found the
    root is ``<cache>/data``. Otherwise :class:`DataError` says what was tried.
    """
    given = [(override, "--data-dir"), (os.environ.get(DATA_ENV) or None, DATA_ENV)]
    for value, source in given:
        if value is None or str(value) == "":
            continue
        path = Path(value).expanduser()
        if for_download or path.is_dir():
            return DataRoot(path, source)
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise DataError(f"data folder {path} (from {source}) {what}; point {source} at an existing folder")
    remembered = _remembered()
    if remembered is not None:
        return DataRoot(remembered, "remembered")
    for path, source in _beside():
        if path.is_dir():
            return DataRoot(path.resolve(), source)
    download = cache_root() / "data"
    if for_download or download.is_dir():
        return DataRoot(download, "download folder")
    raise DataError(
        f"no data folder found: pass --data-dir DIR or set {DATA_ENV}=DIR (a folder with one sub-folder per data "
        f"set, e.g. DIR/osie; remembered in {settings_path()} once a data set is found there), put the data in "
        f"../shared/data, or fetch it with `salscope data fetch osie`"
    )


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The data root (:func:`find_data_root`); :class:`DataError` when none is found or a given one is missing."""
    return find_data_root(override).path


def dataset_dir(name: str, override: str | os.PathLike | None = None, *, fix: str | None = None) -> Path:
    """The folder of data set ``name`` under the data root; error if missing (``fix``: what to do, in the message).

    Finding it under a root named by ``--data-dir`` or ``$SALSCOPE_DATA``
    remembers that root (:func:`remember_data_root`).
    """
    root = find_data_root(override)
    path = root.path / name
    if not path.is_dir():
        raise DataError(
            f"data set '{name}' not found: looked for {path} (data root {root.describe()}); "
            + (fix or f"put it there or fetch it with `salscope data fetch {name}`")
        )
    if root.source in ("--data-dir", DATA_ENV):
        remember_data_root(root.path)
    return path


def cache_root() -> Path:
    """The cache root, not created: ``$SALSCOPE_CACHE`` or ``~/.cache/salscope``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "salscope").expanduser()


def cache_dir() -> Path:
    """The cache root (created on demand): ``$SALSCOPE_CACHE`` or ``~/.cache/salscope``."""
    path = cache_root()
    path.mkdir(parents=True, exist_ok=True)
    return path
