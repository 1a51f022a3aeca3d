"""DAG drafts: a visual-builder canvas saved as a work in progress. Create, list, get, update,
delete, and their API shapes; draft_compile.py validates, compiles and deploys one.

Rules that live here (docs/builder.md):
- saving checks only the canvas's shape (``canvas.check_shape``): a malformed canvas is a 400
  naming each node or edge, and nothing is stored;
- everything else (node types, cycles, connections, config) is the draft's ``validation``,
  computed on every read, so a draft may be saved incomplete;
- drafts belong to an org: another org's draft is a 404.
"""

from __future__ import annotations

import json
from typing import Any

from dagy.auth import secrets as ids
from dagy.errors import InvalidInputError, NotFoundError
from dagy.names import check_display_name
from dagy.pipelines import canvas, yaml_format
from dagy.pipelines.problems import PipelineError
from dagy.services import pagination
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.catalog import checks
from dagy.services.catalog.flow_specs import RESERVED_NAMES
from dagy.store import drafts as sql
from dagy.store.drafts import DraftRow
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import iso_z, utcnow

FIELDS = frozenset({"name", "description", "canvas_json", "flow_name", "executor"})
MAX_NAME = 200
MAX_DESCRIPTION = 10_000
MAX_CANVAS_CHARS = 8 * 1024 * 1024
EMPTY_CANVAS: dict[str, Any] = {"nodes": [], "edges": []}


# -- fields ---------------------------------------------------------------------------------------


def _name(value: Any) -> str:
    return check_display_name(value, "name", max_length=MAX_NAME, message="Missing or invalid name")


def _description(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise InvalidInputError(
            "Invalid description", {"description": f"a string of at most {MAX_DESCRIPTION}"}
        )
    return value


def check_flow_name(value: Any) -> str | None:
    """A flow name a pipeline can carry (yaml_format.NAME, which POST /flows also takes) and not
    one the API reserves; None or "" for none yet."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not yaml_format.NAME.match(value) or value in RESERVED_NAMES:
        raise InvalidInputError(
            f"Invalid flow_name: {value!r}",
            {
                "flow_name": "1-128 letters, digits, '_', '.' or '-', starting with a letter, "
                f"digit or '_'; not {', '.join(RESERVED_NAMES)}"
            },
        )
    return value


def _executor(value: Any) -> str | None:
    try:
        return checks.check_executor(value)
    except InvalidInputError:
        raise InvalidInputError(
            f"Invalid executor: {value!r}",
            {"executor": 'a backend name (GET /backends), or "" for auto'},
        ) from None


def _canvas(value: Any) -> str:
    """The canvas as stored (JSON text), or a 400 listing every shape problem."""
    problems = canvas.check_shape(value)
    if problems:
        raise PipelineError(problems, "canvas_json")
    text = json.dumps(value, separators=(",", ":"))
    if len(text) > MAX_CANVAS_CHARS:
        raise InvalidInputError(
            "canvas_json is too large", {"canvas_json": f"at most {MAX_CANVAS_CHARS} characters"}
        )
    return text


def _known(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInputError("The body must be a JSON object", {"body": "an object"})
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidInputError(
            f"Unknown field: {unknown[0]}", dict.fromkeys(unknown, "unknown field")
        )
    return body


# -- drafts ---------------------------------------------------------------------------------------


def create(store: DuckDBStore, org_id: str, actor: Actor | None, body: Any) -> DraftRow:
    """A new draft (POST /dag-drafts); with ``actor``, its audit row in the same transaction."""
    body = _known(body)
    name = _name(body.get("name"))
    description = _description(body.get("description"))
    flow_name = check_flow_name(body.get("flow_name"))
    executor = _executor(body.get("executor"))
    canvas_json = _canvas(body.get("canvas_json", EMPTY_CANVAS))
    now = utcnow()
    row = DraftRow(
        draft_id=ids.new_id("draft"),
        org_id=org_id,
        name=name,
        description=description,
        canvas_json=canvas_json,
        flow_name=flow_name,
        executor=executor,
        created_by=actor.email if actor is not None else None,
        created_at=now,
        updated_at=now,
    )
    with store.transaction():
        sql.insert(store, row)
        if actor is not None:
            audit.write(
                store,
                actor,
                "create",
                "dag_draft",
                row.draft_id,
                resource_name=name,
                changes={"flow_name": flow_name, "nodes": len(row.canvas.get("nodes") or [])},
                org_id=org_id,
            )
    return row


def get(store: DuckDBStore, org_id: str, draft_id: str) -> DraftRow:
    row = sql.get(store, org_id, draft_id)
    if row is None:
        raise NotFoundError(f"Draft not found: {draft_id}", {"draft_id": draft_id})
    return row


def list_page(
    store: DuckDBStore, org_id: str, *, limit: Any = None, next_token: str | None = None
) -> tuple[list[DraftRow], str | None]:
    """One page of the org's drafts, oldest first (GET /dag-drafts)."""
    size = pagination.clamp_limit(limit, default=100, maximum=100)
    rows = sql.page(store, org_id, after=pagination.decode_keyset(next_token), limit=size + 1)
    return pagination.page(rows, size, lambda r: [r.created_at.isoformat(), r.draft_id])


def update(
    store: DuckDBStore, org_id: str, actor: Actor | None, draft_id: str, body: Any
) -> DraftRow:
    """Change the fields given (PUT /dag-drafts/{id}); null clears description, flow_name and
    executor. Every field is checked before anything is written."""
    body = _known(body)
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = _name(body["name"])
    if "description" in body:
        changes["description"] = _description(body["description"])
    if "flow_name" in body:
        changes["flow_name"] = check_flow_name(body["flow_name"])
    if "executor" in body:
        changes["executor"] = _executor(body["executor"])
    if "canvas_json" in body:
        changes["canvas_json"] = _canvas(body["canvas_json"])
    with store.transaction():
        row = get(store, org_id, draft_id)
        changes["updated_at"] = max(utcnow(), row.updated_at)
        sql.update(store, org_id, draft_id, **changes)
        if actor is not None:
            audit.write(
                store,
                actor,
                "update",
                "dag_draft",
                draft_id,
                resource_name=changes.get("name", row.name),
                changes={k: v for k, v in changes.items() if k not in ("canvas_json", "updated_at")}
                | ({"canvas_json": "changed"} if "canvas_json" in changes else {}),
                org_id=org_id,
            )
        return get(store, org_id, draft_id)


def delete(store: DuckDBStore, org_id: str, actor: Actor | None, draft_id: str) -> DraftRow:
    with store.transaction():
        row = get(store, org_id, draft_id)
        sql.delete(store, org_id, draft_id)
        if actor is not None:
            audit.write(
                store, actor, "delete", "dag_draft", draft_id, resource_name=row.name,
                org_id=org_id,
            )  # fmt: skip
    return row


# -- what the API shows ---------------------------------------------------------------------------


def to_item(row: DraftRow) -> dict[str, Any]:
    """A draft as GET /dag-drafts lists it."""
    return {
        "draft_id": row.draft_id,
        "name": row.name,
        "description": row.description,
        "flow_name": row.flow_name,
        "created_at": iso_z(row.created_at),
        "updated_at": iso_z(row.updated_at),
    }


def to_created(row: DraftRow) -> dict[str, Any]:
    """The 201 of POST /dag-drafts."""
    return {
        "draft_id": row.draft_id,
        "name": row.name,
        "description": row.description,
        "flow_name": row.flow_name,
        "executor": row.executor,
        "created_at": iso_z(row.created_at),
        "updated_at": iso_z(row.updated_at),
    }


def to_updated(row: DraftRow) -> dict[str, Any]:
    """The 200 of PUT /dag-drafts/{id}."""
    return {"draft_id": row.draft_id, "name": row.name, "updated_at": iso_z(row.updated_at)}


def to_detail(row: DraftRow, validation: dict[str, Any]) -> dict[str, Any]:
    """A draft as GET /dag-drafts/{id} shows it, with its ``validation`` as of now."""
    return {
        "draft_id": row.draft_id,
        "name": row.name,
        "description": row.description,
        "canvas_json": row.canvas,
        "flow_name": row.flow_name,
        "executor": row.executor,
        "created_at": iso_z(row.created_at),
        "updated_at": iso_z(row.updated_at),
        "deployed_flow_version": row.deployed_flow_version,
        "deployed_at": iso_z(row.deployed_at) if row.deployed_at else None,
        "validation": validation,
    }
