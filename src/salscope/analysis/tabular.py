"""What every result object of the analyses shares: its tables as pandas, CSV, LaTeX, and a short repr.

A result class inherits :class:`TabularResult` and says which tables it has
(``_tables()``: ``{name: (columns, rows)}``, the first one its main table,
rows as plain dicts). Then, for any result ``r``:

- ``r.tables()``: the names, main table first;
- ``r.to_pandas(table=None)``: a :class:`pandas.DataFrame` of one table, one
  row per row dict, the columns in the table's order (pandas is optional:
  ``pip install pandas``);
- ``r.to_csv(path, table=None)``: the same table as CSV, written atomically;
- ``r.write_tables(stem, formats)``: one table in Markdown/CSV/LaTeX/JSON
  (:func:`salscope.report.tables.write_table`);
- ``repr(r)``: one line, class, main table's shape and columns, the other
  table names — never the rows themselves (a notebook cell stays readable).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from salscope.errors import AnalysisError
from salscope.report.tables import write_table

#: At most this many characters in a result's repr.
REPR_WIDTH = 160


def require_pandas() -> Any:
    """The ``pandas`` module, or :class:`AnalysisError` saying how to install it (it is an optional extra)."""
    try:
        import pandas  # noqa: PLC0415 (optional: only to_pandas needs it)
    except ImportError:
        raise AnalysisError("to_pandas() needs pandas, which is not installed; run `pip install pandas` "
                            "(or `pip install salscope[tables]`), or use to_csv(path) / the rows directly") from None
    return pandas


class TabularResult:
    """Mixin: ``to_pandas``, ``to_csv``, ``write_tables`` and a one-line repr from ``_tables()``."""

    def _tables(self) -> dict[str, Any]:  # pragma: no cover - abstract
        """``{name: (columns, rows)}``, main table first; a value may be a function giving that pair (built on use)."""
        raise NotImplementedError

    def tables(self) -> list[str]:
        """Names of this result's tables, the main one first."""
        return list(self._tables())

    def table(self, table: str | None = None) -> tuple[list[str], list[dict[str, Any]]]:
        """``(columns, rows)`` of one table (default: the main one)."""
        tables = self._tables()
        name = next(iter(tables)) if table is None else table
        if name not in tables:
            raise AnalysisError(f"{type(self).__name__} has no table {name!r}; its tables: {', '.join(tables)}")
        value = tables[name]
        columns, rows = value() if callable(value) else value
        return list(columns), list(rows)

    def to_pandas(self, table: str | None = None) -> Any:
        """One table (default: the main one) as a :class:`pandas.DataFrame`, one row per row dict."""
        pd = require_pandas()
        columns, rows = self.table(table)
        return pd.DataFrame.from_records([{c: r.get(c) for c in columns} for r in rows], columns=columns)

    def to_csv(self, path: str | os.PathLike, table: str | None = None) -> Path:
        """Write one table (default: the main one) as CSV, atomically; return the path."""
        columns, rows = self.table(table)
        return write_table(path, rows, columns, ("csv",))["csv"]

    def write_tables(self, dest: str | os.PathLike, formats: str | Iterable[str] = ("md", "csv", "tex"),
                     table: str | None = None, caption: str | None = None) -> dict[str, Path]:
        """Write one table in each of ``formats`` (``md``, ``csv``, ``tex``, ``json``) as ``dest.<format>``."""
        columns, rows = self.table(table)
        return write_table(dest, rows, columns, formats, caption=caption)

    def __repr__(self) -> str:
        tables = self._tables()
        name = next(iter(tables))
        columns, rows = self.table(name)
        others = [t for t in tables if t != name]
        tail = f"; tables {', '.join(others)}" if others else ""
        head = f"{type(self).__name__}({name}: {len(rows)} rows × {len(columns)} columns ["
        cols, shown = "", 0
        for c in columns:
            piece = (", " if shown else "") + str(c)
            if len(head) + len(cols) + len(piece) + len(tail) + 4 > REPR_WIDTH:
                break
            cols, shown = cols + piece, shown + 1
        more = ", …" if shown < len(columns) else ""
        text = f"{head}{cols}{more}]{tail})"
        return text if len(text) <= REPR_WIDTH else text[: REPR_WIDTH - 2] + "…)"
