"""Fixtures that build real things: a temporary DAGY_LOCAL_DIR, flow files, the real `dagy` command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from dagy.config.paths import DagyPaths

REPO = Path(__file__).resolve().parent.parent
DAGY = shutil.which("dagy") or ""


@pytest.fixture
def dagy_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DAGY_LOCAL_DIR for this test (never the user's ~/.dagy)."""
    home = tmp_path / "dagy-home"
    monkeypatch.setenv("DAGY_LOCAL_DIR", str(home))
    for name in (
        "DAGY_PROFILE",
        "DAGY_API_URL",
        "DAGY_APP_URL",
        "DAGY_LOCAL_VERBOSE",
        "DAGY_LOCAL_ARTIFACT_MAX_BYTES",
        "DAGY_LOCAL_KEEP_RUNS",
        "DAGY_DEBUG",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def paths(dagy_home: Path) -> DagyPaths:
    return DagyPaths(dagy_home)


@pytest.fixture
def write_flow(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a flow module (dedented source) to tmp_path/<name>.py and return its path."""

    def write(source: str, name: str = "flows") -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    return write


def dagy_cmd() -> list[str]:
    return [DAGY] if DAGY else [sys.executable, "-c", "from dagy.cli.main import main; main()"]


@pytest.fixture
def run_dagy(dagy_home: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real `dagy` command as a subprocess against the temporary home."""

    def run(
        *args: str, input: str | None = None, timeout: float = 60, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(
            [*dagy_cmd(), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            cwd=str(REPO),
        )

    return run


def popen_dagy(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*dagy_cmd(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=str(REPO),
    )


def pid_alive(pid: int) -> bool:
    """True while a process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except OSError:
        return False
