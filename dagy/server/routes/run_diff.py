"""Replay and run diff (docs/replay.md): POST /runs/{run_id}/replay queues a replay of a finished
run for the workers; GET /runs/{a}/diff/{b} compares two runs of the caller's org task by task."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post

from dagy.server import shapes
from dagy.server.openapi import Body
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services.runs import diff as run_diff
from dagy.services.runs import replay


class ReplayBody(Body):
    from_step: str | None = None  # rerun this step and what is downstream of it


@post(
    "/runs/{run_id:str}/replay",
    status_code=202,
    sync_to_thread=True,
    opt={"permission": "runs.trigger"},
)
def replay_run(
    request: Request[Any, Any, Any], run_id: str, data: ReplayBody | None = None
) -> dict[str, Any]:
    workers = state_of(request).workers
    run = replay.queue_replay(
        state_of(request).store,
        actor_of(request),
        run_id,
        from_step=data.from_step if data is not None else None,
        wake=workers.wake if workers is not None else None,
    )
    return {**shapes.to_trigger_body(run), "replay_of": run_id}


@get("/runs/{run_a:str}/diff/{run_b:str}", sync_to_thread=True, opt={"permission": "runs.read"})
def diff_runs(request: Request[Any, Any, Any], run_a: str, run_b: str) -> dict[str, Any]:
    found = run_diff.diff_runs(state_of(request).store, identity_of(request).org_id, run_a, run_b)
    return found.to_json()


ROUTES = [replay_run, diff_runs]
