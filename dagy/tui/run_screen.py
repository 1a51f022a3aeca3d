"""One run: its task runs, its DAG with each node's state, and cancel, retry and logs."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from dagy import states
from dagy.backend.records import Run, RunDetail, TaskRun
from dagy.tui import _format
from dagy.tui._background import in_background
from dagy.tui.dag_tree import DagTree
from dagy.tui.source import Source

TASK_COLUMNS = ("task run", "task", "status", "attempts", "duration", "error")
REFRESH_SECONDS = 1.0


class RunScreen(Screen[None]):
    """``c`` cancels, ``r`` retries, ``l`` opens the run log, ``enter`` a task run's log."""

    TITLE = "Run"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("l", "run_log", "Run log"),
        Binding("enter", "task_log", "Task log"),
        Binding("c", "cancel", "Cancel"),
        Binding("r", "retry", "Retry"),
    ]
    DEFAULT_CSS = """
    RunScreen #run-summary { height: auto; padding: 0 1; }
    RunScreen #run-body { height: 1fr; }
    RunScreen #tasks { width: 3fr; }
    RunScreen #dag { width: 2fr; border-left: solid $primary; }
    """

    def __init__(self, source: Source, run_id: str) -> None:
        super().__init__()
        self.source, self.run_id = source, run_id
        self.detail: RunDetail | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"Run {self.run_id}: loading…", id="run-summary")
        with Horizontal(id="run-body"):
            yield DataTable(id="tasks", cursor_type="row")
            yield DagTree(id="dag")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Run {self.run_id}"  # the sub-title stays the app's: what it looks at
        table = self.query_one("#tasks", DataTable)
        for name in TASK_COLUMNS:
            table.add_column(name, key=name)
        table.focus()
        self.load()
        self.set_interval(REFRESH_SECONDS, self._refresh_active)

    def load(self) -> None:
        in_background(self, lambda: self.source.runs.get(self.run_id), self._show, group="run")

    def _refresh_active(self) -> None:
        if self.detail is not None and self.detail.run.status in states.ACTIVE_STATUSES:
            self.load()

    def _show(self, detail: RunDetail) -> None:
        self.detail = detail
        run = detail.run
        summary = Text(f"Run {run.run_id}  ", style="bold")
        summary.append_text(_format.status_text(run.status))
        summary.append(
            f"\nflow {run.flow_id}"
            f"  started {_format.when(run.started_at)}"
            f"  duration {_format.elapsed(run.status, run.started_at, run.duration_seconds)}"
            f"  trigger {_trigger(run)}"
        )
        if run.error:
            summary.append(f"\nerror: {run.error}", style="red")
        self.query_one("#run-summary", Static).update(summary)
        table = self.query_one("#tasks", DataTable)
        tasks = list(detail.task_runs or [])
        if [str(r.value) for r in table.rows] != [t.task_run_id for t in tasks]:
            table.clear()
            for t in tasks:
                table.add_row(*self._row(t), key=t.task_run_id)
        else:  # the same task runs: their states, attempts and times change in place
            for t in tasks:
                for column, value in zip(TASK_COLUMNS[2:], self._row(t)[2:], strict=True):
                    table.update_cell(t.task_run_id, column, value)
        self.query_one(DagTree).show(tasks, detail.edges)

    @staticmethod
    def _row(t: TaskRun) -> list[Any]:
        return [
            t.task_run_id,
            t.task_name or "-",
            _format.status_text(t.status),
            f"{t.attempt}/{t.max_attempts}",
            _format.elapsed(t.status, t.started_at, t.duration_seconds),
            (t.error or "-") if t.status != states.SUCCEEDED else "-",
        ]

    # -- actions ----------------------------------------------------------------------------------

    def _open_log(self, task_run_id: str | None) -> None:
        from dagy.tui.log_screen import LogScreen

        self.app.push_screen(LogScreen(self.source, self.run_id, task_run_id))

    def action_run_log(self) -> None:
        self._open_log(None)

    def action_task_log(self) -> None:
        table = self.query_one("#tasks", DataTable)
        if table.row_count:
            row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
            self._open_log(str(row_key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self._open_log(str(event.row_key.value))

    def _act(self, what: str, call: Any) -> None:
        self.notify(f"{what} {self.run_id}…", timeout=3)

        def done(message: str) -> None:
            self.notify(message, title="Dagy")
            self.load()

        in_background(self, call, done, group="run-action")

    def action_cancel(self) -> None:
        def cancel() -> str:
            ended = self.source.runs.cancel(self.run_id)
            return f"Run cancelled: {ended.run_id} status={ended.status}"  # as `dagy runs cancel`

        self._act("Cancelling", cancel)

    def action_retry(self) -> None:
        def retry() -> str:
            new_id = self.source.runs.start_retry(self.run_id)
            return f"Retry started for {self.run_id}: run {new_id}"

        self._act("Retrying", retry)


def _trigger(run: Run) -> str:
    return ", ".join(run.tags) or run.trigger or "-"
