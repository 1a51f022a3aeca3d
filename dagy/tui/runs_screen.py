"""The runs view: newest first, a page at a time, refreshed live; filters and search by id."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from dagy.backend.records import Run, RunsPage
from dagy.errors import APIError, NotFoundError, RunNotFoundError
from dagy.tui import _format
from dagy.tui._background import in_background
from dagy.tui.source import PAGE, Source

COLUMNS = ("run id", "flow", "status", "started", "duration", "trigger")
REFRESH_SECONDS = 2.0
# A flow prefix is matched here, over the backend's pages: at most this many pages per load.
PREFIX_SCAN_PAGES = 10


class RunsScreen(Screen[None]):
    """Runs of the source; ``enter`` opens one."""

    TITLE = "Runs"
    BINDINGS = [
        Binding("enter", "open_run", "Open", show=True),
        Binding("t", "cycle_status", "Status filter"),
        Binding("w", "focus_flow", "Flow filter"),
        Binding("slash", "focus_search", "Search id"),
        Binding("n", "more", "More"),
        Binding("escape", "leave_box", "Table", show=False),
    ]
    DEFAULT_CSS = """
    RunsScreen #filters { height: 3; }
    RunsScreen #filters Input { width: 1fr; }
    RunsScreen #runs-status { height: 1; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source
        self.status: str | None = None
        self.flow_name: str | None = None
        self.items: list[Run] = []
        self.next_token: str | None = None
        self._loading_more = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filters"):
            yield Input(placeholder="flow name (w, enter to filter)", id="flow-filter")
            yield Input(placeholder="run id (/, enter to open)", id="search")
        yield Static("", id="runs-status")
        table: DataTable[Any] = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#runs", DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        table.focus()
        self.reload()
        self.set_interval(REFRESH_SECONDS, self.refresh_runs)

    # -- loading ----------------------------------------------------------------------------------

    def _fetch(self, token: str | None) -> RunsPage:
        """A page of runs; with a flow filter, the runs whose flow name starts with it (the API
        matches a whole name, so the prefix is matched here, a bounded number of pages a load)."""
        runs = self.source.runs
        if not self.flow_name:
            return runs.list(status=self.status, limit=PAGE, next_token=token)
        prefix, found = self.flow_name.lower(), []
        for _ in range(PREFIX_SCAN_PAGES):
            page = runs.list(status=self.status, limit=PAGE, next_token=token)
            found += [r for r in page.items if r.flow_name.lower().startswith(prefix)]
            token = page.next_token
            if token is None or len(found) >= PAGE:
                break
        return RunsPage(found, token)

    def reload(self) -> None:
        """The first page again, from scratch (a filter changed)."""
        self.items, self.next_token = [], None
        self._show_status("loading…")
        in_background(self, lambda: self._fetch(None), self._replace, group="runs")

    def refresh_runs(self) -> None:
        """The newest page again, merged into what is loaded: new runs on top, states updated."""
        in_background(
            self, lambda: (self._fetch(None), self.source.label), self._merge, group="runs"
        )

    def _replace(self, page: RunsPage) -> None:
        self.items, self.next_token = list(page.items), page.next_token
        self._draw()

    def _merge(self, result: tuple[RunsPage, str]) -> None:
        page, label = result
        self.app.sub_title = label
        fresh = {run.run_id for run in page.items}
        if not page.items or len(self.items) <= len(page.items):
            self.items, self.next_token = list(page.items), page.next_token
        else:
            key = _order(page.items[-1])
            older = [r for r in self.items if r.run_id not in fresh and _order(r) < key]
            self.items = list(page.items) + older
        self._draw()

    def action_more(self) -> None:
        if self.next_token is None or self._loading_more:
            return
        self._loading_more = True
        token = self.next_token

        def appended(page: RunsPage) -> None:
            self._loading_more = False
            known = {r.run_id for r in self.items}
            self.items += [r for r in page.items if r.run_id not in known]
            self.next_token = page.next_token
            self._draw()

        in_background(
            self,
            lambda: self._fetch(token),
            appended,
            group="runs-more",
            failed=lambda _: setattr(self, "_loading_more", False),
        )

    # -- showing ----------------------------------------------------------------------------------

    def _row(self, run: Run) -> list[Any]:
        return [
            run.run_id,
            run.flow_id,
            _format.status_text(run.status),
            _format.when(run.started_at or run.created_at),
            _format.elapsed(run.status, run.started_at, run.duration_seconds),
            run.trigger or "-",
        ]

    def _draw(self) -> None:
        table = self.query_one("#runs", DataTable)
        keys = [str(row.value) for row in table.rows]
        ids = [r.run_id for r in self.items]
        if keys == ids:  # same rows: update the cells that change, keep scroll and cursor
            for run in self.items:
                for column, value in zip(COLUMNS[2:5], self._row(run)[2:5], strict=True):
                    table.update_cell(run.run_id, column, value)
        else:
            selected = keys[table.cursor_row] if keys and table.cursor_row < len(keys) else None
            table.clear()
            for run in self.items:
                table.add_row(*self._row(run), key=run.run_id)
            if selected in ids:
                table.move_cursor(row=ids.index(selected), animate=False)
        self._show_status()

    def _show_status(self, note: str = "") -> None:
        flow = f"{self.flow_name}*" if self.flow_name else "all"
        parts = [f"status: {self.status or 'all'}", f"flow: {flow}"]
        parts.append(
            f"{len(self.items)} runs loaded" + (", more with n" if self.next_token else "")
        )
        if note:
            parts.append(note)
        self.query_one("#runs-status", Static).update(" · ".join(parts))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= event.data_table.row_count - 1 and self.next_token:
            self.action_more()  # the cursor reached the end of what is loaded: load the next page

    # -- actions ----------------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.open_run(str(event.row_key.value))

    def action_open_run(self) -> None:
        table = self.query_one("#runs", DataTable)
        if table.row_count:
            row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
            self.open_run(str(row_key.value))

    def open_run(self, run_id: str) -> None:
        from dagy.tui.run_screen import RunScreen

        self.app.push_screen(RunScreen(self.source, run_id))

    def action_cycle_status(self) -> None:
        choices = _format.RUN_STATUS_FILTERS
        self.status = choices[(choices.index(self.status) + 1) % len(choices)]
        self.reload()

    def action_focus_flow(self) -> None:
        self.query_one("#flow-filter", Input).focus()

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one("#runs", DataTable).focus()

    def action_leave_box(self) -> None:
        """Escape in a box drops what was typed (the flow box shows the filter in force again)
        and gives the keys back to the table."""
        self.query_one("#flow-filter", Input).value = self.flow_name or ""
        self.query_one("#search", Input).value = ""
        self.action_focus_table()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if event.input.id == "flow-filter":
            self.flow_name = text or None
            self.action_focus_table()
            self.reload()
        elif event.input.id == "search":
            event.input.value = ""  # `/` starts a new id
            self.action_focus_table()  # the keys are the table's again, whatever is found
            if text:
                in_background(self, lambda: _find(self.source, text), self._found, group="search")

    def _found(self, found: tuple[str, bool]) -> None:
        run_id, exists = found
        if exists:
            self.open_run(run_id)
        else:
            self.notify(f"No run with id {run_id}", severity="warning")


def _order(run: Run) -> tuple[str, str]:
    """Newest first is ``created_at, run_id`` descending, as the backend pages them."""
    return (run.created_at.isoformat() if run.created_at else "", run.run_id)


def _find(source: Source, run_id: str) -> tuple[str, bool]:
    """Whether a run with this exact id exists (the backend's get; a 404 is "no")."""
    try:
        source.runs.get(run_id)
    except (RunNotFoundError, NotFoundError):
        return run_id, False
    except APIError as exc:
        if exc.status_code != 404:
            raise
        return run_id, False
    return run_id, True
