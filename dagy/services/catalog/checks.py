"""The checks a flow version's or a deployment's fields pass, shared by flows, deployments and
deploys (and so by POST /flows, POST /deployments, POST /artifacts/complete and `dagy deploy`)."""

from __future__ import annotations

import re
from typing import Any

from dagy.errors import InvalidInputError

EXECUTION_MODES = (
    "nano",
    "micro",
    "small",
    "medium",
    "large",
    "xlarge",
    "in-process",
    "task-isolated",
)
DEPLOYMENT_STATUSES = ("active", "inactive", "paused")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_EXECUTOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_INTERVAL = re.compile(r"^[1-9][0-9]{0,8}[smhd]$")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (lowest, highest, names counted from lowest) of minute, hour, day of month, month, day of week
_CRON_FIELDS: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (0, 59, ()),
    (0, 23, ()),
    (1, 31, ()),
    (1, 12, _MONTHS),
    (0, 7, _DAYS),
)


def check_tag_map(tags: Any, *, field: str = "tags") -> dict[str, Any]:
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) for k in tags):
        raise InvalidInputError("Invalid tags", {field: "an object of string keys"})
    return tags


def check_name(name: Any, *, field: str = "name") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"Invalid deployment name: {name!r}",
            {field: "1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"},
        )
    return name


def check_execution_mode(mode: Any) -> str | None:
    if mode is None or mode == "":
        return None
    if mode not in EXECUTION_MODES:
        raise InvalidInputError(
            f"Invalid execution_mode: {mode!r}",
            {"execution_mode": f"one of {', '.join(EXECUTION_MODES)}"},
        )
    return str(mode)


def check_slugs(slugs: Any) -> list[str]:
    if slugs is None:
        return []
    if not isinstance(slugs, list) or not all(isinstance(s, str) and s for s in slugs):
        raise InvalidInputError(
            "Invalid dep_package_slugs", {"dep_package_slugs": "a list of strings"}
        )
    return slugs


def check_executor(name: Any) -> str | None:
    """A backend name, or None for "" (auto). Not required to be installed here: a deployment
    may name a remote backend (the spec's ``lambda``); runs fall back to ``local`` (docs/flows.md)."""
    if name is None or name == "":
        return None
    if not isinstance(name, str) or not _EXECUTOR.match(name):
        raise InvalidInputError(
            f"Invalid default_executor: {name!r}",
            {"default_executor": 'a backend name (GET /backends), or "" for auto'},
        )
    return name


def check_schedule(schedule: Any) -> str | None:
    """A 5-field cron expression or an interval (``30m``, ``12h``); None for "" (no schedule)."""
    if schedule is None or schedule == "":
        return None
    if isinstance(schedule, str):
        text = schedule.strip()
        if _INTERVAL.match(text):
            return text
        parts = text.split()
        if len(parts) == 5 and all(
            _cron_field(part, *limits) for part, limits in zip(parts, _CRON_FIELDS, strict=True)
        ):
            return " ".join(parts)
    raise InvalidInputError(
        f"Invalid schedule: {schedule!r}",
        {"schedule": "a cron expression of 5 fields, or an interval such as 30m, 12h, 1d"},
    )


def _cron_field(text: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    def value(item: str) -> int | None:
        if item.upper() in names:
            return low + names.index(item.upper())
        ok = item.isascii() and item.isdigit() and low <= int(item) <= high
        return int(item) if ok else None

    for item in text.split(","):
        span, _, step = item.partition("/")
        if step and (not step.isdigit() or int(step) < 1):
            return False
        if span == "*":
            continue
        first, _, last = span.partition("-")
        start, end = value(first), value(last) if last else None
        if start is None or (last and (end is None or end < start)):
            return False
    return True


def check_max_runs(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(
            "Invalid max_concurrent_runs", {"max_concurrent_runs": "a positive integer"}
        )
    return value


def check_tags(tags: Any) -> dict[str, Any]:
    """A deployment's tags: an object, or a list of labels (the spec's POST example), stored as
    ``{"label": ""}``."""
    if isinstance(tags, list) and all(isinstance(t, str) and t for t in tags):
        return dict.fromkeys(tags, "")
    return check_tag_map(tags)


def check_timezone(value: Any) -> str:
    """An IANA time zone for the deployment's schedule; 400 naming ``timezone`` otherwise."""
    from dagy.scheduler.timing import zone

    try:
        zone(value if isinstance(value, str) and value else "")
    except ValueError:
        raise InvalidInputError(
            f"Invalid timezone: {value!r}",
            {"timezone": "an IANA time zone such as UTC or America/New_York"},
        ) from None
    return str(value)
