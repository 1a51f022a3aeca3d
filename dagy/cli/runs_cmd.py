"""``dagy runs list|show|retry|cancel``: the local run history (cancel also on the API)."""

from __future__ import annotations

import json

import click

from dagy.cli.run_cmd import _report, interrupts_cancel


@click.group("runs")
def runs() -> None:
    """Inspect and retry local runs."""


@runs.command("list")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Newest N runs (0 for all).",
)
@click.option("--status", default=None, help="Only runs with this status (e.g. FAILED).")
@click.option("--flow", "flow_name", default=None, help="Only runs of this flow name.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of lines.")
def list_(limit: int, status: str | None, flow_name: str | None, as_json: bool) -> None:
    """List local runs, newest first: run id, status, start time, flow."""
    from dagy.config.paths import DagyPaths
    from dagy.services.runs import local as service
    from dagy.store.records import iso_z

    records, total = service.list_runs(
        DagyPaths.from_env(), status=status, flow_name=flow_name, limit=limit or None
    )
    if as_json:
        click.echo(json.dumps([r.to_json() for r in records], indent=2))
        return
    lines = [
        f"{r.run_id} {r.status} {iso_z(r.started_at or r.created_at)} {r.flow_id}" for r in records
    ]
    if lines:
        click.echo("\n".join(lines))
    if total > len(records):
        click.echo(f"({len(records)} of {total} runs shown; use --limit 0 for all)", err=True)


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the run and its task runs as JSON.")
def show(run_id: str, as_json: bool) -> None:
    """Show a run and its task runs."""
    from dagy.config.paths import DagyPaths
    from dagy.services.runs import local as service
    from dagy.store.records import iso_z

    run, task_runs = service.show_run(DagyPaths.from_env(), run_id)
    if as_json:
        data = run.to_json()
        data["task_runs"] = [t.to_json() for t in task_runs]
        click.echo(json.dumps(data, indent=2))
        return
    lines = [
        f"Run: {run.run_id} status={run.status} flow={run.flow_id}",
        f"Start: {iso_z(run.started_at)} End: {iso_z(run.ended_at)}",
    ]
    if run.retry_of:
        lines.append(f"Retry of: {run.retry_of}")
    if run.error:
        lines.append(f"Error: {run.error}")
    for t in task_runs:
        lines.append(f"- {t.task_run_id} {t.task_name} status={t.status} attempt={t.attempt}")
        if t.error and t.status != "SUCCEEDED":
            lines.append(f"    error: {t.error}")
    click.echo("\n".join(lines))


@runs.command("retry")
@click.argument("run_id")
@click.option(
    "--max-workers", type=int, default=None, help="Worker threads (default: the original run's)."
)
def retry(run_id: str, max_workers: int | None) -> None:
    """Start a new run of a failed or cancelled run's flow, re-executing only the task runs
    that did not succeed; the artifacts of those that did are reused."""
    from dagy.config.paths import DagyPaths
    from dagy.services.runs import local as service

    paths = DagyPaths.from_env()
    settings = None
    if max_workers is not None:
        old, _ = service.show_run(paths, run_id)
        settings = service.RunSettings(max_workers, old.fail_fast, old.executor)
    with interrupts_cancel():
        record = service.retry_run(run_id, settings, paths)
    _report(record)


@runs.command("cancel")
@click.argument("run_id")
@click.option("--profile", default=None, help="Dagy profile for API URL resolution.")
def cancel(run_id: str, profile: str | None) -> None:
    """Cancel a queued or running run.

    With an API URL (DAGY_API_URL or the profile's) the API cancels it. Otherwise the run is
    local: a running `dagy serve` for this home cancels it (also the runs it queued), else the
    `dagy run` process executing it gets SIGTERM and records it CANCELLED, as on Ctrl+C.
    Prints `Run cancelled: <run_id> status=CANCELLED`.
    """
    import urllib.parse

    from dagy.client.http import DagyClient
    from dagy.config import server_file
    from dagy.config.paths import DagyPaths
    from dagy.config.profiles import load_config, resolve_api_url
    from dagy.errors import APIError, DagyError, RunNotFoundError

    paths = DagyPaths.from_env()
    path = f"/runs/{urllib.parse.quote(run_id, safe='')}/cancel"
    api_url = resolve_api_url(load_config(paths), profile)
    live = None if api_url else server_file.read(paths)
    if api_url:
        DagyClient(api_url, paths=paths).post(path)
    elif live is not None:  # the server owns this home's store and executes its queued runs
        try:
            DagyClient(live.api_url, token=live.token).post(path)
        except APIError as exc:
            if exc.status_code == 404:
                raise RunNotFoundError(run_id) from None
            if exc.status_code == 400:
                raise DagyError(exc.message) from None
            raise
    else:
        from dagy.services.runs import control as run_control
        from dagy.store.shared import open_store

        run_control.cancel_local(open_store(paths), run_id)
    click.echo(f"Run cancelled: {run_id} status=CANCELLED")
