"""Runs through the backend: list, show, logs, cancel, retry, and trigger a deployment."""

from __future__ import annotations

from typing import Any, Protocol

from dagy.backend.context import HttpContext, LocalContext
from dagy.backend.records import LogChunk, Run, RunDetail, RunsPage


class RunsBackend(Protocol):
    def list(
        self,
        *,
        status: str | None = None,
        flow_name: str | None = None,
        deployment_name: str | None = None,
        limit: int = 100,
        next_token: str | None = None,
    ) -> RunsPage:
        """Newest first; ``status`` in dagy.states' words."""

    def get(self, run_id: str) -> RunDetail:
        """The run, its task runs and its DAG; RunNotFoundError for an unknown id."""

    def logs(
        self,
        run_id: str,
        task_run_id: str | None = None,
        *,
        next_token: str | None = None,
        limit: int = 1000,
    ) -> LogChunk:
        """Log lines from ``next_token`` on; RunNotFoundError / LogNotFoundError."""

    def cancel(self, run_id: str) -> Run: ...

    def retry(self, run_id: str, *, max_workers: int | None = None) -> Run:
        """A new run re-executing what did not succeed; returns it once it has finished."""

    def trigger(self, deployment: str, parameters: dict[str, Any]) -> Run:
        """Run a deployment (``dagy run <deployment>``) with ``--param`` strings."""


class LocalRuns:
    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx


class HttpRuns:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx
