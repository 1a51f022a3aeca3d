"""The services' import graph has no circle, imports inside functions included (a lazy import
hides a circle from Python, not from the design): deployments → flows → deployments and
schedules → runs → deployments → schedules were the ones broken in issue 15."""

from __future__ import annotations

import ast
from pathlib import Path

import dagy

ROOT = Path(dagy.__file__).parent


def _modules(package: str) -> dict[str, Path]:
    base = ROOT.parent
    found = {}
    for path in (ROOT / package.removeprefix("dagy.").replace(".", "/")).rglob("*.py"):
        name = ".".join(path.relative_to(base).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def _imports(path: Path, known: dict[str, Path]) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in out if name in known}


def circles(package: str) -> list[list[str]]:
    """Every group of modules of ``package`` that import each other, round (Tarjan's SCCs)."""
    known = _modules(package)
    graph = {m: _imports(p, known) - {m, package} for m, p in known.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_services_import_no_circle():
    assert circles("dagy.services") == []


def test_the_check_sees_a_circle_made_by_a_function_level_import(tmp_path, monkeypatch):
    package = tmp_path / "dagy" / "services"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from dagy.services import b\n")
    (package / "b.py").write_text("def f():\n    from dagy.services import a\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path / "dagy")
    assert circles("dagy.services") == [["dagy.services.a", "dagy.services.b"]]
