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
from litestar import Request, Response, delete, get, patch, post, put
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from dagy.auth import rbac
from dagy.config import settings
from dagy.errors import NotFoundError, RequestError
from dagy.server.errors import error_body
from dagy.server.security import actor_of, state_of
from dagy.services.accounts import credits
from dagy.services.studio import attachments, sessions, tiers, turns, ui

log = logging.getLogger("dagy.server")
READ, WRITE = "flows.read", "flows.write"
UPLOAD_MAX = tiers.MAX_ATTACHMENT_BYTES + 1  # one byte more: a larger file is refused at complete
WRITE_BATCH = 1024 * 1024
SESSION = "/ai-studio/sessions/{session_id:str}"


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
def create_session(request: Request[Any, Any, Any], data: Any = None) -> dict[str, Any]:
    store = state_of(request).store
    return sessions.to_detail(store, sessions.create(store, actor_of(request), data))


@get("/ai-studio/sessions", sync_to_thread=True, opt={"permission": READ})
def list_sessions(
    request: Request[Any, Any, Any],
    limit: str | None = None,
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
def bind_flow(request: Request[Any, Any, Any], session_id: str, data: Any = None) -> dict[str, Any]:
    state = state_of(request)
    return sessions.bind_flow(state.store, state.paths, actor_of(request), session_id, data)


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


@post(SESSION + "/messages", status_code=200, sync_to_thread=True, opt={"permission": WRITE})
def send_message(request: Request[Any, Any, Any], session_id: str, data: Any = None) -> Any:
    """One turn, answered when it is done (200; 422 when a build/modify did not validate)."""
    return turns.run_turn(
        state_of(request).store,
        actor_of(request),
        session_id,
        data,
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


@post(SESSION + "/messages/stream", status_code=200, opt={"permission": WRITE})
async def stream_message(
    request: Request[Any, Any, Any], session_id: str, data: Any = None
) -> ServerSentEvent:
    """The same turn as SSE: ``progress`` and ``delta`` events as it goes, then ``result`` (the
    synchronous 200 body) or ``error`` (the error body with ``status_code``: a 422 carries the
    turn's answer too). Refusals found before the turn starts (400/402/403/404/409/429) are plain
    JSON errors with their status; a client that disconnects stops the turn (nothing is stored
    and no credits are spent unless it had already finished)."""
    store, actor = state_of(request).store, actor_of(request)
    key = request.headers.get("x-idempotency-key")
    checked = await anyio.to_thread.run_sync(
        lambda: turns.preflight(store, actor, session_id, data, key)
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
            store, actor, session_id, data, idempotency_key=key, emit=emit, checked=checked
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
def patch_canvas(request: Request[Any, Any, Any], session_id: str, data: Any = None) -> Any:
    store = state_of(request).store
    return sessions.to_detail(
        store, sessions.set_canvas(store, actor_of(request), session_id, data)
    )


@patch(SESSION + "/tier", sync_to_thread=True, opt={"permission": WRITE})
def patch_tier(request: Request[Any, Any, Any], session_id: str, data: Any = None) -> Any:
    store = state_of(request).store
    return sessions.to_summary(store, sessions.set_tier(store, actor_of(request), session_id, data))


@patch(SESSION + "/title", sync_to_thread=True, opt={"permission": WRITE})
def patch_title(request: Request[Any, Any, Any], session_id: str, data: Any = None) -> Any:
    store = state_of(request).store
    return sessions.to_summary(store, sessions.rename(store, actor_of(request), session_id, data))


@post(
    SESSION + "/attachments/initiate", status_code=200, sync_to_thread=True,
    opt={"permission": WRITE},
)  # fmt: skip
def initiate_attachment(
    request: Request[Any, Any, Any], session_id: str, data: Any = None
) -> dict[str, Any]:
    state = state_of(request)
    return attachments.initiate(
        state.store, state.paths, actor_of(request), session_id, data, _api_url(request)
    )


@put(
    "/ai-studio/uploads/{attachment_id:str}",
    status_code=200,
    request_max_body_size=UPLOAD_MAX,
    opt={"permission": rbac.PUBLIC},  # the signed URL is the credential
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
    request: Request[Any, Any, Any], session_id: str, data: Any = None
) -> dict[str, Any]:
    state = state_of(request)
    return attachments.complete(state.store, state.paths, actor_of(request), session_id, data)


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
