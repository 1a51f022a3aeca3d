"""Is a process still the one we recorded? (pid plus kernel start time, so a reused pid is not.)"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROCESS_FILE = "process.json"  # in a task run's folder: the pid and start time of its process
_PR_SET_PDEATHSIG = 1


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of a process (Linux), to tell a live pid from a reused one."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        return stat[stat.rfind(b")") + 2 :].split()[19].decode()
    except (OSError, IndexError):
        return None


def _zombie(pid: int) -> bool:
    """Exited but not yet reaped by its parent (Linux): gone, though ``kill(pid, 0)`` works."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        return stat[stat.rfind(b")") + 2 :].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def process_alive(pid: int | None, started: str | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if _zombie(pid):
        return False
    if started is not None:
        now = process_start_time(pid)
        if now is not None and now != started:
            return False
    return True


def _libc_prctl() -> Any:
    """prctl from libc, resolved in the parent: the pre-exec hook must do nothing but call it."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here: a process that starts no child never pays for it

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL: Any = None
_PRCTL_RESOLVED = False


def die_with_parent(parent: int | None = None) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking the kernel to SIGKILL the child when the thread that started it dies
    (``PR_SET_PDEATHSIG``, Linux); None elsewhere (no-op). A parent already gone before the call
    (the child was reparented) makes the child exit at once, so it never outlives it."""
    global _PRCTL, _PRCTL_RESOLVED
    if not _PRCTL_RESOLVED:
        _PRCTL, _PRCTL_RESOLVED = _libc_prctl(), True
    if _PRCTL is None:
        return None
    expected = os.getpid() if parent is None else parent
    prctl = _PRCTL

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != expected:
            os._exit(1)

    return hook


def record_process(folder: Path, pid: int) -> None:
    """Write ``process.json`` (pid and kernel start time) into a task run's folder, so crash
    recovery can find the process, and its group, if it outlived its parent."""
    data = json.dumps({"pid": pid, "pid_started": process_start_time(pid)})
    with contextlib.suppress(OSError):
        (folder / PROCESS_FILE).write_text(data, encoding="utf-8")


def kill_survivors(run_folder: Path) -> list[int]:
    """SIGKILL the process group of every task process of a run (``task_runs/*/process.json``) that
    is still the process recorded; the pids killed. Crash recovery calls it before it marks the
    run's task runs FAILED, so a task never finishes its side effects after that."""
    killed = []
    for found in sorted(run_folder.glob(f"task_runs/*/{PROCESS_FILE}")):
        try:
            info = json.loads(found.read_text(encoding="utf-8"))
            pid, started = int(info["pid"]), info.get("pid_started")
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if started is None or not process_alive(pid, started):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # each task process leads its own group
            killed.append(pid)
    return killed


__all__ = [
    "die_with_parent",
    "kill_survivors",
    "process_alive",
    "process_start_time",
    "record_process",
]
