"""Reading a list of file formats from an option (``--figure-formats``, ``--table-formats``, ``[report]``)."""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from salscope.errors import ConfigError


def parse_formats(value: str | Iterable[str], known: Sequence[str], *, kind: str, option: str, example: str,
                  empty_hint: str | None = None, aliases: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """``"a,b"`` (or a list) → ``("a", "b")``: lower-cased, dots and duplicates dropped, ``aliases`` applied.

    :class:`ConfigError` names ``option`` for a name that is not a string, an unknown ``kind`` format
    (listing ``known``, suggesting ``example``) or an empty list (suggesting ``empty_hint``, default ``example``).
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"{option}: {item!r} is not a format name; use some of {', '.join(known)}")
        fmt = item.strip().lower().lstrip(".")
        fmt = (aliases or {}).get(fmt, fmt)
        if not fmt:
            continue
        if fmt not in known:
            raise ConfigError(f"{option}: unknown {kind} format {item.strip()!r}; use some of "
                              f"{', '.join(known)} (e.g. {option} {example})")
        if fmt not in out:
            out.append(fmt)
    if not out:
        raise ConfigError(f"{option}: give at least one {kind} format, e.g. {empty_hint or example}")
    return tuple(out)
