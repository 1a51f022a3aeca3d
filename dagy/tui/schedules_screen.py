"""Schedules: when each fires and whether it is paused; pause/resume and trigger one now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.binding import Binding

from dagy.tui.resources_screen import ResourceScreen


def _when(item: Any) -> str:
    if getattr(item, "cron_expression", None):
        return str(item.cron_expression)
    if getattr(item, "interval_seconds", None):
        return f"every {item.interval_seconds}s"
    return str(getattr(item, "one_time_at", None) or getattr(item, "mode", None) or "-")


class SchedulesScreen(ResourceScreen):
    TITLE = "Schedules"
    COLUMNS = ("schedule_id", "flow_name", "mode", "when", "enabled", "next_run_at", "last_run_id")
    KEY = "schedule_id"
    EMPTY = "No schedules — `dagy schedules create` adds one."
    BINDINGS = [
        *ResourceScreen.BINDINGS,
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("t", "trigger", "Trigger now"),
    ]

    def fetch(self) -> Callable[[], list[Any]]:
        return self.source.schedules.list

    def cells(self, item: Any) -> list[Any]:
        cells = super().cells(item)
        cells[self.COLUMNS.index("when")] = _when(item)
        return cells

    def action_toggle_pause(self) -> None:
        item = self.selected()
        if item is None:
            return
        schedule_id, enabled = str(item.schedule_id), not item.enabled

        def done(schedule: Any) -> None:
            word = "resumed" if schedule.enabled else "paused"
            self.notify(f"Schedule {schedule_id} {word}")
            self.action_reload()

        call = self.source.schedules.set_enabled
        self.in_background(lambda: call(schedule_id, enabled), done)

    def action_trigger(self) -> None:
        item = self.selected()
        if item is None:
            return
        schedule_id = str(item.schedule_id)
        # On the store file, nothing executes a queued run until `dagy serve` starts.
        later = " (it starts when `dagy serve` does)" if self.source.mode == "store" else ""

        def done(run_id: str) -> None:
            self.notify(f"Schedule {schedule_id} triggered: run {run_id} is queued{later}")
            self.action_reload()

        self.in_background(lambda: self.source.schedules.trigger(schedule_id, {}), done)

    def in_background(self, call: Callable[[], Any], done: Callable[[Any], Any]) -> None:
        from dagy.tui._background import in_background

        in_background(self, call, done, group="schedule-action")
