"""Saving figures: one helper for every figure salscope writes, in the formats the user picked.

Every figure goes through :func:`save_figure`, which writes one file per
format beside each other (``fig.png``, ``fig.pdf``, ``fig.svg``), each
atomically. PNG is for the HTML report and quick looks; PDF and SVG are vector
files for papers (text stays text, lines stay lines; images inside a figure
are embedded at the figure's dpi). The formats come from, in order: the
``formats`` argument, the innermost :func:`figure_formats` block (what the
CLI's ``--figure-formats`` and the study's ``[report] figure_formats`` set),
else PNG alone.

PDF and SVG files carry no creation date (and SVG ids a fixed salt), so the
same figure gives the same bytes on every run.

:func:`pyplot` is the one place that picks matplotlib's backend: ``Agg`` (no
display needed), chosen once and only when nothing imported
``matplotlib.pyplot`` before, so a notebook's own backend is left alone.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator

from salscope.io import atomic_path
from salscope.report.formats import parse_formats

#: Formats a figure can be saved in (matplotlib writes them with nothing beyond itself).
FIGURE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg")
#: What a figure is saved as when nobody picked formats.
DEFAULT_FORMATS = ("png",)
#: Vector formats (what ``--figure-formats png,pdf,svg`` adds to the PNG).
VECTOR_FORMATS = ("pdf", "svg")

_FORMATS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("salscope_figure_formats",
                                                                             default=DEFAULT_FORMATS)
# Creation dates left out, so a figure's file does not change from run to run.
_METADATA = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}
_backend_chosen = False


def pyplot() -> Any:
    """``matplotlib.pyplot``, with the ``Agg`` backend chosen once if no one imported pyplot before."""
    global _backend_chosen
    if not _backend_chosen:
        import matplotlib  # noqa: PLC0415 (matplotlib loads only when a figure is drawn)

        if "matplotlib.pyplot" not in sys.modules:
            matplotlib.use("Agg")
        _backend_chosen = True
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def parse_figure_formats(value: str | Iterable[str], option: str = "--figure-formats") -> tuple[str, ...]:
    """``"png,pdf,svg"`` (or a list) → ``("png", "pdf", "svg")``; :class:`ConfigError` names ``option`` on a bad one."""
    return parse_formats(value, FIGURE_FORMATS, kind="figure", option=option, example="png,pdf,svg",
                         empty_hint="png or png,pdf,svg")


def current_figure_formats() -> tuple[str, ...]:
    """The formats :func:`save_figure` uses when it is given none."""
    return _FORMATS.get()


@contextlib.contextmanager
def figure_formats(formats: str | Iterable[str]) -> Iterator[tuple[str, ...]]:
    """Within the block, every :func:`save_figure` without ``formats`` writes these formats."""
    token = _FORMATS.set(parse_figure_formats(formats, "figure formats"))
    try:
        yield _FORMATS.get()
    finally:
        _FORMATS.reset(token)


def figure_path(dest: str | os.PathLike, fmt: str) -> Path:
    """``dest`` with the suffix of ``fmt`` (``fig.png`` → ``fig.pdf``); a name without a known suffix gets one added."""
    dest = Path(dest)
    if dest.suffix.lower().lstrip(".") in FIGURE_FORMATS:
        return dest.with_suffix(f".{fmt}")
    return dest.with_name(f"{dest.name}.{fmt}")


def save_figure(fig: Any, dest: str | os.PathLike, formats: str | Iterable[str] | None = None, **kwargs: Any) -> Path:
    """Save a matplotlib figure once per format, atomically; return the PNG (else the first format's) path.

    ``dest`` names the file (its suffix is replaced per format: ``out/fig.png``
    with formats png, pdf gives ``out/fig.png`` and ``out/fig.pdf``);
    ``formats`` defaults to :func:`current_figure_formats`. ``kwargs`` go to
    :meth:`matplotlib.figure.Figure.savefig` (``dpi``, ``bbox_inches``).
    """
    import matplotlib  # noqa: PLC0415 (the caller drew the figure: matplotlib is loaded already)

    chosen = current_figure_formats() if formats is None else parse_figure_formats(formats, "formats")
    written: dict[str, Path] = {}
    for fmt in chosen:
        path = figure_path(dest, fmt)
        extra = dict(kwargs)
        if fmt in _METADATA and "metadata" not in extra:
            extra["metadata"] = _METADATA[fmt]
        with atomic_path(path) as tmp, matplotlib.rc_context({"svg.hashsalt": "salscope"}):
            fig.savefig(tmp, format="jpeg" if fmt == "jpg" else fmt, **extra)
        written[fmt] = path
    return written.get("png", next(iter(written.values())))


def missing_formats(record: Any, formats: Iterable[str]) -> list[str]:
    """The ``formats`` that some figure of ``record`` lacks on disk.

    ``record``: any JSON-like value (a stage's results); every ``"path"``
    string in it naming an existing PNG counts as a saved figure.
    """
    wanted = parse_figure_formats(formats, "formats")
    lacking: set[str] = set()
    stack = [record]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            path = item.get("path")
            if isinstance(path, str) and path.lower().endswith(".png") and Path(path).is_file():
                lacking.update(f for f in wanted if not figure_path(path, f).is_file())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return [f for f in wanted if f in lacking]


def figure_files(path: str | os.PathLike) -> dict[str, Path]:
    """The files of one saved figure that exist: ``{format: path}`` for ``fig.png``, ``fig.pdf``, ``fig.svg`` …"""
    return {fmt: p for fmt in FIGURE_FORMATS if (p := figure_path(path, fmt)).is_file()}
