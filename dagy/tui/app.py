"""``DagyApp``: the TUI over one data source (dagy/tui/source.py), opening on the runs view."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding

from dagy.tui.source import Source


class DagyApp(App[None]):
    """Runs, a run, logs, flows, deployments and schedules of ``source``."""

    TITLE = "Dagy"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("f", "flows", "Flows"),
        Binding("d", "deployments", "Deployments"),
        Binding("s", "schedules", "Schedules"),
    ]

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source

    def on_mount(self) -> None:
        from dagy.tui.runs_screen import RunsScreen

        self.sub_title = self.source.label
        self.push_screen(RunsScreen(self.source))

    def action_help(self) -> None:
        from dagy.tui.help_screen import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_flows(self) -> None:
        from dagy.tui.resources_screen import FlowsScreen

        self.push_screen(FlowsScreen(self.source))

    def action_deployments(self) -> None:
        from dagy.tui.resources_screen import DeploymentsScreen

        self.push_screen(DeploymentsScreen(self.source))

    def action_schedules(self) -> None:
        from dagy.tui.schedules_screen import SchedulesScreen

        self.push_screen(SchedulesScreen(self.source))
