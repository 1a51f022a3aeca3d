"""One AI studio turn: a message in, an answer (and for build/modify a validated workflow) out.

The order of things, each step's refusal named (docs/ai-studio.md):
1. the body: ``message`` (1..8000 chars, 400), ``intent`` auto|build|modify|advisory, ``turn_id``;
2. the session (404; archived 409), the org's ``ai_studio`` flag (403 feature_disabled), the
   tier's turn limit (429), the same ``turn_id`` or ``X-Idempotency-Key`` again (409, with the
   earlier answer as ``replay`` once it finished), the balance below the tier's price (402);
3. the turn's row is written ('running'): a second request with the same key now meets it;
4. the provider answers (outside any transaction: a model may take seconds); ``emit`` reports
   progress and text as it goes, and when it raises (the SSE client left) the turn stops and its
   row is removed;
5. a pipeline is accepted only when every step is an allowlisted node type, it passes
   ``check_pipeline`` with the org's registry and its canvas round trip shows no problem: else
   422 with the errors, the session's canvas unchanged and no credits spent (the row keeps the
   422 for a replay);
6. one transaction: the credits spent (``credits.spend``: 402 and nothing written when the
   balance is short, so two turns at the last credit cannot both pass), the session's canvas, the
   turn's stored answer and the audit row.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from dagy.auth import secrets as ids
from dagy.errors import ConflictError, InsufficientCreditsError, InvalidInputError
from dagy.nodes import registry
from dagy.pipelines import canvas as canvas_mod
from dagy.pipelines import check, yaml_format
from dagy.pipelines.model import Pipeline
from dagy.pipelines.problems import Problem
from dagy.services.accounts import credits, features
from dagy.services.accounts.audit import Actor
from dagy.services.studio import sessions, tiers
from dagy.services.studio.errors import (
    DuplicateTurnError,
    FeatureDisabledError,
    StudioLimitError,
    TurnInvalidError,
)
from dagy.store import studio as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import utcnow
from dagy.store.studio import SessionRow, TurnRow

Emit = Callable[[str, dict[str, Any]], None]
INTENTS = ("auto", "build", "modify", "advisory")
MAX_TURN_ID = 200
MAX_ATTACHMENT_TEXT = 200_000  # characters of one attachment a provider sees
BODY_FIELDS = frozenset({"message", "intent", "turn_id"})


def _noop(event: str, data: dict[str, Any]) -> None:
    return None


def parse_body(body: Any) -> tuple[str, str, str | None]:
    """(message, intent, turn_id) of a messages request, or a 400 naming the field."""
    if not isinstance(body, dict):
        raise InvalidInputError("The body must be a JSON object", {"body": "an object"})
    unknown = sorted(set(body) - BODY_FIELDS)
    if unknown:
        raise InvalidInputError(
            f"Unknown field: {unknown[0]}", dict.fromkeys(unknown, "unknown field")
        )
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        raise InvalidInputError("message is required", {"message": "a non-empty string"})
    if len(message) > tiers.MAX_MESSAGE_CHARS:
        raise InvalidInputError(
            f"message is too long ({len(message)} characters; at most {tiers.MAX_MESSAGE_CHARS})",
            {"message": f"at most {tiers.MAX_MESSAGE_CHARS} characters"},
        )
    intent = body.get("intent") or "auto"
    if intent not in INTENTS:
        raise InvalidInputError(f"Invalid intent: {intent!r}", {"intent": " | ".join(INTENTS)})
    turn_id = body.get("turn_id")
    if turn_id is not None and (
        not isinstance(turn_id, str) or not turn_id or len(turn_id) > MAX_TURN_ID
    ):
        raise InvalidInputError(
            "Invalid turn_id", {"turn_id": f"a non-empty string of at most {MAX_TURN_ID}"}
        )
    return message, intent, turn_id


def _key(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > MAX_TURN_ID:
        raise InvalidInputError(
            "X-Idempotency-Key is too long", {"X-Idempotency-Key": f"at most {MAX_TURN_ID}"}
        )
    return value.strip()


def _duplicate(found: TurnRow) -> DuplicateTurnError:
    details = {"turn_id": found.turn_id, "idempotency_key": found.idempotency_key}
    if found.status == "running":
        return DuplicateTurnError("This turn is already in progress", details)
    replay = found.result
    if replay is not None:
        replay = {**replay, "status_code": found.status_code}
    return DuplicateTurnError("Duplicate turn: the stored result is replayed", details, replay)


def preflight(
    store: DuckDBStore,
    actor: Actor,
    session_id: str,
    body: Any,
    idempotency_key: str | None = None,
) -> tuple[SessionRow, tiers.Tier, str, str, str | None, str | None]:
    """Every refusal that needs no provider, in the order the module docstring gives."""
    message, intent, turn_id = parse_body(body)
    key = _key(idempotency_key)
    row = sessions.get(store, actor, session_id)
    if row.status == "archived":
        raise ConflictError(
            f"Session {session_id} is archived: it takes no more turns",
            {"session_id": session_id, "status": "archived"},
        )
    if not features.enabled(store, row.org_id, "ai_studio"):
        raise FeatureDisabledError(
            "The AI studio is disabled for this organization", {"feature": "ai_studio"}
        )
    tier = tiers.tier(row.tier)
    found = sql.find_turn(store, session_id, turn_id, key)
    if found is not None:
        raise _duplicate(found)
    count, _ = sql.turn_count(store, session_id)
    if count >= tier.max_turns_per_session:
        raise StudioLimitError(
            f"This session reached its limit of {tier.max_turns_per_session} turns",
            {"limit": "max_turns_per_session"},
            fields={"limit": tier.max_turns_per_session, "current_usage": count},
        )
    have = credits.balance(store, row.org_id)
    if have < tier.credits_per_turn:
        raise InsufficientCreditsError(
            f"Insufficient credits: a {tier.name} turn needs {tier.credits_per_turn:g}, "
            f"the balance is {have:g}",
            {"required": tier.credits_per_turn, "credits_balance": have},
        )
    return row, tier, message, intent, turn_id, key


def _reserve(
    store: DuckDBStore,
    actor: Actor,
    row: SessionRow,
    tier: tiers.Tier,
    message: str,
    turn_id: str | None,
    key: str | None,
) -> TurnRow:
    with store.transaction():
        found = sql.find_turn(store, row.session_id, turn_id, key)
        if found is not None:
            raise _duplicate(found)
        count, last = sql.turn_count(store, row.session_id)
        if count >= tier.max_turns_per_session:
            raise StudioLimitError(
                f"This session reached its limit of {tier.max_turns_per_session} turns",
                {"limit": "max_turns_per_session"},
                fields={"limit": tier.max_turns_per_session, "current_usage": count},
            )
        turn = TurnRow(
            turn_key=ids.new_id("tr"),
            session_id=row.session_id,
            org_id=row.org_id,
            seq=last + 1,
            turn_id=turn_id,
            idempotency_key=key,
            status="running",
            intent=None,
            message=message,
            response=None,
            status_code=None,
            result_json=None,
            credits_used=0.0,
            created_by=actor.email,
            created_at=utcnow(),
        )
        sql.insert(store, turn)
    return turn


def _turn_input(
    store: DuckDBStore, row: SessionRow, tier: tiers.Tier, message: str, intent: str
) -> Any:
    from dagy.studio_providers.base import Attachment, TurnInput

    pipeline, _ = sessions.pipeline_of(store, row)
    ready = [a for a in sql.attachments(store, row.session_id) if a.status == "ready"]
    history: list[dict[str, Any]] = [
        {"role": h["role"], "content": h["content"]}
        for h in sessions.history_of(sql.turns(store, row.session_id))
    ]
    return TurnInput(
        message=message,
        intent=intent,
        pipeline=pipeline,
        attachments=[
            Attachment(a.file_name, a.content_type, (a.text or "")[:MAX_ATTACHMENT_TEXT])
            for a in ready
        ],
        history=history,
        nodes={d.node_type: d for d in registry.all_nodes(store, row.org_id)},
        tier=tier.name,
    )


def _accept(
    store: DuckDBStore, row: SessionRow, pipeline: Pipeline
) -> tuple[list[Problem], dict[str, Any] | None]:
    """The problems that keep ``pipeline`` off the canvas (none: accepted), and its canvas."""
    from dagy.studio_providers.base import ALLOWLIST

    problems = [
        Problem(
            f"steps[{i}]",
            f"step {s.id!r}: {s.node or s.kind!r} is not an allowlisted node type "
            f"({', '.join(ALLOWLIST)})",
            s.id,
            "node",
        )
        for i, s in enumerate(pipeline.steps)
        if s.kind != "node" or s.node not in ALLOWLIST
    ]
    if not pipeline.steps:
        problems.append(Problem("steps", "the workflow has no steps", field="steps"))
    if problems:
        return problems, None
    lookup = functools.cache(registry.lookup_for(store, row.org_id))
    problems = check.check_pipeline(pipeline, lookup)
    if problems:
        return problems, None
    drawn = canvas_mod.from_pipeline(pipeline)
    shape = canvas_mod.check_shape(drawn)
    if shape:
        return shape, None
    _, round_trip = canvas_mod.to_pipeline(pipeline.name, drawn, lookup)
    return round_trip, (drawn if not round_trip else None)


def _validation(problems: list[Problem]) -> dict[str, Any]:
    return {"valid": not problems, "errors": [p.to_api() for p in problems], "warnings": []}


def run_turn(
    store: DuckDBStore,
    actor: Actor,
    session_id: str,
    body: Any,
    *,
    idempotency_key: str | None = None,
    emit: Emit = _noop,
    checked: tuple[Any, ...] | None = None,
) -> dict[str, Any]:
    """Run one turn to its end; the 200 body (a 422 is a TurnInvalidError carrying its body).
    ``checked``: preflight's answer when the caller ran it already (the SSE route, to refuse
    with a status before the stream starts)."""
    from dagy.studio_providers import base as providers

    row, tier, message, intent, turn_id, key = checked or preflight(
        store, actor, session_id, body, idempotency_key
    )
    turn = _reserve(store, actor, row, tier, message, turn_id, key)
    try:
        emit("progress", {"stage": "planning", "message": f"Planning with {tier.provider}"})
        provider = providers.load(tier.provider, tier.settings)
        try:
            out = provider.turn(_turn_input(store, row, tier, message, intent), emit=emit)
        except providers.UnbuildableError as exc:
            problems = list(exc.problems) or [Problem("", exc.message)]
            result = _invalid(store, row, turn, intent, exc.message, problems, [])
            raise TurnInvalidError(exc.message, result) from None
        emit("progress", {"stage": "validating", "message": "Validating the workflow"})
        drawn: dict[str, Any] | None = None
        if out.pipeline is not None:
            if row.flow_name:
                out.pipeline.name = row.flow_name
            problems, drawn = _accept(store, row, out.pipeline)
            if drawn is None:
                message_ = "The request did not produce a valid workflow"
                result = _invalid(
                    store, row, turn, out.intent, out.response, problems, out.research_sources
                )
                raise TurnInvalidError(message_, result)
        return _complete(store, actor, row, tier, turn, out, drawn)
    except (TurnInvalidError, DuplicateTurnError):
        raise
    except BaseException:
        sql.delete_turn(store, turn.turn_key)  # the turn did not happen: the key may be retried
        raise


def _invalid(
    store: DuckDBStore,
    row: SessionRow,
    turn: TurnRow,
    intent: str,
    response: str,
    problems: list[Problem],
    sources: list[dict[str, Any]],
) -> dict[str, Any]:
    """The 422's body, stored on the turn (a replay answers it); the canvas stays as it was."""
    errors = [p.to_api() for p in problems]
    result = {
        "session": sessions.to_summary(store, row),
        "turn_id": turn.turn_id,
        "intent": intent,
        "response": response,
        "canvas_state": row.canvas,
        "pipeline_yaml": None,
        "pipeline_python": None,
        "credits_used": 0.0,
        "workflow_status": "invalid",
        "workflow_errors": errors,
        "validation": _validation(problems),
        "research_sources": sources,
    }
    with store.transaction():
        sql.update_turn(
            store,
            turn.turn_key,
            status="invalid",
            intent=intent,
            response=response,
            status_code=422,
            result_json=json.dumps(result, default=str),
            finished_at=utcnow(),
        )
        result["session"] = sessions.to_summary(store, row)
        sql.update_turn(store, turn.turn_key, result_json=json.dumps(result, default=str))
    return result


def _complete(
    store: DuckDBStore,
    actor: Actor,
    row: SessionRow,
    tier: tiers.Tier,
    turn: TurnRow,
    out: Any,
    drawn: dict[str, Any] | None,
) -> dict[str, Any]:
    from dagy.studio_providers import pipeline_python

    pipeline: Pipeline | None = out.pipeline if drawn is not None else None
    status = "advisory"
    if pipeline is not None:
        status = "modified" if out.intent == "modify" else "generated"
    price = tier.credits_per_turn
    with store.transaction():
        if price > 0:
            after = credits.spend(
                store, row.org_id, price, ref=turn.turn_key, actor_email=actor.email
            )
        else:  # a free tier spends nothing (credits.spend refuses a zero amount)
            after = credits.balance(store, row.org_id)
        now = max(utcnow(), row.updated_at)
        if drawn is not None:
            sql.update_session(store, row.session_id, canvas_json=json.dumps(drawn), updated_at=now)
        else:
            sql.update_session(store, row.session_id, updated_at=now)
        fresh = sessions.get(store, actor, row.session_id)
        result = {
            "session": {**sessions.to_summary(store, fresh)},
            "turn_id": turn.turn_id,
            "intent": out.intent,
            "response": out.response,
            "canvas_state": drawn if drawn is not None else row.canvas,
            "pipeline_yaml": yaml_format.dump_pipeline(pipeline) if pipeline else None,
            "pipeline_python": pipeline_python(pipeline) if pipeline else None,
            "credits_used": price,
            "credits_balance": after,
            "workflow_status": status,
            "workflow_errors": [],
            "validation": _validation([]),
            "research_sources": list(out.research_sources or []),
        }
        sql.update_turn(
            store,
            turn.turn_key,
            status="completed",
            intent=out.intent,
            response=out.response,
            status_code=200,
            result_json=json.dumps(result, default=str),
            credits_used=price,
            finished_at=utcnow(),
        )
        result["session"]["turn_count"] = sql.turn_count(store, row.session_id)[0]
        sessions._audit(
            store, actor, "execute", row,
            {"turn": turn.turn_key, "turn_id": turn.turn_id, "intent": out.intent,
             "workflow_status": status, "credits": price},
        )  # fmt: skip
    return result
