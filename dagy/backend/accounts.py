"""Users through the backend."""

from __future__ import annotations

from typing import Protocol

from dagy.backend.context import HttpContext, LocalContext


class UsersBackend(Protocol): ...


class LocalUsers:
    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx


class HttpUsers:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx
