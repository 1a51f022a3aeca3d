"""``RemoteStore``: the Store protocol over loopback HTTP to a running `dagy serve`.

While the server holds ``dagy.duckdb`` no other process may open it, so the CLI sends its store
reads and writes to the server's internal ``/_local/store`` routes with the local token of
``server.json``. Standard library only: no duckdb, no HTTP client to import.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from dagy import __version__
from dagy.config.server_file import ServerInfo
from dagy.errors import APIError, RunNotFoundError, StoreBusyError
from dagy.store import wire
from dagy.store.records import RunRecord, TaskRunRecord

if TYPE_CHECKING:
    import urllib.error

REQUEST_TIMEOUT = 60.0
PREFIX = "/_local/store"


class ServerUnavailable(APIError):
    """The server could not be reached (gone, restarting, or with another local token).

    ``maybe_applied`` is False when the request certainly did not reach a handler (refused
    connection, rejected token), True when the connection broke after it was sent.
    """

    def __init__(self, url: str, reason: str, *, maybe_applied: bool) -> None:
        super().__init__(0, f"Unable to reach the Dagy server at {url} ({reason})")
        self.maybe_applied = maybe_applied


class RemoteStore:
    """Runs and task runs of a live server's store, as the local token's org sees them.

    Rows written land in that org (the personal one); reads for another ``org_id`` find nothing.
    """

    def __init__(self, info: ServerInfo, *, timeout: float = REQUEST_TIMEOUT) -> None:
        self.info = info
        self.timeout = timeout
        self._base = info.api_url.rstrip("/") + PREFIX

    # -- transport --------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        # Imported here: a `dagy run` without a live server never sends one (~20 ms of imports).
        import urllib.error
        import urllib.request

        url = self._base + path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {
            "Authorization": f"Bearer {self.info.token}",
            "Accept": "application/json",
            "User-Agent": f"dagy-cli/{__version__}",
        }
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:  # noqa: S310 - loopback
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            message = _message(exc)
            if exc.code == 401:  # server.json was rewritten by a restart: read it again
                raise ServerUnavailable(url, message, maybe_applied=False) from None
            if exc.code == 404:  # these routes answer absence with null, never 404
                message = f"{message}: the running server lacks the store routes; restart it"
            raise APIError(exc.code, message) from None
        except urllib.error.URLError as exc:
            refused = isinstance(exc.reason, (ConnectionRefusedError, FileNotFoundError))
            raise ServerUnavailable(url, str(exc.reason), maybe_applied=not refused) from None
        except OSError as exc:  # reset, timed out, or closed mid-response
            raise ServerUnavailable(
                url, str(exc) or type(exc).__name__, maybe_applied=True
            ) from None
        return json.loads(payload) if payload else None

    @contextlib.contextmanager
    def connection(self, *, timeout: float | None = None) -> Iterator[None]:
        """Nothing to open: the server holds the file. Each call below is one request."""
        yield None

    # -- writes -----------------------------------------------------------------------------------

    def create_run(self, run: RunRecord, task_runs: Sequence[TaskRunRecord] = ()) -> None:
        self._call(
            "POST",
            "/runs",
            {"run": wire.encode_run(run), "task_runs": wire.encode_task_runs(task_runs)},
        )

    def apply(
        self,
        run_id: str,
        run_changes: dict[str, Any],
        task_runs: Iterable[TaskRunRecord],
        *,
        timeout: float | None = None,
    ) -> None:
        """One batch in one request. ``timeout`` is for waiting on a file lock, which the server
        does not need: the request always waits for its answer, so batches never overtake."""
        body = {
            "changes": wire.encode_changes(run_changes),
            "task_runs": wire.encode_task_runs(task_runs),
        }
        result = self._call("POST", f"/runs/{_quote(run_id)}/apply", body)
        if not (result or {}).get("applied", False):
            raise RunNotFoundError(run_id)

    def mark_pruned(self, run_ids: Sequence[str]) -> None:
        if run_ids:
            self._call("POST", "/pruned", {"run_ids": list(run_ids)})

    # -- reads ------------------------------------------------------------------------------------

    def get_run(self, run_id: str, *, org_id: str = "personal") -> RunRecord | None:
        data = self._call("GET", f"/runs/{_quote(run_id)}", params={"org_id": org_id})["run"]
        return wire.decode_run(data) if data is not None else None

    def list_runs(
        self,
        *,
        org_id: str = "personal",
        status: str | None = None,
        flow_name: str | None = None,
        limit: int | None = 100,
    ) -> list[RunRecord]:
        params = {"org_id": org_id, "status": status, "flow_name": flow_name, "limit": limit or 0}
        items = self._call("GET", "/runs", params=params)["items"]
        return [wire.decode_run(item) for item in items]

    def count_runs(
        self, *, org_id: str = "personal", status: str | None = None, flow_name: str | None = None
    ) -> int:
        params = {"org_id": org_id, "status": status, "flow_name": flow_name}
        return int(self._call("GET", "/runs-count", params=params)["count"])

    def task_runs(self, run_id: str) -> list[TaskRunRecord]:
        data = self._call("GET", f"/runs/{_quote(run_id)}/task-runs")
        return wire.decode_task_runs(data)

    def runs_to_prune(self, keep: int) -> list[str]:
        return list(self._call("GET", "/prune-candidates", params={"keep": keep})["run_ids"])


def _quote(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        data = json.loads(exc.read())
    except (OSError, ValueError):
        return f"HTTP {exc.code}"
    if isinstance(data, dict):
        text = data.get("message") or data.get("detail")
        code = data.get("error")
        if isinstance(text, str):
            return f"{text} [{code}]" if isinstance(code, str) else text
    return f"HTTP {exc.code}"


# Routes of dagy/server/routes/child_store.py: the run by id in whatever org it belongs to.
RUNS = "/server-runs"
CHILD_RETRY_FOR = 30.0


class ChildStore(RemoteStore):
    """RemoteStore for a server-run child: its run is found in any org (the local token's own
    routes only see the personal org), and a request the server could not take is retried."""

    def __init__(self, api_url: str, token: str) -> None:
        super().__init__(ServerInfo(0, None, api_url, api_url, token, ""))

    def _call(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        deadline = time.monotonic() + CHILD_RETRY_FOR
        delay = 0.05
        while True:
            try:
                return super()._call(method, path, body, params)
            except ServerUnavailable:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def get_run(self, run_id: str, *, org_id: str = "personal") -> RunRecord | None:
        data = self._call("GET", f"{RUNS}/{_quote(run_id)}")["run"]
        return wire.decode_run(data) if data is not None else None

    def apply(
        self,
        run_id: str,
        run_changes: dict[str, Any],
        task_runs: Any,
        *,
        timeout: float | None = None,
    ) -> None:
        body = {
            "changes": wire.encode_changes(run_changes),
            "task_runs": wire.encode_task_runs(task_runs),
        }
        path = f"{RUNS}/{_quote(run_id)}/apply"
        try:
            result = super()._call("POST", path, body)
        except ServerUnavailable:
            if timeout is not None and timeout < 1:  # a mid-run flush: the next one retries
                raise StoreBusyError("the server did not take the batch") from None
            result = self._call("POST", path, body)
        if not (result or {}).get("applied", False):
            raise RunNotFoundError(run_id)

    def task_runs(self, run_id: str) -> list[TaskRunRecord]:
        return wire.decode_task_runs(self._call("GET", f"{RUNS}/{_quote(run_id)}/task-runs"))
