"""What a schedule may be: its fields checked, its timing, and its API shape.

Shared by schedules.py (what can be done with schedules) and deployment_schedules.py (a
deployment's own schedule). It imports neither runs nor deployments, so that deployments can keep
their schedule in step without the circle deployments → schedules → runs → deployments.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import replace
from typing import Any

from dagy.errors import InvalidInputError
from dagy.scheduler import timing as clock
from dagy.store.schedules import Schedule

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
