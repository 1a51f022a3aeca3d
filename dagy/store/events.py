"""A run's ``events.jsonl``: every state change, appended before it reaches DuckDB.

Appending a line needs no lock, so the engine records each change here at once and applies them to
DuckDB in batches. If the process dies, the lines past ``runs.events_offset`` are replayed the next
time the store opens.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import IO, Any

from dagy.store.records import TASK_RUN_COLUMNS, TaskRunRecord

_TS_FIELDS = {"created_at", "started_at", "ended_at"}


def _encode(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, _dt.datetime) else v) for k, v in row.items()}


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (_dt.datetime.fromisoformat(v) if k in _TS_FIELDS and isinstance(v, str) else v)
        for k, v in row.items()
    }


class EventLog:
    """Append-only writer; call ``flush()`` at flush points so a crash loses at most one batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def run(self, **changes: Any) -> None:
        self._file.write(json.dumps({"k": "run", "v": _encode(changes)}) + "\n")

    def task(self, record: TaskRunRecord) -> None:
        row = {c: getattr(record, c) for c in TASK_RUN_COLUMNS}
        self._file.write(json.dumps({"k": "task", "v": _encode(row)}) + "\n")

    def flush(self) -> int:
        """Push buffered lines to the OS; returns the file's size (the offset now covered)."""
        self._file.flush()
        return self._file.tell()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def replay(path: Path, offset: int) -> tuple[dict[str, Any], dict[str, TaskRunRecord], int]:
    """Changes past ``offset``: merged run fields, latest task rows, and the new offset.

    Only whole lines count: a line being written as we read is left for the next replay.
    """
    run_changes: dict[str, Any] = {}
    tasks: dict[str, TaskRunRecord] = {}
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return run_changes, tasks, offset
    end = data.rfind(b"\n") + 1
    for line in data[:end].splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn line from a crash mid-write: skip it, keep the rest
        if event.get("k") == "run":
            run_changes.update(_decode(event["v"]))
        elif event.get("k") == "task":
            row = _decode(event["v"])
            tasks[row["task_run_id"]] = TaskRunRecord(**row)
    return run_changes, tasks, offset + end
