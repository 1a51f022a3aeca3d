"""Runs as every front end sees them, whichever backend answered: typed, in dagy.states' words."""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from typing import Any


def _iso(value: _dt.datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


@dataclass(frozen=True)
class Run:
    run_id: str
    flow_name: str
    flow_version: str
    status: str  # dagy.states: PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED
    created_at: _dt.datetime | None = None  # naive UTC, like the store's
    started_at: _dt.datetime | None = None
    ended_at: _dt.datetime | None = None
    deployment_name: str | None = None
    trigger: str | None = None  # cli, api, retry, schedule, sensor, ...
    retry_of: str | None = None
    executor: str | None = None
    execution_mode: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    output: Any = None
    error: str | None = None
    tags: list[str] = field(default_factory=list)

    @property
    def flow_id(self) -> str:
        return f"{self.flow_name}:{self.flow_version}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("created_at", "started_at", "ended_at"):
            out[key] = _iso(out[key])
        out["duration_seconds"] = self.duration_seconds
        return out


@dataclass(frozen=True)
class TaskRun:
    task_run_id: str
    task_name: str
    status: str  # dagy.states, task-run words included (RETRYING, UPSTREAM_FAILED)
    attempt: int = 0
    max_attempts: int = 1
    executor: str | None = None
    started_at: _dt.datetime | None = None
    ended_at: _dt.datetime | None = None
    duration_seconds: float | None = None
    error: str | None = None
    reused_from: str | None = None  # the run whose result a retry reused

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("started_at", "ended_at"):
            out[key] = _iso(out[key])
        return out


@dataclass(frozen=True)
class RunsPage:
    items: list[Run]
    next_token: str | None = None
    total: int | None = None  # how many match in all, when the backend can say cheaply


@dataclass(frozen=True)
class RunDetail:
    run: Run
    task_runs: list[TaskRun]
    edges: list[tuple[str, str]] | None = None  # the DAG, upstream → downstream task run ids


@dataclass(frozen=True)
class LogLine:
    timestamp: str | None  # ISO 8601 with milliseconds and Z, as GET /runs/{id}/logs gives it
    message: str

    def __str__(self) -> str:
        return f"{self.timestamp} {self.message}" if self.timestamp else self.message


@dataclass(frozen=True)
class LogChunk:
    """Log lines from a position, and the token to ask for more; None once the run has ended and
    every line was read."""

    lines: list[LogLine]
    next_token: str | None
