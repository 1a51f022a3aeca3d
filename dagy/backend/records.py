"""Runs as every front end sees them, whichever backend answered: typed, in dagy.states' words."""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from typing import Any


def iso(value: _dt.datetime | None) -> str | None:
    """A record's time as JSON: ISO 8601 with ``Z``."""
    return value.isoformat() + "Z" if value is not None else None


def parse_time(value: object) -> _dt.datetime | None:
    """An API time (``2026-03-04T12:00:00Z``) as the store keeps it: naive UTC."""
    if not isinstance(value, str) or not value or value == "-":
        return None
    moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return moment


def seconds(value: _dt.datetime | None) -> _dt.datetime | None:
    """A store time at the API's precision (whole seconds), so both backends give equal records."""
    return value.replace(microsecond=0) if value is not None else None


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
    replay_of: str | None = None  # the run this one replayed (`dagy runs replay`)

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
            out[key] = iso(out[key])
        out["duration_seconds"] = self.duration_seconds
        return out


@dataclass(frozen=True)
class TaskRun:
    task_run_id: str
    task_name: str
    status: str  # dagy.states, task-run words included (RETRYING, UPSTREAM_FAILED, SKIPPED)
    attempt: int = 0
    max_attempts: int = 1
    executor: str | None = None
    started_at: _dt.datetime | None = None
    ended_at: _dt.datetime | None = None
    duration_seconds: float | None = None
    error: str | None = None
    reused_from: str | None = None  # the run whose result a retry or replay reused
    source_hash: str | None = None  # of the task's code and config (dagy/sdk/source_hash.py)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("started_at", "ended_at"):
            out[key] = iso(out[key])
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


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class LogLine:
    """One line of a log. ``timestamp``: ISO 8601 with milliseconds and Z, None for a line written
    without one (a task's print, a traceback); ``message``: ``[LEVEL] text`` when it names a level."""

    timestamp: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.timestamp} {self.message}" if self.timestamp else self.message

    @property
    def text(self) -> str:
        """The line as the log file has it (``<time> LEVEL text``): what `dagy logs` prints."""
        if self.timestamp is None:
            return self.message
        level, _, rest = self.message.partition("] ")
        if level.startswith("[") and level[1:] in _LEVELS:
            return f"{self.timestamp} {level[1:]} {rest}"
        return f"{self.timestamp} {self.message}"


@dataclass(frozen=True)
class LogChunk:
    """Log lines from a position, and the token to ask for more; None once the run has ended and
    every line was read."""

    lines: list[LogLine]
    next_token: str | None


# -- from the store's rows and the API's bodies ---------------------------------------------------


def _loads(raw: str | None, empty: Any = None) -> Any:
    import json

    return json.loads(raw) if raw else empty


def run_from_store(row: Any) -> Run:
    """A store RunRecord (dagy.store.records) as the front ends see it."""
    return Run(
        run_id=row.run_id,
        flow_name=row.flow_name,
        flow_version=row.flow_version,
        status=row.status,
        created_at=row.created_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        deployment_name=row.deployment_name,
        trigger=row.trigger,
        retry_of=row.retry_of,
        executor=row.executor,
        execution_mode=row.execution_mode,
        parameters=_loads(row.parameters, {}),
        output=_loads(row.output),
        error=row.error,
        tags=_loads(row.tags, []),
        replay_of=row.replay_of,
    )


def task_from_store(row: Any) -> TaskRun:
    return TaskRun(
        task_run_id=row.task_run_id,
        task_name=row.task_name,
        status=row.status,
        attempt=row.attempt,
        max_attempts=row.max_attempts,
        executor=row.executor,
        started_at=row.started_at,
        ended_at=row.ended_at,
        duration_seconds=row.duration_seconds,
        error=row.error,
        reused_from=row.reused_from,
        source_hash=row.source_hash,
    )


def run_from_api(body: dict[str, Any]) -> Run:
    """A GET /runs item, a GET /runs/{id} body or a POST /runs answer, in dagy.states' words."""
    from dagy.states import from_api

    return Run(
        run_id=body["run_id"],
        flow_name=body.get("flow_name") or "",
        flow_version=str(body.get("flow_version") or ""),
        status=from_api(body.get("status")),
        created_at=parse_time(body.get("created_at")),
        started_at=parse_time(body.get("started_at")),
        ended_at=parse_time(body.get("completed_at") or body.get("ended_at")),
        deployment_name=body.get("deployment_name"),
        trigger=body.get("trigger"),
        retry_of=body.get("retry_of"),
        executor=body.get("executor"),
        execution_mode=body.get("execution_mode"),
        parameters=body.get("parameters") or {},
        output=body.get("output"),
        error=body.get("error"),
        tags=list(body.get("tags") or []),
        replay_of=body.get("replay_of"),
    )


def task_from_api(body: dict[str, Any]) -> TaskRun:
    from dagy.states import from_api

    return TaskRun(
        task_run_id=body["task_run_id"],
        task_name=body.get("task_name") or "",
        status=from_api(body.get("status")),
        attempt=int(body.get("attempt") or 0),
        max_attempts=int(body.get("max_attempts") or 1),
        executor=body.get("executor"),
        started_at=parse_time(body.get("started_at")),
        ended_at=parse_time(body.get("ended_at")),
        duration_seconds=body.get("duration_seconds"),
        error=body.get("error"),
        reused_from=body.get("reused_from"),
        source_hash=body.get("source_hash"),
    )
