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

from dagy.store.records import TaskRunRecord

_TS_FIELDS = {"created_at", "started_at", "ended_at"}


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (_dt.datetime.fromisoformat(v) if k in _TS_FIELDS and isinstance(v, str) else v)
        for k, v in row.items()
    }


class EventLog:
    """Append-only writer; call ``flush()`` at flush points so a crash loses at most one batch.

    Lines are encoded by msgspec (a TaskRunRecord as it is, datetimes as ISO 8601): about 4 us an
    event where json.dumps of a converted dict took ~70 us, on the engine's one scheduler thread.
    """

    def __init__(self, path: Path) -> None:
        import msgspec

        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = open(path, "ab")  # noqa: SIM115 - closed in close()
        self._encode = msgspec.json.Encoder().encode

    def run(self, **changes: Any) -> None:
        self._file.write(self._encode({"k": "run", "v": changes}) + b"\n")

    def task(self, record: TaskRunRecord) -> None:
        self._file.write(self._encode({"k": "task", "v": record}) + b"\n")

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
