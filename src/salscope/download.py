"""Streamed, resumable, checksum-verified downloads.

``download_file`` fetches ``url`` into ``<dest>.part`` in chunks, resuming a
previous partial file with an HTTP ``Range: bytes=<size>-`` request when the
server answers ``206 Partial Content`` (and starting over on ``200``), checks the
SHA-256 of the whole file, then fsyncs and renames the part file onto ``dest``
(``os.replace``, atomic on one file system). ``dest`` therefore only ever holds a
complete, verified file: a cut connection leaves the ``.part`` file for the next
call to resume, a bad checksum deletes it.
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
                  timeout: float = 30.0, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` (streamed, resumable, SHA-256 checked, atomic rename).

    An existing ``dest`` whose SHA-256 matches (or any existing ``dest`` when
    ``sha256`` is None) is kept and nothing is fetched. Raises
    :class:`~salscope.errors.DownloadError` naming the URL on HTTP/network errors,
    truncated transfers (fewer bytes than ``Content-Length``) and checksum mismatch.
    """
    dest = Path(dest)
    want = sha256.lower() if sha256 else None
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
            complete = _fetch(url, part, offset, timeout, progress, dest.name)
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


def _fetch(url: str, part: Path, offset: int, timeout: float, progress: bool, label: str) -> bool:
    """Stream ``url`` into ``part`` from byte ``offset``; True when the whole body arrived."""
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
                return _fetch_plain(url, part, timeout, progress, label)
            mode = "ab"
        elif offset > 0:
            offset = 0  # 200: the server does not do ranges, start over
        length = resp.headers.get("Content-Length")
        expected = int(length) if length is not None and length.isdigit() else None
        received = 0
        try:
            with open(part, mode) as fh:
                for block in _chunks(resp, expected, progress, f"download {label}"):
                    fh.write(block)
                    received += len(block)
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


def _fetch_plain(url: str, part: Path, timeout: float, progress: bool, label: str) -> bool:
    with contextlib.suppress(FileNotFoundError):
        part.unlink()
    return _fetch(url, part, 0, timeout, progress, label)


def _chunks(resp, expected: int | None, progress: bool, description: str):
    def gen():
        while True:
            block = resp.read(CHUNK)
            if not block:
                return
            yield block

    if not progress or expected is None or expected < (8 << 20):
        yield from gen()
        return
    from salscope.progress import track

    yield from track(gen(), description, total=-(-expected // CHUNK))
