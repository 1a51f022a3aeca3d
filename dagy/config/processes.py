"""Is a process still the one we recorded? (pid plus kernel start time, so a reused pid is not.)"""

from __future__ import annotations

import os


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


__all__ = ["process_alive", "process_start_time"]
