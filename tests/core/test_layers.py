"""The house's layers (../shared/STYLE.md): imports flow one way and nothing imports in a circle.

Read from the source with ``ast`` (nothing is imported), so the test is fast and
sees function-local imports too:

- an import circle counts only imports run when a module is imported (module and
  class level, ``try``/``if`` blocks included; not inside functions, not under
  ``if TYPE_CHECKING:``). Importing ``salscope.a.b`` is an edge to ``salscope.a.b``
  alone: Python runs the parent package's ``__init__`` first, but a submodule
  import inside that ``__init__`` is not a circle;
- a floor may import its own floor and lower ones, never a higher one — this
  counts every import, lazy and type-only ones too;
- every ``salscope`` module named by an import in src/, tests/, bench/ and
  scripts/ exists (catches imports left behind when a module moves).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"

#: Floors, bottom up: a module may import its own floor and the ones below.
FLOORS: list[set[str]] = [
    {"errors", "io", "progress", "names", "resources"},
    {"settings", "download", "devices", "metrics", "report"},
    {"data", "models"},
    {"train", "analysis"},
    {"study"},
    {"cli", "__main__"},
]


def module_names(src: Path, package: str = "salscope") -> dict[str, tuple[Path, bool]]:
    """``{dotted name: (file, is_package)}`` for every module under ``src/package``."""
    out = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(body: list[ast.stmt], at_import: bool):
    """``(node, runs_at_import_time)`` for every import statement under ``body``."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, at_import
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _imports(node.body, False)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _imports(node.body, False)
            yield from _imports(node.orelse, at_import)
        else:  # class bodies, if/try/with/for blocks run at import time
            for field in ("body", "orelse", "finalbody", "handlers"):
                sub = getattr(node, field, None)
                if isinstance(sub, list):
                    yield from _imports([s for s in sub if isinstance(s, ast.stmt | ast.excepthandler)], at_import)


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_pkg: bool, known: set[str],
             package: str) -> list[str]:
    """The package modules an import statement names (``from m import sub`` names ``m.sub`` when it is a module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == package]
    if node.level:
        base = module.split(".") if is_pkg else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != package:
        return []
    return [f"{target}.{a.name}" if f"{target}.{a.name}" in known else target for a in node.names]


def import_graph(src: Path, package: str = "salscope") -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """``(at_import_time, every)``: module → the package modules it imports."""
    mods = module_names(src, package)
    eager: dict[str, set[str]] = {m: set() for m in mods}
    every: dict[str, set[str]] = {m: set() for m in mods}
    for m, (path, is_pkg) in mods.items():
        for node, at_import in _imports(ast.parse(path.read_text(encoding="utf-8")).body, True):
            for t in _targets(node, m, is_pkg, set(mods), package):
                every[m].add(t)
                if at_import:
                    eager[m].add(t)
    return eager, every


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle ``[a, b, ..., a]`` of ``graph``, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in sorted(graph):
        if start in state:
            continue
        path, todo = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while todo:
            nxt = next(todo[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                todo.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state and nxt in graph:
                state[nxt] = 1
                path.append(nxt)
                todo.append(iter(sorted(graph[nxt])))
    return None


def floor_of(module: str, floors: list[set[str]] = FLOORS) -> int | None:
    """Floor of ``salscope.<top>...`` (the package root counts as floor 0), None when no floor names it."""
    parts = module.split(".")
    if len(parts) == 1:
        return 0
    return next((i for i, f in enumerate(floors) if parts[1] in f), None)


def upward_imports(every: dict[str, set[str]], floors: list[set[str]] = FLOORS) -> list[str]:
    return sorted(f"{m} (floor {floor_of(m, floors)}) imports {t} (floor {floor_of(t, floors)})"
                  for m, ts in every.items() for t in ts
                  if floor_of(m, floors) is not None and floor_of(t, floors) is not None
                  and floor_of(t, floors) > floor_of(m, floors))


# ---------------------------------------------------------------------------------------------------------------
# The checker finds what it should (a planted package)
# ---------------------------------------------------------------------------------------------------------------

def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_checker_finds_a_planted_circle_and_ignores_lazy_and_type_only_imports(tmp_path):
    src = _write(tmp_path, {
        "pkg/__init__.py": "from pkg.data import loaders\n",
        "pkg/data/__init__.py": "",
        "pkg/data/loaders.py": "from pkg.data.types import T\n",
        "pkg/data/types.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.data.loaders import x\n"
                              "def f():\n    from pkg.data import loaders\n"),
        "pkg/study/__init__.py": "",
        "pkg/study/a.py": "try:\n    from . import b\nexcept ImportError:\n    pass\n",
        "pkg/study/b.py": "class K:\n    from pkg.study.a import z\n",
    })
    eager, every = import_graph(src, "pkg")
    assert eager["pkg.data.types"] == set() and every["pkg.data.types"] == {"pkg.data.loaders"}
    assert eager["pkg"] == {"pkg.data.loaders"}
    assert eager["pkg.study.a"] == {"pkg.study.b"}           # relative import inside try: at import time
    assert find_cycle(eager) == ["pkg.study.a", "pkg.study.b", "pkg.study.a"]
    del eager["pkg.study.b"]
    assert find_cycle(eager) is None                          # the lazy and type-only back-edges are no circle
    assert find_cycle(every) == ["pkg.data.loaders", "pkg.data.types", "pkg.data.loaders"]
    floors = [{"data"}, {"study"}]
    assert upward_imports(every, floors) == []
    every["pkg.data.types"].add("pkg.study.a")
    assert upward_imports(every, floors) == ["pkg.data.types (floor 0) imports pkg.study.a (floor 1)"]


# ---------------------------------------------------------------------------------------------------------------
# salscope
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graph():
    return import_graph(SRC)


def test_every_package_has_a_floor(graph):
    eager, _ = graph
    tops = sorted({m.split(".")[1] for m in eager if "." in m})
    assert [t for t in tops if floor_of(f"salscope.{t}") is None] == [], "give each new package a floor in FLOORS"


def test_no_import_circle_at_import_time(graph):
    eager, _ = graph
    cycle = find_cycle(eager)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_no_floor_imports_a_higher_one(graph):
    _, every = graph
    assert upward_imports(every) == []


def test_every_imported_salscope_module_exists():
    known = set(module_names(SRC))
    missing = []
    for folder in ("src", "tests", "bench", "scripts"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO)
            for node, _ in _imports(ast.parse(path.read_text(encoding="utf-8")).body, True):
                if isinstance(node, ast.ImportFrom) and node.level:
                    continue  # relative imports are inside src and resolved by import_graph
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                missing += [f"{rel}:{node.lineno} imports {n}" for n in names
                            if n.split(".")[0] == "salscope" and n not in known]
    assert missing == []
