"""DAG drafts (the visual builder): create, list, get, update, delete; and beyond the reference,
the draft's YAML pipeline and its deploy as a flow version. Rules live in
dagy/services/builder/drafts.py and draft_compile.py; see docs/builder.md."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post, put

from dagy.server.security import actor_of, identity_of, state_of
from dagy.services.builder import draft_compile, drafts

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


@post("/dag-drafts", status_code=201, sync_to_thread=True, opt={"permission": "flows.write"})
def create_draft(request: Request[Any, Any, Any], data: Any) -> dict[str, Any]:
    actor = actor_of(request)
    return drafts.to_created(drafts.create(state_of(request).store, actor.org_id, actor, data))


@get("/dag-drafts", sync_to_thread=True, opt={"permission": "flows.read"})
def list_drafts(
    request: Request[Any, Any, Any], limit: str | None = None, next_token: str | None = None
) -> dict[str, Any]:
    rows, token = drafts.list_page(
        state_of(request).store, identity_of(request).org_id, limit=limit, next_token=next_token
    )
    return {"items": [drafts.to_item(r) for r in rows], "next_token": token}


@get("/dag-drafts/{draft_id:str}", sync_to_thread=True, opt={"permission": "flows.read"})
def get_draft(request: Request[Any, Any, Any], draft_id: str) -> dict[str, Any]:
    store, org_id = state_of(request).store, identity_of(request).org_id
    row = drafts.get(store, org_id, draft_id)
    return drafts.to_detail(row, draft_compile.validate(store, org_id, row).to_api())


@put("/dag-drafts/{draft_id:str}", sync_to_thread=True, opt={"permission": "flows.write"})
def update_draft(request: Request[Any, Any, Any], draft_id: str, data: Any) -> dict[str, Any]:
    actor = actor_of(request)
    row = drafts.update(state_of(request).store, actor.org_id, actor, draft_id, data)
    return drafts.to_updated(row)


@delete(
    "/dag-drafts/{draft_id:str}",
    status_code=204,
    sync_to_thread=True,
    opt={"permission": "flows.write"},
)
def delete_draft(request: Request[Any, Any, Any], draft_id: str) -> Response[None]:
    actor = actor_of(request)
    drafts.delete(state_of(request).store, actor.org_id, actor, draft_id)
    return Response(None, status_code=204)


@get("/dag-drafts/{draft_id:str}/pipeline", sync_to_thread=True, opt={"permission": "flows.read"})
def draft_pipeline(request: Request[Any, Any, Any], draft_id: str) -> Response[Any]:
    """The draft compiled to its YAML pipeline (400 with the validation errors if it cannot be):
    JSON by default, the YAML itself when the client accepts only YAML."""
    store, org_id = state_of(request).store, identity_of(request).org_id
    compiled = draft_compile.compile_draft(store, org_id, drafts.get(store, org_id, draft_id))
    accept = request.headers.get("accept", "")
    if any(t in accept for t in YAML_TYPES) and "json" not in accept:
        return Response(compiled.yaml_text, media_type="application/yaml")
    return Response(
        {
            "draft_id": draft_id,
            "pipeline_yaml": compiled.yaml_text,
            "validation": compiled.validation.to_api(),
        }
    )


@post(
    "/dag-drafts/{draft_id:str}/deploy",
    status_code=201,
    sync_to_thread=True,
    opt={"permission": "flows.write"},
)
def deploy_draft(
    request: Request[Any, Any, Any], draft_id: str, data: Any = None
) -> dict[str, Any]:
    """Compile the draft and register it as a new version of its ``flow_name`` (with a
    deployment), so POST /runs, schedules and sensors run it."""
    state, actor = state_of(request), actor_of(request)
    done = draft_compile.deploy(state.store, state.paths, actor.org_id, actor, draft_id, data)
    return done.to_api()


ROUTES = [
    create_draft,
    list_drafts,
    get_draft,
    update_draft,
    delete_draft,
    draft_pipeline,
    deploy_draft,
]
