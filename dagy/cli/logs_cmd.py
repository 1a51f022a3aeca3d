"""``dagy logs``: print a run's log or one task run's log."""

from __future__ import annotations

import shutil
import sys

import click


@click.command("logs")
@click.argument("run_id")
@click.option(
    "--task",
    "task_run_id",
    default=None,
    metavar="TASK_RUN_ID",
    help="Show this task run's log (e.g. load-1) instead of the run log.",
)
def logs(run_id: str, task_run_id: str | None) -> None:
    """Display the logs of a run, or of one of its task runs."""
    from dagy.config.paths import DagyPaths
    from dagy.services.runs import local as service

    path = service.log_path(DagyPaths.from_env(), run_id, task_run_id)
    sys.stdout.flush()
    with open(path, "rb") as fh:
        shutil.copyfileobj(fh, sys.stdout.buffer)
    sys.stdout.flush()
