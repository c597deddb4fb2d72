"""Registry of downloadable data sets and ``fetch_dataset`` (``salscope data fetch NAME``).

A fetch downloads every file of the manifest (each streamed, resumable and
SHA-256 checked by :func:`salscope.download.download_file`) into a staging folder
``<root>/.<name>.partial`` beside the destination, and only when all files are
verified renames the staging folder to ``<root>/<name>`` in one ``os.replace``.
An interrupted or failed fetch therefore never leaves a half data set at
``<root>/<name>``; running it again resumes from the staging folder.

The base URL of a data set can be overridden with ``base_url=`` or the
environment variable ``SALSCOPE_<NAME>_URL`` (e.g. a local mirror).
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable

from salscope.download import download_file
from salscope.errors import DataError
from salscope.io import replace_folder
from salscope.progress import track
from salscope.settings import DATA_ENV, DataRoot, find_data_root, remember_data_root

#: Package data: the OSIE files and their sha256 (``python scripts/osie_manifest.py`` regenerates it).
OSIE_MANIFEST = "osie_sha256.json"


@dataclass(frozen=True)
class RemoteDataset:
    """A data set that can be fetched: ``manifest()`` maps local relative path -> sha256;
    ``upstream_path`` maps a local path to its path under the base URL."""

    name: str
    description: str
    base_url: str
    manifest: Callable[[], dict[str, str]]
    upstream_path: Callable[[str], str] = field(default=lambda p: p)
    homepage: str = ""
    licence: str = ""

    def url_base(self, override: str | None = None) -> str:
        base = override or os.environ.get(f"SALSCOPE_{self.name.upper().replace('-', '_')}_URL") or self.base_url
        return base.rstrip("/") + "/"

    def url(self, rel: str, base: str | None = None) -> str:
        return self.url_base(base) + self.upstream_path(rel)


def _osie_upstream(rel: str) -> str:
    return rel if rel == "LICENSE" else f"data/{rel}"


@functools.cache
def _osie_manifest() -> dict[str, str]:
    ref = resources.files("salscope") / "resources" / OSIE_MANIFEST
    try:
        files = json.loads(ref.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"the OSIE manifest salscope/resources/{OSIE_MANIFEST} is missing or broken ({exc!r}); "
                        "reinstall salscope, or regenerate it with scripts/osie_manifest.py") from exc
    return files


def _osie_files() -> dict[str, str]:
    """The OSIE manifest, read once per process (a copy: callers may change it)."""
    return dict(_osie_manifest())


REMOTE_DATASETS: dict[str, RemoteDataset] = {
    "osie": RemoteDataset(
        name="osie",
        description="OSIE (Xu et al. 2014): 700 images 800x600, eye fixations of 15 subjects (~50 MB)",
        base_url="https://raw.githubusercontent.com/NUS-VIP/predicting-human-gaze-beyond-pixels/master/",
        manifest=_osie_files,
        upstream_path=_osie_upstream,
        homepage="https://github.com/NUS-VIP/predicting-human-gaze-beyond-pixels",
        licence="MIT",
    ),
}


def fetch_dataset(name: str, data_dir: str | os.PathLike | None = None, *, base_url: str | None = None,
                  force: bool = False, progress: bool = True) -> Path:
    """Download data set ``name`` into ``<data root>/<name>`` (atomically; see module doc).

    The data root follows the one rule of :mod:`salscope.settings`
    (``data_dir``, ``$SALSCOPE_DATA``, the remembered root, ``../shared/data``,
    else ``<cache>/data``); a root given by ``data_dir`` or ``$SALSCOPE_DATA``
    is created if needed and remembered once the data set is there. An existing
    complete ``<root>/<name>`` is kept unless ``force=True``.
    """
    key = name.lower()
    if key not in REMOTE_DATASETS:
        raise DataError(f"no download known for data set {name!r}; fetchable: {', '.join(sorted(REMOTE_DATASETS))}")
    spec = REMOTE_DATASETS[key]
    found = find_data_root(data_dir, for_download=True)
    root = found.path
    final = root / spec.name
    files = spec.manifest()
    if final.exists() and not force:
        missing = [rel for rel in files if not (final / rel).is_file()]
        if not missing:
            _remember(found)
            return final
        raise DataError(f"{final} exists but lacks {len(missing)} file(s), e.g. {missing[0]}; "
                        "remove it or pass --force to fetch again")
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = root / f".{spec.name}.partial"
        staging.mkdir(exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot write to data folder {root} ({exc}); pick a writable --data-dir") from exc
    base = spec.url_base(base_url)
    items = sorted(files.items())
    for rel, digest in track(items, f"fetch {spec.name}") if progress else items:
        download_file(spec.url(rel, base), staging / rel, digest, progress=False)
    replace_folder(staging, final)   # with --force an old copy is moved aside first, deleted after the swap
    _remember(found)
    return final


def _remember(root: DataRoot) -> None:
    if root.source in ("--data-dir", DATA_ENV):
        remember_data_root(root.path)
