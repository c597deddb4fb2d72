"""The built-in weights table and the content-addressed weights cache.

Only two kinds of weights are ever downloaded:

1. a :class:`WeightsFile` of the built-in table (each backbone file owns its
   entries, e.g. ``vgg.VGG16_IMAGENET``), fetched from the table's URL; and
2. a URL the *user* passes explicitly (``get_backbone(name, weights=URL)``,
   ``salscope train --weights URL``), which must carry its full SHA-256 as a
   pip-style fragment: ``https://host/file.pth#sha256=<64 hex>``.

A checkpoint never causes a download: :func:`salscope.models.deep.load_checkpoint`
reads the encoder from the checkpoint's own state dict and resolves a
decoder-only file's ``"imagenet"`` with ``offline=True``.

Cache layout (``cache_dir()/weights``)::

    sha256/<full sha256>.pth   every weights file, named by the SHA-256 of its bytes
    trust.json                 table entries known only by a hash *prefix*: the full
                               SHA-256 computed when the file was first downloaded

A file is used only if its bytes hash to its name (checked on every use), so
nothing but the right content can occupy a slot. Table entries with a full
``sha256`` are checked against it. torchvision's files are published with only an
8-hex-digit prefix of their SHA-256 in the file name (``vgg16-397923af.pth``), so
their entries carry ``sha256_prefix``: the first download from the table's
(HTTPS) URL must match the prefix, and its full SHA-256 is then recorded in
``trust.json`` (trust on first use); later uses require that exact hash. The
prefix (32 bits) alone is weak: the trust rests on the table's URL, and only
table entries are ever written to ``trust.json``.

Before any download, a table entry is also looked up in torch's own hub cache,
where torchvision (and ``torch.hub.load_state_dict_from_url``) keep the same
files: ``torch.hub.get_dir()/checkpoints/<file name>`` (``$TORCH_HOME/hub``,
by default ``~/.cache/torch/hub``), e.g. ``checkpoints/vgg16-397923af.pth``.
Such a file is used in place (not copied) when its SHA-256 is the entry's
(full hash), or starts with the entry's prefix and agrees with the full hash
``trust.json`` recorded, if any; a file there that does not is left alone and
not used.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch.hub

from salscope.download import download_file, sha256_file
from salscope.errors import DownloadError, ModelError
from salscope.io import write_json
from salscope.settings import cache_dir

TRUST_FILE = "trust.json"
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class WeightsFile:
    """One published weights file of the built-in table.

    ``sha256`` (full, 64 hex digits) is required for plain caching-by-hash;
    files published with only a hash prefix give ``sha256_prefix`` instead (see
    the module notes on trust on first use). ``max_bytes`` bounds the download
    (the exact ``size`` when known).
    """

    key: str
    url: str
    sha256: str | None = None
    sha256_prefix: str | None = None
    size: int | None = None
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.sha256 is not None and not _HEX64.fullmatch(self.sha256):
            raise ValueError(f"WeightsFile {self.key}: sha256 must be 64 lower-case hex digits")
        if self.sha256 is None and not (self.sha256_prefix and re.fullmatch(r"[0-9a-f]{8,63}", self.sha256_prefix)):
            raise ValueError(f"WeightsFile {self.key}: give a full sha256 or a sha256_prefix of at least 8 hex digits")

    @property
    def filename(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]


def weights_cache() -> Path:
    """``cache_dir()/weights`` (created on demand)."""
    path = cache_dir() / "weights"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_path(sha256: str) -> Path:
    """Where the weights file with this full SHA-256 lives in the cache."""
    return weights_cache() / "sha256" / f"{sha256}.pth"


def _verified(path: Path, sha256: str) -> bool:
    """True when ``path`` exists and hashes to ``sha256``; a file that does not is deleted."""
    if not path.is_file():
        return False
    if sha256_file(path) == sha256:
        return True
    path.unlink(missing_ok=True)  # wrong content under a hash name: never used
    return False


def _read_trust() -> dict[str, dict]:
    path = weights_cache() / TRUST_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data.get("entries", {}) if isinstance(data, dict) else {}


def _write_trust(entries: dict[str, dict]) -> None:
    write_json(weights_cache() / TRUST_FILE, {"entries": entries})


def _trust_id(entry: WeightsFile) -> str:
    return f"{entry.key}:{entry.url}:{entry.sha256_prefix}"


def hub_checkpoint(entry: WeightsFile, trusted: str | None = None) -> Path | None:
    """``entry``'s file in torch's hub cache (``torch.hub.get_dir()/checkpoints/<file name>``) if it is the right one.

    Right: its SHA-256 equals ``entry.sha256``, or (prefix-only entries)
    starts with ``entry.sha256_prefix`` and equals ``trusted`` (the full hash
    recorded on first download) when one is known. Otherwise ``None``.
    """
    path = Path(torch.hub.get_dir()) / "checkpoints" / entry.filename
    if not path.is_file():
        return None
    digest = sha256_file(path)
    if entry.sha256 is not None:
        return path if digest == entry.sha256 else None
    if not digest.startswith(entry.sha256_prefix) or (trusted is not None and digest != trusted):
        return None
    return path


def _offline_error(entry: WeightsFile, why: str) -> ModelError:
    hub = Path(torch.hub.get_dir()) / "checkpoints" / entry.filename
    return ModelError(
        f"the {entry.key} ImageNet weights ({entry.filename}) are not in the weights cache {weights_cache()} nor "
        f"(with the right hash) at {hub} in torch's hub cache, and {why}; cache them once with network (python -c \"from salscope.models.backbones import get_backbone; "
        f"get_backbone('{entry.key}')\"), or pass the weights explicitly as a .pth path"
    )


def fetch_weights(entry: WeightsFile, *, offline: bool = False) -> Path:
    """The local, verified file of table entry ``entry``; downloaded once when needed.

    Looked up in salscope's cache, then in torch's hub cache
    (:func:`hub_checkpoint`), and only then downloaded. With ``offline=True``
    no download is tried (``ModelError`` when neither cache has it). A download that does not match the table's hash is
    deleted and :class:`~salscope.errors.DownloadError` raised.
    """
    if entry.sha256 is not None:
        dest = cached_path(entry.sha256)
        if _verified(dest, entry.sha256):
            return dest
        hub = hub_checkpoint(entry)
        if hub is not None:
            return hub
        if offline:
            raise _offline_error(entry, "loading a checkpoint never downloads")
        try:
            return download_file(entry.url, dest, entry.sha256, size=entry.size, max_bytes=entry.max_bytes)
        except DownloadError as exc:
            raise _no_network(exc, entry, dest) from exc

    trust = _read_trust()
    known = trust.get(_trust_id(entry), {}).get("sha256")
    if isinstance(known, str) and _HEX64.fullmatch(known) and known.startswith(entry.sha256_prefix):
        dest = cached_path(known)
        if _verified(dest, known):
            return dest
    hub = hub_checkpoint(entry, known if isinstance(known, str) and _HEX64.fullmatch(known) else None)
    if hub is not None:
        return hub
    if offline:
        raise _offline_error(entry, "loading a checkpoint never downloads")
    folder = weights_cache() / "sha256"
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.filename}.", suffix=".download", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()  # download_file writes <tmp>.part, then renames it onto tmp
        try:
            download_file(entry.url, tmp, None, size=entry.size, max_bytes=entry.max_bytes, resume=False)
        except DownloadError as exc:
            raise _no_network(exc, entry, None) from exc
        digest = sha256_file(tmp)
        if not digest.startswith(entry.sha256_prefix):
            raise DownloadError(
                f"weights {entry.filename} from {entry.url} have sha256 {digest[:16]}…, expected a prefix "
                f"{entry.sha256_prefix}; the file was deleted — check the URL/mirror and retry"
            )
        dest = cached_path(digest)
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        with contextlib.suppress(FileNotFoundError):
            Path(str(tmp) + ".part").unlink()
    trust = _read_trust()
    trust[_trust_id(entry)] = {"key": entry.key, "url": entry.url, "sha256": digest}
    _write_trust(trust)
    return dest


def _no_network(exc: DownloadError, entry: WeightsFile, dest: Path | None) -> DownloadError:
    copy = f"either copy it to {dest} or " if dest is not None else ""
    return DownloadError(
        f"{exc}. Without network: fetch {entry.filename} elsewhere and {copy}pass its path as the weights "
        "(salscope train --weights FILE; study config [train] weights = \"FILE\")"
    )


def split_url(weights: str) -> tuple[str, str]:
    """``"https://host/f.pth#sha256=<hex>"`` → ``(url, sha256)``; ModelError when the hash is missing or malformed."""
    url, _, fragment = weights.partition("#")
    m = re.fullmatch(r"sha256=([0-9a-fA-F]{64})", fragment)
    if not m:
        raise ModelError(
            f"weights URL {weights!r} has no full SHA-256: append '#sha256=<64 hex digits>' "
            "(the hash of the file's bytes, e.g. from `sha256sum FILE`), or download the file yourself "
            "and pass its path"
        )
    return url, m.group(1).lower()


def fetch_url(weights: str) -> Path:
    """A user-supplied ``URL#sha256=<hex>``: downloaded once into the cache under its hash, verified."""
    url, digest = split_url(weights)
    dest = cached_path(digest)
    if _verified(dest, digest):
        return dest
    return download_file(url, dest, digest)
