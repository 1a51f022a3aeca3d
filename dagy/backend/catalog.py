"""Flows and deployments through the backend: list flows, list and show deployments."""

from __future__ import annotations

from typing import Protocol

from dagy.backend.context import HttpContext, LocalContext


class CatalogBackend(Protocol): ...


class LocalCatalog:
    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx


class HttpCatalog:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx
