"""How cells read: states in the CLI's words and in colour, times to the second, durations short."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from rich.text import Text

from dagy import states

# Run and task-run states in dagy.states' words (the CLI's), one colour each.
STATUS_STYLES = {
    states.PENDING: "yellow",
    states.RUNNING: "bold cyan",
    states.RETRYING: "bold magenta",
    states.SUCCEEDED: "green",
    states.FAILED: "bold red",
    states.UPSTREAM_FAILED: "red",
    states.SKIPPED: "dim",
    states.CANCELLED: "bright_black",
}
# What `t` cycles through on the runs view: every run, then each run state.
RUN_STATUS_FILTERS: tuple[str | None, ...] = (None, *states.RUN_STATUSES)


def status_text(status: str | None) -> Text:
    word = (status or "-").upper()
    return Text(word, style=STATUS_STYLES.get(word, ""))


def _moment(value: _dt.datetime | str | None) -> _dt.datetime | None:
    """Naive UTC: a record's datetime as is, an API's ISO string parsed."""
    if value is None or isinstance(value, _dt.datetime):
        return value
    if not value:
        return None
    try:
        moment = _dt.datetime.fromisoformat(value.rstrip("Z"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return moment


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def when(value: _dt.datetime | str | None) -> str:
    """``2026-03-04 12:00:00`` (UTC, as stored) or ``-``."""
    moment = _moment(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f}s"
    minutes, rest = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def elapsed(
    status: str,
    started_at: _dt.datetime | None,
    duration: float | None,
    now: _dt.datetime | None = None,
) -> str:
    """A finished run's or task run's duration; a running one's time so far (it grows each
    refresh); ``-`` for what has not started."""
    if duration is not None:
        return seconds(duration)
    if started_at is None or status not in (states.RUNNING, states.RETRYING):
        return "-"
    return seconds(max(0.0, ((now or utcnow()) - started_at).total_seconds()))


def cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    if isinstance(value, _dt.datetime):
        return when(value)
    return str(value)
