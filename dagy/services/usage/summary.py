"""Usage of an org: the billing period's summary, days, top flows and costs by flow and executor.

Figures come from what the store already knows (dagy/store/usage.py says what counts where):
runs by creation day, task runs by start day, compute seconds = task run durations, errors =
failed runs + failed task runs, API calls from the server's batched counts. Cost is a list price:
compute seconds times the executor's rate below, not an invoice.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict
from typing import Any

from dagy.errors import InvalidInputError
from dagy.services._iso import parse_moment
from dagy.services.usage import quotas
from dagy.store import usage as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import iso_z, utcnow

# USD per compute second, by executor; DEFAULT_RATE for any other (a plugin's).
RATES: dict[str, float] = {"local": 0.0034, "process": 0.0034, "lambda": 0.0051, "dask": 0.0042}
DEFAULT_RATE = 0.0034
MAX_DAYS = 366
TOP_FLOWS = 10


def _money(value: float) -> float:
    return round(value, 2)


def _seconds(value: float) -> float:
    return round(value, 3)


def _totals_body(t: sql.Totals) -> dict[str, Any]:
    return {
        "run_count": t.run_count,
        "task_count": t.task_count,
        "compute_seconds": _seconds(t.compute_seconds),
        "api_call_count": t.api_call_count,
        "error_count": t.error_count,
    }


def summary(store: DuckDBStore, org_id: str, now: _dt.datetime | None = None) -> dict[str, Any]:
    """GET /usage/summary: the current billing period (the calendar month, UTC)."""
    start, end = quotas.month_of(now or utcnow())
    t = sql.totals(store, _window(org_id, start, end))
    return {
        "period_start": iso_z(start),
        "period_end": iso_z(end - _dt.timedelta(seconds=1)),
        **_totals_body(t),
        "estimated_cost_usd": _money(t.cost_usd),
    }


def _parse_day(raw: str, name: str) -> _dt.date:
    return parse_moment(raw.strip(), name, message=f"Invalid date format: {name}").date()


def date_range(
    start_date: str | None, end_date: str | None, now: _dt.datetime | None = None
) -> tuple[_dt.date, _dt.date]:
    """The days asked for, both included; by default the billing period up to today.

    400 for a date that is not ISO 8601, ``start_date`` after ``end_date``, or more than a year.
    """
    today = (now or utcnow()).date()
    first = _parse_day(start_date, "start_date") if start_date else today.replace(day=1)
    last = _parse_day(end_date, "end_date") if end_date else max(today, first)
    if first > last:
        raise InvalidInputError(
            "start_date is after end_date", {"start_date": "must not be after end_date"}
        )
    if (last - first).days >= MAX_DAYS:
        raise InvalidInputError(
            f"Date range too long: at most {MAX_DAYS} days", {"end_date": f"within {MAX_DAYS} days"}
        )
    return first, last


def _window(org_id: str, start: _dt.datetime, end: _dt.datetime) -> sql.Window:
    return sql.Window(org_id, start, end, RATES, DEFAULT_RATE)


def _days(org_id: str, first: _dt.date, last: _dt.date) -> sql.Window:
    """The window of whole days ``first`` to ``last``, both included."""
    start = _dt.datetime.combine(first, _dt.time())
    return _window(org_id, start, _dt.datetime.combine(last + _dt.timedelta(days=1), _dt.time()))


def _day_items(store: DuckDBStore, window: sql.Window) -> list[Any]:
    return [
        {"date": d.day.isoformat(), **_totals_body(d), "cost_usd": _money(d.cost_usd)}
        for d in sql.days(store, window)
    ]


def timeseries(
    store: DuckDBStore, org_id: str, start_date: str | None, end_date: str | None
) -> dict[str, Any]:
    """GET /usage/timeseries: one item per day of the range, days without usage included."""
    return {"items": _day_items(store, _days(org_id, *date_range(start_date, end_date)))}


def costs(
    store: DuckDBStore, org_id: str, start_date: str | None, end_date: str | None
) -> dict[str, Any]:
    """GET /usage/costs: cost by flow and by executor over the range."""
    window = _days(org_id, *date_range(start_date, end_date))
    with store.connection():
        flows = sql.by_flow(store, window)
        executors = sql.by_executor(store, window)
    return {
        "total_cost_usd": _money(sum(e.cost_usd for e in executors)),
        "by_flow": [
            {"flow_name": f.flow_name, "cost_usd": _money(f.cost_usd), "run_count": f.run_count}
            for f in flows
        ],
        "by_executor": [
            {"executor": e.executor, "cost_usd": _money(e.cost_usd), "task_count": e.task_count}
            for e in executors
        ],
    }


def dashboard(store: DuckDBStore, org_id: str, now: _dt.datetime | None = None) -> dict[str, Any]:
    """GET /usage/dashboard: summary, this period's days, quota and the dearest flows."""
    now = now or utcnow()
    start, end = quotas.month_of(now)
    with store.connection():
        top = sql.by_flow(store, _window(org_id, start, end), limit=TOP_FLOWS)
        return {
            "summary": summary(store, org_id, now),
            "timeseries": _day_items(store, _days(org_id, start.date(), now.date())),
            "quota": quotas.quota(store, org_id, now),
            "top_flows": [{**asdict(f), "cost_usd": _money(f.cost_usd)} for f in top],
        }
