"""The Python snippets of the user docs run as written (each in a fresh folder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
RUNNABLE = ["models.md"]


def _snippets():
    for name in RUNNABLE:
        text = (DOCS / name).read_text()
        for k, block in enumerate(re.findall(r"```python\n(.*?)```", text, flags=re.S)):
            yield pytest.param(block, id=f"{name}-{k}")


@pytest.mark.parametrize("code", list(_snippets()))
def test_snippet_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "<doc snippet>", "exec"), {"__name__": "__doc_snippet__"})
