"""Token-bucket rate limiting per API key or client IP (120/min, burst 200 by default).

Litestar's RateLimitConfig is a fixed window per client, not the spec's token bucket, so this is a
small ASGI middleware of our own. Every limited response carries X-RateLimit-Limit,
X-RateLimit-Remaining and X-RateLimit-Reset; a 429 adds Retry-After.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from typing import Any

from dagy.server.errors import error_body
from dagy.server.state import ServerState

_EXEMPT_SUFFIXES = ("/health", "/health/detailed", "/docs", "/openapi.json")
_MAX_BUCKETS = 100_000


class TokenBuckets:
    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.per_minute = per_minute
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> tuple[bool, float, float]:
        """(allowed, tokens left, seconds until one more token)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            if len(self._buckets) >= _MAX_BUCKETS and key not in self._buckets:
                self._buckets.clear()  # bounded memory under a flood of distinct clients
            self._buckets[key] = (tokens, now)
        wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
        return allowed, tokens, wait


class RateLimitMiddleware:
    def __init__(self, app: Any, state: ServerState) -> None:
        self.app = app
        self.state = state
        settings = state.rate_limit
        if state.rate_buckets is None and settings.enabled:
            state.rate_buckets = TokenBuckets(settings.per_minute, settings.burst)
        self.buckets: TokenBuckets | None = state.rate_buckets

    def _key(self, scope: dict[str, Any]) -> str | None:
        path: str = scope.get("path", "")
        if path.endswith(_EXEMPT_SUFFIXES) or path.startswith("/docs"):
            return None
        bearer = None
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    bearer = token.strip()
                break
        if bearer and self.state.is_local_token(bearer):
            return None  # the server's own CLI traffic (store writes of local runs)
        if bearer and bearer.startswith("dagy_"):
            return "key:" + hashlib.sha256(bearer.encode()).hexdigest()[:32]
        client = scope.get("client")
        return "ip:" + (client[0] if client else "unknown")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.buckets is None:
            await self.app(scope, receive, send)
            return
        key = self._key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        allowed, tokens, wait = self.buckets.take(key)
        limit = self.buckets.per_minute
        reset = int(time.time() + (self.buckets.burst - tokens) / self.buckets.rate)
        headers = [
            (b"x-ratelimit-limit", str(limit).encode()),
            (b"x-ratelimit-remaining", str(int(tokens)).encode()),
            (b"x-ratelimit-reset", str(reset).encode()),
        ]
        if not allowed:
            retry = max(1, math.ceil(wait))
            body = json.dumps(
                error_body(
                    429,
                    f"Rate limit exceeded: {limit} requests per minute. Retry in {retry}s.",
                    {"retry_after": retry},
                    "rate_limited",
                )
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", str(retry).encode()),
                        *headers,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), *headers])
            await send(message)

        await self.app(scope, receive, send_with_headers)
