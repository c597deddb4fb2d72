"""User-controlled names (categories, models, layers) made safe for file names and figure text.

- :func:`slug`: one path component from any name. Letters, digits, ``-``,
  ``_`` and ``.`` are kept and spaces become ``_`` (``"person head"`` →
  ``person_head``); if anything else had to change (``/``, ``$``, a leading
  dot, ``..``, control characters, an over-long name), the result ends in
  ``-`` + 8 hex digits of the name's SHA-1, so two different names that
  clean to the same text still get different files. The result never
  contains a path separator, never starts with ``.`` and is at most
  :data:`MAX_LEN` characters: ``folder / slug(name)`` is always inside ``folder``.
- :func:`plain_text`: a string that matplotlib draws as it is (``$`` escaped,
  so mathtext never parses a category name).
"""

from __future__ import annotations

import hashlib

MAX_LEN = 80


def _keep(c: str) -> bool:
    return c.isalnum() or c in "-_."


def slug(name: object) -> str:
    """A safe, deterministic file-name component for ``name`` (see the module notes)."""
    text = str(name)
    clean = "".join(c if _keep(c) else "_" for c in text.replace(" ", "_"))
    changed = clean != text.replace(" ", "_")
    stripped = clean.lstrip(".")
    if stripped != clean or not stripped:
        changed = True
        clean = stripped or "_"
    if len(clean) > MAX_LEN - 9:
        changed = True
        clean = clean[:MAX_LEN - 9]
    if changed:
        clean = f"{clean}-{hashlib.sha1(text.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"
    return clean


def plain_text(text: object) -> str:
    """``text`` with ``$`` escaped, so matplotlib shows it literally instead of parsing mathtext."""
    return str(text).replace("$", r"\$")


__all__ = ["MAX_LEN", "plain_text", "slug"]
