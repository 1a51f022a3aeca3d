"""The store interface services and the engine program against (DuckDB is the one built in)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from dagy.store.records import RunRecord, TaskRunRecord


class Store(Protocol):
    def create_run(self, run: RunRecord, task_runs: Sequence[TaskRunRecord] = ()) -> None: ...

    def apply(
        self,
        run_id: str,
        run_changes: dict[str, Any],
        task_runs: Iterable[TaskRunRecord],
        *,
        timeout: float | None = None,
    ) -> None:
        """Apply one batch: update fields of a run and upsert task-run rows, in one transaction."""

    def get_run(self, run_id: str, *, org_id: str = "personal") -> RunRecord | None: ...

    def list_runs(
        self,
        *,
        org_id: str = "personal",
        status: str | None = None,
        flow_name: str | None = None,
        limit: int | None = 100,
    ) -> list[RunRecord]: ...

    def count_runs(
        self, *, org_id: str = "personal", status: str | None = None, flow_name: str | None = None
    ) -> int: ...

    def task_runs(self, run_id: str) -> list[TaskRunRecord]: ...

    def runs_to_prune(self, keep: int) -> list[str]: ...

    def mark_pruned(self, run_ids: Sequence[str]) -> None: ...
