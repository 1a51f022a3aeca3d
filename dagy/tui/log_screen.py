"""A run's log or one task run's: follow mode tails it as the run writes; ``/`` searches it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Log, Static

from dagy.backend.records import LogChunk
from dagy.tui._background import in_background
from dagy.tui.source import LOG_PAGE, Source

FOLLOW_SECONDS = 0.5


class LogScreen(Screen[None]):
    """``f`` toggles follow mode, ``/`` filters the lines to those containing a text."""

    TITLE = "Log"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("f", "toggle_follow", "Follow"),
        Binding("slash", "search", "Search"),
    ]
    DEFAULT_CSS = """
    LogScreen #log-title { height: 1; padding: 0 1; background: $boost; }
    LogScreen #log-search { display: none; }
    LogScreen #log-search.shown { display: block; }
    """

    def __init__(self, source: Source, run_id: str, task_run_id: str | None = None) -> None:
        super().__init__()
        self.source, self.run_id, self.task_run_id = source, run_id, task_run_id
        self.lines: list[str] = []
        self.next_token: str | None = None
        self.follow = True
        self.complete = False
        self.search = ""
        self._busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="log-title")
        yield Input(placeholder="show lines containing… (enter; empty clears)", id="log-search")
        yield Log(id="log", highlight=False, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Log {self.run_id}" + (f" / {self.task_run_id}" if self.task_run_id else "")
        self._title()
        self.query_one(Log).focus()
        self.poll()
        self.set_interval(FOLLOW_SECONDS, self._tick)

    def _tick(self) -> None:
        if self.follow and not self.complete:
            self.poll()

    def poll(self) -> None:
        """Read what the log has beyond what is shown (all of it, the first time)."""
        if self._busy:
            return
        self._busy = True
        token = self.next_token

        def read() -> list[LogChunk]:
            runs = self.source.runs
            chunks = [runs.logs(self.run_id, self.task_run_id, next_token=token, limit=LOG_PAGE)]
            while len(chunks[-1].lines) == LOG_PAGE and chunks[-1].next_token:
                more = chunks[-1].next_token
                chunks.append(
                    runs.logs(self.run_id, self.task_run_id, next_token=more, limit=LOG_PAGE)
                )
            return chunks

        def failed(_: str) -> None:
            self._busy = False
            self.follow = False  # one notice, not one every half second
            self._title()

        in_background(self, read, self._append, group="log", failed=failed)

    def _append(self, chunks: list[LogChunk]) -> None:
        self._busy = False
        new = [str(line) for chunk in chunks for line in chunk.lines]
        self.next_token = chunks[-1].next_token
        self.complete = self.next_token is None
        self.lines += new
        shown = [line for line in new if self._matches(line)]
        if shown:
            self.query_one(Log).write_lines(shown)
        self._title()

    def _matches(self, line: str) -> bool:
        return not self.search or self.search.lower() in line.lower()

    def _title(self) -> None:
        what = f"task run {self.task_run_id}" if self.task_run_id else "run log"
        state = "complete" if self.complete else ("following" if self.follow else "paused")
        parts = [f"{what} of {self.run_id}", f"{len(self.lines)} lines", state]
        if self.search:
            found = sum(1 for line in self.lines if self._matches(line))
            parts.append(f"{found} matching '{self.search}'")
        self.query_one("#log-title", Static).update(" · ".join(parts))

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self._title()
        if self.follow:
            self.poll()

    def action_search(self) -> None:
        field = self.query_one("#log-search", Input)
        field.add_class("shown")
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._apply(event.value.strip())
        if not self.search:
            event.input.remove_class("shown")

    def _apply(self, search: str) -> None:
        self.search = search
        log = self.query_one(Log)
        log.clear()
        log.write_lines([line for line in self.lines if self._matches(line)])
        log.focus()
        self._title()

    def action_back(self) -> None:
        """While the search box is open (typed in or applied), escape closes it and shows every
        line again; only then does it leave the log."""
        field = self.query_one("#log-search", Input)
        if field.has_class("shown"):
            field.remove_class("shown")
            field.value = ""
            self._apply("")
        else:
            self.app.pop_screen()
