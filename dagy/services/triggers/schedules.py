"""Schedules: what can be done with them (create, list, get, change, trigger, delete), and the
scheduler's tick that fires the due ones. See docs/schedules.md.

A schedule runs a flow version (``flow_name`` + ``flow_version``; no version: the flow's latest)
or a deployment (``deployment_name``). A deployment with a ``schedule`` setting owns the schedule
``deployment:<name>``, kept in step with it (``sync_deployment``).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from dagy.auth import secrets as ids
from dagy.errors import ConflictError, InvalidInputError, NotFoundError, RequestError
from dagy.scheduler import timing as clock
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.catalog import flows
from dagy.services.catalog.flows import name_position
from dagy.services.pagination import clamp_limit, encode_token
from dagy.services.runs import api as runs_api
from dagy.services.runs import trigger as execution
from dagy.store import environments as env_sql
from dagy.store import flows as flow_sql
from dagy.store import schedules as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import Deployment
from dagy.store.records import RunRecord, utcnow
from dagy.store.schedules import Schedule

log = logging.getLogger("dagy.scheduler")

MODES = ("cron", "interval", "one_time", "manual")
CATCHUP_POLICIES = ("skip", "all", "none")
DEFAULT_TIMEZONE = "UTC"
DEPLOYMENT_PREFIX = "deployment:"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_INTERVAL = re.compile(r"^([1-9][0-9]{0,8})([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# What PATCH may change; POST takes these and what names the target, and the mode.
PATCH_FIELDS = frozenset(
    {
        "enabled",
        "timezone",
        "catchup_policy",
        "cron_expression",
        "interval_seconds",
        "one_time_at",
        "start_at",
        "end_at",
        "parameters",
        "description",
        "environment",
    }
)
CREATE_FIELDS = PATCH_FIELDS | {
    "schedule_id",
    "flow_name",
    "flow_version",
    "deployment_name",
    "mode",
}
MUTABLE = (*sorted(PATCH_FIELDS), "next_run_at", "updated_at")  # the columns an update writes


def _bad(field: str, why: str, message: str | None = None) -> InvalidInputError:
    return InvalidInputError(message or f"Invalid {field}: {why}", {field: why})


# -- checking what is given -------------------------------------------------------------------------


def check_timezone(value: Any, field: str = "timezone") -> str:
    if not isinstance(value, str) or not value:
        raise _bad(field, "an IANA time zone such as UTC or America/New_York")
    try:
        clock.zone(value)
    except ValueError:
        raise _bad(field, f"unknown IANA time zone {value!r}") from None
    return value


def check_cron(value: Any) -> str:
    try:
        return clock.check_cron(value)
    except ValueError as exc:
        raise _bad("cron_expression", str(exc)) from None


def check_interval(value: Any) -> int:
    """Seconds, as a number or a string such as ``30m`` (what deployment settings accept)."""
    if isinstance(value, str):
        found = _INTERVAL.match(value.strip())
        if found:
            return int(found.group(1)) * _UNITS[found.group(2)]
    elif isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 10**9:
        return value
    raise _bad("interval_seconds", "a whole number of seconds from 1, or a string such as 30m")


def parse_time(value: Any, field: str, tz: str) -> _dt.datetime | None:
    """An ISO 8601 time as naive UTC; one without an offset is read in the schedule's zone."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad(field, "an ISO 8601 time such as 2026-03-03T09:00:00Z")
    text = value.strip()
    try:
        moment = _dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise _bad(field, "an ISO 8601 time such as 2026-03-03T09:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.zone(tz))
    return moment.astimezone(_dt.timezone.utc).replace(tzinfo=None)


def _flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(field, "true or false")
    return value


def _text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2000:
        raise _bad(field, "a string of at most 2000 characters")
    return value


def _choice(value: Any, field: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _bad(field, f"one of {', '.join(choices)}")
    return str(value)


def _unknown(data: Any, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInputError("The body must be a JSON object", {"body": "an object"})
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInputError(f"Unknown field: {unknown[0]}", dict.fromkeys(unknown, "unknown"))
    return data


def timing_of(schedule: Schedule) -> clock.Timing:
    return clock.Timing(
        mode=schedule.mode,
        timezone=schedule.timezone,
        cron_expression=schedule.cron_expression,
        interval_seconds=schedule.interval_seconds,
        one_time_at=schedule.one_time_at,
        start_at=schedule.start_at,
        end_at=schedule.end_at,
        anchor=schedule.created_at,
    )


def _next_from(schedule: Schedule, now: _dt.datetime) -> _dt.datetime | None:
    """The next due time of an enabled schedule as of ``now`` (None when disabled)."""
    if not schedule.enabled:
        return None
    return clock.next_due(timing_of(schedule), now - _dt.timedelta(microseconds=1))


def _check_timing(schedule: Schedule) -> Schedule:
    """The mode's own fields present, the others cleared, and the window in order."""
    mode = schedule.mode
    if mode == "cron" and not schedule.cron_expression:
        raise _bad("cron_expression", "required for mode cron")
    if mode == "interval" and not schedule.interval_seconds:
        raise _bad("interval_seconds", "required for mode interval")
    if mode == "one_time" and schedule.one_time_at is None and schedule.start_at is None:
        raise _bad("start_at", "required for mode one_time (or one_time_at)")
    if schedule.start_at and schedule.end_at and schedule.end_at <= schedule.start_at:
        raise _bad("end_at", "must be after start_at")
    return replace(
        schedule,
        cron_expression=schedule.cron_expression if mode == "cron" else None,
        interval_seconds=schedule.interval_seconds if mode == "interval" else None,
        one_time_at=(schedule.one_time_at or schedule.start_at) if mode == "one_time" else None,
    )


def _check_environment(store: DuckDBStore, org_id: str, value: Any) -> str | None:
    name = _text(value, "environment")
    if name and env_sql.get(store, org_id, name) is None:
        raise _bad(
            "environment", f"no environment named {name!r}", f"Environment not found: {name}"
        )
    return name or None


def _check_parameters(
    store: DuckDBStore, schedule: Schedule, parameters: Any, field: str = "parameters"
) -> dict[str, Any]:
    """Parameters checked against the flow version the schedule runs now (400 naming the field)."""
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise _bad(field, "an object")
    version, _ = _resolve(store, schedule)
    from dagy.sdk.spec import FlowSpec

    execution.check_parameters(FlowSpec.from_json(version.flow_spec), parameters)
    return parameters


def _resolve(store: DuckDBStore, schedule: Schedule) -> tuple[Any, Deployment | None]:
    return execution.resolve(
        store,
        schedule.org_id,
        deployment=schedule.deployment_name,
        flow_name=None if schedule.deployment_name else schedule.flow_name,
        flow_version=None if schedule.deployment_name else _run_version(store, schedule),
    )


def _run_version(store: DuckDBStore, schedule: Schedule) -> Any:
    """The version a flow schedule runs: its own, else the flow's latest."""
    if schedule.flow_version is not None:
        return json.loads(schedule.flow_version)
    return flows.latest(store, schedule.org_id, schedule.flow_name).flow_version


# -- what the API shows -----------------------------------------------------------------------------


def _time(value: _dt.datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat() + "Z" if value is not None else None


def to_body(schedule: Schedule) -> dict[str, Any]:
    """A schedule as GET /schedules/{schedule_id} shows it (lists and writes show the same)."""
    return {
        "schedule_id": schedule.schedule_id,
        "flow_name": schedule.flow_name,
        "flow_version": json.loads(schedule.flow_version) if schedule.flow_version else None,
        "deployment_name": schedule.deployment_name,
        "mode": schedule.mode,
        "enabled": schedule.enabled,
        "timezone": schedule.timezone,
        "catchup_policy": schedule.catchup_policy,
        "cron_expression": schedule.cron_expression,
        "interval_seconds": schedule.interval_seconds,
        "one_time_at": _time(schedule.one_time_at),
        "start_at": _time(schedule.start_at),
        "end_at": _time(schedule.end_at),
        "next_run_at": _time(schedule.next_run_at),
        "last_run_at": _time(schedule.last_run_at),
        "last_run_id": schedule.last_run_id,
        "last_error": schedule.last_error,
        "parameters": json.loads(schedule.parameters or "{}"),
        "description": schedule.description,
        "environment": schedule.environment,
        "created_at": _time(schedule.created_at),
        "updated_at": _time(schedule.updated_at),
    }


# -- create, read, change, delete -------------------------------------------------------------------


def get(store: DuckDBStore, org_id: str, schedule_id: str) -> Schedule:
    found = sql.get(store, org_id, schedule_id) if isinstance(schedule_id, str) else None
    if found is None:
        raise NotFoundError(f"Schedule not found: {schedule_id}", {"schedule_id": schedule_id})
    return found


def create(store: DuckDBStore, org_id: str, data: Any, *, actor: Actor | None = None) -> Schedule:
    """A new schedule from a POST /schedules body; 400 for a bad field, 404 for an unknown flow
    or deployment, 409 for a schedule_id in use. With ``actor``, its audit row in the same
    transaction."""
    data = _unknown(data, CREATE_FIELDS)
    schedule_id = data.get("schedule_id")
    if schedule_id is None:
        schedule_id = ids.new_id("sched")
    elif not isinstance(schedule_id, str) or not _ID.match(schedule_id):
        raise _bad("schedule_id", "1-128 letters, digits, '.', '_' or '-'")
    mode = _choice(data.get("mode"), "mode", MODES)
    tz = check_timezone(data.get("timezone", DEFAULT_TIMEZONE))
    now = utcnow()
    with store.transaction():
        flow_name, deployment_name = _target(store, org_id, data)
        flow_version = data.get("flow_version")
        if flow_version is not None:
            if deployment_name:
                raise _bad("flow_version", "not with deployment_name (it runs its own version)")
            flows.resolve_version(store, org_id, flow_name, flow_version)
        schedule = _check_timing(
            Schedule(
                org_id=org_id,
                schedule_id=schedule_id,
                flow_name=flow_name,
                mode=mode,
                created_at=now,
                updated_at=now,
                flow_version=json.dumps(flow_version) if flow_version is not None else None,
                deployment_name=deployment_name,
                enabled=_flag(data.get("enabled", True), "enabled"),
                timezone=tz,
                catchup_policy=_choice(
                    data.get("catchup_policy", "skip"), "catchup_policy", CATCHUP_POLICIES
                ),
                cron_expression=(
                    check_cron(data["cron_expression"])
                    if data.get("cron_expression") is not None
                    else None
                ),
                interval_seconds=(
                    check_interval(data["interval_seconds"])
                    if data.get("interval_seconds") is not None
                    else None
                ),
                one_time_at=parse_time(data.get("one_time_at"), "one_time_at", tz),
                start_at=parse_time(data.get("start_at"), "start_at", tz),
                end_at=parse_time(data.get("end_at"), "end_at", tz),
                description=_text(data.get("description"), "description"),
                environment=_check_environment(store, org_id, data.get("environment")),
            )
        )
        schedule.parameters = json.dumps(_check_parameters(store, schedule, data.get("parameters")))
        schedule.next_run_at = _next_from(schedule, now)
        if mode == "one_time" and schedule.enabled and schedule.next_run_at is None:
            raise _bad("one_time_at", "is in the past")
        if sql.get(store, org_id, schedule_id) is not None:
            raise ConflictError(
                f"Schedule already exists: {schedule_id}", {"schedule_id": "already exists"}
            )
        sql.insert(store, schedule)
        if actor is not None:
            audit.write(
                store,
                actor,
                "create",
                "schedule",
                schedule_id,
                resource_name=flow_name,
                changes={"mode": [None, mode], "enabled": [None, schedule.enabled]},
                org_id=org_id,
            )
    return schedule


def _target(store: DuckDBStore, org_id: str, data: dict[str, Any]) -> tuple[str, str | None]:
    """(flow_name, deployment_name) of a new schedule; 404 when either is unknown."""
    flow_name, deployment_name = data.get("flow_name"), data.get("deployment_name")
    if deployment_name is not None:
        if not isinstance(deployment_name, str) or not deployment_name:
            raise _bad("deployment_name", "a deployment name")
        deployment = flow_sql.get_deployment(store, org_id, deployment_name)
        if deployment is None:
            raise NotFoundError(f"Deployment not found: {deployment_name}")
        if flow_name is not None and flow_name != deployment.flow_name:
            raise _bad("flow_name", f"deployment {deployment_name} runs {deployment.flow_name}")
        return deployment.flow_name, deployment_name
    if not isinstance(flow_name, str) or not flow_name:
        raise _bad("flow_name", "required (or deployment_name)")
    flows.latest(store, org_id, flow_name)  # 404 "Flow not found"
    return flow_name, None


def list_page(
    store: DuckDBStore,
    org_id: str,
    *,
    flow_name: str | None = None,
    mode: str | None = None,
    enabled: str | None = None,
    limit: Any = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    """One page of the org's schedules by id, with the spec's filters."""
    size = clamp_limit(limit, default=20, maximum=100)
    if mode is not None:
        _choice(mode, "mode", MODES)
    wanted: bool | None = None
    if enabled is not None:
        if enabled.lower() not in ("true", "false"):
            raise _bad("enabled", "true or false")
        wanted = enabled.lower() == "true"
    rows = sql.page(
        store,
        org_id,
        flow_name=flow_name or None,
        mode=mode,
        enabled=wanted,
        after=name_position(next_token),
        limit=size + 1,
    )
    token = encode_token([rows[size - 1].schedule_id]) if len(rows) > size else None
    return {"items": [to_body(s) for s in rows[:size]], "next_token": token}


def update(
    store: DuckDBStore, org_id: str, schedule_id: str, data: Any, *, actor: Actor | None = None
) -> Schedule:
    """PATCH: only the fields given change; the next due time is worked out again from now."""
    data = _unknown(data, PATCH_FIELDS)
    with store.transaction():
        before = get(store, org_id, schedule_id)
        tz = check_timezone(data["timezone"]) if "timezone" in data else before.timezone
        changes: dict[str, Any] = {"timezone": tz}
        for field, check in (
            ("enabled", lambda v: _flag(v, "enabled")),
            ("catchup_policy", lambda v: _choice(v, "catchup_policy", CATCHUP_POLICIES)),
            ("cron_expression", check_cron),
            ("interval_seconds", check_interval),
            ("description", lambda v: _text(v, "description")),
            ("environment", lambda v: _check_environment(store, org_id, v)),
        ):
            if field in data:
                changes[field] = check(data[field])
        for field in ("one_time_at", "start_at", "end_at"):
            if field in data:
                changes[field] = parse_time(data[field], field, tz)
        after = _check_timing(replace(before, **changes))
        if "parameters" in data:
            after.parameters = json.dumps(_check_parameters(store, after, data["parameters"]))
        now = utcnow()
        after.updated_at = now
        after.next_run_at = _next_from(after, now)
        sql.update(store, org_id, schedule_id, **{f: getattr(after, f) for f in MUTABLE})
        if after.deployment_name and schedule_id.startswith(DEPLOYMENT_PREFIX):
            _write_back(store, after)
        if actor is not None:
            audit.write(
                store,
                actor,
                "update",
                "schedule",
                schedule_id,
                resource_name=after.flow_name,
                changes={"fields": sorted(data)},
                org_id=org_id,
            )
    return after


def set_enabled(
    store: DuckDBStore,
    org_id: str,
    schedule_id: str,
    enabled: bool,
    *,
    actor: Actor | None = None,
) -> Schedule:
    """Pause or resume: a resumed schedule is next due from now (paused times are not caught up)."""
    return update(store, org_id, schedule_id, {"enabled": enabled}, actor=actor)


def delete(
    store: DuckDBStore, org_id: str, schedule_id: str, *, actor: Actor | None = None
) -> Schedule:
    with store.transaction():
        schedule = get(store, org_id, schedule_id)
        sql.delete(store, org_id, schedule_id)
        if schedule.deployment_name and schedule_id.startswith(DEPLOYMENT_PREFIX):
            flow_sql.update_deployment(
                store, org_id, schedule.deployment_name, schedule=None, updated_at=utcnow()
            )
        if actor is not None:
            audit.write(
                store,
                actor,
                "delete",
                "schedule",
                schedule_id,
                resource_name=schedule.flow_name,
                org_id=org_id,
            )
    return schedule


# -- deployments' own schedules ---------------------------------------------------------------------


def deployment_schedule_id(name: str) -> str:
    return DEPLOYMENT_PREFIX + name


def sync_deployment(store: DuckDBStore, deployment: Deployment) -> Schedule | None:
    """Make ``deployment:<name>`` match the deployment's ``schedule`` setting (a cron expression
    or an interval like ``30m``) and time zone; no setting removes it. Call with the store held."""
    schedule_id = deployment_schedule_id(deployment.name)
    existing = sql.get(store, deployment.org_id, schedule_id)
    if not deployment.schedule:
        if existing is not None:
            sql.delete(store, deployment.org_id, schedule_id)
        return None
    is_interval = _INTERVAL.match(deployment.schedule) is not None
    now = utcnow()
    base = existing or Schedule(
        org_id=deployment.org_id,
        schedule_id=schedule_id,
        flow_name=deployment.flow_name,
        mode="cron",
        created_at=now,
        updated_at=now,
        deployment_name=deployment.name,
        description=f"The schedule of deployment {deployment.name}",
    )
    wanted = replace(
        base,
        mode="interval" if is_interval else "cron",
        timezone=deployment.timezone or DEFAULT_TIMEZONE,
        cron_expression=None if is_interval else deployment.schedule,
        interval_seconds=check_interval(deployment.schedule) if is_interval else None,
        environment=deployment.environment,
    )
    timing_changed = existing is None or timing_of(existing) != timing_of(wanted)
    if existing is not None and not timing_changed and existing.environment == wanted.environment:
        return existing
    wanted.updated_at = now
    if timing_changed:
        wanted.next_run_at = _next_from(wanted, now)
    if existing is None:
        sql.insert(store, wanted)
    else:
        sql.update(
            store,
            wanted.org_id,
            schedule_id,
            mode=wanted.mode,
            timezone=wanted.timezone,
            cron_expression=wanted.cron_expression,
            interval_seconds=wanted.interval_seconds,
            environment=wanted.environment,
            next_run_at=wanted.next_run_at,
            updated_at=now,
        )
    return wanted


def _write_back(store: DuckDBStore, schedule: Schedule) -> None:
    """A deployment's schedule changed through PATCH /schedules: the deployment says so too."""
    setting = schedule.cron_expression or (
        f"{schedule.interval_seconds}s" if schedule.interval_seconds else None
    )
    flow_sql.update_deployment(
        store,
        schedule.org_id,
        schedule.deployment_name or "",
        schedule=setting,
        timezone=schedule.timezone,
        updated_at=utcnow(),
    )


def delete_of_flow(store: DuckDBStore, org_id: str, flow_name: str) -> int:
    return sql.delete_of_flow(store, org_id, flow_name)


def delete_of_deployment(store: DuckDBStore, org_id: str, deployment_name: str) -> int:
    return sql.delete_of_deployment(store, org_id, deployment_name)


# -- firing -----------------------------------------------------------------------------------------


def _queue(
    store: DuckDBStore,
    schedule: Schedule,
    actor: str | None,
    *,
    trigger: str,
    parameters: dict[str, Any],
    fired_for: _dt.datetime,
    next_run_at: _dt.datetime | None,
    wake: Callable[[], None] | None,
) -> RunRecord:
    """Queue one run of the schedule; the schedule's advance is written in the run's transaction."""
    version = None if schedule.deployment_name else _run_version(store, schedule)
    return execution.trigger_run(
        store,
        schedule.org_id,
        actor,
        deployment=schedule.deployment_name,
        flow_name=None if schedule.deployment_name else schedule.flow_name,
        flow_version=version,
        parameters=parameters,
        trigger=trigger,
        tags=[
            trigger,
            f"schedule:{schedule.schedule_id}",
            f"scheduled_at:{fired_for.isoformat()}Z",
        ],
        wake=wake,
        also=lambda run: [
            sql.advance_statement(schedule, next_run_at=next_run_at, fired=(fired_for, run.run_id))
        ],
    )


def trigger(
    store: DuckDBStore,
    org_id: str,
    actor: Actor | None,
    schedule_id: str,
    parameters: Any = None,
    *,
    wake: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """POST /schedules/{id}/trigger: a run now, its parameters over the schedule's; the 202 body.
    The schedule's next due time is unchanged. With ``actor``, its audit row goes in the run's
    transaction."""
    if parameters is not None and not isinstance(parameters, dict):
        raise _bad("parameters", "an object")
    with store.transaction():
        schedule = get(store, org_id, schedule_id)
        run = _queue(
            store,
            schedule,
            actor.email if actor is not None else None,
            trigger="manual",
            parameters={**json.loads(schedule.parameters or "{}"), **(parameters or {})},
            fired_for=utcnow(),
            next_run_at=schedule.next_run_at,
            wake=None,
        )
        if actor is not None:
            audit.write(
                store,
                actor,
                "execute",
                "schedule",
                schedule_id,
                changes={"run_id": run.run_id},
                org_id=org_id,
            )
    if wake is not None:  # after the commit: a worker must find the run
        wake()
    item = runs_api.to_item(run)
    return {
        "run_id": run.run_id,
        "run_slug": item["run_slug"],
        "schedule_id": schedule.schedule_id,
        "status": item["status"],
        "created_at": item["created_at"],
    }


TICK_CHUNK = 50  # schedules fired under one hold of the store


@dataclass(frozen=True)
class TickSettings:
    grace: _dt.timedelta = _dt.timedelta(seconds=60)  # later than this, a due time was missed
    catchup_limit: int = 100  # times one schedule fires in one tick at the most (policy all)
    lookback: _dt.timedelta = _dt.timedelta(days=7)  # older due times are not looked at
    batch: int = 1000  # schedules one tick reads at the most


@dataclass
class TickReport:
    due: int = 0
    fired: int = 0
    dropped: int = 0
    failed: int = 0


def tick(
    store: DuckDBStore,
    now: _dt.datetime,
    settings: TickSettings = TickSettings(),  # noqa: B008 - frozen
    *,
    wake: Callable[[], None] | None = None,
) -> TickReport:
    """Fire what is due at ``now``, each fire in one transaction with the schedule's advance, so
    a due time fires exactly once. Schedules are read and fired in chunks, each under one hold of
    the store: API requests wait for one chunk at the most, never for the whole tick."""
    report = TickReport()
    while report.due < settings.batch:
        with store.connection():
            chunk = sql.due(store, now, min(TICK_CHUNK, settings.batch - report.due))
            for schedule in chunk:
                report.due += 1
                _fire_due(store, schedule, now, settings, report, wake)
        if len(chunk) < TICK_CHUNK:
            break
    return report


def _fire_due(
    store: DuckDBStore,
    schedule: Schedule,
    now: _dt.datetime,
    settings: TickSettings,
    report: TickReport,
    wake: Callable[[], None] | None,
) -> None:
    timing = timing_of(schedule)
    assert schedule.next_run_at is not None
    times, dropped = clock.missed_to_fire(
        timing,
        schedule.next_run_at,
        now,
        schedule.catchup_policy,
        grace=settings.grace,
        limit=settings.catchup_limit,
        lookback=settings.lookback,
    )
    if dropped:
        report.dropped += dropped
        log.warning(
            "schedule %s: %d missed due time(s) not run (catchup_policy %s)",
            schedule.schedule_id,
            dropped,
            schedule.catchup_policy,
        )
    parameters = json.loads(schedule.parameters or "{}")
    if not times:
        sql.update(
            store, schedule.org_id, schedule.schedule_id, next_run_at=clock.next_due(timing, now)
        )
        return
    for i, at in enumerate(times):
        last = i == len(times) - 1
        following = clock.next_due(timing, now if last else at)
        try:
            _queue(
                store,
                schedule,
                None,
                trigger="schedule",
                parameters=parameters,
                fired_for=at,
                next_run_at=following,
                wake=wake,
            )
            report.fired += 1
        except RequestError as exc:  # the flow is gone, parameters no longer fit, over quota...
            report.failed += 1
            log.warning("schedule %s: no run for %s: %s", schedule.schedule_id, at, exc)
            sql.update(
                store,
                schedule.org_id,
                schedule.schedule_id,
                next_run_at=following,
                last_error=str(exc),
            )
