"""AI studio sessions: create, list (the caller's, paged in SQL), get (history, canvas,
attachments, artifacts), delete, archive, rename, change tier, persist canvas edits, bind a flow
and save the canvas as a DAG draft (deployed on request).

Rules that live here (docs/ai-studio.md):
- a session belongs to the user who created it, in its org: anyone else gets a 404;
- an archived session keeps its history but takes no turns (409);
- a canvas PATCH is checked for shape (400 listing each problem) and stored as it is: what else
  is wrong is its ``validation``, computed when read, as a draft's is;
- a flow is bound to at most one of a user's sessions (binding moves it);
- every change writes its audit row in the same transaction.
"""

from __future__ import annotations

import functools
import json
import shutil
from typing import Any

from dagy.auth import secrets as ids
from dagy.config.paths import DagyPaths
from dagy.errors import InvalidInputError, NotFoundError
from dagy.names import check_display_name
from dagy.nodes import registry
from dagy.pipelines import canvas as canvas_mod
from dagy.pipelines import check, yaml_format
from dagy.pipelines.model import Pipeline
from dagy.pipelines.problems import PipelineError, Problem
from dagy.services import pagination
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.builder import draft_compile, drafts
from dagy.services.studio import tiers
from dagy.store import studio as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import iso_z, utcnow
from dagy.store.studio import AttachmentRow, SessionRow, TurnRow

MAX_TITLE = 200
EMPTY_CANVAS: dict[str, Any] = {"nodes": [], "edges": []}
RESOURCE = "ai_studio_session"
DEFAULT_PIPELINE_NAME = "generated_pipeline"


def _object(body: Any, allowed: frozenset[str]) -> dict[str, Any]:
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InvalidInputError("The body must be a JSON object", {"body": "an object"})
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInputError(
            f"Unknown field: {unknown[0]}", dict.fromkeys(unknown, "unknown field")
        )
    return body


def _title(value: Any) -> str:
    return check_display_name(
        value, "title", max_length=MAX_TITLE, message="Missing or invalid title"
    )


def _canvas_text(value: Any) -> str:
    problems = canvas_mod.check_shape(value)
    if problems:
        raise PipelineError(problems, "canvas_state")
    text = json.dumps(value, separators=(",", ":"))
    if len(text) > drafts.MAX_CANVAS_CHARS:
        raise InvalidInputError(
            "canvas_state is too large",
            {"canvas_state": f"at most {drafts.MAX_CANVAS_CHARS} characters"},
        )
    return text


def _audit(
    store: DuckDBStore, actor: Actor, action: str, row: SessionRow, changes: dict[str, Any]
) -> None:
    audit.write(
        store, actor, action, RESOURCE, row.session_id, resource_name=row.title,
        changes=changes, org_id=row.org_id,
    )  # fmt: skip


def _user(actor: Actor) -> str:
    return actor.email or "local"


# -- sessions ---------------------------------------------------------------------------------------


def create(store: DuckDBStore, actor: Actor, body: Any) -> SessionRow:
    """POST /ai-studio/sessions: ``title``, ``tier`` (default standard), ``flow_name`` and a
    starting ``canvas_state`` are optional."""
    body = _object(body, frozenset({"title", "tier", "flow_name", "canvas_state"}))
    title = _title(body["title"]) if body.get("title") is not None else "Untitled session"
    tier = tiers.tier(body.get("tier") or tiers.DEFAULT_TIER).name
    flow_name = drafts.check_flow_name(body.get("flow_name"))
    canvas_json = _canvas_text(body.get("canvas_state") or EMPTY_CANVAS)
    now = utcnow()
    row = SessionRow(
        session_id=ids.new_id("ss"),
        org_id=actor.org_id,
        user_email=_user(actor),
        title=title,
        tier=tier,
        status="active",
        flow_name=flow_name,
        draft_id=None,
        canvas_json=canvas_json,
        created_at=now,
        updated_at=now,
    )
    with store.transaction():
        if flow_name:
            sql.unbind_flow(store, row.org_id, row.user_email, flow_name, row.session_id)
        sql.insert(store, row)
        _audit(store, actor, "create", row, {"tier": tier, "flow_name": flow_name})
    return row


def get(store: DuckDBStore, actor: Actor, session_id: str) -> SessionRow:
    """The caller's session, or a 404 (another user's session is not found either)."""
    row = sql.get_session(store, actor.org_id, session_id)
    if row is None or row.user_email != _user(actor):
        raise NotFoundError(f"Session not found: {session_id}", {"session_id": session_id})
    return row


def list_page(
    store: DuckDBStore,
    actor: Actor,
    *,
    limit: Any = None,
    next_token: str | None = None,
    status: str | None = None,
) -> tuple[list[SessionRow], str | None]:
    """One page of the caller's sessions, newest first (GET /ai-studio/sessions)."""
    if status not in (None, "", "active", "archived"):
        raise InvalidInputError(f"Invalid status: {status!r}", {"status": "active or archived"})
    size = pagination.clamp_limit(limit, default=50, maximum=100)
    rows = sql.session_page(
        store,
        actor.org_id,
        _user(actor),
        status=status or None,
        before=pagination.decode_keyset(next_token),
        limit=size + 1,
    )
    return pagination.page(rows, size, lambda r: [r.created_at.isoformat(), r.session_id])


def by_flow(store: DuckDBStore, actor: Actor, flow_name: str) -> SessionRow:
    row = sql.session_by_flow(store, actor.org_id, _user(actor), flow_name)
    if row is None:
        raise NotFoundError(f"No session is bound to flow {flow_name}", {"flow_name": flow_name})
    return row


def delete(store: DuckDBStore, paths: DagyPaths, actor: Actor, session_id: str) -> SessionRow:
    """The session, its turns and its attachments (stored files too)."""
    with store.transaction():
        row = get(store, actor, session_id)
        sql.delete_session(store, session_id)
        _audit(store, actor, "delete", row, {})
    shutil.rmtree(attachment_dir(paths, session_id), ignore_errors=True)
    return row


def archive(store: DuckDBStore, actor: Actor, session_id: str) -> SessionRow:
    with store.transaction():
        row = get(store, actor, session_id)
        if row.status != "archived":
            now = max(utcnow(), row.updated_at)
            sql.update_session(
                store, session_id, status="archived", archived_at=now, updated_at=now
            )
            _audit(store, actor, "update", row, {"status": "archived"})
        return get(store, actor, session_id)


def rename(store: DuckDBStore, actor: Actor, session_id: str, body: Any) -> SessionRow:
    title = _title(_object(body, frozenset({"title"})).get("title"))
    return _change(store, actor, session_id, {"title": title}, {"title": title})


def set_tier(store: DuckDBStore, actor: Actor, session_id: str, body: Any) -> SessionRow:
    tier = tiers.tier(_object(body, frozenset({"tier"})).get("tier")).name
    return _change(store, actor, session_id, {"tier": tier}, {"tier": tier})


def set_canvas(store: DuckDBStore, actor: Actor, session_id: str, body: Any) -> SessionRow:
    """PATCH .../canvas: ``canvas_state`` (``{"nodes", "edges"}``), stored when well-shaped."""
    body = _object(body, frozenset({"canvas_state"}))
    if "canvas_state" not in body:
        raise InvalidInputError("canvas_state is required", {"canvas_state": "required"})
    text = _canvas_text(body["canvas_state"])
    nodes = len(body["canvas_state"].get("nodes") or [])
    return _change(store, actor, session_id, {"canvas_json": text}, {"canvas_nodes": nodes})


def _change(
    store: DuckDBStore,
    actor: Actor,
    session_id: str,
    changes: dict[str, Any],
    audited: dict[str, Any],
) -> SessionRow:
    with store.transaction():
        row = get(store, actor, session_id)
        sql.update_session(store, session_id, **changes, updated_at=max(utcnow(), row.updated_at))
        _audit(store, actor, "update", row, audited)
        return get(store, actor, session_id)


# -- bind a flow, save as a draft, deploy -----------------------------------------------------------


BIND_FIELDS = frozenset({"flow_name", "save", "deploy", "draft_name"})


def bind_flow(
    store: DuckDBStore, paths: DagyPaths, actor: Actor, session_id: str, body: Any
) -> dict[str, Any]:
    """POST .../bind-flow: ``flow_name`` (required); ``save: true`` writes the session's canvas
    to a DAG draft (the session's own, created the first time) with that flow name; ``deploy:
    true`` (implies save) deploys the draft as a new version of the flow, so POST /runs runs it.
    All of it or nothing: a canvas that does not compile is a 400 and nothing changes."""
    body = _object(body, BIND_FIELDS)
    flow_name = drafts.check_flow_name(body.get("flow_name"))
    if flow_name is None:
        raise InvalidInputError("flow_name is required", {"flow_name": "required"})
    for key in ("save", "deploy"):
        if not isinstance(body.get(key, False), bool):
            raise InvalidInputError(f"{key} must be true or false", {key: "a boolean"})
    deploy, save = bool(body.get("deploy")), bool(body.get("save") or body.get("deploy"))
    draft: dict[str, Any] | None = None
    deployed: dict[str, Any] | None = None
    with store.transaction():
        row = get(store, actor, session_id)
        sql.unbind_flow(store, row.org_id, row.user_email, flow_name, session_id)
        changes: dict[str, Any] = {"flow_name": flow_name}
        if save:
            if not row.canvas.get("nodes"):
                raise InvalidInputError(
                    "The session has no workflow to save yet", {"canvas_state": "empty"}
                )
            fields = {"canvas_json": row.canvas, "flow_name": flow_name}
            if row.draft_id and drafts_row(store, row.org_id, row.draft_id):
                saved = drafts.update(store, row.org_id, actor, row.draft_id, fields)
            else:
                name = body.get("draft_name") or row.title
                saved = drafts.create(
                    store,
                    row.org_id,
                    actor,
                    {**fields, "name": name, "description": f"AI studio session {session_id}"},
                )
            changes["draft_id"] = saved.draft_id
            draft = drafts.to_created(saved)
            if deploy:
                deployed = draft_compile.deploy(
                    store, paths, row.org_id, actor, saved.draft_id
                ).to_api()
        sql.update_session(store, session_id, **changes, updated_at=max(utcnow(), row.updated_at))
        _audit(
            store, actor, "update", row,
            {"flow_name": flow_name, "saved": save, "deployed": deploy},
        )  # fmt: skip
        after = get(store, actor, session_id)
    return {"session": to_summary(store, after), "draft": draft, "deployment": deployed}


def drafts_row(store: DuckDBStore, org_id: str, draft_id: str) -> bool:
    try:
        drafts.get(store, org_id, draft_id)
    except NotFoundError:
        return False
    return True


# -- the session's pipeline -------------------------------------------------------------------------


def pipeline_of(
    store: DuckDBStore, row: SessionRow, lookup: Any = None
) -> tuple[Pipeline | None, list[Problem]]:
    """The pipeline the session's canvas draws (None when it is empty), and its problems."""
    canvas = row.canvas
    if not canvas.get("nodes"):
        return None, []
    lookup = lookup or functools.cache(registry.lookup_for(store, row.org_id))
    name = row.flow_name or DEFAULT_PIPELINE_NAME
    pipeline, problems = canvas_mod.to_pipeline(name, canvas, lookup)
    return pipeline, problems + check.check_pipeline(pipeline, lookup)


def attachment_dir(paths: DagyPaths, session_id: str) -> Any:
    return paths.home / "studio" / "attachments" / session_id


# -- what the API shows -----------------------------------------------------------------------------


def to_summary(store: DuckDBStore, row: SessionRow) -> dict[str, Any]:
    count, _ = sql.turn_count(store, row.session_id)
    return {
        "session_id": row.session_id,
        "title": row.title,
        "tier": row.tier,
        "status": row.status,
        "flow_name": row.flow_name,
        "draft_id": row.draft_id,
        "turn_count": count,
        "created_at": iso_z(row.created_at),
        "updated_at": iso_z(row.updated_at),
        "archived_at": iso_z(row.archived_at) if row.archived_at else None,
    }


def to_item(row: SessionRow) -> dict[str, Any]:
    """A session as the list shows it (no per-row queries)."""
    return {
        "session_id": row.session_id,
        "title": row.title,
        "tier": row.tier,
        "status": row.status,
        "flow_name": row.flow_name,
        "draft_id": row.draft_id,
        "created_at": iso_z(row.created_at),
        "updated_at": iso_z(row.updated_at),
        "archived_at": iso_z(row.archived_at) if row.archived_at else None,
    }


def history_of(turns: list[TurnRow]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in turns:
        if t.status == "running":
            continue
        at = iso_z(t.created_at)
        out.append({"role": "user", "content": t.message, "turn_id": t.turn_id, "at": at})
        out.append(
            {
                "role": "assistant",
                "content": t.response or "",
                "turn_id": t.turn_id,
                "intent": t.intent,
                "workflow_status": (t.result or {}).get("workflow_status"),
                "credits_used": t.credits_used,
                "at": iso_z(t.finished_at) if t.finished_at else at,
            }
        )
    return out


def attachment_to_api(row: AttachmentRow) -> dict[str, Any]:
    text = row.text or ""
    return {
        "attachment_id": row.attachment_id,
        "session_id": row.session_id,
        "file_name": row.file_name,
        "content_type": row.content_type,
        "kind": row.kind,
        "size_bytes": row.size_bytes,
        "status": row.status,
        "text_chars": len(text),
        "preview": text[:500],
        "created_at": iso_z(row.created_at),
        "completed_at": iso_z(row.completed_at) if row.completed_at else None,
    }


def to_detail(store: DuckDBStore, row: SessionRow) -> dict[str, Any]:
    """GET /ai-studio/sessions/{id}: the session with its history, canvas (and the YAML and
    validation of it as of now), attachments and artifacts (each generated workflow, the draft)."""
    turns = sql.turns(store, row.session_id)
    pipeline, problems = pipeline_of(store, row)
    artifacts: list[dict[str, Any]] = []
    for t in turns:
        result = t.result or {}
        if t.status == "completed" and result.get("pipeline_yaml"):
            artifacts.append(
                {
                    "kind": "pipeline",
                    "turn_id": t.turn_id,
                    "seq": t.seq,
                    "intent": t.intent,
                    "pipeline_yaml": result["pipeline_yaml"],
                    "created_at": iso_z(t.finished_at or t.created_at),
                }
            )
    if row.draft_id:
        artifacts.append({"kind": "dag_draft", "draft_id": row.draft_id})
    return {
        **to_summary(store, row),
        "history": history_of(turns),
        "canvas_state": row.canvas,
        "pipeline_yaml": yaml_format.dump_pipeline(pipeline) if pipeline is not None else None,
        "validation": {
            "valid": not problems,
            "errors": [p.to_api() for p in problems],
            "warnings": [],
        },
        "attachments": [attachment_to_api(a) for a in sql.attachments(store, row.session_id)],
        "artifacts": artifacts,
    }
