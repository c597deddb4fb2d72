"""Render the study report: a static, offline ``index.html`` with figures and tables.

The report folder is self-contained: figures are copied into ``figures/``,
every table is also written as CSV and JSON under ``tables/``, and the page
uses no external resources (inline CSS, no scripts, no CDN).
"""

from __future__ import annotations

import html
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from salscope.io import write_csv, write_json, write_text
from salscope.report.verdicts import Verdict


@dataclass
class Table:
    """A table of rows (dicts) with a caption; ``name`` is its CSV/JSON file stem."""

    name: str
    caption: str
    rows: list[dict[str, Any]]
    columns: list[str] | None = None
    inline: bool = True     # False: only linked (CSV/JSON), for long tables

    def header(self) -> list[str]:
        if self.columns:
            return self.columns
        cols: list[str] = []
        for row in self.rows:
            cols.extend(k for k in row if k not in cols)
        return cols


@dataclass
class Figure:
    """A figure file to copy into the report, with its alt text and caption."""

    path: Path
    alt: str
    caption: str = ""


@dataclass
class Section:
    """One finding of the paper: claim, measured tables and figures, verdict."""

    id: str
    title: str
    claim: str
    verdict: Verdict | None = None
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("salscope.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["fmt"] = _fmt


def write_report(out_dir: Path, *, title: str, sections: list[Section], meta: dict[str, Any]) -> Path:
    """Write ``out_dir/index.html`` plus ``figures/`` and ``tables/``; return the index path.

    ``meta`` holds the run's config (TOML text), versions, stage timings and
    data provenance; it is shown at the end of the page and saved as
    ``tables/meta.json``. The whole folder is built beside ``out_dir`` and
    swapped in by renames, so a failure (disk full, kill) leaves the previous
    report whole, never a mix of old and new files.
    """
    out_dir = Path(out_dir)
    partial = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _write_folder(partial, title=title, sections=sections, meta=meta)
        old = out_dir.with_name(f".{out_dir.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if out_dir.exists():
            out_dir.rename(old)
        partial.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return out_dir / "index.html"


def _write_folder(out_dir: Path, *, title: str, sections: list[Section], meta: dict[str, Any]) -> Path:
    fig_dir = out_dir / "figures"
    tab_dir = out_dir / "tables"
    fig_dir.mkdir(parents=True, exist_ok=True)
    tab_dir.mkdir(parents=True, exist_ok=True)
    rendered = []
    for section in sections:
        figures = []
        for i, fig in enumerate(section.figures):
            name = f"{section.id}-{i:02d}-{Path(fig.path).name}"
            shutil.copyfile(fig.path, fig_dir / name)
            figures.append({"src": f"figures/{name}", "alt": fig.alt, "caption": fig.caption})
        tables = []
        for table in section.tables:
            header = table.header()
            write_csv(tab_dir / f"{table.name}.csv", [{k: r.get(k, "") for k in header} for r in table.rows], header)
            write_json(tab_dir / f"{table.name}.json", {"caption": table.caption, "rows": table.rows})
            tables.append({"name": table.name, "caption": table.caption, "header": header, "inline": table.inline,
                           "n_rows": len(table.rows), "rows": [[r.get(k, "") for k in header] for r in table.rows]})
        rendered.append({"id": section.id, "title": section.title, "claim": section.claim, "text": section.text,
                         "verdict": section.verdict.to_dict() if section.verdict else None,
                         "figures": figures, "tables": tables})
    write_json(tab_dir / "meta.json", meta)
    page = _ENV.get_template("index.html.j2").render(title=title, sections=rendered, meta=meta, escape=html.escape)
    return write_text(out_dir / "index.html", page)
