"""Flows and deployments: a table of their key fields each, loaded in the background."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from dagy.tui import _format
from dagy.tui._background import in_background
from dagy.tui.source import Source


class ResourceScreen(Screen[None]):
    """A table of the records ``fetch()`` lists; ``COLUMNS`` are record fields, ``KEY`` the row
    id; ``EMPTY`` says, when there are none, how to make one."""

    COLUMNS: tuple[str, ...] = ()
    KEY = ""
    EMPTY = ""
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("g", "reload", "Reload")]
    DEFAULT_CSS = """
    ResourceScreen #empty { height: auto; padding: 1 2; color: $text-muted; display: none; }
    ResourceScreen #empty.shown { display: block; }
    """

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source
        self.items: list[Any] = []

    def fetch(self) -> Callable[[], list[Any]]:
        """The backend call listing this screen's records; each screen below names its own."""
        raise TypeError(f"{type(self).__name__} does not say what it lists (define fetch)")

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="items", cursor_type="row", zebra_stripes=True)
        yield Static(self.EMPTY, id="empty")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#items", DataTable)
        for name in self.COLUMNS:
            table.add_column(name, key=name)
        table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        in_background(self, self.fetch(), self._show, group="items")

    def cells(self, item: Any) -> list[Any]:
        return [_format.cell(getattr(item, c, None)) for c in self.COLUMNS]

    def _show(self, items: list[Any]) -> None:
        self.items = items
        table = self.query_one("#items", DataTable)
        row = table.cursor_row
        table.clear()
        for item in items:
            table.add_row(*self.cells(item), key=str(getattr(item, self.KEY)))
        if items:
            table.move_cursor(row=min(row, len(items) - 1), animate=False)
        self.query_one("#empty", Static).set_class(not items and bool(self.EMPTY), "shown")

    def selected(self) -> Any | None:
        table = self.query_one("#items", DataTable)
        if not table.row_count:
            return None
        return self.items[table.cursor_row]


class FlowsScreen(ResourceScreen):
    TITLE = "Flows"
    COLUMNS = ("flow_name", "flow_version", "status", "updated_at")
    KEY = "flow_name"
    EMPTY = "No flows yet — `dagy deploy` registers one."

    def fetch(self) -> Callable[[], list[Any]]:
        return self.source.catalog.flows


class DeploymentsScreen(ResourceScreen):
    TITLE = "Deployments"
    COLUMNS = (
        "deployment_name",
        "flow_name",
        "flow_version",
        "environment",
        "status",
        "schedule",
        "updated_at",
    )
    KEY = "deployment_name"
    EMPTY = "No deployments yet — `dagy deploy` creates one."

    def fetch(self) -> Callable[[], list[Any]]:
        return self.source.catalog.deployments
