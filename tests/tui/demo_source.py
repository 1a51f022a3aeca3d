"""A Source with fixed data: the same pixels every time, for snapshot tests and docs screenshots.

python -m tests.tui.demo_source docs/images   # writes tui-runs.svg, tui-run.svg, ...
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from dagy.tui.source import LogChunk, RunDetail, RunsPage

FLOWS = ("daily_etl", "reports", "ml_train")
STATUSES = ("completed", "completed", "failed", "completed", "cancelled", "completed", "queued")
TASKS = [
    ("extract-1", "extract", "SUCCEEDED", 1, 1, 1.2, None),
    ("clean-1", "clean", "SUCCEEDED", 1, 1, 0.4, None),
    ("enrich-1", "enrich", "SUCCEEDED", 2, 3, 3.1, None),
    ("load-1", "load", "FAILED", 3, 3, 0.9, "ConnectionError: warehouse refused the connection"),
    ("notify-1", "notify", "UPSTREAM_FAILED", 0, 1, None, None),
]
EDGES = [["extract-1", "clean-1"], ["extract-1", "enrich-1"], ["clean-1", "load-1"]]
EDGES += [["enrich-1", "load-1"], ["load-1", "notify-1"]]
LOG = [
    "2026-03-04T12:00:00.000Z [INFO] run daily_etl-20260304T120000Z-a1b2c3 started flow=daily_etl:1.0.0",
    "2026-03-04T12:00:00.010Z [INFO] task extract-1 running",
    "2026-03-04T12:00:01.210Z [INFO] task extract-1 succeeded",
    "2026-03-04T12:00:01.220Z [INFO] task clean-1 running",
    "2026-03-04T12:00:01.230Z [INFO] task enrich-1 running",
    "2026-03-04T12:00:02.100Z [WARNING] task enrich-1 attempt 1 failed: timeout; retrying in 1s",
    "2026-03-04T12:00:04.400Z [INFO] task enrich-1 succeeded",
    "2026-03-04T12:00:04.500Z [INFO] task load-1 running",
    "2026-03-04T12:00:05.400Z [ERROR] task load-1 failed: ConnectionError: warehouse refused",
    "2026-03-04T12:00:05.410Z [ERROR] run daily_etl-20260304T120000Z-a1b2c3 finished status=FAILED",
]


def _run(i: int) -> dict[str, Any]:
    flow = FLOWS[i % 3]
    minute = 59 - i
    status = STATUSES[i % len(STATUSES)]
    stamp = f"2026-03-04T11:{minute:02d}:00Z"
    run_id = f"{flow}-20260304T11{minute:02d}00Z-{i:06x}"
    if i == 2:
        flow, run_id = "daily_etl", "daily_etl-20260304T120000Z-a1b2c3"
        stamp = "2026-03-04T12:00:00Z"
    return {
        "run_id": run_id,
        "flow_name": flow,
        "flow_version": "1.0.0",
        "status": status,
        "created_at": stamp,
        "started_at": None if status == "queued" else stamp,
        "duration_seconds": None if status == "queued" else 2.5 + i * 7,
        "trigger": ("cli", "schedule", "api", "retry")[i % 4],
    }


class DemoSource:
    label = "local /home/ada/.dagy · store /home/ada/.dagy/dagy.duckdb"

    def __init__(self) -> None:
        self.runs = sorted(
            (_run(i) for i in range(30)), key=lambda r: r["created_at"], reverse=True
        )

    def runs_page(
        self, *, status: str | None, flow_name: str | None, next_token: str | None, limit: int
    ) -> RunsPage:
        rows = [r for r in self.runs if status in (None, r["status"])]
        rows = [r for r in rows if flow_name in (None, r["flow_name"])]
        start = int(next_token or 0)
        token = str(start + limit) if start + limit < len(rows) else None
        return RunsPage(rows[start : start + limit], token)

    def find_run(self, run_id: str) -> dict[str, Any] | None:
        return next((r for r in self.runs if r["run_id"] == run_id), None)

    def run(self, run_id: str) -> RunDetail:
        run = {**(self.find_run(run_id) or self.runs[0]), "tags": ["schedule"]}
        if run["status"] == "failed":
            run["error"] = "TaskFailedError: Task load failed: ConnectionError"
        tasks = [
            {
                "task_run_id": t,
                "task_name": n,
                "status": s,
                "attempt": a,
                "max_attempts": m,
                "duration_seconds": d,
                "error": e,
            }
            for t, n, s, a, m, d, e in TASKS
        ]
        return RunDetail(run, tasks, EDGES)

    def logs(self, run_id: str, task_run_id: str | None, next_token: str | None) -> LogChunk:
        return LogChunk([] if next_token else LOG, None)

    def cancel(self, run_id: str) -> str:
        return f"Run cancelled: {run_id} status=CANCELLED"

    def retry(self, run_id: str) -> str:
        return f"Retry queued for {run_id}"

    def flows(self) -> list[dict[str, Any]]:
        return [
            {
                "flow_name": f,
                "flow_version": "1.0.0",
                "status": "active",
                "updated_at": "2026-03-01T09:00:00Z",
            }
            for f in FLOWS
        ]

    def deployments(self) -> list[dict[str, Any]]:
        return [
            {
                "deployment_name": f"{f}-prod",
                "flow_name": f,
                "flow_version": "1.0.0",
                "environment": "production",
                "status": "active",
                "schedule": "0 6 * * *" if f == "daily_etl" else None,
                "updated_at": "2026-03-01T09:00:00Z",
            }
            for f in FLOWS
        ]

    def schedules(self) -> list[dict[str, Any]]:
        return [
            {
                "schedule_id": "sched-daily",
                "flow_name": "daily_etl",
                "mode": "cron",
                "cron_expression": "0 6 * * *",
                "enabled": True,
                "next_run_at": "2026-03-05T06:00:00Z",
                "last_run_id": "daily_etl-20260304T060000Z-0f0f0f",
            },
            {
                "schedule_id": "sched-reports",
                "flow_name": "reports",
                "mode": "interval",
                "interval_seconds": 900,
                "enabled": False,
                "next_run_at": None,
                "last_run_id": None,
            },
        ]

    def set_schedule_enabled(self, schedule_id: str, enabled: bool) -> dict[str, Any]:
        return {"schedule_id": schedule_id, "enabled": enabled}

    def trigger_schedule(self, schedule_id: str) -> str:
        return f"Schedule {schedule_id} triggered"


# What each main screen is, as key presses from the start (the runs view).
SCREENS = {
    "runs": (),
    "run": ("enter",),
    "log": ("enter", "l"),
    "schedules": ("s",),
}
SIZE = (130, 34)


async def save_screenshots(folder: Path) -> list[Path]:
    from dagy.tui.app import DagyApp
    from tests.tui.conftest import settle

    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for name, keys in SCREENS.items():
        app = DagyApp(DemoSource())
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            for key in keys:
                await pilot.press(key)
                await settle(pilot)
            saved.append(Path(app.save_screenshot(f"tui-{name}.svg", str(folder))))
    return saved


if __name__ == "__main__":
    for path in asyncio.run(
        save_screenshots(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images"))
    ):
        print(path)
