"""The outermost layer of the server: an exception that escapes everything inside (a middleware's,
which Litestar's exception handlers never see) is answered with the spec's 500 body and leaves an
exception trace, like one raised in a route (dagy/server/errors.py)."""

from __future__ import annotations

import json
import logging
from typing import Any

from dagy.server.errors import error_body
from dagy.server.state import ServerState

log = logging.getLogger("dagy.server")


class FaultMiddleware:
    def __init__(self, app: Any, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            self._trace(scope, exc)
            if started:
                raise  # too late for an answer of ours: the server closes the connection
            body = json.dumps(error_body(500, "Internal server error")).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

    def _trace(self, scope: dict[str, Any], exc: BaseException) -> None:
        from dagy.services import traces

        identity = (scope.get("state") or {}).get("identity")
        headers = dict(scope.get("headers") or [])
        scheme, _, bearer = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        where = traces.Where(
            org_id=getattr(identity, "org_id", None),
            method=scope.get("method"),
            path=scope.get("path"),
        )
        secrets = [bearer.strip()] if scheme.lower() == "bearer" and bearer.strip() else []
        traces.capture(self.state.paths, "server", where, exc=exc, secrets=secrets)
