"""GET /events: the event log of the caller's org (run triggers, queue states, run ends)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from dagy.server.openapi import WHEN
from dagy.server.security import identity_of, state_of
from dagy.services.runs import events as events_api
from dagy.store.queue import EVENT_STATUSES

_OPT = {
    "permission": "runs.read",
    "params": {"status": {"enum": list(EVENT_STATUSES)}, "start_time": WHEN, "end_time": WHEN},
}


@get("/events", sync_to_thread=True, opt=_OPT)
def list_events(
    request: Request[Any, Any, Any],
    type: str | None = None,  # noqa: A002 - the spec's filter name
    status: str | None = None,
    flow_name: str | None = None,
    run_id: str | None = None,
    deployment_name: str | None = None,
    start_time: str | None = None,
    end_time: str | None = None,
    limit: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    return events_api.list_events(
        state_of(request).store,
        identity_of(request).org_id,
        filters={
            "type": type,
            "status": status,
            "flow_name": flow_name,
            "run_id": run_id,
            "deployment_name": deployment_name,
        },
        start_time=start_time,
        end_time=end_time,
        limit=limit,
        next_token=next_token,
    )


ROUTES = [list_events]
