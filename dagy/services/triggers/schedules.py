"""Schedules: what can be done with them (create, list, get, change, trigger, delete), each change
with its audit row in the same transaction. See docs/schedules.md.

A schedule runs a flow version (``flow_name`` + ``flow_version``; no version: the flow's latest)
or a deployment (``deployment_name``). A deployment with a ``schedule`` setting owns the schedule
``deployment:<name>``, kept in step with it (deployment_schedules.py). The scheduler's tick that
fires the due ones is schedule_tick.py.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from dagy.auth import secrets as ids
from dagy.errors import ConflictError, NotFoundError
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.catalog import flows
from dagy.services.catalog.flows import name_position
from dagy.services.pagination import clamp_limit, encode_token
from dagy.services.runs import trigger as execution
from dagy.services.runs.reads import run_slug
from dagy.services.triggers.deployment_schedules import write_back
from dagy.services.triggers.schedule_rules import (
    CATCHUP_POLICIES,
    CREATE_FIELDS,
    DEFAULT_TIMEZONE,
    DEPLOYMENT_PREFIX,
    MODES,
    MUTABLE,
    PATCH_FIELDS,
    _bad,
    _check_timing,
    _choice,
    _flag,
    _next_from,
    _text,
    _unknown,
    check_cron,
    check_interval,
    check_timezone,
    parse_time,
    to_body,
)
from dagy.states import to_api
from dagy.store import environments as env_sql
from dagy.store import flows as flow_sql
from dagy.store import schedules as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import Deployment
from dagy.store.records import RunRecord, iso_z, utcnow
from dagy.store.schedules import Schedule

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


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


def _lift_environment(store: DuckDBStore, schedule: Schedule, parameters: Any) -> Any:
    """The spec's POST /schedules example sends ``environment`` among ``parameters``. When the
    flow declares no parameter of that name (nor ``**kwargs``), it is the schedule's
    ``environment`` (checked like the top-level field, which it must not contradict), not a
    run parameter; ``parameters`` without it."""
    if not isinstance(parameters, dict) or "environment" not in parameters:
        return parameters
    from dagy.sdk.spec import FlowSpec

    version, _ = _resolve(store, schedule)
    schema = FlowSpec.from_json(version.flow_spec).parameter_schema
    if schema is None or "environment" in schema:
        return parameters
    if any(isinstance(p, dict) and p.get("kind") == "var_keyword" for p in schema.values()):
        return parameters
    value = parameters["environment"]
    if schedule.environment is not None and value != schedule.environment:
        raise _bad("parameters.environment", f"differs from environment {schedule.environment!r}")
    schedule.environment = _check_environment(store, schedule.org_id, value)
    return {k: v for k, v in parameters.items() if k != "environment"}


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
        parameters = _lift_environment(store, schedule, data.get("parameters"))
        schedule.parameters = json.dumps(_check_parameters(store, schedule, parameters))
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
            parameters = _lift_environment(store, after, data["parameters"])
            after.parameters = json.dumps(_check_parameters(store, after, parameters))
        now = utcnow()
        after.updated_at = now
        after.next_run_at = _next_from(after, now)
        sql.update(store, org_id, schedule_id, **{f: getattr(after, f) for f in MUTABLE})
        if after.deployment_name and schedule_id.startswith(DEPLOYMENT_PREFIX):
            write_back(store, after)
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


# -- firing -----------------------------------------------------------------------------------------


def queue_run(
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
        run = queue_run(
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
    return {
        "run_id": run.run_id,
        "run_slug": run_slug(run),
        "schedule_id": schedule.schedule_id,
        "status": to_api(run.status),
        "created_at": iso_z(run.created_at),
    }
