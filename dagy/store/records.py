"""Rows of the store as plain dataclasses, and the status vocabulary."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, fields
from typing import Any

# The state vocabulary lives in dagy/states.py; re-exported here for the store's modules.
from dagy.states import (  # noqa: E402,F401
    ACTIVE_STATUSES,
    API_STATUS,
    CANCELLED,
    FAILED,
    FINAL_STATUSES,
    PENDING,
    RETRYING,
    RUN_STATUSES,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    TASK_STATUSES,
    UPSTREAM_FAILED,
)


def utcnow() -> _dt.datetime:
    """Naive UTC now: the store keeps TIMESTAMP columns in UTC."""
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def iso_z(value: _dt.datetime | None) -> str:
    """``2026-03-04T12:00:00Z`` (seconds), the spec's timestamp format; ``-`` when unset."""
    if value is None:
        return "-"
    return value.replace(microsecond=0).isoformat() + "Z"


@dataclass
class RunRecord:
    run_id: str
    flow_name: str
    flow_version: str
    status: str
    created_at: _dt.datetime
    org_id: str = "personal"
    deployment_name: str | None = None
    entrypoint: str | None = None
    trigger: str = "cli"
    parameters: str | None = None
    flow_spec: str | None = None
    output: str | None = None
    error: str | None = None
    retry_of: str | None = None
    executor: str = "local"
    max_workers: int = 1
    fail_fast: bool = True
    pid: int | None = None
    pid_started: str | None = None
    host: str | None = None
    started_at: _dt.datetime | None = None
    ended_at: _dt.datetime | None = None
    events_offset: int = 0
    files_pruned: bool = False
    execution_mode: str | None = None
    tags: str | None = None  # JSON list
    replay_of: str | None = None  # the run a `dagy runs replay` replayed

    @property
    def flow_id(self) -> str:
        return f"{self.flow_name}:{self.flow_version}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def to_json(self, *, include_spec: bool = False) -> dict[str, Any]:
        import json

        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "flow_spec" and not include_spec:
                continue
            if f.name in {"parameters", "output", "flow_spec", "tags"} and value is not None:
                value = json.loads(value)
            elif isinstance(value, _dt.datetime):
                value = value.isoformat() + "Z"
            out[f.name] = value
        out["duration_seconds"] = self.duration_seconds
        return out


RUN_COLUMNS = tuple(f.name for f in fields(RunRecord))


@dataclass
class TaskRunRecord:
    run_id: str
    task_run_id: str
    task_name: str
    seq: int
    status: str
    org_id: str = "personal"
    attempt: int = 0
    max_attempts: int = 1
    executor: str | None = None
    started_at: _dt.datetime | None = None
    ended_at: _dt.datetime | None = None
    duration_seconds: float | None = None
    error: str | None = None
    artifact_path: str | None = None
    reused_from: str | None = None
    source_hash: str | None = None  # of the task's code and config (dagy/sdk/source_hash.py)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.isoformat() + "Z" if isinstance(value, _dt.datetime) else value
        return out


TASK_RUN_COLUMNS = tuple(f.name for f in fields(TaskRunRecord))


def row_of(record: Any, columns: tuple[str, ...]) -> list[Any]:
    """A record's values in column order (dataclasses.astuple deep-copies: too slow per task)."""
    return [getattr(record, c) for c in columns]
