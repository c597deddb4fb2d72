"""Atomic file output: a killed run leaves the old file or the new one, never half.

Every writer goes to a temporary file in the destination folder, flushes and
fsyncs it, then ``os.replace``-s it into place. JSON outputs carry a
``schema_version``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

SCHEMA_VERSION = 1


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; rename it onto ``dest`` on success.

    On any exception the temporary file is removed and ``dest`` is untouched.
    ``suffix`` defaults to ``dest``'s own suffix so libraries that pick a format
    by extension (matplotlib, PIL, numpy) still do.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix if suffix is not None else dest.suffix, dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp creates 0600; give the file the mode a plain open() would have.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def replace_folder(staged: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Put the finished folder ``staged`` at ``dest``, replacing what is there with two renames.

    An existing ``dest`` is moved aside to ``.<name>.old`` first and deleted after the swap, so a killed
    run leaves either the old folder or the new one at ``dest``, never a mix. ``staged`` must be on the
    same file system (a sibling of ``dest``).
    """
    dest = Path(dest)
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        os.replace(dest, old)
    os.replace(staged, dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest


def write_bytes(dest: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
    return Path(dest)


def write_text(dest: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``dest`` atomically."""
    return write_bytes(dest, text.encode("utf-8"))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def finite_or_none(v) -> float | None:
    """``float(v)``, or ``None`` when it is NaN/inf (how tables and JSON show a missing number)."""
    v = float(v)
    return v if math.isfinite(v) else None


def json_safe(obj: Any) -> Any:
    """``obj`` with every NaN/±Inf float (Python or numpy, at any depth) replaced by ``None``.

    JSON has no NaN or Infinity; ``json.dumps`` would write the non-standard
    tokens ``NaN``/``Infinity`` that strict readers (browsers, ``jq``) reject.
    numpy scalars and arrays become Python numbers and lists, paths strings.
    """
    if isinstance(obj, dict):
        return {(k.item() if isinstance(k, np.generic) else k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(dest: str | os.PathLike, payload: dict, *, schema_version: int = SCHEMA_VERSION) -> Path:
    """Write a JSON object atomically, with ``schema_version`` added first.

    Non-finite floats are written as ``null`` (:func:`json_safe`): the file is
    always standard JSON, never with ``NaN``/``Infinity`` tokens.
    """
    body = {"schema_version": schema_version, **{k: v for k, v in payload.items() if k != "schema_version"}}
    return write_text(dest, json.dumps(json_safe(body), indent=1, default=_json_default, allow_nan=False) + "\n")


def write_npy(dest: str | os.PathLike, array: np.ndarray) -> Path:
    """Save one array as ``.npy`` atomically."""
    with atomic_path(dest, suffix=".npy") as tmp:
        np.save(tmp, array)
    return Path(dest)


def write_npz(dest: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Save several arrays as a compressed ``.npz`` atomically."""
    with atomic_path(dest, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    return Path(dest)


def write_csv(dest: str | os.PathLike, rows: list[dict], fieldnames: list[str] | None = None) -> Path:
    """Write a list of dicts as CSV atomically (columns from the first row unless given)."""
    import csv
    import io as _io

    if fieldnames is None:
        fieldnames = list(rows[0].keys()) if rows else []
    buf = _io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fieldnames, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text(dest, buf.getvalue())
