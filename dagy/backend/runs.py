"""Runs through the backend: list, show, logs, cancel, retry, and trigger a deployment.

``LocalRuns`` calls the runs services over the store file; ``HttpRuns`` calls the REST API (a
remote one, or this home's live server). Both return dagy.backend.records in dagy.states' words,
and raise the same errors (``RunNotFoundError``, ``NotFoundError``, ``InvalidInputError``), so a
front end shows the same thing in every mode.
"""

from __future__ import annotations

import contextlib
import sys
import time
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from dagy.backend._api_errors import as_service_errors
from dagy.backend.context import HttpContext, LocalContext
from dagy.backend.records import (
    LogChunk,
    LogLine,
    Run,
    RunDetail,
    RunsPage,
    run_from_api,
    run_from_store,
    task_from_api,
    task_from_store,
)
from dagy.errors import (
    APIError,
    DagyError,
    LogNotFoundError,
    NotFoundError,
    RunNotFoundError,
)
from dagy.states import FINAL_STATUSES, RUN_STATUSES

if TYPE_CHECKING:
    from dagy.services.runs.artifact_files import ArtifactPage

POLL = 0.25  # how often a retry on an API is asked whether it has finished


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
        """Newest first, at most 100 per page; ``status`` in dagy.states' words."""

    def get(self, run_id: str) -> RunDetail:
        """The run, its task runs and its DAG; RunNotFoundError for an unknown id."""

    def find(self, run_id: str) -> Run | None:
        """The run, or None for an unknown id (cheaper than get: no task runs)."""

    def artifacts(
        self, run_id: str, *, limit: int = 100, next_token: str | None = None
    ) -> ArtifactPage:
        """The run's stored files (each task's result.json and its own files), task order."""

    def logs(
        self,
        run_id: str,
        task_run_id: str | None = None,
        *,
        next_token: str | None = None,
        limit: int = 1000,
    ) -> LogChunk:
        """Log lines from ``next_token`` on; RunNotFoundError / NotFoundError (task run) /
        LogNotFoundError (removed by retention)."""

    def cancel(self, run_id: str) -> Run:
        """Cancel a queued or running run; the run as it ended (CANCELLED)."""

    def retry(
        self, run_id: str, *, max_workers: int | None = None, new_id: str | None = None
    ) -> Run:
        """A new run re-executing what did not succeed; returns it once it has finished.
        ``new_id``: the new run's id (start_retry's process; a server chooses its own)."""

    def start_retry(self, run_id: str) -> str:
        """Start a retry without waiting for it (never running flow code in this process); the
        new run's id."""

    def trigger(self, deployment: str, parameters: dict[str, Any], *, progress: Any = None) -> Run:
        """Run a deployment (``dagy run <deployment>``) with ``--param`` strings: locally, the
        finished run (``progress`` told each task run's state); on an API, the queued one."""

    def replay(self, run_id: str, *, from_step: str | None = None, progress: Any = None) -> Run:
        """Replay a finished run with the flow as it is now, reusing unchanged steps' recorded
        results (dagy/services/runs/replay.py); the replay once it has finished."""

    def diff(self, run_a: str, run_b: str) -> dict[str, Any]:
        """Two runs compared task run by task run: the body of GET /runs/{a}/diff/{b}."""


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """The services' 404s as the errors the CLI prints bare (``Run not found: <id>``)."""
    try:
        yield
    except NotFoundError as exc:
        raise _not_found(exc.message, exc.details) from None


def check_status(status: str | None) -> str | None:
    """A ``--status`` filter in dagy.states' words (any case); ValueError for another word."""
    if not status:
        return None
    if status.upper() not in RUN_STATUSES:
        raise ValueError(f"Unknown status '{status}' (one of {', '.join(RUN_STATUSES)})")
    return status.upper()


def _not_found(message: str, details: dict[str, Any] | None = None) -> DagyError:
    if message.startswith("Run not found: "):
        return RunNotFoundError(message.removeprefix("Run not found: "))
    if message.startswith("Log not found: "):
        return LogNotFoundError(message.removeprefix("Log not found: "))
    return NotFoundError(message, details)


class LocalRuns:
    """The runs services over this home's store file."""

    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx

    def list(
        self,
        *,
        status: str | None = None,
        flow_name: str | None = None,
        deployment_name: str | None = None,
        limit: int = 100,
        next_token: str | None = None,
    ) -> RunsPage:
        from dagy.services.runs import reads

        store = self.ctx.store()
        wanted = check_status(status)
        with store.connection():
            page = reads.list_page(
                store,
                self.ctx.org_id,
                status=wanted,
                flow_name=flow_name,
                deployment_name=deployment_name,
                limit=limit,
                next_token=next_token,
            )
            total = None
            if not deployment_name:
                total = (
                    len(page.items)
                    if page.next_token is None and next_token is None
                    else reads.count(store, self.ctx.org_id, status=wanted, flow_name=flow_name)
                )
        return RunsPage([run_from_store(r) for r in page.items], page.next_token, total)

    def get(self, run_id: str) -> RunDetail:
        from dagy.services.runs import reads

        with cli_errors():
            found = reads.detail(self.ctx.store(), self.ctx.org_id, run_id)
        edges = [(a, b) for a, b in found.edges] if found.edges else None
        return RunDetail(
            run_from_store(found.run), [task_from_store(t) for t in found.task_runs], edges
        )

    def find(self, run_id: str) -> Run | None:
        row = self.ctx.store().get_run_summary(run_id, self.ctx.org_id)
        return run_from_store(row) if row is not None else None

    def artifacts(
        self, run_id: str, *, limit: int = 100, next_token: str | None = None
    ) -> ArtifactPage:
        from dagy.services.runs import artifact_files

        with cli_errors():
            return artifact_files.list_page(
                self.ctx.store(),
                self.ctx.paths,
                self.ctx.org_id,
                run_id,
                limit=limit,
                next_token=next_token,
            )

    def logs(
        self,
        run_id: str,
        task_run_id: str | None = None,
        *,
        next_token: str | None = None,
        limit: int = 1000,
    ) -> LogChunk:
        from dagy.services.runs import logs

        with cli_errors():
            page = logs.read(
                self.ctx.store(),
                self.ctx.paths,
                self.ctx.org_id,
                run_id,
                task_run_id=task_run_id,
                limit=limit,
                next_token=next_token,
            )
        return LogChunk([LogLine(x.timestamp, x.message) for x in page.lines], page.next_token)

    def cancel(self, run_id: str) -> Run:
        from dagy.services.runs import control

        # Not inside one open of the file: the `dagy run` being cancelled must write CANCELLED.
        with cli_errors():
            ended = control.cancel(
                self.ctx.store(), self.ctx.paths, self.ctx.actor(), run_id, workers=None
            )
        return run_from_store(ended)

    def retry(
        self, run_id: str, *, max_workers: int | None = None, new_id: str | None = None
    ) -> Run:
        from dagy.backend.execute import retry_here

        return retry_here(self.ctx, run_id, max_workers=max_workers, new_id=new_id)

    def start_retry(self, run_id: str) -> str:
        """The retry executes in a process of its own (`dagy runs retry` with the new run's id
        chosen here), as from another terminal: the flow's code never runs in the caller."""
        import os
        from pathlib import Path

        from dagy.sdk.loader import split_target
        from dagy.services.runs import execute

        store = self.ctx.store()
        with cli_errors():
            old = execute.check_retryable(run_id, store.get_run(run_id, org_id=self.ctx.org_id))
        module = Path(split_target(old.entrypoint or "")[0])
        if not module.is_file():  # the retry's process would fail where no one sees it
            raise DagyError(f"Cannot retry {run_id}: its flow file {module} is gone")
        new_id = execute.new_run_id(old.flow_name)
        import subprocess

        subprocess.Popen(
            [sys.executable, "-m", "dagy.cli.main", "runs", "retry", run_id, "--run-id", new_id],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "DAGY_LOCAL_DIR": str(self.ctx.paths.home)},
            start_new_session=True,
        )
        return new_id

    def trigger(self, deployment: str, parameters: dict[str, Any], *, progress: Any = None) -> Run:
        from dagy.backend.execute import run_deployment_here

        return run_deployment_here(self.ctx, deployment, parameters, progress=progress)

    def replay(self, run_id: str, *, from_step: str | None = None, progress: Any = None) -> Run:
        from dagy.services.runs import replay

        with cli_errors():
            record = replay.replay_here(
                self.ctx.paths,
                self.ctx.store(),
                self.ctx.actor(),
                run_id,
                from_step=from_step,
                progress=progress,
            )
        return run_from_store(record)

    def diff(self, run_a: str, run_b: str) -> dict[str, Any]:
        from dagy.services.runs import diff

        with cli_errors():
            return diff.diff_runs(self.ctx.store(), self.ctx.org_id, run_a, run_b).to_json()


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class HttpRuns:
    """The runs routes of a Dagy API (a remote one, or this home's live server)."""

    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """The API's refusals as the local backend raises them, so both read the same."""
        with cli_errors(), as_service_errors():
            yield

    def list(
        self,
        *,
        status: str | None = None,
        flow_name: str | None = None,
        deployment_name: str | None = None,
        limit: int = 100,
        next_token: str | None = None,
    ) -> RunsPage:
        from dagy.states import to_api

        wanted = check_status(status)
        with self._errors():
            page = self.ctx.client.get(
                "/runs",
                status=to_api(wanted) if wanted else None,
                flow_name=flow_name,
                deployment_name=deployment_name,
                limit=min(max(limit, 1), 100),
                next_token=next_token,
            )
        items = [run_from_api(item) for item in page.get("items") or []]
        return RunsPage(items, page.get("next_token"))

    def find(self, run_id: str) -> Run | None:
        try:
            return run_from_api(self.ctx.client.get(f"/runs/{_q(run_id)}"))
        except APIError as exc:
            if exc.status_code == 404:
                return None
            raise

    def artifacts(
        self, run_id: str, *, limit: int = 100, next_token: str | None = None
    ) -> ArtifactPage:
        from dagy.services.runs.artifact_files import ArtifactFile, ArtifactPage

        with self._errors():
            page = self.ctx.client.get(
                f"/runs/{_q(run_id)}/artifacts", limit=limit, next_token=next_token
            )
        items = [ArtifactFile.from_json(item) for item in page.get("items") or []]
        return ArtifactPage(items, page.get("next_token"))

    def get(self, run_id: str) -> RunDetail:
        with self._errors():
            run = run_from_api(self.ctx.client.get(f"/runs/{_q(run_id)}"))
            found = self.ctx.client.get(f"/runs/{_q(run_id)}/task-runs")
        tasks = [task_from_api(t) for t in found.get("items") or []]
        edges = [(a, b) for a, b in found["edges"]] if found.get("edges") else None
        return RunDetail(run, tasks, edges)

    def logs(
        self,
        run_id: str,
        task_run_id: str | None = None,
        *,
        next_token: str | None = None,
        limit: int = 1000,
    ) -> LogChunk:
        with self._errors():
            page = self.ctx.client.get(
                f"/runs/{_q(run_id)}/logs",
                task_run_id=task_run_id,
                next_token=next_token,
                limit=limit,
            )
        lines = [
            LogLine(None if e.get("untimed") else e.get("timestamp"), e.get("message") or "")
            for e in page.get("events") or []
        ]
        return LogChunk(lines, page.get("next_token"))

    def cancel(self, run_id: str) -> Run:
        with self._errors():
            self.ctx.client.post(f"/runs/{_q(run_id)}/cancel")
            return run_from_api(self.ctx.client.get(f"/runs/{_q(run_id)}"))

    def start_retry(self, run_id: str) -> str:
        with self._errors():
            body = self.ctx.client.post(f"/runs/{_q(run_id)}/retry")
        return str(body["run_id"])

    def retry(
        self, run_id: str, *, max_workers: int | None = None, new_id: str | None = None
    ) -> Run:
        """POST the retry, then wait for the server's workers to finish it (``max_workers`` is
        the original run's on a server: its workers size the run)."""
        return self.wait(self.start_retry(run_id))

    def wait(self, run_id: str) -> Run:
        """The run once it has ended, asking the API every POLL seconds."""
        while True:
            with self._errors():
                run = run_from_api(self.ctx.client.get(f"/runs/{_q(run_id)}"))
            if run.status in FINAL_STATUSES:
                return run
            time.sleep(POLL)

    def replay(self, run_id: str, *, from_step: str | None = None, progress: Any = None) -> Run:
        """POST the replay, then wait for the server's workers to finish it."""
        body: dict[str, Any] = {} if from_step is None else {"from_step": from_step}
        with self._errors():
            queued = self.ctx.client.post(f"/runs/{_q(run_id)}/replay", body)
        return self.wait(str(queued["run_id"]))

    def diff(self, run_a: str, run_b: str) -> dict[str, Any]:
        with self._errors():
            found: dict[str, Any] = self.ctx.client.get(f"/runs/{_q(run_a)}/diff/{_q(run_b)}")
        return found

    def trigger(self, deployment: str, parameters: dict[str, Any], *, progress: Any = None) -> Run:
        with self._errors():  # queued on the server: nothing runs here to show progress of
            body = self.ctx.client.post(
                "/runs", {"deployment": deployment, "parameters": parameters}
            )
        return run_from_api(body)
