"""The runs view: newest first, a page at a time, refreshed live; filters and search by id."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from dagy.tui import _format
from dagy.tui._background import in_background
from dagy.tui.source import PAGE, RunsPage, Source

COLUMNS = ("run id", "flow", "status", "started", "duration", "trigger")
REFRESH_SECONDS = 2.0


class RunsScreen(Screen[None]):
    """Runs of the source; ``enter`` opens one."""

    TITLE = "Runs"
    BINDINGS = [
        Binding("enter", "open_run", "Open", show=True),
        Binding("t", "cycle_status", "Status filter"),
        Binding("w", "focus_flow", "Flow filter"),
        Binding("slash", "focus_search", "Search id"),
        Binding("n", "more", "More"),
        Binding("escape", "focus_table", "Table", show=False),
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
        self.items: list[dict[str, Any]] = []
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
        return self.source.runs_page(
            status=self.status, flow_name=self.flow_name, next_token=token, limit=PAGE
        )

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
        fresh = {item["run_id"] for item in page.items}
        if not page.items or len(self.items) <= len(page.items):
            self.items, self.next_token = list(page.items), page.next_token
        else:
            last = page.items[-1]
            key = (last.get("created_at") or "", last["run_id"])
            older = [
                i
                for i in self.items
                if i["run_id"] not in fresh and (i.get("created_at") or "", i["run_id"]) < key
            ]
            self.items = list(page.items) + older
        self._draw()

    def action_more(self) -> None:
        if self.next_token is None or self._loading_more:
            return
        self._loading_more = True
        token = self.next_token

        def appended(page: RunsPage) -> None:
            self._loading_more = False
            known = {i["run_id"] for i in self.items}
            self.items += [i for i in page.items if i["run_id"] not in known]
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

    def _row(self, item: dict[str, Any]) -> list[Any]:
        return [
            item["run_id"],
            f"{item.get('flow_name')}:{item.get('flow_version')}",
            _format.status_text(item.get("status")),
            _format.when(item.get("started_at") or item.get("created_at")),
            _format.run_duration(item),
            item.get("trigger") or "-",
        ]

    def _draw(self) -> None:
        table = self.query_one("#runs", DataTable)
        keys = [str(row.value) for row in table.rows]
        ids = [i["run_id"] for i in self.items]
        if keys == ids:  # same rows: update the cells that change, keep scroll and cursor
            for item in self.items:
                for column, value in zip(COLUMNS[2:5], self._row(item)[2:5], strict=True):
                    table.update_cell(item["run_id"], column, value)
        else:
            selected = keys[table.cursor_row] if keys and table.cursor_row < len(keys) else None
            table.clear()
            for item in self.items:
                table.add_row(*self._row(item), key=item["run_id"])
            if selected in ids:
                table.move_cursor(row=ids.index(selected), animate=False)
        self._show_status()

    def _show_status(self, note: str = "") -> None:
        parts = [f"status: {self.status or 'all'}", f"flow: {self.flow_name or 'all'}"]
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

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if event.input.id == "flow-filter":
            self.flow_name = text or None
            self.action_focus_table()
            self.reload()
        elif event.input.id == "search" and text:

            def found(run: dict[str, Any] | None) -> None:
                if run is None:
                    self.notify(f"No run with id {text}", severity="warning")
                else:
                    self.open_run(run["run_id"])

            in_background(self, lambda: self.source.find_run(text), found, group="search")
