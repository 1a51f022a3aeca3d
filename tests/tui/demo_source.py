"""A backend with fixed data: the same pixels every time, for snapshot tests and docs screenshots.

python -m tests.tui.demo_source docs/images   # writes tui-runs.svg, tui-run.svg, ...
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from dagy.backend.catalog import Deployment, Flow
from dagy.backend.records import LogChunk, LogLine, Run, RunDetail, RunsPage, TaskRun
from dagy.backend.triggers import Schedule

FLOWS = ("daily_etl", "reports", "ml_train")
STATUSES = ("SUCCEEDED", "SUCCEEDED", "FAILED", "SUCCEEDED", "CANCELLED", "SUCCEEDED", "PENDING")
TASKS = [
    ("extract-1", "extract", "SUCCEEDED", 1, 1, 1.2, None),
    ("clean-1", "clean", "SUCCEEDED", 1, 1, 0.4, None),
    ("enrich-1", "enrich", "SUCCEEDED", 2, 3, 3.1, None),
    ("load-1", "load", "FAILED", 3, 3, 0.9, "ConnectionError: warehouse refused the connection"),
    ("notify-1", "notify", "UPSTREAM_FAILED", 0, 1, None, None),
]
EDGES = [("extract-1", "clean-1"), ("extract-1", "enrich-1"), ("clean-1", "load-1")]
EDGES += [("enrich-1", "load-1"), ("load-1", "notify-1")]
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


def _run(i: int) -> Run:
    flow = FLOWS[i % 3]
    minute = 59 - i
    status = STATUSES[i % len(STATUSES)]
    at = dt.datetime(2026, 3, 4, 11, minute)
    run_id = f"{flow}-20260304T11{minute:02d}00Z-{i:06x}"
    if i == 2:
        flow, run_id = "daily_etl", "daily_etl-20260304T120000Z-a1b2c3"
        at = dt.datetime(2026, 3, 4, 12, 0)
    started = None if status == "PENDING" else at
    ended = None if started is None else started + dt.timedelta(seconds=2.5 + i * 7)
    return Run(
        run_id=run_id,
        flow_name=flow,
        flow_version="1.0.0",
        status=status,
        created_at=at,
        started_at=started,
        ended_at=ended,
        trigger=("cli", "schedule", "api", "retry")[i % 4],
        tags=["schedule"],
        error="TaskFailedError: Task load failed: ConnectionError" if status == "FAILED" else None,
    )


class DemoRuns:
    def __init__(self) -> None:
        self.runs = sorted((_run(i) for i in range(30)), key=lambda r: r.run_id)
        self.runs.sort(key=lambda r: r.created_at or dt.datetime.min, reverse=True)

    def list(
        self,
        *,
        status: str | None = None,
        flow_name: str | None = None,
        limit: int = 100,
        next_token: str | None = None,
    ) -> RunsPage:
        rows = [r for r in self.runs if status in (None, r.status)]
        rows = [r for r in rows if flow_name in (None, r.flow_name)]
        start = int(next_token or 0)
        token = str(start + limit) if start + limit < len(rows) else None
        return RunsPage(rows[start : start + limit], token)

    def get(self, run_id: str) -> RunDetail:
        from dagy.errors import RunNotFoundError

        run = next((r for r in self.runs if r.run_id == run_id), None)
        if run is None:
            raise RunNotFoundError(run_id)
        tasks = [
            TaskRun(t, n, s, a, m, duration_seconds=d, error=e) for t, n, s, a, m, d, e in TASKS
        ]
        return RunDetail(run, tasks, list(EDGES))

    def logs(
        self,
        run_id: str,
        task_run_id: str | None = None,
        *,
        next_token: str | None = None,
        limit: int = 1000,
    ) -> LogChunk:
        lines = [LogLine(*line.split(" ", 1)) for line in LOG]
        return LogChunk([] if next_token else lines, None)

    def cancel(self, run_id: str) -> Run:
        return self.get(run_id).run

    def start_retry(self, run_id: str) -> str:
        return "daily_etl-20260304T120100Z-d4e5f6"


class DemoCatalog:
    def flows(self) -> list[Flow]:
        return [
            Flow(
                flow_name=f,
                flow_version="1.0.0",
                status="active",
                updated_at="2026-03-01T09:00:00Z",
            )
            for f in FLOWS
        ]

    def deployments(self) -> list[Deployment]:
        return [
            Deployment(
                deployment_name=f"{f}-prod",
                flow_name=f,
                flow_version="1.0.0",
                environment="production",
                status="active",
                schedule="0 6 * * *" if f == "daily_etl" else None,
                updated_at="2026-03-01T09:00:00Z",
            )
            for f in FLOWS
        ]


class DemoSchedules:
    def __init__(self) -> None:
        self.items = [
            Schedule(
                schedule_id="sched-daily",
                flow_name="daily_etl",
                mode="cron",
                cron_expression="0 6 * * *",
                enabled=True,
                timezone="UTC",
                next_run_at="2026-03-05T06:00:00Z",
                last_run_id="daily_etl-20260304T060000Z-0f0f0f",
            ),
            Schedule(
                schedule_id="sched-reports",
                flow_name="reports",
                mode="interval",
                interval_seconds=900,
                enabled=False,
                timezone="UTC",
                next_run_at=None,
                last_run_id=None,
            ),
        ]

    def list(self) -> list[Schedule]:
        return list(self.items)

    def set_enabled(self, schedule_id: str, enabled: bool) -> Schedule:
        found = next(s for s in self.items if s.schedule_id == schedule_id)
        return dataclasses.replace(found, enabled=enabled)

    def trigger(self, schedule_id: str, parameters: dict[str, Any]) -> str:
        return "daily_etl-20260304T120200Z-abcdef"


class DemoSource:
    """The backend's shape (label, runs, catalog, schedules) over fixed data."""

    mode = "store"
    label = "local /home/ada/.dagy · store /home/ada/.dagy/dagy.duckdb"

    def __init__(self) -> None:
        self.runs = DemoRuns()
        self.catalog = DemoCatalog()
        self.schedules = DemoSchedules()


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
