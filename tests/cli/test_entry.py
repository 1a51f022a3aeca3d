"""The `dagy` script ends without the interpreter's teardown (dagy.cli.main.entry): what the
usual exit owes still happens — atexit functions, flushed output, the exit code, waiting for a
non-daemon thread."""

from __future__ import annotations

import subprocess
import sys


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_atexit_functions_run_and_buffered_output_is_flushed_before_the_exit_code() -> None:
    done = _python(
        "import atexit, sys\n"
        "from dagy.cli.main import _leave\n"
        "atexit.register(lambda: print('from atexit'))\n"
        "sys.stdout.write('buffered, no newline; ')\n"
        "sys.stderr.write('an error line')\n"
        "_leave(3)\n"
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        3,
        "buffered, no newline; from atexit\n",
        "an error line",
    )


def test_a_message_as_exit_code_is_printed_and_exits_1() -> None:
    done = _python("from dagy.cli.main import _leave\n_leave('Stopped: no store')\n")
    assert (done.returncode, done.stderr) == (1, "Stopped: no store\n")


def test_a_running_non_daemon_thread_is_waited_for() -> None:
    done = _python(
        "import threading, time\n"
        "from dagy.cli.main import _leave\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done'))).start()\n"
        "_leave(0)\n"
    )
    assert (done.returncode, done.stdout) == (0, "thread done\n")


def test_the_dagy_script_keeps_its_exit_codes_and_output(run_dagy) -> None:
    shown = run_dagy("runs", "show", "no-such-run")
    assert (shown.returncode, shown.stdout, shown.stderr) == (3, "", "Run not found: no-such-run\n")
    version = run_dagy("--version")
    assert (version.returncode, version.stdout) == (0, "dagy 0.1.0\n")
