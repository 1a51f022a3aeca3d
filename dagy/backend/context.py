"""What a backend's groups share: the store file and the actor (local), or the client (HTTP)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dagy.config.paths import DagyPaths

if TYPE_CHECKING:
    from dagy.client.http import DagyClient
    from dagy.config.server_file import ServerInfo
    from dagy.services.accounts.audit import Actor
    from dagy.store.duckdb_store import DuckDBStore

PERSONAL_ORG = "personal"


@dataclass(frozen=True)
class LocalContext:
    """This home's store file, in its personal org, acted on by this machine's user."""

    paths: DagyPaths
    org_id: str = PERSONAL_ORG
    lock_timeout: float | None = None

    def store(self) -> DuckDBStore:
        """A store object of its own per call: DuckDBStore keeps its open connection on itself,
        and a front end (the TUI's workers) may call from several threads."""
        from dagy.store.duckdb_store import DuckDBStore

        return DuckDBStore(self.paths, lock_timeout=self.lock_timeout)

    def actor(self) -> Actor:
        """Who the audit rows of a local change name: the machine's user, from the CLI."""
        from dagy.services.accounts.audit import local_actor

        return local_actor()


@dataclass(frozen=True)
class HttpContext:
    """A Dagy API: a remote one (``live`` None), or this home's live server (``live`` set)."""

    client: DagyClient
    paths: DagyPaths
    live: ServerInfo | None = None
