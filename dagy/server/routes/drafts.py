"""DAG drafts (the visual builder): create, list, get, update, delete; and beyond the reference,
the draft's YAML pipeline and its deploy as a flow version. Rules live in
dagy/services/builder/drafts.py and draft_compile.py; see docs/builder.md."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post, put

from dagy.auth.identity import Identity
from dagy.server.openapi import Body, display_name, given, required
from dagy.server.security import identity_of, origin_of, state_of
from dagy.services.accounts.audit import Actor
from dagy.services.builder import draft_compile, drafts, nodes

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
READ, WRITE = "flows.read", "flows.write"


class DraftBody(Body):
    """drafts.FIELDS; on a PUT only the fields given change (null clears the optional ones)."""

    name: str | None | msgspec.UnsetType = msgspec.UNSET
    description: str | None | msgspec.UnsetType = msgspec.UNSET
    canvas_json: Any = msgspec.UNSET  # checked node by node by the service
    flow_name: str | None | msgspec.UnsetType = msgspec.UNSET
    executor: str | None | msgspec.UnsetType = msgspec.UNSET
    doc = {
        "name": required(display_name(drafts.MAX_NAME)),
        "description": {"maxLength": drafts.MAX_DESCRIPTION},
        "canvas_json": {
            "type": "object",
            "description": "{nodes: [...], edges: [...]} (docs/builder.md)",
        },
    }


class DraftUpdate(DraftBody):
    doc = {**DraftBody.doc, "name": display_name(drafts.MAX_NAME)}


class DeployBody(Body):
    """draft_compile.DEPLOY_FIELDS."""

    flow_version: str | None | msgspec.UnsetType = msgspec.UNSET
    deployment_name: str | None | msgspec.UnsetType = msgspec.UNSET
    schedule: str | None | msgspec.UnsetType = msgspec.UNSET
    status: str | None | msgspec.UnsetType = msgspec.UNSET


def _org(request: Request[Any, Any, Any], permission: str) -> Identity:
    """The caller in the org of the spec's ``X-Org-Id`` header, as the node registry takes it (a
    draft sees that org's custom nodes); without it, the org its credential resolved to."""
    wanted = request.headers.get("x-org-id") or None
    return nodes.org_identity(state_of(request).store, identity_of(request), wanted, permission)


def _actor(request: Request[Any, Any, Any]) -> Actor:
    return Actor(_org(request, WRITE), origin_of(request))


@post("/dag-drafts", status_code=201, sync_to_thread=True, opt={"permission": WRITE})
def create_draft(request: Request[Any, Any, Any], data: DraftBody) -> dict[str, Any]:
    actor = _actor(request)
    row = drafts.create(state_of(request).store, actor.org_id, actor, given(data))
    return drafts.to_created(row)


@get("/dag-drafts", sync_to_thread=True, opt={"permission": READ})
def list_drafts(
    request: Request[Any, Any, Any], limit: int | None = None, next_token: str | None = None
) -> dict[str, Any]:
    rows, token = drafts.list_page(
        state_of(request).store, _org(request, READ).org_id, limit=limit, next_token=next_token
    )
    return {"items": [drafts.to_item(r) for r in rows], "next_token": token}


@get("/dag-drafts/{draft_id:str}", sync_to_thread=True, opt={"permission": READ})
def get_draft(request: Request[Any, Any, Any], draft_id: str) -> dict[str, Any]:
    store, org_id = state_of(request).store, _org(request, READ).org_id
    row = drafts.get(store, org_id, draft_id)
    return drafts.to_detail(row, draft_compile.validate(store, org_id, row).to_api())


@put("/dag-drafts/{draft_id:str}", sync_to_thread=True, opt={"permission": WRITE})
def update_draft(
    request: Request[Any, Any, Any], draft_id: str, data: DraftUpdate
) -> dict[str, Any]:
    actor = _actor(request)
    row = drafts.update(state_of(request).store, actor.org_id, actor, draft_id, given(data))
    return drafts.to_updated(row)


@delete(
    "/dag-drafts/{draft_id:str}",
    status_code=204,
    sync_to_thread=True,
    opt={"permission": WRITE},
)
def delete_draft(request: Request[Any, Any, Any], draft_id: str) -> Response[None]:
    actor = _actor(request)
    drafts.delete(state_of(request).store, actor.org_id, actor, draft_id)
    return Response(None, status_code=204)


@get("/dag-drafts/{draft_id:str}/pipeline", sync_to_thread=True, opt={"permission": READ})
def draft_pipeline(request: Request[Any, Any, Any], draft_id: str) -> Response[Any]:
    """The draft compiled to its YAML pipeline (400 with the validation errors if it cannot be):
    JSON by default, the YAML itself when the client accepts only YAML."""
    store, org_id = state_of(request).store, _org(request, READ).org_id
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
    opt={"permission": WRITE},
)
def deploy_draft(
    request: Request[Any, Any, Any], draft_id: str, data: DeployBody | None = None
) -> dict[str, Any]:
    """Compile the draft and register it as a new version of its ``flow_name`` (with a
    deployment), so POST /runs, schedules and sensors run it."""
    state, actor = state_of(request), _actor(request)
    body = given(data) if data is not None else None
    done = draft_compile.deploy(state.store, state.paths, actor.org_id, actor, draft_id, body)
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
