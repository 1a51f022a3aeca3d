"""``POST /webhooks/{token}``: public, the token is the credential. A JSON object queues a run of
the sensor's flow (202); each token has its own in-memory token bucket
(``DAGY_WEBHOOK_RATE_PER_MINUTE``, default 60, burst ``DAGY_WEBHOOK_BURST``, default 20; 0 turns it
off). The token never reaches a log or an error message."""

from __future__ import annotations

import math
import threading
from typing import Any

import anyio.to_thread
from litestar import Request, Response, post
from litestar.openapi import ResponseSpec

from dagy.auth import rbac
from dagy.config import settings
from dagy.server.errors import error_response
from dagy.server.ratelimit import TokenBuckets
from dagy.server.security import state_of
from dagy.server.state import ServerState
from dagy.services.admin import suspension
from dagy.services.triggers import sensor_runs as sensors
from dagy.store.records import RunRecord

_CREATE = threading.Lock()


def _buckets(state: ServerState) -> TokenBuckets | None:
    """The webhooks' buckets, made once per server from the environment; None when off."""
    with _CREATE:
        if state.webhook_buckets is None:
            per_minute = settings.WEBHOOK_RATE_PER_MINUTE.get()
            burst = max(1, settings.WEBHOOK_BURST.get())
            state.webhook_buckets = TokenBuckets(per_minute, burst) if per_minute > 0 else False
        return state.webhook_buckets or None


_DELIVERIES = threading.Lock()  # one delivery id is looked up and recorded at a time


def _receive(state: ServerState, token: str, raw: bytes, headers: Any) -> RunRecord | str | int:
    """The queued run, the run id of an earlier delivery with the same id (a replay), or the
    seconds to wait when the sensor's bucket is empty."""
    sensor = sensors.find_webhook(state.store, token)
    suspension.ensure_active(state.store, sensor.org_id)  # 403 org_suspended, whatever the body
    delivery = sensors.check_delivery(state.store, sensor, raw, headers)  # 401 for a bad signature
    if delivery is not None:
        with _DELIVERIES:
            earlier = sensors.replayed(state.store, sensor, delivery)
            if earlier is not None:
                return earlier
            return _queue(state, sensor, raw, delivery)
    return _queue(state, sensor, raw, None)


def _queue(state: ServerState, sensor: Any, raw: bytes, delivery: str | None) -> RunRecord | int:
    buckets = _buckets(state)
    if buckets is not None:
        allowed, _, wait = buckets.take(sensor.sensor_id)
        if not allowed:
            return max(1, math.ceil(wait))
    return sensors.receive_webhook(state.store, sensor, raw, state.wake, delivery)


@post(
    "/webhooks/{token:str}",
    status_code=202,
    # 401: a sensor with a secret and a missing or wrong X-Dagy-Signature
    opt={"permission": rbac.PUBLIC, "errors": [401], "body": {"type": "object"}},
    responses={200: ResponseSpec(dict[str, Any], description="A delivery already received")},
)
async def receive(request: Request[Any, Any, Any], token: str) -> Response[Any]:
    raw = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    result = await anyio.to_thread.run_sync(_receive, state_of(request), token, raw, headers)
    if isinstance(result, str):  # a replayed delivery: its first run, nothing queued again
        return Response(
            {"run_id": result, "status": "duplicate", "message": "Delivery already received"},
            status_code=200,
        )
    if isinstance(result, int):
        return error_response(
            429,
            f"Rate limit exceeded for this webhook. Retry in {result}s.",
            {"retry_after": result},
            "rate_limited",
            headers={"Retry-After": str(result)},
        )
    body = {
        "run_id": result.run_id,
        "status": "queued",
        "message": "Event received and flow triggered",
    }
    return Response(body, status_code=202)


ROUTES = [receive]
