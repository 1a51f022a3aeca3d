"""The layers of DESIGN.md, checked on the import graph: every ``import`` and ``from ... import``
in a module (at top level or inside a function) counts, not only the first lines of one file.

- the front ends (dagy/cli, dagy/tui) reach data only through dagy.backend: they import neither
  the store, nor the live-server file, nor the HTTP client, nor the services;
- the services choose no backend: no server file, no HTTP client;
- the SDK imports no service (a flow called from Python runs through a seam the services set).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dagy"


def _module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = PACKAGE) -> set[str]:
    """Every module ``path`` imports: ``from a.b import c`` counts as ``a.b`` and ``a.b.c``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _violations(folder: str, forbidden: tuple[str, ...], root: Path = PACKAGE) -> list[str]:
    bad = []
    for path in sorted((root / folder).rglob("*.py")):
        for name in sorted(imports_of(path, root)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(root.parent)} imports {name}")
    return bad


FRONT_END_FORBIDDEN = (
    "dagy.store",
    "dagy.config.server_file",
    "dagy.client",
    "dagy.services",
)


@pytest.mark.parametrize("front_end", ["cli", "tui"])
def test_front_ends_reach_data_only_through_the_backend(front_end: str) -> None:
    assert _violations(front_end, FRONT_END_FORBIDDEN) == []


def test_services_choose_no_backend() -> None:
    assert _violations("services", ("dagy.config.server_file", "dagy.client", "dagy.backend")) == []


def test_the_sdk_imports_no_service() -> None:
    assert _violations("sdk", ("dagy.services", "dagy.backend", "dagy.store")) == []


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    """The walk counts an import hidden in a function body and a relative one: it can fail."""
    root = tmp_path / "dagy"
    (root / "cli").mkdir(parents=True)
    (root / "cli" / "probe.py").write_text(
        "import click\n\n\ndef f():\n"
        "    from dagy.store.duckdb_store import DuckDBStore\n    from ..client import http\n",
        encoding="utf-8",
    )
    assert _violations("cli", FRONT_END_FORBIDDEN, root) == [
        "dagy/cli/probe.py imports dagy.client",
        "dagy/cli/probe.py imports dagy.client.http",
        "dagy/cli/probe.py imports dagy.store.duckdb_store",
        "dagy/cli/probe.py imports dagy.store.duckdb_store.DuckDBStore",
    ]


def test_only_the_backend_chooser_reads_the_live_server_file() -> None:
    """One place decides between a remote API, this home's live server and the store file."""
    readers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "server_file.read(" in text:
            readers.append(str(path.relative_to(PACKAGE.parent)))
    # The chooser; the store-sharing store (a run's writes travel to the live server); the server
    # itself (refusing to start twice).
    assert readers == [
        "dagy/backend/choose.py",
        "dagy/server/runner.py",
        "dagy/store/shared.py",
    ]


def test_help_imports_no_command_module_no_sdk_and_no_http_stack() -> None:
    """`dagy --help` lists the commands from dagy/cli/main.py's table: it imports none of them,
    nor the SDK, nor urllib.request / http.client (checked in a fresh interpreter)."""
    import json
    import subprocess
    import sys

    code = (
        "import contextlib, io, json, sys\n"
        "from dagy.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.endswith('_cmd')\n"
        "    or m.startswith(('dagy.sdk', 'dagy.backend', 'urllib.request', 'http.client')))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == []
