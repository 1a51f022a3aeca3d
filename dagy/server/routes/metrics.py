"""GET /metrics: Prometheus text exposition of the caller's org's runs and queue."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from dagy.server.security import identity_of, state_of
from dagy.services.usage import metrics


@get("/metrics", sync_to_thread=True, opt={"permission": "runs.read"})
def scrape(request: Request[Any, Any, Any]) -> Response[str]:
    state = state_of(request)
    text = metrics.render(state.store, identity_of(request).org_id, workers=state.workers)
    return Response(text, media_type=metrics.CONTENT_TYPE)


ROUTES = [scrape]
