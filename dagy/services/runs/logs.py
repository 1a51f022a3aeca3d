"""A run's log (or one task run's) as the API pages it: GET /runs/{run_id}/logs.

Each line of ``run.log``/``task.log`` is a ``LogLine``: ``timestamp`` parsed from the line (None
for a line without one, a traceback: the engine stamps a task's prints as written), ``message``
(``[LEVEL] text`` when the line names a level). ``ingestion_time`` is when the file was last written (the engine appends lines as
they happen, so it is when the newest line arrived). ``next_token`` is an opaque byte offset; it
stays set while the run is active, so a client can follow the log. The API's event shape (where an
untimed line takes the previous line's time) is made at the server's edge (dagy/server/shapes.py).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagy.config.paths import DagyPaths, check_path_id
from dagy.errors import InvalidInputError, NotFoundError
from dagy.services import pagination
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import FINAL_STATUSES

DEFAULT_LIMIT = 500
MAX_LIMIT = 10_000
_CHUNK = 1 << 16
_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


def _offset(token: str | None) -> int:
    position = pagination.decode_token(token, size=1)
    if position is None:
        return 0
    value = position[0]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInputError("Invalid next_token", {"next_token": "malformed"})
    return value


def _time(text: str) -> str | None:
    """``2026-03-04T12:00:00.123Z`` when ``text`` is an ISO timestamp, else None."""
    if len(text) < 19 or text[4:5] != "-" or "T" not in text:
        return None
    try:
        moment = _dt.datetime.fromisoformat(text[:-1] if text.endswith("Z") else text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


@dataclass(frozen=True)
class LogLine:
    timestamp: str | None  # None: the line was written without one
    message: str


@dataclass(frozen=True)
class LogPage:
    lines: list[LogLine]
    next_token: str | None  # None once the run has ended and every line was read
    ingestion_time: str | None  # when the file was last written; None when there is no file


def parse_line(line: str, previous: str | None = None) -> tuple[str | None, str]:
    """(timestamp, message) of one log line; ``previous`` for a line without a time."""
    first, _, rest = line.partition(" ")
    stamp = _time(first)
    if stamp is None:
        return previous, line
    level, _, text = rest.partition(" ")
    if level in _LEVELS:
        return stamp, f"[{level}] {text}"
    return stamp, rest


def read_lines(path: Path, offset: int, limit: int, *, partial: bool) -> tuple[list[str], int]:
    """Up to ``limit`` lines from byte ``offset``, and the offset after them. A last line without
    its newline is left for later unless ``partial`` (the file is complete)."""
    lines: list[str] = []
    with open(path, "rb") as fh:
        fh.seek(offset)
        buffer = b""
        while len(lines) < limit:
            chunk = fh.read(_CHUNK)
            if not chunk:
                if partial and buffer:
                    lines.append(buffer.decode("utf-8", "replace"))
                    offset += len(buffer)
                break
            buffer += chunk
            while len(lines) < limit:
                end = buffer.find(b"\n")
                if end < 0:
                    break
                lines.append(buffer[:end].decode("utf-8", "replace").rstrip("\r"))
                offset += end + 1
                buffer = buffer[end + 1 :]
    return lines, offset


def read(
    store: DuckDBStore,
    paths: DagyPaths,
    org_id: str,
    run_id: str,
    *,
    task_run_id: str | None = None,
    limit: Any = None,
    next_token: str | None = None,
) -> LogPage:
    """A page of the run's (or task run's) log; 404 for an unknown run or task run, or a log that
    retention removed."""
    if task_run_id:
        check_path_id(task_run_id)  # before any lookup: a path is made from it below
    size = pagination.clamp_limit(limit, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    offset = _offset(next_token)
    with store.connection():
        run = store.get_run_summary(run_id, org_id)
        if run is None:
            raise NotFoundError(f"Run not found: {run_id}", {"run_id": run_id})
        if task_run_id and not any(t.task_run_id == task_run_id for t in store.task_runs(run_id)):
            raise NotFoundError(f"Task run not found: {task_run_id}", {"task_run_id": task_run_id})
    path = paths.task_log(run_id, task_run_id) if task_run_id else paths.run_log(run_id)
    finished = run.status in FINAL_STATUSES
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        if run.files_pruned:
            raise NotFoundError(f"Log not found: {path}", {"run_id": run_id}) from None
        return LogPage([], None if finished else pagination.encode_token([0]), None)
    ingested = _dt.datetime.fromtimestamp(mtime, _dt.timezone.utc).replace(tzinfo=None)
    lines, end = read_lines(path, offset, size, partial=finished)
    parsed = [LogLine(*parse_line(line)) for line in lines]
    more = len(lines) == size or not finished
    return LogPage(
        parsed,
        pagination.encode_token([end]) if more else None,
        ingested.isoformat(timespec="seconds") + "Z",
    )
