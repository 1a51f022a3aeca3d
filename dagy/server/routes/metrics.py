"""GET /metrics: Prometheus text exposition of the caller's org's runs and queue."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response, get

from dagy.server.security import identity_of, state_of
from dagy.services.usage import metrics


@get("/metrics", sync_to_thread=True, media_type=MediaType.TEXT, opt={"permission": "runs.read"})
def scrape(request: Request[Any, Any, Any]) -> Response[str]:
    state = state_of(request)
    text = metrics.render(state.store, identity_of(request).org_id, workers=state.workers)
    # Litestar adds "; charset=utf-8" to a text/ type: give it the type without, not twice
    return Response(text, media_type=metrics.CONTENT_TYPE.replace("; charset=utf-8", ""))


ROUTES = [scrape]
