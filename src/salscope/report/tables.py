"""Tables for papers and terminals: one table (rows of dicts) as Markdown, CSV, JSON or LaTeX.

:func:`write_table` writes a table once per chosen format, each file
atomically (``summary.md``, ``summary.csv``, ``summary.tex`` …);
:func:`to_markdown` gives every value in full (what the CLI prints when its
output is not a terminal wide enough for a boxed table); :func:`to_latex`
gives a ``booktabs`` table (``\\toprule``/``\\midrule``/``\\bottomrule``, no
vertical rules), numeric columns right-aligned, every cell escaped by
:func:`latex_escape`.

Numbers are written with four significant digits (``0.81234`` → ``0.8123``)
in Markdown and LaTeX, the way the HTML report shows them; CSV and JSON keep
every digit. A missing value (``None``, NaN) is ``–`` in Markdown and LaTeX,
``null`` in JSON.

References
----------
S. Fear. *Publication quality tables in LaTeX* (the ``booktabs`` package
documentation, CTAN), 2020: no vertical rules, three horizontal ones.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from salscope.io import write_csv, write_json, write_text
from salscope.report.formats import parse_formats

#: Formats a table can be written in.
TABLE_FORMATS = ("csv", "md", "tex", "json")

# LaTeX's special characters, then a few non-ASCII symbols salscope's tables use that pdflatex cannot set as text.
_LATEX = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
    "↓": r"$\downarrow$", "↑": r"$\uparrow$", "→": r"$\rightarrow$", "′": r"$'$", "×": r"$\times$",
    "≤": r"$\leq$", "≥": r"$\geq$", "±": r"$\pm$", "−": r"$-$", "–": "--", "—": "---", "·": r"$\cdot$",
    "‖": r"$\|$", "°": r"$^\circ$", "Δ": r"$\Delta$", "α": r"$\alpha$", "σ": r"$\sigma$", "\n": " ",
}
MISSING = "–"


def parse_table_formats(value: str | Iterable[str], option: str = "--table-formats") -> tuple[str, ...]:
    """``"md,csv,tex"`` (or a list) → ``("md", "csv", "tex")``; :class:`ConfigError` names ``option`` on a bad one."""
    return parse_formats(value, TABLE_FORMATS, kind="table", option=option, example="md,csv,tex",
                         aliases={"markdown": "md", "latex": "tex"})


def columns_of(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> list[str]:
    """``columns`` if given, else every key of the rows in first-seen order."""
    if columns:
        return list(columns)
    out: list[str] = []
    for row in rows:
        out.extend(k for k in row if k not in out)
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)
                             and math.isnan(value))


def cell_text(value: Any) -> str:
    """How Markdown and LaTeX show one value: floats with 4 significant digits, lists joined, None as ``–``."""
    if _missing(value):
        return MISSING
    if isinstance(value, (bool, numbers.Integral)):
        return str(value)
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell_text(v) for v in value)
    return str(value)


def latex_escape(text: Any) -> str:
    """``text`` safe inside a LaTeX table cell: ``& % $ # _ { } ~ ^ \\`` escaped, a few symbols as math."""
    return "".join(_LATEX.get(ch, ch) for ch in str(text))


def _numeric(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def to_latex(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, *,
             caption: str | None = None, label: str | None = None) -> str:
    """A ``booktabs`` LaTeX table of ``rows``: ``tabular`` in a ``table`` float when a caption or label is given.

    A column whose values are all numbers (or missing) is right-aligned
    (``r``), any other left-aligned (``l``). Needs ``\\usepackage{booktabs}``.
    """
    cols = columns_of(rows, columns)
    spec = "".join("r" if any(_numeric(r.get(c)) for r in rows)
                   and all(_numeric(r.get(c)) or _missing(r.get(c)) for r in rows) else "l" for c in cols)
    lines = [f"\\begin{{tabular}}{{{spec or 'l'}}}", r"\toprule",
             " & ".join(latex_escape(c) for c in cols) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_escape(cell_text(r.get(c))) for c in cols) + r" \\" for r in rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption is None and label is None:
        body = lines
    else:
        body = [r"\begin{table}[t]", r"\centering"]
        if caption is not None:
            body.append(f"\\caption{{{latex_escape(caption)}}}")
        if label is not None:
            body.append(f"\\label{{tab:{''.join(ch if ch.isalnum() or ch in '-:.' else '-' for ch in label)}}}")
        body += lines + [r"\end{table}"]
    return "% Written by salscope; needs \\usepackage{booktabs}\n" + "\n".join(body) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, *,
                numeric: Sequence[bool] | None = None) -> str:
    """A GitHub Markdown table with every value in full (numeric columns right-aligned).

    Cells may be strings already (a CLI table's formatted cells); ``numeric``
    then says which columns to right-align.
    """
    cols = columns_of(rows, columns)
    if numeric is None:
        numeric = [any(_numeric(r.get(c)) for r in rows) and all(_numeric(r.get(c)) or _missing(r.get(c)) for r in rows)
                   for c in cols]
    head = "| " + " | ".join(_md_cell(str(c)) for c in cols) + " |"
    sep = "|" + "|".join("---:" if n else "---" for n in numeric) + "|"
    body = ["| " + " | ".join(_md_cell(cell_text(r.get(c))) for c in cols) + " |" for r in rows]
    return "\n".join([head, sep, *body]) + "\n"


def write_table(dest: str | os.PathLike, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
                formats: str | Iterable[str] = ("csv",), *, caption: str | None = None) -> dict[str, Path]:
    """Write one table in each of ``formats`` beside each other (``dest`` with the format's suffix); atomic.

    ``csv``: every value as Python's ``csv`` writes it (``None`` empty); ``json``:
    ``{"caption", "columns", "rows"}`` with NaN as ``null``; ``md``: a caption
    line and the Markdown table; ``tex``: :func:`to_latex` with the caption
    and the file stem as label. Returns ``{format: path}``.
    """
    dest = Path(dest)
    cols = columns_of(rows, columns)
    out: dict[str, Path] = {}
    for fmt in parse_table_formats(formats, "formats"):
        path = dest.with_suffix(f".{fmt}") if dest.suffix.lstrip(".") in TABLE_FORMATS else dest.with_name(f"{dest.name}.{fmt}")
        if fmt == "csv":
            out[fmt] = write_csv(path, [{c: r.get(c, "") for c in cols} for r in rows], cols)
        elif fmt == "json":
            out[fmt] = write_json(path, {"caption": caption, "columns": cols, "rows": [dict(r) for r in rows]})
        elif fmt == "md":
            out[fmt] = write_text(path, (f"{caption}\n\n" if caption else "") + to_markdown(rows, cols))
        else:
            out[fmt] = write_text(path, to_latex(rows, cols, caption=caption, label=path.stem))
    return out
