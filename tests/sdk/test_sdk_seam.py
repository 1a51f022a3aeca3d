"""dagy/sdk reaches the services only through dagy/sdk/hooks.py: no module of it imports
``dagy.services``, importing the SDK loads none of them, and calling a flow still runs it."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import dagy.sdk

SDK = Path(dagy.sdk.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_sdk_module_imports_the_services():
    offenders = {
        f"{path.name}: {name}"
        for path in SDK.glob("*.py")
        for name in _imports(path)
        if name == "dagy.services" or name.startswith("dagy.services.")
    }
    assert offenders == set()


def test_calling_a_flow_runs_it_through_the_registered_runner(tmp_path: Path):
    code = textwrap.dedent(
        """
        import sys
        from dagy import flow, task

        @task
        def double(x: int) -> int:
            return x * 2

        @flow(name="seam")
        def seam(n: int = 2):
            return double(n)

        assert not [m for m in sys.modules if m.startswith("dagy.services")]
        print(seam(n=21))
        assert "dagy.services.runs.execute" in sys.modules
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"DAGY_LOCAL_DIR": str(tmp_path / "home"), "PATH": "/usr/bin:/bin",
             "PYTHONPATH": str(SDK.parent.parent)},
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"
    assert any(p.name.startswith("seam-") for p in (tmp_path / "home" / "runs").iterdir())
