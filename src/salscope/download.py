"""Streamed, resumable, checksum-verified downloads.

``download_file`` fetches ``url`` into ``<dest>.part`` in chunks, resuming a
previous partial file with an HTTP ``Range: bytes=<size>-`` request when the
server answers ``206 Partial Content`` (and starting over on ``200``), checks the
SHA-256 of the whole file, then fsyncs and renames the part file onto ``dest``
(``os.replace``, atomic on one file system). ``dest`` therefore only ever holds a
complete, verified file: a cut connection leaves the ``.part`` file for the next
call to resume, a bad checksum deletes it.

Every download has a size bound, so a mirror that never stops sending cannot
fill the disk: ``size`` (the exact length, when a table knows it), else the
server's ``Content-Length``, and in every case at most ``max_bytes``
(:data:`MAX_BYTES` by default). A body longer than the bound is cut at
``bound + 1`` bytes, the part file is deleted and :class:`DownloadError` says
"the server sent more than N bytes".
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path

from salscope.errors import DownloadError

CHUNK = 1 << 16
USER_AGENT = "salscope-downloader/1"
MAX_BYTES = 2 << 30  # 2 GiB: the hard cap of one download when the caller gives none


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def download_file(url: str, dest: str | os.PathLike, sha256: str | None = None, *, resume: bool = True,
                  timeout: float = 30.0, progress: bool = True, size: int | None = None,
                  max_bytes: int | None = None) -> Path:
    """Download ``url`` to ``dest`` (streamed, resumable, size-bounded, SHA-256 checked, atomic rename).

    An existing ``dest`` whose SHA-256 matches (or any existing ``dest`` when
    ``sha256`` is None) is kept and nothing is fetched. ``size`` is the exact
    length of the file when known; ``max_bytes`` (default :data:`MAX_BYTES`)
    caps any download. Raises :class:`~salscope.errors.DownloadError` naming the
    URL on HTTP/network errors, truncated transfers (fewer bytes than
    ``Content-Length``), a body longer than ``size``/``Content-Length``/``max_bytes``
    ("the server sent more than N bytes"; the part file is deleted) and checksum
    mismatch.
    """
    dest = Path(dest)
    want = sha256.lower() if sha256 else None
    cap = int(max_bytes) if max_bytes is not None else MAX_BYTES
    if size is not None and int(size) > cap:
        raise DownloadError(f"{url}: the expected size {size} bytes exceeds the limit of {cap} bytes; raise max_bytes")
    if dest.is_file():
        if want is None or sha256_file(dest) == want:
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part_path(dest)
    if not resume:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    for attempt in (0, 1):
        offset = part.stat().st_size if part.is_file() else 0
        try:
            if size is not None and offset > int(size):
                part.unlink()  # a part file longer than the whole file: not ours, start over
                offset = 0
            complete = _fetch(url, part, offset, timeout, progress, dest.name, size, cap)
        except _RangeNotSatisfiable:
            # the part file is already as long as the resource (or longer): verify it below;
            # if it is wrong, start over once from byte 0
            complete = True
        if complete:
            got = sha256_file(part)
            if want is None or got == want:
                with open(part, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(part, dest)
                return dest
            part.unlink()
            if offset > 0 and attempt == 0:
                continue  # a stale part file from another version: retry from scratch
            raise DownloadError(
                f"checksum mismatch for {url}: expected sha256 {want}, got {got}; the file was deleted — "
                "check the URL/mirror (or the manifest) and run again"
            )
    raise DownloadError(f"could not download {url} to {dest}")  # pragma: no cover


class _RangeNotSatisfiable(Exception):
    pass


class _TooLong(Exception):
    pass


def _fetch(url: str, part: Path, offset: int, timeout: float, progress: bool, label: str,
           size: int | None = None, cap: int = MAX_BYTES) -> bool:
    """Stream ``url`` into ``part`` from byte ``offset``; True when the whole body arrived.

    The file may grow to ``size`` bytes when given, else to the announced length
    (``offset + Content-Length``), never beyond ``cap``; one byte more raises.
    """
    headers = {"User-Agent": USER_AGENT}
    if offset > 0:
        headers["Range"] = f"bytes={offset}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset > 0:
            raise _RangeNotSatisfiable() from None
        raise DownloadError(f"download of {url} failed: HTTP {exc.code} {exc.reason}; check the URL or mirror") from None
    except (urllib.error.URLError, socket.timeout, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot reach {url} ({reason}); check the network or the mirror URL and run again") from None
    with resp:
        status = getattr(resp, "status", 200)
        mode = "wb"
        if offset > 0 and status == 206:
            crange = resp.headers.get("Content-Range", "")
            start = crange.split(" ", 1)[-1].split("-", 1)[0] if crange else ""
            if start.strip() != str(offset):
                offset, mode = 0, "wb"  # server ignored our start: not safe to append
                resp.close()
                return _fetch_plain(url, part, timeout, progress, label, size, cap)
            mode = "ab"
        elif offset > 0:
            offset = 0  # 200: the server does not do ranges, start over
        length = resp.headers.get("Content-Length")
        expected = int(length) if length is not None and length.isdigit() else None
        if size is not None:
            limit, why = int(size), "the expected size"
        elif expected is not None:
            limit, why = offset + expected, "its Content-Length"
        else:
            limit, why = cap, "the download limit"
        if limit > cap:
            raise DownloadError(
                f"{url} announces {limit} bytes, more than the limit of {cap} bytes; nothing was downloaded — "
                "check the URL/mirror (or raise max_bytes if the file really is that large)"
            )
        if expected is not None and offset + expected != limit and size is not None:
            raise DownloadError(
                f"{url} announces {offset + expected} bytes but the file is known to have {size}; "
                "nothing more was downloaded — check the URL/mirror"
            )
        received = 0
        try:
            with open(part, mode) as fh:
                for block in _chunks(resp, expected, progress, f"download {label}", limit - offset + 1):
                    if offset + received + len(block) > limit:
                        raise _TooLong()
                    fh.write(block)
                    received += len(block)
        except _TooLong:
            resp.close()
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
            raise DownloadError(
                f"the server sent more than {limit} bytes ({why}) for {url}; stopped there and deleted "
                f"{part.name} — the mirror is broken or serves another file; check the URL/mirror"
            ) from None
        except (http.client.IncompleteRead, ConnectionError, socket.timeout, OSError) as exc:
            raise DownloadError(
                f"connection to {url} was cut after {offset + received} bytes ({exc}); "
                f"run again to resume from {part.name}"
            ) from None
        if expected is not None and received < expected:
            raise DownloadError(
                f"connection to {url} was cut: got {received} of {expected} bytes; run again to resume from {part.name}"
            )
    return True


def _fetch_plain(url: str, part: Path, timeout: float, progress: bool, label: str,
                 size: int | None = None, cap: int = MAX_BYTES) -> bool:
    with contextlib.suppress(FileNotFoundError):
        part.unlink()
    return _fetch(url, part, 0, timeout, progress, label, size, cap)


def _chunks(resp, expected: int | None, progress: bool, description: str, budget: int):
    """Blocks of the body; at most ``budget`` bytes in all are read (the caller's bound + 1)."""
    def gen():
        left = budget
        while left > 0:
            block = resp.read(min(CHUNK, left))
            if not block:
                return
            left -= len(block)
            yield block

    if not progress or expected is None or expected < (8 << 20):
        yield from gen()
        return
    from salscope.progress import track

    yield from track(gen(), description, total=-(-expected // CHUNK))
