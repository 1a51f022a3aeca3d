"""Secrets and environments through the backend."""

from __future__ import annotations

from typing import Protocol

from dagy.backend.context import HttpContext, LocalContext


class SecretsBackend(Protocol): ...


class EnvironmentsBackend(Protocol): ...


class LocalSecrets:
    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx


class LocalEnvironments:
    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx


class HttpSecrets:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx


class HttpEnvironments:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx
