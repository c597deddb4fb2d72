"""The neuron browser page of a report: a sortable table of every channel and a page per channel.

Static and offline, like the rest of the report: ``neurons.html`` holds the
data inline (a JSON ``<script>`` element, so nothing is fetched from
``file://``), one small script of salscope's own (``neurons/browser.js``, no
library) and a style sheet; the thumbnails lie under ``neurons/thumbs/``,
hard-linked (copied where the file system cannot link) from the folder
:func:`salscope.analysis.neurons.browser.browser_data` wrote, so they are
encoded once per run whatever the number of report rewrites. A channel's page
has the address ``neurons.html#<layer>/<channel>`` (:func:`channel_link`).
"""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from salscope.errors import StudyError
from salscope.io import write_text

PAGE = "neurons.html"
ASSETS = "neurons"
_STATIC = ("browser.js", "browser.css")

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("salscope.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class BrowserPage:
    """What the browser shows: ``data`` from :func:`~salscope.analysis.neurons.browser.browser_data` and its folder."""

    data: dict[str, Any]
    folder: Path                 # holds the thumbs/ tree the data refers to
    title: str = "Neuron browser"
    back: str | None = "index.html"
    note: str = ""

    @classmethod
    def load(cls, folder: str | os.PathLike, **kwargs: Any) -> "BrowserPage":
        """The page for a folder written by ``browser_data`` (its ``data.json`` and ``thumbs/``)."""
        folder = Path(folder)
        try:
            data = json.loads((folder / "data.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StudyError(f"cannot read the neuron browser's data {folder / 'data.json'} ({exc}); rerun the "
                             "neuron analysis (salscope study --force neurons, or salscope dissect --report)") from exc
        if data.get("kind") != "salscope.neuron_browser":
            raise StudyError(f"{folder / 'data.json'} is not neuron-browser data (kind={data.get('kind')!r})")
        return cls(data, folder, **kwargs)


def channel_link(layer: str, channel: int, page: str = PAGE) -> str:
    """Relative address of one channel's page: ``neurons.html#<layer>/<channel>`` (the layer URL-quoted)."""
    return f"{page}#{quote(str(layer), safe='')}/{int(channel)}"


def _link_or_copy(src: Path, dest: Path) -> None:
    dest.unlink(missing_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def thumbnail_files(data: dict[str, Any]) -> list[str]:
    """Every thumbnail the data refers to, relative to its folder, in page order (``data["thumb"]["pattern"]``)."""
    pattern, layers = data["thumb"]["pattern"], data["layers"]
    return [pattern.format(layer=layers[u["layer"]]["slug"], channel=u["channel"], k=k, role=role["slug"])
            for u in data["units"] for k in range(len(u["regions"])) for role in data["roles"]]


def write_browser(out_dir: str | os.PathLike, page: BrowserPage) -> list[Path]:
    """Write ``out_dir/neurons.html``, the script and style sheet, and the thumbnails; return the files written.

    Raises :class:`StudyError` naming the first thumbnail the data refers to that
    is missing from ``page.folder`` (the page would show a broken image).
    """
    out_dir = Path(out_dir)
    data = page.data
    files = thumbnail_files(data)
    missing = [f for f in files if not (page.folder / f).is_file()]
    if missing:
        raise StudyError(f"the neuron browser's thumbnail {page.folder / missing[0]} is missing ({len(missing)} of "
                         f"{len(files)}); rerun the neuron analysis to write them again")
    assets = out_dir / ASSETS
    written = []
    for f in files:
        dest = assets / f
        dest.parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(page.folder / f, dest)
        written.append(dest)
    static = importlib.resources.files("salscope.report") / "templates"
    for name in _STATIC:
        written.append(write_text(assets / name, (static / name).read_text(encoding="utf-8")))
    roles = data["roles"]
    ref = next(r["label"] for r in roles if r["key"] == data["reference"])
    blob = json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    html = _ENV.get_template("neurons.html.j2").render(
        title=page.title, back=page.back, note=page.note, assets=ASSETS, layers=data["layers"],
        categories=data["categories"], roles=roles, threshold=data["threshold"], n_units=len(data["units"]),
        n_images=data["n_images"], n_regions=data["n_regions"], reference_label=ref,
        others=[r["label"] for r in roles if r["key"] != data["reference"]],
        # "<" only occurs inside JSON strings: as \u003c no name can end the script element early
        data_json=Markup(blob.replace("<", "\\u003c")))
    written.append(write_text(out_dir / PAGE, html))
    return written
