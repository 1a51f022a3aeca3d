"""`dagy run` on a terminal draws a live progress line, then prints the usual result line; with
--quiet, or when stdout is not a terminal, it prints only that line."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

from tests.conftest import REPO, dagy_cmd

FLOW = """
from dagy import flow, task

@task
def step(i: int) -> int:
    return i

@task
def total(xs: list) -> int:
    return sum(xs)

@flow
def many(n: int = 4):
    return total([step(i) for i in range(n)])
"""


def _on_a_terminal(*args: str) -> tuple[int, str]:
    """Run the real command with a pseudo-terminal as stdout and stderr; (exit code, output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*dagy_cmd(), *args], stdout=slave, stderr=slave, cwd=str(REPO), env=dict(os.environ)
    )
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(timeout=120), out.decode("utf-8", "replace")


def test_a_terminal_sees_the_progress_line_then_the_result(dagy_home: Path, tmp_path: Path) -> None:
    (tmp_path / "many.py").write_text(FLOW, encoding="utf-8")
    code, out = _on_a_terminal("run", f"{tmp_path / 'many.py'}:many", "--max-workers", "2")
    assert code == 0, out
    assert "5/5 task runs done · 0 running · 0 retrying · 0 failed" in out
    assert out.rstrip().splitlines()[-1].endswith("status=SUCCEEDED")
    assert "Run completed: many-" in out


def test_quiet_and_a_pipe_see_only_the_result_line(
    dagy_home: Path, tmp_path: Path, run_dagy
) -> None:
    (tmp_path / "many.py").write_text(FLOW, encoding="utf-8")
    code, out = _on_a_terminal("run", f"{tmp_path / 'many.py'}:many", "--quiet")
    assert code == 0, out
    assert "task runs done" not in out and "Run completed: many-" in out
    piped = run_dagy("run", f"{tmp_path / 'many.py'}:many")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith("Run completed: many-") and len(piped.stdout.splitlines()) == 1
    assert piped.stderr == ""


def test_the_progress_line_counts_skipped_task_runs_done_and_grows_with_a_maps_children():
    from dagy.cli._progress import RunProgress

    progress = RunProgress()
    progress.begin(3, reused=1)  # three task runs in the spec, one reused by a retry
    progress.task("skipped", "SKIPPED")
    progress.task("each", "RUNNING")
    for i in range(3):
        progress.task(f"each.{i}", "SUCCEEDED" if i else "FAILED")
    assert progress.summary().startswith(
        "5/6 task runs done · 1 running · 0 retrying · 1 failed · "
    )
