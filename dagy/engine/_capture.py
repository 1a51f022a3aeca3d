"""Route what a task prints or logs to its own task.log, even with tasks running concurrently.

sys.stdout/sys.stderr are replaced once by routers that write to the log bound to the current thread
(or to the real stream when none is), and a root logging handler does the same for log records.
Both replace every secret value this process has seen (``register_secret``, called by
``dagy.secret()``) with ``****``. Each printed line starts with the time it was written, like the
engine's own lines, so a log reader never has to lend it the previous line's time.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import IO, Any, Protocol

_local = threading.local()
_lock = threading.Lock()
_installed = 0
_saved: tuple[Any, Any] | None = None
# Secret values to redact, longest first (so a value containing another is masked whole). Replaced,
# never mutated, so writers read it without the lock.
_secrets: tuple[str, ...] = ()
MASK = "****"
# Shorter values are not masked: a 1-3 character "secret" would mask digits of every timestamp.
MIN_SECRET_CHARS = 4


def register_secret(value: str) -> None:
    """From now on, write ``value`` (and each long line of a multi-line value) as ``****``."""
    global _secrets
    lines = {line.strip() for line in value.splitlines()} if "\n" in value else set()
    parts = {value} | {line for line in lines if len(line) >= 2 * MIN_SECRET_CHARS}
    new = {p for p in parts if len(p) >= MIN_SECRET_CHARS} - set(_secrets)
    if new:
        with _lock:
            _secrets = tuple(sorted({*_secrets, *new}, key=len, reverse=True))


def redact(text: str) -> str:
    for value in _secrets:
        if value in text:
            text = text.replace(value, MASK)
    return text


class Redacting:
    """A text stream that writes through ``redact`` (a process executor child's stdout/stderr)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _now() -> str:
    """``2026-03-04T12:00:00.123Z``: the engine's timestamp format."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def stamp(text: str, at_line_start: bool) -> tuple[str, bool]:
    """``text`` with the current time before each line it starts, and whether it ends a line.
    A line is stamped when its first character is written (a print's text, then its newline)."""
    if not text:
        return text, at_line_start
    now = _now()
    parts = text.split("\n")
    out = [f"{now} {parts[0]}" if at_line_start and parts[0] else parts[0]]
    out += [f"{now} {part}" if part else part for part in parts[1:]]
    return "\n".join(out), text.endswith("\n")


class Stamping:
    """A text stream that stamps each line it starts (a process executor child's stdout/stderr)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._at_line_start = True

    def write(self, text: str) -> int:
        stamped, self._at_line_start = stamp(text, self._at_line_start)
        self._stream.write(stamped)
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Router:
    def __init__(self, original: Any) -> None:
        self._original = original

    def write(self, text: str) -> int:
        if _secrets:
            text = redact(text)
        target = getattr(_local, "log", None)
        if target is not None and not target.closed:
            stamped, _local.at_line_start = stamp(text, getattr(_local, "at_line_start", True))
            target.write(stamped)
            return len(text)
        return self._original.write(text)

    def flush(self) -> None:
        target = getattr(_local, "log", None)
        if target is not None and not target.closed:
            target.flush()
        else:
            self._original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class _UTCFormatter(logging.Formatter):
    """``2026-03-04T12:00:00.123Z``: the same UTC timestamps as the engine's own log lines."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


LOG_FORMATTER = _UTCFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


class _TaskLogHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(LOG_FORMATTER)

    def emit(self, record: logging.LogRecord) -> None:
        target = getattr(_local, "log", None)
        if target is None or target.closed:
            return
        try:
            target.write(redact(self.format(record)) + "\n")
        except Exception:  # a logging failure must never fail the task
            self.handleError(record)


_handler = _TaskLogHandler()


def install() -> None:
    """Start routing (reference-counted, so nested runs in one process are fine)."""
    global _installed, _saved
    with _lock:
        if _installed == 0:
            _saved = (sys.stdout, sys.stderr)
            sys.stdout = _Router(sys.stdout)  # type: ignore[assignment]
            sys.stderr = _Router(sys.stderr)  # type: ignore[assignment]
            logging.getLogger().addHandler(_handler)
        _installed += 1


def uninstall() -> None:
    global _installed, _saved
    with _lock:
        _installed -= 1
        if _installed == 0 and _saved is not None:
            sys.stdout, sys.stderr = _saved
            _saved = None
            logging.getLogger().removeHandler(_handler)


class LogTarget(Protocol):
    """Where a thread's output goes: a text file, or the engine's lazily created task log."""

    closed: bool

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


def bind(log: LogTarget | IO[str] | None) -> None:
    """Send this thread's output to ``log`` (None: back to the real streams)."""
    _local.log = log
    _local.at_line_start = True
