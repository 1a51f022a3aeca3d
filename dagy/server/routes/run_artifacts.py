"""A run's stored files: list them, download one.

``GET /runs/{run_id}/artifacts`` lists each task run's ``result.json`` (its return value) and the
files the task wrote in its artifact folder, paged (``limit`` 1..500, default 100; ``next_token``).
``GET /runs/{run_id}/artifacts/{task_run_id}/{name}`` downloads one, as an attachment with its
content type. Both need ``runs.read`` and answer 404 for a run of another org. See
dagy/services/runs/artifact_files.py for what is listed.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import File

from dagy.server.security import identity_of, state_of
from dagy.services.runs import artifact_files


@get(
    "/runs/{run_id:str}/artifacts",
    sync_to_thread=True,
    opt={
        "permission": "runs.read",
        "params": {"limit": {"minimum": 1, "maximum": artifact_files.MAX_LIMIT}},
    },
)
def list_artifacts(
    request: Request[Any, Any, Any],
    run_id: str,
    limit: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    state = state_of(request)
    page = artifact_files.list_page(
        state.store,
        state.paths,
        identity_of(request).org_id,
        run_id,
        limit=limit,
        next_token=next_token or None,
    )
    return {
        "run_id": run_id,
        "items": [f.to_json() for f in page.items],
        "next_token": page.next_token,
    }


@get(
    "/runs/{run_id:str}/artifacts/{task_run_id:str}/{name:str}",
    sync_to_thread=True,
    # the file's own type (result.json: application/json, a CSV: text/csv, ...): any type
    opt={"permission": "runs.read", "produces": "*/*"},
)
def download_artifact(
    request: Request[Any, Any, Any], run_id: str, task_run_id: str, name: str
) -> File:
    state = state_of(request)
    path, media, _size = artifact_files.open_file(
        state.store, state.paths, identity_of(request).org_id, run_id, task_run_id, name
    )
    return File(
        path,
        filename=name,
        media_type=media,
        content_disposition_type="attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


ROUTES = [list_artifacts, download_artifact]
