"""Under the usual umask 022, the home is 0700 and every file Dagy writes in it is 0600."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, dagy_cmd

FLOW = """
from dagy import flow, task

@task
def make(n: int) -> dict:
    return {"n": n}

@flow(name="modes", version="1.0.0")
def modes(n: int = 2):
    return [make(i) for i in range(n)]
"""


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)  # what a login shell usually has; children inherit it
    yield
    os.umask(old)


def dagy(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*dagy_cmd(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DAGY_LOCAL_DIR": str(home)},
        cwd=str(REPO),
    )


def loose(home: Path) -> list[str]:
    """Every path under home (home included) open to group or others."""
    found = []
    for path in [home, *home.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            found.append(f"{path.relative_to(home.parent)} {mode:o}")
    return found


def test_a_run_and_a_server_write_only_private_files(umask_022, tmp_path, server_factory):
    home = tmp_path / "home"
    flows = tmp_path / "flows.py"
    flows.write_text(FLOW)
    done = dagy(home, "run", f"{flows}:modes", "--executor", "process")
    assert done.returncode == 0, done.stderr
    assert "Notice" not in done.stderr
    assert (home / "dagy.duckdb").exists() and list((home / "artifacts").rglob("*.json"))
    assert list((home / "runs").rglob("task.log"))
    assert loose(home) == []

    server = server_factory(home=home)  # started under umask 022 too
    assert (home / "server.json").exists()
    through_server = dagy(home, "run", f"{flows}:modes", "--param", "n=3")
    assert through_server.returncode == 0, through_server.stderr
    assert len(list((home / "runs").iterdir())) == 2
    assert loose(home) == []  # while it runs: the store, its .wal, server.json, logs, artifacts
    server.stop()
    assert loose(home) == []


def test_a_home_open_to_others_is_tightened_with_one_notice(umask_022, tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    (home / "config.yaml").write_text("version: 1\n")
    os.chmod(home / "config.yaml", 0o644)
    done = dagy(home, "runs", "list")
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"Notice: {home} was mode 755; tightened to 700 (owner only)\n"
    assert loose(home) == []
    again = dagy(home, "runs", "list")
    assert again.returncode == 0 and again.stderr == ""


def test_a_shared_sticky_folder_is_never_changed(umask_022, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp
    done = dagy(shared, "runs", "list")
    assert done.returncode == 0, done.stderr
    assert "Notice" not in done.stderr
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE((shared / "dagy.duckdb").stat().st_mode) == 0o600  # the umask still holds
