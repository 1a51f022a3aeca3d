"""The TUI reaches data only through dagy.backend: no module of dagy/tui imports the store, the
server file or the HTTP client, at the top or inside a function (an import-graph check over
every module of the package, not a grep of one file)."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import dagy.tui

FORBIDDEN = ("dagy.store", "dagy.config.server_file", "dagy.client")
TUI = Path(dagy.tui.__file__).parent


def _imports(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports, relative imports resolved, ``from x import y`` as x and x.y."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = importlib.util.resolve_name("." * node.level + base, package)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_no_tui_module_imports_the_store_the_server_file_or_the_client() -> None:
    modules = sorted(TUI.glob("*.py"))
    assert len(modules) > 5  # the check looks at the real package
    offending = {
        f"{path.name}: {name}"
        for path in modules
        for name in _imports(path, "dagy.tui")
        if _forbidden(name)
    }
    assert offending == set()


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f():\n    from dagy.config import server_file\n    import dagy.client.http\n"
    )
    assert {n for n in _imports(sample, "dagy.tui") if _forbidden(n)} == {
        "dagy.config.server_file",
        "dagy.client.http",
    }
