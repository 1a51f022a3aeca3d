"""The events table as an event log (GET /events): triggers and what happened to runs.

``flow_trigger`` events are the run queue (pending → processing → done/failed);
``run_status_update`` events record each run's end (written ``done``). Newest first,
keyset-paged by ``event_id`` in SQL.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from dagy.errors import InvalidInputError
from dagy.services import pagination
from dagy.services._iso import parse_moment
from dagy.store import queue as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import Event

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def _time(value: Any) -> str | None:
    return value.isoformat(timespec="milliseconds") + "Z" if value is not None else None


def _moment(text: str | None, field: str) -> _dt.datetime | None:
    return parse_moment(text, field) if text else None


def to_item(event: Event) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "type": event.type,
        "status": event.status,
        "run_id": event.run_id,
        "flow_name": event.flow_name,
        "deployment_name": event.deployment_name,
        "payload": json.loads(event.payload) if event.payload else None,
        "created_at": _time(event.created_at),
        "claimed_at": _time(event.claimed_at),
        "finished_at": _time(event.finished_at),
        "attempts": event.attempts,
        "error": event.error,
    }


def list_events(
    store: DuckDBStore,
    org_id: str,
    *,
    filters: dict[str, str | None],
    start_time: str | None = None,
    end_time: str | None = None,
    limit: Any = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    size = pagination.clamp_limit(limit, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    status = filters.get("status")
    if status and status not in sql.EVENT_STATUSES:
        raise InvalidInputError(
            f"Invalid status: {status!r}", {"status": f"one of {', '.join(sql.EVENT_STATUSES)}"}
        )
    position = pagination.decode_token(next_token, size=1)
    before = position[0] if position else None
    if before is not None and (not isinstance(before, int) or isinstance(before, bool)):
        raise InvalidInputError("Invalid next_token", {"next_token": "malformed"})
    rows = sql.events_page(
        store,
        org_id,
        filters={k: v for k, v in filters.items() if v},
        start=_moment(start_time, "start_time"),
        end=_moment(end_time, "end_time"),
        before=before,
        limit=size + 1,
    )
    items, token = pagination.page(rows, size, lambda e: [e.event_id])
    return {"items": [to_item(e) for e in items], "next_token": token}
