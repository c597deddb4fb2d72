"""Rich progress bars that stay quiet when output is not a terminal or is disabled.

``track(iterable, description, total)`` wraps any loop; set ``SALSCOPE_PROGRESS=0``
(tests, CI logs) to silence every bar.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def enabled() -> bool:
    """Whether progress bars are shown (a TTY and ``SALSCOPE_PROGRESS`` not ``0``)."""
    flag = os.environ.get("SALSCOPE_PROGRESS")
    if flag is not None:
        return flag not in ("0", "false", "no", "")
    return sys.stderr.isatty()


def track(iterable: Iterable[T], description: str = "working", total: int | None = None) -> Iterator[T]:
    """Iterate ``iterable`` with a rich progress bar on stderr when enabled."""
    if not enabled():
        yield from iterable
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=total)
        for item in iterable:
            yield item
            progress.advance(task)
