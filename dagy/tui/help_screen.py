"""``?``: the keys of every view in one place."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
[b]Dagy TUI[/b]

[b]Everywhere[/b]   q quit · ? this help · f flows · d deployments · s schedules · escape back (in a log, f is follow)
[b]Runs[/b]         enter open · t cycle status filter · w filter by flow (name prefix) · / open a run by id
             n or moving past the last row loads the next page · escape leaves a box
[b]Run[/b]          enter task run's log · l run log · c cancel · r retry
[b]Log[/b]          f follow on/off · / show only lines containing a text (escape closes it)
[b]Schedules[/b]    p pause/resume · t trigger now

Press escape or ? to close."""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Close"),
        Binding("question_mark", "app.pop_screen", "Close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 90; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(HELP, id="help-text")
