"""GET /runs and GET /runs/{run_id}: the runs of the caller's org, whoever started them."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from dagy.server.security import identity_of, state_of
from dagy.services import runs_api


@get("/runs", sync_to_thread=True, opt={"permission": "runs.read"})
def list_runs(
    request: Request[Any, Any, Any],
    flow_name: str | None = None,
    status: str | None = None,
    limit: str | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    return runs_api.list_runs(
        state_of(request).store,
        identity_of(request).org_id,
        flow_name=flow_name,
        status=status,
        limit=limit,
        next_token=next_token,
    )


@get("/runs/{run_id:str}", sync_to_thread=True, opt={"permission": "runs.read"})
def get_run(request: Request[Any, Any, Any], run_id: str) -> dict[str, Any]:
    return runs_api.get_run(state_of(request).store, identity_of(request).org_id, run_id)


ROUTES = [list_runs, get_run]
