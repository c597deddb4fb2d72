"""What the commands print and which file formats they write: tables that are never cut, format options.

:func:`print_table` shows a :class:`rich.table.Table` boxed only on a terminal
wide enough for every cell in full; in a pipe, a log file, a test runner or a
narrow terminal it prints the same cells as a Markdown table, so no value is
ever shortened to ``0.55…``. ``--figure-formats`` and ``--table-formats`` have
one spelling and one meaning in every command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from salscope.report.tables import to_markdown

if TYPE_CHECKING:   # rich loads when a table is printed, not at CLI start-up
    from rich.console import Console
    from rich.table import Table

FIGURE_FORMATS_HELP = ("Formats of every figure, comma-separated: png, pdf, svg (vector, for papers), jpg; "
                       "e.g. png,pdf,svg.")
TABLE_FORMATS_HELP = "Formats of the key tables, comma-separated: md, csv, tex (LaTeX, booktabs), json."


def _plain(cell: object) -> str:
    from rich.text import Text  # noqa: PLC0415

    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):
        return Text.from_markup(cell).plain
    return str(cell)


def table_text(table: "Table") -> str:
    """The cells of a rich table as a Markdown table (title on the line above), every value in full."""
    header = [_plain(c.header) for c in table.columns]
    columns = [[_plain(cell) for cell in c.cells] for c in table.columns]
    rows = [dict(zip(header, values)) for values in zip(*columns)] if columns else []
    numeric = [c.justify == "right" for c in table.columns]
    title = f"{_plain(table.title)}\n\n" if table.title else ""
    return title + to_markdown(rows, header, numeric=numeric)


def print_table(table: "Table", console: "Console | None" = None) -> None:
    """Print ``table`` boxed on a terminal that fits it, else as a Markdown table (never cut)."""
    from rich.console import Console  # noqa: PLC0415

    console = console or Console()
    # measured without the console's width limit: the width the table needs to show every cell in full
    if console.is_terminal and console.measure(table, options=console.options.update(max_width=1 << 20)).maximum \
            <= console.width:
        console.print(table)
    else:
        typer.echo(table_text(table), nl=False)
