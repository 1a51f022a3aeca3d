"""When a schedule is due: pure functions of its timing fields and a moment, in UTC.

All times here are naive UTC (as the store keeps them); cron expressions are read in the
schedule's IANA time zone. Across DST changes a cron fires as cron does:

- a wall time skipped by the spring change (02:30 on the night clocks go 02:00 → 03:00) fires at
  the first moment after the gap, once (croniter's reading);
- a wall time that happens twice in the autumn (01:30 on the night clocks go 02:00 → 01:00) fires
  once, at its first occurrence, when the expression names its hours; an expression whose hour
  field is ``*`` (``*/30 * * * *``) keeps firing through the repeated hour, since its times are
  elapsed time, not a wall-clock appointment.
"""

from __future__ import annotations

import datetime as _dt
import functools
import threading
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = _dt.timezone.utc


@dataclass(frozen=True)
class Timing:
    """The fields of a schedule that decide when it is due."""

    mode: str  # cron | interval | one_time | manual
    timezone: str = "UTC"
    cron_expression: str | None = None
    interval_seconds: int | None = None
    one_time_at: _dt.datetime | None = None
    start_at: _dt.datetime | None = None
    end_at: _dt.datetime | None = None
    anchor: _dt.datetime | None = None  # where intervals count from without a start_at


def zone(name: str) -> ZoneInfo:
    """The IANA zone; ValueError for a name that is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}") from None


def check_cron(expression: str) -> str:
    """A 5-field cron expression, normalised; ValueError otherwise."""
    from croniter import croniter

    parts = expression.split() if isinstance(expression, str) else []
    if len(parts) != 5 or not croniter.is_valid(" ".join(parts)):
        raise ValueError(f"invalid cron expression {expression!r}: 5 fields expected")
    return " ".join(parts)


def _aware(value: _dt.datetime) -> _dt.datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _naive(value: _dt.datetime) -> _dt.datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _repeated_wall_time(local: _dt.datetime) -> bool:
    """The second occurrence of a wall time the autumn change repeats."""
    first = local.replace(tzinfo=None).replace(tzinfo=local.tzinfo, fold=0)
    return first.utcoffset() != local.utcoffset()


# Parsing an expression is two thirds of croniter's cost: a tick reuses one parsed iterator per
# (expression, zone), moved to each start under a lock (the API's threads compute due times too).
_CRONS: dict[tuple[str, str], Any] = {}
_CRON_LOCK = threading.Lock()


def next_cron(expression: str, tz: str, after: _dt.datetime) -> _dt.datetime:
    """The first time strictly after ``after`` (naive UTC) the expression names, in UTC."""
    return _next_cron(expression, tz, after)


# Schedules share expressions and zones (``0 9 * * *`` in New York), and a tick asks each of them
# the same questions (what follows their due time, what follows now): answer each question once.
@functools.lru_cache(maxsize=4096)
def _next_cron(expression: str, tz: str, after: _dt.datetime) -> _dt.datetime:
    from croniter import croniter

    fixed_hours = expression.split()[1] != "*"
    start = _aware(after).astimezone(zone(tz))
    with _CRON_LOCK:
        it = _CRONS.get((expression, tz))
        if it is None:
            if len(_CRONS) >= 1024:
                _CRONS.clear()
            it = _CRONS[(expression, tz)] = croniter(expression, start)
        else:
            it.set_current(start, force=True)
        while True:
            local = it.get_next(_dt.datetime)
            if fixed_hours and _repeated_wall_time(local):
                continue
            return _naive(local)


def next_interval(interval_seconds: int, anchor: _dt.datetime, after: _dt.datetime) -> _dt.datetime:
    """The first ``anchor + k * interval`` (k ≥ 0) strictly after ``after``: a fixed grid, so a
    late tick never shifts later fires."""
    if after < anchor:
        return anchor
    steps = int((after - anchor).total_seconds() // interval_seconds) + 1
    return anchor + _dt.timedelta(seconds=steps * interval_seconds)


def next_due(timing: Timing, after: _dt.datetime) -> _dt.datetime | None:
    """The next due time strictly after ``after``, within the start/end window; None when the
    schedule will not be due again (manual, a one-time already past, past end_at)."""
    start = timing.start_at
    if timing.mode == "one_time":
        at = timing.one_time_at or start
        return at if at is not None and at > after else None
    floor = after
    if start is not None and start > after:
        floor = start - _dt.timedelta(microseconds=1)  # start_at itself may be due
    if timing.mode == "cron" and timing.cron_expression:
        due = next_cron(timing.cron_expression, timing.timezone, floor)
    elif timing.mode == "interval" and timing.interval_seconds:
        if start is not None:  # due at start_at, then every interval
            due = next_interval(timing.interval_seconds, start, floor)
        else:  # one interval after the anchor (the schedule's creation), then every interval
            anchor = timing.anchor or after
            due = next_interval(timing.interval_seconds, anchor, max(floor, anchor))
    else:
        return None
    if timing.end_at is not None and due > timing.end_at:
        return None
    return due


def due_between(
    timing: Timing, first: _dt.datetime, now: _dt.datetime, limit: int
) -> tuple[list[_dt.datetime], int]:
    """The due times from ``first`` (a due time) up to ``now``: at most ``limit`` of them, the
    latest, and how many earlier ones were cut."""
    times: list[_dt.datetime] = []
    cut = 0
    due: _dt.datetime | None = first
    while due is not None and due <= now:
        times.append(due)
        if len(times) > limit:
            times.pop(0)
            cut += 1
        due = next_due(timing, due)
    return times, cut


def missed_to_fire(
    timing: Timing,
    first: _dt.datetime,
    now: _dt.datetime,
    catchup_policy: str,
    *,
    grace: _dt.timedelta,
    limit: int,
    lookback: _dt.timedelta,
) -> tuple[list[_dt.datetime], int]:
    """What a tick fires of the times due since ``first``: (times to fire, times dropped).

    A time due less than ``grace`` ago is on time and always fires. Older ones were missed (the
    server was down): ``all`` fires each in order (the latest ``limit`` of them), ``skip`` only
    the latest, ``none`` none of them. Times older than ``lookback`` are never looked at (a
    minutely cron after a month away would be 40,000 of them); they count as one dropped.
    """
    dropped = 0
    if now - first > lookback:
        resumed = next_due(timing, now - lookback)
        dropped = 1
        if resumed is None or resumed > now:
            return [], dropped
        first = resumed
    times, cut = due_between(timing, first, now, limit)
    dropped += cut
    on_time = [t for t in times if now - t < grace]
    missed = [t for t in times if now - t >= grace]
    if catchup_policy == "all":
        return missed + on_time, dropped
    if catchup_policy == "skip":
        latest = on_time[-1:] or missed[-1:]
        return latest, dropped + len(times) - len(latest)
    return on_time, dropped + len(missed)
