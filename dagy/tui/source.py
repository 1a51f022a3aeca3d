"""What the TUI needs of dagy.backend: runs, the catalog and schedules, in typed records.

The screens see only these Protocols; ``open_source`` hands them the one backend `dagy tui
[--profile]` should look at (the store file, this home's live server, or a remote API).
Every method may block (a file lock, the network); the screens call them from worker threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from dagy.backend.records import LogChunk, Run, RunDetail, RunsPage
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
    def flows(self) -> list[Any]: ...

    def deployments(self) -> list[Any]: ...


class SchedulesSource(Protocol):
    def list(self) -> list[Any]: ...

    def set_enabled(self, schedule_id: str, enabled: bool) -> Any: ...

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


def open_source(paths: DagyPaths, profile: str | None = None) -> Source:
    """The backend `dagy tui [--profile NAME]` looks at, chosen as every CLI command chooses it."""
    from dagy.tui._legacy import Adapted, open_legacy

    return Adapted(open_legacy(paths, profile))
