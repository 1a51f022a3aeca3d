"""What the running server holds: the owned store, its settings, and the local token's hash."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from typing import Any

from dagy.auth import secrets as hashing
from dagy.auth.jwt import JWTSettings, JWTVerifier
from dagy.config.paths import DagyPaths
from dagy.services.accounts.login_codes import CodeBook
from dagy.store.duckdb_store import DuckDBStore


@dataclass
class RateLimitSettings:
    per_minute: int = 120
    burst: int = 200

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0


@dataclass
class ServerState:
    store: DuckDBStore
    paths: DagyPaths
    base_path: str = "/v1"
    api_url: str = ""  # where clients reach this API (root + base path); set by the runner
    local_mode: bool = False
    local_token: str = field(default_factory=hashing.new_access_token, repr=False)
    jwt: JWTSettings | None = None
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    started_at: float = field(default_factory=time.time)
    login_codes: CodeBook = field(default_factory=CodeBook)
    # (bearer, X-Dagy-Org, X-Impersonate-Org) -> (identity, accounts generation, time resolved)
    identities: dict[tuple[str, str | None, str | None], tuple[Any, int, float]] = field(
        default_factory=dict
    )
    # The rate limiter's token buckets, one set for the whole app: Litestar builds a middleware
    # instance per route, and each making its own would give every route a budget of its own.
    rate_buckets: Any = field(default=None, repr=False)
    # API calls counted per org and day, written in batches (dagy/server/metering.py).
    api_calls: Any = field(default=None, repr=False)
    # The run workers (dagy/server/workers.py) when the server runs them; None in app-only tests.
    workers: Any = field(default=None, repr=False)
    # Token buckets per webhook sensor (POST /webhooks/{token}), made by its route on first use.
    webhook_buckets: Any = field(default=None, repr=False)
    # Answers of the hot GET routes while the store is unchanged (dagy/server/readcache.py).
    read_cache: Any = field(default=None, repr=False)
    _jwt_verifier: JWTVerifier | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._local_hash = hashing.token_hash(self.local_token)

    def is_local_token(self, bearer: str) -> bool:
        return hmac.compare_digest(hashing.token_hash(bearer), self._local_hash)

    @property
    def wake(self) -> Any:
        """What a route passes as ``wake`` to a trigger: the workers' wake, None without them."""
        return self.workers.wake if self.workers is not None else None

    @property
    def jwt_verifier(self) -> JWTVerifier | None:
        if self.jwt is None:
            return None
        if self._jwt_verifier is None:
            self._jwt_verifier = JWTVerifier(self.jwt)
        return self._jwt_verifier
