"""What the TUI needs of dagy.backend: runs, the catalog and schedules, in typed records.

The screens see only these Protocols; ``open_source`` hands them the one backend `dagy tui
[--profile]` should look at (the store file, this home's live server, or a remote API).
Every method may block (a file lock, the network); the screens call them from worker threads.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from dagy.backend.catalog import Deployment, Flow
    from dagy.backend.records import LogChunk, Run, RunDetail, RunsPage
    from dagy.backend.triggers import Schedule
    from dagy.config.paths import DagyPaths

PAGE = 100
LOG_PAGE = 1000
# The TUI waits less than the CLI for a busy file: a refresh that cannot get it shows a notice.
LOCK_TIMEOUT = 5.0


class RunsSource(Protocol):
    def list(
        self,
        *,
        status: str | None = None,
        flow_name: str | None = None,
        limit: int = 100,
        next_token: str | None = None,
    ) -> RunsPage: ...

    def get(self, run_id: str) -> RunDetail: ...

    def logs(
        self,
        run_id: str,
        task_run_id: str | None = None,
        *,
        next_token: str | None = None,
        limit: int = 1000,
    ) -> LogChunk: ...

    def cancel(self, run_id: str) -> Run: ...

    def start_retry(self, run_id: str) -> str: ...


class CatalogSource(Protocol):
    def flows(self) -> list[Flow]: ...

    def deployments(self) -> list[Deployment]: ...


class SchedulesSource(Protocol):
    def list(self) -> list[Schedule]: ...

    def set_enabled(self, schedule_id: str, enabled: bool) -> Schedule: ...

    def trigger(self, schedule_id: str, parameters: dict[str, Any]) -> str: ...


class Source(Protocol):
    """The part of dagy.backend's ``Backend`` the screens use."""

    @property
    def mode(self) -> str:
        """``store`` (the file), ``server`` (this home's live server) or ``api`` (a remote one)."""

    @property
    def label(self) -> str:
        """What the header names: the profile and the store or server looked at."""

    @property
    def runs(self) -> RunsSource: ...

    @property
    def catalog(self) -> CatalogSource: ...

    @property
    def schedules(self) -> SchedulesSource: ...


class Following:
    """The backend for this home, chosen again at most every REOPEN_SECONDS: `dagy tui` stays
    open while a `dagy serve` starts or stops, and each refresh then goes the way every command
    would (the server while it holds the store file, else the file). A remote API stays."""

    REOPEN_SECONDS = 2.0

    def __init__(self, paths: DagyPaths, profile: str | None) -> None:
        self.paths, self.profile = paths, profile
        self._lock = threading.Lock()
        self._opened_at = 0.0
        self._backend = self._open()

    def _open(self) -> Source:
        from dagy.backend import open_backend

        backend = open_backend(self.paths, self.profile, lock_timeout=LOCK_TIMEOUT)
        self._opened_at = time.monotonic()
        return backend

    def current(self) -> Source:
        with self._lock:
            stale = time.monotonic() - self._opened_at > self.REOPEN_SECONDS
            if stale and self._backend.mode != "api":
                self._backend = self._open()
            return self._backend

    @property
    def mode(self) -> str:
        return self.current().mode

    @property
    def label(self) -> str:
        return self.current().label

    @property
    def runs(self) -> RunsSource:
        return self.current().runs

    @property
    def catalog(self) -> CatalogSource:
        return self.current().catalog

    @property
    def schedules(self) -> SchedulesSource:
        return self.current().schedules


def open_source(paths: DagyPaths, profile: str | None = None) -> Source:
    """The backend `dagy tui [--profile NAME]` looks at, chosen by dagy.backend.open_backend as
    for every CLI command (an unknown profile: ConfigError, exit 4)."""
    return Following(paths, profile)
