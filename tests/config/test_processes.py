"""Telling a live process from a gone one: pid, start time, and zombies."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from dagy.config.processes import process_alive, process_start_time


def test_a_live_process_is_alive_and_a_reused_pid_is_not():
    me = os.getpid()
    assert process_alive(me, process_start_time(me))
    assert not process_alive(me, "1")  # another start time: the pid was reused
    assert not process_alive(None, None)


def test_an_exited_child_not_yet_reaped_is_not_alive():
    """A zombie still answers kill(pid, 0); crash recovery must see it as gone (a server's
    child killed with it stays a zombie until someone reaps it)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = process_start_time(child.pid)
    deadline = time.monotonic() + 10
    while process_alive(child.pid, started) and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        os.kill(child.pid, 0)  # still there: not reaped
        assert not process_alive(child.pid, started)
    finally:
        child.wait()
