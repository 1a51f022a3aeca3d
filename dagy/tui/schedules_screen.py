"""Schedules: when each fires and whether it is paused; pause/resume and trigger one now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.binding import Binding

from dagy.tui.resources_screen import ResourceScreen


def _when(item: dict[str, Any]) -> str:
    if item.get("cron_expression"):
        return str(item["cron_expression"])
    if item.get("interval_seconds"):
        return f"every {item['interval_seconds']}s"
    return str(item.get("one_time_at") or item.get("mode") or "-")


class SchedulesScreen(ResourceScreen):
    TITLE = "Schedules"
    COLUMNS = ("schedule_id", "flow_name", "mode", "when", "enabled", "next_run_at", "last_run_id")
    KEY = "schedule_id"
    BINDINGS = [
        *ResourceScreen.BINDINGS,
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("t", "trigger", "Trigger now"),
    ]

    def fetch(self) -> Callable[[], list[dict[str, Any]]]:
        return self.source.schedules

    def cells(self, item: dict[str, Any]) -> list[Any]:
        return [*super().cells({**item, "when": _when(item)})]

    def action_toggle_pause(self) -> None:
        item = self.selected()
        if item is None:
            return
        schedule_id, enabled = str(item["schedule_id"]), not item.get("enabled")

        def done(body: dict[str, Any]) -> None:
            word = "resumed" if body.get("enabled") else "paused"
            self.notify(f"Schedule {schedule_id} {word}")
            self.action_reload()

        call = self.source.set_schedule_enabled
        self.in_background(lambda: call(schedule_id, enabled), done)

    def action_trigger(self) -> None:
        item = self.selected()
        if item is None:
            return
        schedule_id = str(item["schedule_id"])

        def done(message: str) -> None:
            self.notify(message)
            self.action_reload()

        self.in_background(lambda: self.source.trigger_schedule(schedule_id), done)

    def in_background(self, call: Callable[[], Any], done: Callable[[Any], Any]) -> None:
        from dagy.tui._background import in_background

        in_background(self, call, done, group="schedule-action")
