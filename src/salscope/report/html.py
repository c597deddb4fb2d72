"""Render the study report: a static, offline ``index.html`` with figures and tables.

The report folder is self-contained: figures are copied into ``figures/``
(the PNG shown on the page, and the figure's PDF/SVG files when
``figure_formats`` asks for them), gallery images into ``gallery/``, every
table is also written under ``tables/`` in each of ``table_formats`` (CSV,
JSON, Markdown, LaTeX), and the page uses no external resources (inline CSS,
no CDN; ``index.html`` has no script). Long tables sit behind a ``<details>``
summary, every table scrolls sideways inside its own box, and a table of
contents leads the page. With a :class:`~salscope.report.browser.BrowserPage`
the folder also holds the neuron browser (``neurons.html``,
:mod:`salscope.report.browser`).

salscope owns only the files it wrote there, listed in the folder's
``.salscope-manifest.json``; a rewrite replaces or removes those and never
touches any other file or folder (see :func:`write_report`).
"""

from __future__ import annotations

import html
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from salscope.errors import StudyError
from salscope.io import replace_folder, write_json, write_text
from salscope.report.browser import PAGE as BROWSER_PAGE
from salscope.report.browser import BrowserPage, write_browser
from salscope.report.figures import figure_files, parse_figure_formats
from salscope.report.tables import parse_table_formats, write_table
from salscope.report.verdicts import Verdict

#: What a report carries unless told otherwise.
REPORT_FIGURE_FORMATS = ("png",)
REPORT_TABLE_FORMATS = ("csv", "json")
_FORMAT_LABELS = {"csv": "CSV", "json": "JSON", "md": "Markdown", "tex": "LaTeX", "png": "PNG", "pdf": "PDF",
                  "svg": "SVG", "jpg": "JPEG", "jpeg": "JPEG"}
#: Tables with more rows than this are folded behind a ``<details>`` summary.
FOLD_ROWS = 12


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
class Link:
    """A link a section offers (shown in the section and beside its verdict in the findings table)."""

    href: str
    text: str


@dataclass
class GalleryCell:
    """One picture of a gallery row (``path`` None: an empty cell) and the line under it."""

    path: Path | None
    alt: str
    label: str = ""


@dataclass
class Gallery:
    """A grid of pictures: one row per image, one column per ``columns`` entry."""

    name: str
    caption: str
    columns: list[str]
    rows: list[tuple[str, list[GalleryCell]]]


@dataclass
class Section:
    """One finding of the paper: claim, measured tables and figures, verdict, and what the run can show."""

    id: str
    title: str
    claim: str
    verdict: Verdict | None = None
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    scope: str = ""          # "what this run can and cannot show", in plain words
    links: list[Link] = field(default_factory=list)
    galleries: list[Gallery] = field(default_factory=list)


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


def write_report(out_dir: Path, *, title: str, sections: list[Section], meta: dict[str, Any],
                 figure_formats: Any = REPORT_FIGURE_FORMATS, table_formats: Any = REPORT_TABLE_FORMATS,
                 browser: BrowserPage | None = None) -> Path:
    """Write ``out_dir/index.html`` plus ``figures/``, ``gallery/`` and ``tables/``; return the index path.

    ``browser``: also write the neuron browser (``neurons.html``), linked from
    the table of contents.

    ``figure_formats``: which files of each figure the report carries and
    links (the page shows its PNG, so ``png`` is always included; a PDF/SVG is
    copied when it was saved beside the PNG). ``table_formats``: the files of
    each table under ``tables/`` (``csv``, ``json``, ``md``, ``tex``).

    ``meta`` holds the run's config (TOML text), versions, stage timings and
    data provenance; it is shown at the end of the page and saved as
    ``tables/meta.json``. The files written are listed in
    ``out_dir/.salscope-manifest.json`` (written atomically); salscope owns
    those and nothing else in ``out_dir``.

    The new report is built beside ``out_dir``. If ``out_dir`` holds only
    files of the manifest, the whole folder is swapped in by renames, so a
    failure (disk full, kill) leaves the previous report whole, never a mix of
    old and new files. If it holds anything else (a user's notes, figures, or
    a report of a salscope without manifests), those entries are kept: the new
    files are renamed in one by one (each atomically) and only the previous
    manifest's files that the new report lacks are removed. A foreign file at
    a path the report needs is never replaced: :class:`StudyError` names it,
    before anything is written.
    """
    out_dir = Path(out_dir)
    owned, owned_folders = _manifest(out_dir)
    foreign = _foreign(out_dir, owned, owned_folders)
    partial = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    figure_formats = tuple(dict.fromkeys(("png", *parse_figure_formats(figure_formats, "figure_formats"))))
    table_formats = parse_table_formats(table_formats, "table_formats")
    try:
        files = _write_folder(partial, title=title, sections=sections, meta=meta, figure_formats=figure_formats,
                              table_formats=table_formats, browser=browser)
        needed = set(files) | {p.as_posix() for f in files for p in Path(f).parents if p != Path(".")}
        clash = sorted(f for f in needed & foreign if f in files or not (out_dir / f).is_dir()
                       or (out_dir / f).is_symlink())
        if clash:
            raise StudyError(f"{out_dir / clash[0]} was not written by salscope (it is not in {out_dir / MANIFEST}) "
                             "and the report would replace it; move it away (or, for a report of a salscope "
                             "without manifests, delete that report folder) or write the study to another --out")
        folders = sorted(p.relative_to(partial).as_posix() for p in partial.rglob("*") if p.is_dir())
        write_json(partial / MANIFEST, {"files": files, "folders": folders})
        if foreign:
            _merge(partial, out_dir, files, owned, owned_folders)
        else:
            replace_folder(partial, out_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return out_dir / "index.html"


MANIFEST = ".salscope-manifest.json"


def _manifest(out_dir: Path) -> tuple[set[str], set[str]]:
    """Relative POSIX paths of the files and folders salscope made in ``out_dir`` (empty: no manifest)."""
    try:
        record = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        files, folders = record["files"], record.get("folders", [])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set(), set()

    def inside(paths: Any) -> set[str]:
        # Only plain relative paths: a doctored manifest must not make salscope delete outside the folder.
        return {f for f in paths if isinstance(f, str) and f and not Path(f).is_absolute()
                and ".." not in Path(f).parts} if isinstance(paths, list) else set()

    return inside(files), inside(folders)


def _foreign(out_dir: Path, owned: set[str], owned_folders: set[str]) -> set[str]:
    """Entries of ``out_dir`` that salscope did not make: files not in ``owned``, folders it did not create."""
    if not out_dir.is_dir():
        return set()
    parents = owned_folders | {p.as_posix() for f in owned for p in Path(f).parents if p != Path(".")}
    found: set[str] = set()
    for root, dirs, names in os.walk(out_dir):
        rel = Path(root).relative_to(out_dir)
        for name in names + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = (rel / name).as_posix()
            if path not in owned and path != MANIFEST:
                found.add(path)
        for d in dirs:
            path = (rel / d).as_posix()
            if path not in parents and not os.path.islink(os.path.join(root, d)):
                found.add(path)   # a folder salscope did not make (its contents are foreign too)
    return found


def _merge(partial: Path, out_dir: Path, files: list[str], owned: set[str], owned_folders: set[str]) -> None:
    """Move the new report's files into ``out_dir`` beside foreign ones; drop stale files of the old manifest."""
    # The manifest first claims old and new files, so a kill half-way leaves every salscope file claimed.
    write_json(out_dir / MANIFEST, {"files": sorted(owned | set(files)), "folders": sorted(owned_folders)})
    for rel in files:
        dest = out_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial / rel, dest)
    for rel in sorted(owned - set(files)):
        (out_dir / rel).unlink(missing_ok=True)
    os.replace(partial / MANIFEST, out_dir / MANIFEST)


def _write_folder(out_dir: Path, *, title: str, sections: list[Section], meta: dict[str, Any],
                  figure_formats: tuple[str, ...] = REPORT_FIGURE_FORMATS,
                  table_formats: tuple[str, ...] = REPORT_TABLE_FORMATS,
                  browser: BrowserPage | None = None) -> list[str]:
    """Write the report into ``out_dir``; the files written, relative POSIX paths, sorted."""
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
            links = []
            for fmt, path in figure_files(fig.path).items():
                if fmt in figure_formats and path.suffix.lower() != Path(fig.path).suffix.lower():
                    shutil.copyfile(path, fig_dir / Path(name).with_suffix(path.suffix).name)
                    links.append({"label": _FORMAT_LABELS[fmt], "src": f"figures/{Path(name).with_suffix(path.suffix).name}"})
            figures.append({"src": f"figures/{name}", "alt": fig.alt, "caption": fig.caption, "files": links})
        tables = []
        for table in section.tables:
            header = table.header()
            written = write_table(tab_dir / table.name, table.rows, header, table_formats, caption=table.caption)
            links = [{"label": _FORMAT_LABELS[fmt], "src": f"tables/{path.name}"} for fmt, path in written.items()]
            tables.append({"name": table.name, "caption": table.caption, "header": header, "inline": table.inline,
                           "files": links, "fold": len(table.rows) > FOLD_ROWS,
                           "n_rows": len(table.rows),
                           "rows": [[r.get(k, "") for k in header] for r in table.rows] if table.inline else []})
        rendered.append({"id": section.id, "title": section.title, "claim": section.claim, "text": section.text,
                         "verdict": section.verdict.to_dict() if section.verdict else None, "scope": section.scope,
                         "links": [{"href": link.href, "text": link.text} for link in section.links],
                         "galleries": [_copy_gallery(g, section.id, out_dir) for g in section.galleries],
                         "figures": figures, "tables": tables})
    write_json(tab_dir / "meta.json", meta)
    if browser is not None:
        write_browser(out_dir, browser)
    page = _ENV.get_template("index.html.j2").render(title=title, sections=rendered, meta=meta, escape=html.escape,
                                                     browser=BROWSER_PAGE if browser is not None else None)
    write_text(out_dir / "index.html", page)
    return sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file())


def _copy_gallery(gallery: Gallery, section: str, out_dir: Path) -> dict[str, Any]:
    """Copy a gallery's pictures into ``out_dir/gallery/``; the gallery as the template reads it."""
    folder = out_dir / "gallery"
    folder.mkdir(exist_ok=True)
    rows = []
    for r, (label, cells) in enumerate(gallery.rows):
        out = []
        for c, cell in enumerate(cells):
            if cell.path is None:
                out.append(None)
                continue
            name = f"{section}-{gallery.name}-{r:02d}-{c:02d}{Path(cell.path).suffix}"
            shutil.copyfile(cell.path, folder / name)
            out.append({"src": f"gallery/{name}", "alt": cell.alt, "label": cell.label})
        rows.append({"label": label, "cells": out})
    return {"name": gallery.name, "caption": gallery.caption, "columns": gallery.columns, "rows": rows}
