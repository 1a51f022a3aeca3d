"""The AI studio (spec "AI Studio"): 16 /ai-studio/* routes and GET /ui/ai-studio, plus the
signed single-part upload PUT an attachment's ``upload_url`` names. Rules live in
dagy/services/studio/; see docs/ai-studio.md."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
import msgspec
from litestar import Request, Response, delete, get, patch, post, put
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from dagy.auth import rbac
from dagy.config import settings
from dagy.errors import NotFoundError, RequestError
from dagy.pipelines import yaml_format
from dagy.server.errors import error_body
from dagy.server.openapi import Body, display_name, given, required
from dagy.server.security import actor_of, state_of
from dagy.services.accounts import credits
from dagy.services.studio import attachments, sessions, tiers, turns, ui

log = logging.getLogger("dagy.server")
READ, WRITE = "flows.read", "flows.write"
UPLOAD_MAX = tiers.MAX_ATTACHMENT_BYTES + 1  # one byte more: a larger file is refused at complete
WRITE_BATCH = 1024 * 1024
SESSION = "/ai-studio/sessions/{session_id:str}"


_U: Any = msgspec.UNSET
_TURN = {"permission": WRITE, "errors": [402, 409, 422]}
_CANVAS = {"type": "object", "description": "{nodes: [...], edges: [...]} (docs/builder.md)"}
_FLOW_NAME = {"type": "string", "pattern": yaml_format.NAME.pattern}


def _tier(required_: bool = False) -> Any:
    def schema() -> dict[str, Any]:  # the tiers of this server's settings (DAGY_STUDIO_TIERS)
        found = {"type": "string", "enum": sorted(tiers.tiers())}
        return required(found) if required_ else found

    return schema


_TITLE = display_name(sessions.MAX_TITLE)


class SessionBody(Body):
    title: Any = _U
    tier: Any = _U
    flow_name: Any = _U
    canvas_state: Any = _U
    doc = {
        "title": {"oneOf": [{"type": "string", **_TITLE}, {"type": "null"}]},
        "tier": _tier(),
        "flow_name": _FLOW_NAME,
        "canvas_state": _CANVAS,
    }


class BindBody(Body):
    """sessions.BIND_FIELDS."""

    flow_name: Any = _U
    save: Any = _U
    deploy: Any = _U
    draft_name: Any = _U
    doc = {
        "flow_name": required(_FLOW_NAME),
        "save": {"type": "boolean"},
        "deploy": {"type": "boolean"},
        "draft_name": {"type": "string"},
    }


class MessageBody(Body):
    """turns.BODY_FIELDS."""

    message: Any = _U
    intent: Any = _U
    turn_id: Any = _U
    doc = {
        "message": required(type="string", minLength=1, maxLength=8000),
        "intent": {"enum": list(turns.INTENTS)},
        "turn_id": {"type": "string", "minLength": 1},
    }


class CanvasBody(Body):
    canvas_state: Any = _U
    doc = {"canvas_state": required(_CANVAS)}


class TierBody(Body):
    tier: Any = _U
    doc = {"tier": _tier(required_=True)}


class TitleBody(Body):
    title: Any = _U
    doc = {"title": required(type="string", **_TITLE)}


class InitiateBody(Body):
    file_name: Any = _U
    content_type: Any = _U
    size_bytes: Any = _U
    doc = {
        "file_name": required(type="string", pattern="^[^/]*\\S[^/]*$", maxLength=255),
        "content_type": {"type": "string"},
        "size_bytes": {"type": "integer", "minimum": 0, "maximum": tiers.MAX_ATTACHMENT_BYTES},
    }


class CompleteBody(Body):
    attachment_id: Any = _U
    doc = {"attachment_id": required(type="string")}


def _body(data: Body | None) -> dict[str, Any]:
    return given(data) if data is not None else {}


def _api_url(request: Request[Any, Any, Any]) -> str:
    return settings.PUBLIC_API_URL.get() or state_of(request).api_url


@get("/ui/ai-studio", sync_to_thread=True, opt={"permission": READ})
def studio_page(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return ui.page(state_of(request).store, actor_of(request).org_id)


@get("/ai-studio/tiers", sync_to_thread=True, opt={"permission": READ})
def list_tiers(request: Request[Any, Any, Any]) -> dict[str, Any]:
    balance = credits.balance(state_of(request).store, actor_of(request).org_id)
    return {
        "items": [t.to_api() for t in tiers.tiers().values()],
        "default_tier": tiers.DEFAULT_TIER,
        "credits_balance": balance,
    }


@post("/ai-studio/sessions", status_code=201, sync_to_thread=True, opt={"permission": WRITE})
def create_session(
    request: Request[Any, Any, Any], data: SessionBody | None = None
) -> dict[str, Any]:
    store = state_of(request).store
    return sessions.to_detail(store, sessions.create(store, actor_of(request), _body(data)))


@get(
    "/ai-studio/sessions",
    sync_to_thread=True,
    opt={"permission": READ, "params": {"status": {"enum": ["active", "archived"]}}},
)
def list_sessions(
    request: Request[Any, Any, Any],
    limit: int | None = None,
    next_token: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    rows, token = sessions.list_page(
        state_of(request).store, actor_of(request), limit=limit, next_token=next_token,
        status=status,
    )  # fmt: skip
    return {"items": [sessions.to_item(r) for r in rows], "next_token": token}


@get("/ai-studio/sessions/by-flow/{flow_name:str}", sync_to_thread=True, opt={"permission": READ})
def session_by_flow(request: Request[Any, Any, Any], flow_name: str) -> dict[str, Any]:
    store = state_of(request).store
    return sessions.to_detail(store, sessions.by_flow(store, actor_of(request), flow_name))


@post(SESSION + "/bind-flow", status_code=200, sync_to_thread=True, opt={"permission": WRITE})
def bind_flow(
    request: Request[Any, Any, Any], session_id: str, data: BindBody | None = None
) -> dict[str, Any]:
    state = state_of(request)
    body = _body(data)
    return sessions.bind_flow(state.store, state.paths, actor_of(request), session_id, body)


@get(SESSION, sync_to_thread=True, opt={"permission": READ})
def get_session(request: Request[Any, Any, Any], session_id: str) -> dict[str, Any]:
    store = state_of(request).store
    return sessions.to_detail(store, sessions.get(store, actor_of(request), session_id))


@delete(SESSION, status_code=204, sync_to_thread=True, opt={"permission": WRITE})
def delete_session(request: Request[Any, Any, Any], session_id: str) -> Response[None]:
    state = state_of(request)
    sessions.delete(state.store, state.paths, actor_of(request), session_id)
    return Response(None, status_code=204)


@post(SESSION + "/archive", status_code=200, sync_to_thread=True, opt={"permission": WRITE})
def archive_session(request: Request[Any, Any, Any], session_id: str) -> dict[str, Any]:
    store = state_of(request).store
    return sessions.to_summary(store, sessions.archive(store, actor_of(request), session_id))


@post(SESSION + "/messages", status_code=200, sync_to_thread=True, opt=_TURN)
def send_message(
    request: Request[Any, Any, Any], session_id: str, data: MessageBody | None = None
) -> Any:
    """One turn, answered when it is done (200; 422 when a build/modify did not validate)."""
    return turns.run_turn(
        state_of(request).store,
        actor_of(request),
        session_id,
        _body(data),
        idempotency_key=request.headers.get("x-idempotency-key"),
    )


class _ClientGone(Exception):
    """The SSE client went away: raised from ``emit`` so the provider stops."""


def _sse(event: str, data: Any, seq: int) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=json.dumps(data, default=str), event=event, id=seq)


def _error_event(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, RequestError):
        body = error_body(exc.status, exc.message, exc.details, exc.error)
        extra = getattr(exc, "fields", None)
        return {**body, **(extra if isinstance(extra, dict) else {}), "status_code": exc.status}
    return {**error_body(500, "Internal server error"), "status_code": 500}


@post(
    SESSION + "/messages/stream",
    status_code=200,
    opt={**_TURN, "produces": "text/event-stream"},
)
async def stream_message(
    request: Request[Any, Any, Any], session_id: str, data: MessageBody | None = None
) -> ServerSentEvent:
    """The same turn as SSE: ``progress`` and ``delta`` events as it goes, then ``result`` (the
    synchronous 200 body) or ``error`` (the error body with ``status_code``: a 422 carries the
    turn's answer too). Refusals found before the turn starts (400/402/403/404/409/429) are plain
    JSON errors with their status; a client that disconnects stops the turn (nothing is stored
    and no credits are spent unless it had already finished)."""
    store, actor, body = state_of(request).store, actor_of(request), _body(data)
    key = request.headers.get("x-idempotency-key")
    checked = await anyio.to_thread.run_sync(
        lambda: turns.preflight(store, actor, session_id, body, key)
    )
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    gone = threading.Event()

    def emit(event: str, payload: dict[str, Any]) -> None:
        if gone.is_set():
            raise _ClientGone("the client disconnected")
        loop.call_soon_threadsafe(queue.put_nowait, (event, payload))

    def work() -> dict[str, Any]:
        return turns.run_turn(
            store, actor, session_id, body, idempotency_key=key, emit=emit, checked=checked
        )

    async def events() -> AsyncIterator[ServerSentEventMessage]:
        seq = 1
        yield _sse("progress", {"stage": "accepted", "session_id": session_id}, seq)
        task = loop.run_in_executor(None, work)
        # A turn stopped because the client left ends in an exception nobody reads: consume it.
        task.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            while True:
                getter: asyncio.Future[Any] = asyncio.ensure_future(queue.get())
                waiting: set[asyncio.Future[Any]] = {getter, task}
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    seq += 1
                    event, payload = getter.result()
                    yield _sse(event, payload, seq)
                    continue
                getter.cancel()
                while not queue.empty():
                    event, payload = queue.get_nowait()
                    seq += 1
                    yield _sse(event, payload, seq)
                break
            seq += 1
            try:
                yield _sse("result", task.result(), seq)
            except Exception as exc:  # the turn's refusal, as an event
                if not isinstance(exc, RequestError):
                    log.exception("AI studio turn failed")
                yield _sse("error", _error_event(exc), seq)
        finally:
            gone.set()  # a client that left: the provider's next emit raises and the turn stops

    return ServerSentEvent(
        events(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


@patch(SESSION + "/canvas", sync_to_thread=True, opt={"permission": WRITE})
def patch_canvas(
    request: Request[Any, Any, Any], session_id: str, data: CanvasBody | None = None
) -> Any:
    store = state_of(request).store
    return sessions.to_detail(
        store, sessions.set_canvas(store, actor_of(request), session_id, _body(data))
    )


@patch(SESSION + "/tier", sync_to_thread=True, opt={"permission": WRITE})
def patch_tier(
    request: Request[Any, Any, Any], session_id: str, data: TierBody | None = None
) -> Any:
    store, body = state_of(request).store, _body(data)
    return sessions.to_summary(store, sessions.set_tier(store, actor_of(request), session_id, body))


@patch(SESSION + "/title", sync_to_thread=True, opt={"permission": WRITE})
def patch_title(
    request: Request[Any, Any, Any], session_id: str, data: TitleBody | None = None
) -> Any:
    store, body = state_of(request).store, _body(data)
    return sessions.to_summary(store, sessions.rename(store, actor_of(request), session_id, body))


@post(
    SESSION + "/attachments/initiate", status_code=200, sync_to_thread=True,
    opt={"permission": WRITE},
)  # fmt: skip
def initiate_attachment(
    request: Request[Any, Any, Any], session_id: str, data: InitiateBody | None = None
) -> dict[str, Any]:
    state = state_of(request)
    return attachments.initiate(
        state.store, state.paths, actor_of(request), session_id, _body(data), _api_url(request)
    )


@put(
    "/ai-studio/uploads/{attachment_id:str}",
    status_code=200,
    request_max_body_size=UPLOAD_MAX,
    opt={"permission": rbac.PUBLIC, "errors": [403, 413]},  # the signed URL is the credential
)
async def upload_attachment(
    request: Request[Any, Any, Any], attachment_id: str, expires: str = "", signature: str = ""
) -> Response[None]:
    """The single-part upload of an initiated attachment, streamed to its file."""
    state = state_of(request)
    await anyio.to_thread.run_sync(
        attachments.verify, state.paths, attachment_id, expires, signature
    )
    row = await anyio.to_thread.run_sync(attachments.pending, state.store, attachment_id)
    if row.status != "pending":
        raise NotFoundError(f"Attachment not found: {attachment_id}")
    target = attachments.file_path(state.paths, row)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.upload")
    size = 0
    try:
        with open(tmp, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                await anyio.to_thread.run_sync(out.write, chunk)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Response(None, status_code=200, headers={"ETag": f'"{size}"'})


@post(
    SESSION + "/attachments/complete", status_code=200, sync_to_thread=True,
    opt={"permission": WRITE},
)  # fmt: skip
def complete_attachment(
    request: Request[Any, Any, Any], session_id: str, data: CompleteBody | None = None
) -> dict[str, Any]:
    state = state_of(request)
    body = _body(data)
    return attachments.complete(state.store, state.paths, actor_of(request), session_id, body)


@delete(
    SESSION + "/attachments/{attachment_id:str}", status_code=204, sync_to_thread=True,
    opt={"permission": WRITE},
)  # fmt: skip
def delete_attachment(
    request: Request[Any, Any, Any], session_id: str, attachment_id: str
) -> Response[None]:
    state = state_of(request)
    attachments.delete(state.store, state.paths, actor_of(request), session_id, attachment_id)
    return Response(None, status_code=204)


ROUTES = [
    studio_page,
    list_tiers,
    create_session,
    list_sessions,
    session_by_flow,
    bind_flow,
    get_session,
    delete_session,
    archive_session,
    send_message,
    stream_message,
    patch_canvas,
    patch_tier,
    patch_title,
    initiate_attachment,
    upload_attachment,
    complete_attachment,
    delete_attachment,
]
