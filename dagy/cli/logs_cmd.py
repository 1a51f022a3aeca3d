"""``dagy logs``: print a run's log or one task run's log, and follow it while the run goes on."""

from __future__ import annotations

import time

import click

from dagy.cli import _style

FOLLOW_POLL = 0.5  # how often --follow asks for new lines
PAGE = 1000


@click.command("logs")
@click.argument("run_id")
@click.option(
    "--task",
    "task_run_id",
    default=None,
    metavar="TASK_RUN_ID",
    help="Show this task run's log (e.g. load-1) instead of the run log.",
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the run ends.")
@click.option("--profile", default=None, help="Dagy profile (which API, or this home's store).")
def logs(run_id: str, task_run_id: str | None, follow: bool, profile: str | None) -> None:
    """Display the logs of a run, or of one of its task runs. Ctrl+C stops --follow (exit 130)."""
    from dagy.backend import open_backend
    from dagy.config.paths import DagyPaths

    backend = open_backend(DagyPaths.from_env(), profile)
    token: str | None = None
    try:
        while True:
            chunk = backend.runs.logs(run_id, task_run_id, next_token=token, limit=PAGE)
            if chunk.lines:
                click.echo("\n".join(_style.log_line(line.text) for line in chunk.lines))
            token = chunk.next_token
            if token is None:  # the run has ended and every line was read
                return
            if len(chunk.lines) < PAGE:  # all there is for now
                if not follow:
                    return
                time.sleep(FOLLOW_POLL)
    except KeyboardInterrupt:
        raise click.exceptions.Exit(130) from None
