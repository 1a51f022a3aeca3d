"""Answers of the hot GET routes kept until the store's data changes.

A dashboard polls the first page of runs (or a run, its task runs, the flows) again and again,
and most of those polls find the store as the last one left it. The server is the store's only
writer while it runs (the CLI and run children write through it), so ``DuckDBStore.generation``
says when committed data may have changed: an answer computed at one generation is served again,
as the same JSON bytes, until it moves. A run written, a status changed, a flow registered: the
next request computes the page afresh.

What is cached is only what the store alone decides: the body of a 200 for one org and one exact
request (route, path and query). Who may see it is checked before, on every request (the guard,
dagy/server/security.py), so a revoked key or a changed role is refused as before; errors are
never kept. Requests for the same answer while it is being computed wait for that one computation
rather than each asking the store (16 clients polling the same page after a write cost one query).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import msgspec
from litestar import Request, Response

from dagy.server.security import identity_of, state_of

MAX_ENTRIES = 4096
MAX_BYTES = 64 * 1024 * 1024  # all kept bodies together; beyond it they are all dropped
_encode = msgspec.json.Encoder().encode


class ReadCache:
    def __init__(self) -> None:
        # key -> (store generation, JSON body)
        self._entries: dict[tuple[Any, ...], tuple[int, bytes]] = {}
        # (key, generation) -> the computation under way, for the requests that came meanwhile
        self._pending: dict[tuple[Any, ...], asyncio.Future[bytes]] = {}
        self._values: dict[tuple[Any, ...], tuple[int, Any]] = {}  # see kept()
        self._bytes = 0  # the bodies' sizes, stale ones included

    async def answer(self, request: Request[Any, Any, Any], compute: Callable[[], Any]) -> Any:
        """The JSON response of ``compute()`` (blocking: run on a worker thread) for this request,
        reused while the store's generation stays the same. Call after the guard admitted it."""
        state = state_of(request)
        generation = state.store.generation
        if generation is None:  # not the store's owner: nothing says when it changes
            return await anyio.to_thread.run_sync(compute)
        key = (
            identity_of(request).org_id,
            request.scope["path"],
            request.scope.get("query_string", b""),
        )
        entry = self._entries.get(key)
        if entry is not None and entry[0] == generation:
            return _json(entry[1])
        pending = self._pending.get((key, generation))
        if pending is not None:
            try:
                return _json(await asyncio.shield(pending))
            except Exception:  # noqa: S110 - the request computes its own answer (and error)
                pass
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[(key, generation)] = future
        try:
            body = _encode(await anyio.to_thread.run_sync(compute))
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        finally:
            self._pending.pop((key, generation), None)
        future.set_result(body)
        if len(self._entries) >= MAX_ENTRIES or self._bytes + len(body) > MAX_BYTES:
            self._entries.clear()
            self._bytes = 0
        if len(body) <= MAX_BYTES // 4:
            replaced = self._entries.get(key)
            self._bytes += len(body) - (len(replaced[1]) if replaced else 0)
            self._entries[key] = (generation, body)
        return _json(body)

    def kept(self, store: Any, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """``compute()``'s value (blocking; called on a worker thread), reused while the store's
        generation stays the same: for a route that adds something of its own to what the store
        says (GET /usage/summary). The value is shared: the caller copies what it changes."""
        generation = store.generation
        if generation is None:
            return compute()
        key = ("value", *key)
        entry = self._values.get(key)
        if entry is not None and entry[0] == generation:
            return entry[1]
        value = compute()
        if len(self._values) >= MAX_ENTRIES:
            self._values.clear()
        self._values[key] = (generation, value)
        return value


def _json(body: bytes) -> Response[bytes]:
    return Response(body, media_type="application/json")


def cache_of(request: Request[Any, Any, Any]) -> ReadCache:
    state = state_of(request)
    if state.read_cache is None:
        state.read_cache = ReadCache()
    cache: ReadCache = state.read_cache
    return cache
