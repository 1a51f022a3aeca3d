"""A live progress line while `dagy run` executes on a terminal, and state colours for listings.

Only on a terminal: when stdout is a pipe or a file (scripts, tests) or `--quiet` is given, nothing
here writes anything, so the output is exactly the `Run completed: ...` line.
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import IO, Any

from dagy.states import (
    CANCELLED,
    FAILED,
    PENDING,
    RETRYING,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    UPSTREAM_FAILED,
)

STATE_STYLES = {
    SUCCEEDED: "green",
    FAILED: "bold red",
    UPSTREAM_FAILED: "red",
    SKIPPED: "dim",
    CANCELLED: "yellow",
    RUNNING: "cyan",
    RETRYING: "magenta",
    PENDING: "dim",
}
LEVEL_STYLES = {
    "ERROR": "bold red",
    "CRITICAL": "bold red",
    "WARNING": "yellow",
    "DEBUG": "dim",
}


def is_terminal(stream: IO[str] | None = None) -> bool:
    stream = stream if stream is not None else sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def colour_state(text: str, state: str, *, enabled: bool) -> str:
    """``text`` with ``state``'s colour as rich markup when ``enabled`` (a terminal), else as is."""
    style = STATE_STYLES.get(state)
    if not enabled or style is None:
        return text
    from rich.markup import escape

    return f"[{style}]{escape(text)}[/]"


def echo_coloured(lines: list[str], states: list[str | None], *, enabled: bool) -> None:
    """Print ``lines``; on a terminal, each line's state word in its colour."""
    if not enabled:
        sys.stdout.write("".join(f"{line}\n" for line in lines))
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False, soft_wrap=True)
    for line, state in zip(lines, states, strict=True):
        style = STATE_STYLES.get(state or "")
        if style and state and f" {state}" in line:
            head, _, tail = line.partition(f" {state}")
            console.print(f"{escape(head)} [{style}]{state}[/]{escape(tail)}")
        else:
            console.print(escape(line))


def log_line_style(line: str) -> str | None:
    """The colour of a log line by the level it names (``... ERROR ...`` or ``[ERROR] ...``)."""
    for level, style in LEVEL_STYLES.items():
        if f" {level} " in line or f"[{level}]" in line:
            return style
    return None


class RunProgress:
    """Task runs done/total, running, retrying, failed and the elapsed time, redrawn in place.

    ``begin`` and ``task`` are called from the engine's threads; rich redraws from its own. The
    line is transient: it disappears when the run ends and the usual result line follows.
    """

    def __init__(self, *, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._states: dict[str, str] = {}
        self._total = 0
        self._reused = 0  # task runs a retry reused: done, never reported one by one
        self._begun = False
        self._started = time.monotonic()
        self._live: Any = None

    # -- fed by the engine ------------------------------------------------------------------------

    def begin(self, total: int, reused: int = 0) -> None:
        with self._lock:
            self._total = total
            self._reused = reused
            self._begun = True

    def task(self, task_run_id: str, status: str) -> None:
        with self._lock:
            self._states[task_run_id] = status

    # -- drawn by rich ----------------------------------------------------------------------------

    def summary(self) -> str:
        elapsed = f"{time.monotonic() - self._started:.1f}s"
        with self._lock:
            if not self._begun:  # loading and building the flow
                return f"starting · {elapsed}"
            states = list(self._states.values())
            # A map's children (``<map>.<i>``) join the run as it goes: the total grows with them.
            total = max(self._total, len(states) + self._reused)
            reused = self._reused
        done = reused + sum(
            s in (SUCCEEDED, FAILED, CANCELLED, UPSTREAM_FAILED, SKIPPED) for s in states
        )
        parts = [
            f"{done}/{total} task runs done",
            f"{states.count(RUNNING)} running",
            f"{states.count(RETRYING)} retrying",
            f"{states.count(FAILED) + states.count(UPSTREAM_FAILED)} failed",
            elapsed,
        ]
        return " · ".join(parts)

    def __rich__(self) -> Any:
        from rich.text import Text

        return Text(self.summary())

    def __enter__(self) -> RunProgress:
        from rich.console import Console
        from rich.live import Live

        console = Console(file=self._stream or sys.stdout)
        self._live = Live(self, console=console, transient=True, refresh_per_second=8)
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            self._live = None
