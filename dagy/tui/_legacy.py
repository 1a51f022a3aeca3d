"""Transitional: the TUI's own choice of this home or a remote API, adapted to the backend's
shape (``Adapted``: ``runs``, ``catalog``, ``schedules`` returning typed records) until
dagy.backend's implementations land; then this module goes and ``open_source`` is open_backend.

Both sources answer in the API's shapes (GET /runs items, GET /runs/{run_id}, log events,
schedule bodies), so the screens never know which one they look at:
- ``LocalSource``: this home's live `dagy serve` when one runs (its API with the local token, and
  its loopback store routes for task runs), else the DuckDB file, opened for one call and closed
  again, so a `dagy run` in another terminal keeps recording;
- ``ApiSource``: a server's REST API through DagyClient, as the CLI reaches a remote profile.

Every method may block (a file lock, the network); the screens call them from worker threads.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dagy import states
from dagy.backend.records import LogChunk, LogLine, Run, RunDetail, RunsPage, TaskRun
from dagy.client.http import DagyClient
from dagy.config import server_file
from dagy.config.paths import DagyPaths
from dagy.errors import APIError, DagyError, RunNotFoundError
from dagy.store.records import TaskRunRecord

if TYPE_CHECKING:
    from dagy.backend.base import Backend
    from dagy.store.duckdb_store import DuckDBStore
    from dagy.store.remote import RemoteStore

ORG = "personal"
PAGE = 100
LOG_PAGE = 1000
# The TUI waits less than the CLI for a busy file: a refresh that cannot get it shows a notice.
LOCK_TIMEOUT = 5.0


@dataclass(frozen=True)
class OldRunsPage:
    items: list[dict[str, Any]]
    next_token: str | None


@dataclass(frozen=True)
class OldRunDetail:
    """A run (GET /runs/{run_id}), its task runs and the DAG's edges; None where the source
    cannot say (a remote API has no task-run route)."""

    run: dict[str, Any]
    task_runs: list[dict[str, Any]] | None
    edges: list[list[str]] | None


@dataclass(frozen=True)
class OldLogChunk:
    """New log lines, and the token to ask for more; None once the log is complete."""

    lines: list[str]
    next_token: str | None


class _Source(Protocol):
    @property
    def label(self) -> str:
        """What the header names: the profile and the store or server looked at."""

    def runs_page(
        self, *, status: str | None, flow_name: str | None, next_token: str | None, limit: int
    ) -> OldRunsPage: ...

    def find_run(self, run_id: str) -> dict[str, Any] | None: ...

    def run(self, run_id: str) -> OldRunDetail: ...

    def logs(self, run_id: str, task_run_id: str | None, next_token: str | None) -> OldLogChunk: ...

    def cancel(self, run_id: str) -> str: ...

    def retry(self, run_id: str) -> str: ...


def log_lines(events: list[dict[str, Any]]) -> list[str]:
    """Log events as the lines of the file they came from."""
    return [
        f"{e['timestamp']} {e['message']}" if e.get("timestamp") else e["message"] for e in events
    ]


def task_rows(records: list[TaskRunRecord]) -> list[dict[str, Any]]:
    return [r.to_json() for r in records]


def spec_edges(flow_spec: str | None) -> list[list[str]] | None:
    if not flow_spec:
        return None
    edges = json.loads(flow_spec).get("edges")
    return [list(e) for e in edges] if isinstance(edges, list) else None


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class ApiSource:
    """A Dagy API. ``store``: this home's server's loopback store, for task runs and the DAG."""

    def __init__(self, client: DagyClient, label: str, store: RemoteStore | None = None) -> None:
        self.client, self.label, self.store = client, label, store

    def runs_page(
        self, *, status: str | None, flow_name: str | None, next_token: str | None, limit: int
    ) -> OldRunsPage:
        page = self.client.get(
            "/runs", status=status, flow_name=flow_name, next_token=next_token, limit=limit
        )
        return OldRunsPage(list(page.get("items") or []), page.get("next_token"))

    def find_run(self, run_id: str) -> dict[str, Any] | None:
        try:
            return dict(self.client.get(f"/runs/{_q(run_id)}"))
        except APIError as exc:
            if exc.status_code == 404:
                return None
            raise

    def run(self, run_id: str) -> OldRunDetail:
        run = dict(self.client.get(f"/runs/{_q(run_id)}"))
        if self.store is None:
            try:
                found = self.client.get(f"/runs/{_q(run_id)}/task-runs")
            except APIError as exc:
                if exc.status_code == 404:  # a server from before the route: no task runs
                    return OldRunDetail(run, None, None)
                raise
            edges = found.get("edges")
            return OldRunDetail(run, list(found.get("items") or []), edges)
        record = self.store.get_run(run_id)
        edges = spec_edges(record.flow_spec) if record is not None else None
        return OldRunDetail(run, task_rows(self.store.task_runs(run_id)), edges)

    def logs(self, run_id: str, task_run_id: str | None, next_token: str | None) -> OldLogChunk:
        page = self.client.get(
            f"/runs/{_q(run_id)}/logs",
            task_run_id=task_run_id,
            next_token=next_token,
            limit=LOG_PAGE,
        )
        return OldLogChunk(log_lines(page.get("events") or []), page.get("next_token"))

    def cancel(self, run_id: str) -> str:
        body = self.client.post(f"/runs/{_q(run_id)}/cancel")
        return f"Run cancelled: {run_id} status={str(body.get('status', 'cancelled')).upper()}"

    def retry(self, run_id: str) -> str:
        body = self.client.post(f"/runs/{_q(run_id)}/retry")
        return f"run {body.get('run_id')} queued"


class LocalSource:
    """This home: through its live server while one runs, else the DuckDB file, per call."""

    def __init__(self, paths: DagyPaths) -> None:
        self.paths = paths
        self._api: ApiSource | None = None

    @property
    def label(self) -> str:
        live = server_file.read(self.paths)
        where = f"server {live.api_url}" if live is not None else f"store {self.paths.db}"
        return f"local {self.paths.home} · {where}"

    def _server(self) -> ApiSource | None:
        info = server_file.read(self.paths)
        if info is None:
            return None
        if self._api is None or self._api.store is None or self._api.store.info != info:
            from dagy.store.remote import RemoteStore

            self._api = ApiSource(
                DagyClient(info.api_url, info.token), f"server {info.api_url}", RemoteStore(info)
            )
        return self._api

    def _file(self) -> DuckDBStore:
        """A store object of its own per call: DuckDBStore keeps its open connection on itself,
        and the screens' workers call from several threads."""
        from dagy.store.duckdb_store import DuckDBStore

        return DuckDBStore(self.paths, lock_timeout=LOCK_TIMEOUT)

    @contextlib.contextmanager
    def _open(self) -> Iterator[DuckDBStore]:
        store = self._file()
        with store.connection():
            yield store

    def runs_page(
        self, *, status: str | None, flow_name: str | None, next_token: str | None, limit: int
    ) -> OldRunsPage:
        api = self._server()
        if api is not None:
            return api.runs_page(
                status=status, flow_name=flow_name, next_token=next_token, limit=limit
            )
        from dagy.services.runs import api as runs_api

        with self._open() as store:
            page = runs_api.list_runs(
                store,
                ORG,
                status=status,
                flow_name=flow_name,
                limit=limit,
                next_token=next_token,
                item=runs_api.to_item_with_trigger,
            )
        return OldRunsPage(page["items"], page["next_token"])

    def find_run(self, run_id: str) -> dict[str, Any] | None:
        api = self._server()
        if api is not None:
            return api.find_run(run_id)
        from dagy.services.runs import api as runs_api

        with self._open() as store:
            run = store.get_run_summary(run_id, ORG)
        return runs_api.to_item_with_trigger(run) if run is not None else None

    def run(self, run_id: str) -> OldRunDetail:
        api = self._server()
        if api is not None:
            return api.run(run_id)
        from dagy.services.runs import api as runs_api

        with self._open() as store:
            detail = runs_api.get_run(store, ORG, run_id)
            record = store.get_run(run_id, org_id=ORG)
            tasks = store.task_runs(run_id)
        return OldRunDetail(
            detail, task_rows(tasks), spec_edges(record.flow_spec if record else None)
        )

    def logs(self, run_id: str, task_run_id: str | None, next_token: str | None) -> OldLogChunk:
        api = self._server()
        if api is not None:
            return api.logs(run_id, task_run_id, next_token)
        from dagy.services.runs import logs as run_logs

        page = run_logs.read(
            self._file(),
            self.paths,
            ORG,
            run_id,
            task_run_id=task_run_id,
            limit=LOG_PAGE,
            next_token=next_token,
        )
        return OldLogChunk(log_lines(page["events"]), page["next_token"])

    def cancel(self, run_id: str) -> str:
        api = self._server()
        if api is not None:
            return api.cancel(run_id)
        from dagy.services.runs import control as run_control

        # Not inside one open of the file: the `dagy run` being cancelled must write CANCELLED.
        ended = run_control.cancel_local(self._file(), run_id)
        return f"Run cancelled: {run_id} status={ended.status}"

    def retry(self, run_id: str) -> str:
        api = self._server()
        if api is not None:
            return api.retry(run_id)
        from dagy.services.runs import local as service

        with self._open() as store:
            old = store.get_run(run_id, org_id=ORG)
        found = service.check_retryable(run_id, old)
        from dagy.sdk.loader import split_target

        module = Path(split_target(found.entrypoint or "")[0])
        if not module.is_file():  # the retry's process would fail where no one sees it
            raise DagyError(f"Cannot retry {run_id}: its flow file {module} is gone")
        # Without a server the retry executes in a process of its own, as `dagy runs retry` in
        # another terminal would: the flow's code never runs inside the TUI.
        subprocess.Popen(
            [sys.executable, "-m", "dagy.cli.main", "runs", "retry", run_id],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**_environ(), "DAGY_LOCAL_DIR": str(self.paths.home)},
            start_new_session=True,
        )
        return "the new run appears at the top of the list"


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


def open_legacy(paths: DagyPaths, profile: str | None = None) -> _Source:
    """The source `dagy tui [--profile NAME]` looks at: the profile's API (or DAGY_API_URL) when
    one is configured, as every CLI command resolves it, else this home."""
    from dagy.config.profiles import load_config, resolve_api_url, resolve_profile_name

    config = load_config(paths)
    api_url = resolve_api_url(config, profile)
    name = resolve_profile_name(config, profile)
    if api_url is not None:
        return ApiSource(DagyClient(api_url, paths=paths), f"profile {name or '-'} · API {api_url}")
    return LocalSource(paths)


# -- the backend's shape over the sources above ---------------------------------------------------


def _moment(value: Any) -> _dt.datetime | None:
    if not value:
        return None
    moment = _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.astimezone(_dt.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def _run(body: dict[str, Any]) -> Run:
    started = _moment(body.get("started_at"))
    ended = _moment(body.get("completed_at") or body.get("ended_at"))
    if started is not None and body.get("duration_seconds") is not None:
        ended = started + _dt.timedelta(seconds=float(body["duration_seconds"]))
    return Run(
        run_id=body["run_id"],
        flow_name=body.get("flow_name") or "",
        flow_version=str(body.get("flow_version") or ""),
        status=states.from_api(body.get("status")),
        created_at=_moment(body.get("created_at")),
        started_at=started,
        ended_at=ended,
        trigger=body.get("trigger"),
        error=body.get("error"),
        tags=list(body.get("tags") or []),
    )


def _task(body: dict[str, Any]) -> TaskRun:
    return TaskRun(
        task_run_id=body["task_run_id"],
        task_name=body.get("task_name") or "",
        status=states.from_api(body.get("status")),
        attempt=int(body.get("attempt") or 0),
        max_attempts=int(body.get("max_attempts") or 1),
        started_at=_moment(body.get("started_at")),
        ended_at=_moment(body.get("ended_at")),
        duration_seconds=body.get("duration_seconds"),
        error=body.get("error"),
    )


def _line(text: str) -> LogLine:
    first, _, rest = text.partition(" ")
    return (
        LogLine(first, rest) if first[:2] == "20" and first.endswith("Z") else LogLine(None, text)
    )


class _Runs:
    def __init__(self, source: _Source) -> None:
        self.source = source

    def list(
        self,
        *,
        status: str | None = None,
        flow_name: str | None = None,
        limit: int = 100,
        next_token: str | None = None,
    ) -> RunsPage:
        page = self.source.runs_page(
            status=states.to_api(status) if status else None,
            flow_name=flow_name,
            next_token=next_token,
            limit=limit,
        )
        return RunsPage([_run(i) for i in page.items], page.next_token)

    def get(self, run_id: str) -> RunDetail:
        if self.source.find_run(run_id) is None:
            raise RunNotFoundError(run_id)
        found = self.source.run(run_id)
        edges = [(a, b) for a, b in found.edges] if found.edges is not None else None
        return RunDetail(_run(found.run), [_task(t) for t in found.task_runs or []], edges)

    def logs(
        self,
        run_id: str,
        task_run_id: str | None = None,
        *,
        next_token: str | None = None,
        limit: int = LOG_PAGE,
    ) -> LogChunk:
        chunk = self.source.logs(run_id, task_run_id, next_token)
        return LogChunk([_line(x) for x in chunk.lines], chunk.next_token)

    def cancel(self, run_id: str) -> Run:
        self.source.cancel(run_id)
        return _run(self.source.run(run_id).run)

    def start_retry(self, run_id: str) -> str:
        return self.source.retry(run_id)


class WithLegacyRuns:
    """A backend whose runs group is this module's until dagy.backend's runs land."""

    def __init__(self, backend: Backend, source: _Source) -> None:
        self.backend = backend
        self.runs = _Runs(source)
        self.catalog = backend.catalog
        self.schedules = backend.schedules
        self.mode = backend.mode
        self.label = backend.label


def with_legacy_runs(backend: Backend, paths: DagyPaths, profile: str | None) -> WithLegacyRuns:
    return WithLegacyRuns(backend, open_legacy(paths, profile))
