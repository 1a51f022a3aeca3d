"""Records as JSON for the loopback store routes: datetimes as ISO strings, task runs as columns.

Both ends are the same Dagy install (the CLI and the `dagy serve` of one home), so the shape is
simple rather than versioned: a field one side does not know is a 400, not silently dropped.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import Any

from dagy.store.records import RUN_COLUMNS, TASK_RUN_COLUMNS, RunRecord, TaskRunRecord, row_of

_RUN_TIMES = frozenset({"created_at", "started_at", "ended_at"})
_TASK_TIMES = tuple(i for i, c in enumerate(TASK_RUN_COLUMNS) if c in ("started_at", "ended_at"))


class WireError(ValueError):
    """A body that does not decode to records (a field unknown here, a malformed timestamp)."""


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, _dt.datetime) else value


def _time(value: Any) -> _dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireError(f"not an ISO timestamp: {value!r}")
    try:
        return _dt.datetime.fromisoformat(value)
    except ValueError:
        raise WireError(f"not an ISO timestamp: {value!r}") from None


def encode_changes(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: _iso(v) for k, v in changes.items()}


def decode_changes(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise WireError("run changes must be an object")
    unknown = set(data) - set(RUN_COLUMNS)
    if unknown:
        raise WireError(f"unknown run fields: {', '.join(sorted(unknown))}")
    return {k: (_time(v) if k in _RUN_TIMES else v) for k, v in data.items()}


def encode_run(run: RunRecord) -> dict[str, Any]:
    return {c: _iso(getattr(run, c)) for c in RUN_COLUMNS}


def decode_run(data: Any) -> RunRecord:
    changes = decode_changes(data)
    try:
        return RunRecord(**changes)
    except TypeError as exc:  # a required field is missing
        raise WireError(str(exc)) from None


def encode_task_runs(rows: Iterable[TaskRunRecord]) -> dict[str, Any]:
    """``{"columns": [...], "rows": [[...], ...]}``: names once, not once per task run."""
    encoded = []
    for record in rows:
        row = row_of(record, TASK_RUN_COLUMNS)
        for i in _TASK_TIMES:
            row[i] = _iso(row[i])
        encoded.append(row)
    return {"columns": list(TASK_RUN_COLUMNS), "rows": encoded}


def decode_task_runs(data: Any) -> list[TaskRunRecord]:
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise WireError("task runs must be an object with columns and rows")
    columns = data.get("columns")
    if not isinstance(columns, list):
        raise WireError("task runs must name their columns")
    unknown = set(map(str, columns)) - set(TASK_RUN_COLUMNS)
    if unknown:
        raise WireError(f"unknown task-run fields: {', '.join(sorted(unknown))}")
    records = []
    for row in data["rows"]:
        if not isinstance(row, list) or len(row) != len(columns):
            raise WireError("a task-run row does not match its columns")
        values = dict(zip(columns, row, strict=True))
        for name in ("started_at", "ended_at"):
            if name in values:
                values[name] = _time(values[name])
        try:
            records.append(TaskRunRecord(**values))
        except TypeError as exc:
            raise WireError(str(exc)) from None
    return records
