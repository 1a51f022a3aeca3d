"""How cells read: statuses in colour, times to the second, durations short."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from rich.text import Text

# Run statuses in the API's words, task statuses in the store's (lower-cased); one colour each.
STATUS_STYLES = {
    "queued": "yellow",
    "pending": "yellow",
    "running": "bold cyan",
    "retrying": "bold magenta",
    "completed": "green",
    "succeeded": "green",
    "failed": "bold red",
    "upstream_failed": "red",
    "cancelled": "bright_black",
}
RUN_STATUS_FILTERS = (None, "queued", "running", "completed", "failed", "cancelled")


def status_text(status: str | None) -> Text:
    word = (status or "-").lower()
    return Text(word, style=STATUS_STYLES.get(word, ""))


def _parse(value: str | None) -> _dt.datetime | None:
    if not value:
        return None
    try:
        return _dt.datetime.fromisoformat(value.rstrip("Z"))
    except ValueError:
        return None


def when(value: str | None) -> str:
    """``2026-03-04 12:00:00`` (UTC, as stored) or ``-``."""
    moment = _parse(value)
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


def run_duration(run: dict[str, Any], now: _dt.datetime | None = None) -> str:
    """The run's duration; for a running run, how long it has run so far."""
    if run.get("duration_seconds") is not None:
        return seconds(float(run["duration_seconds"]))
    started = _parse(run.get("started_at"))
    if started is None or run.get("status") not in ("running", "RUNNING"):
        return "-"
    now = now or _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
    return seconds(max(0.0, (now - started).total_seconds()))


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)
