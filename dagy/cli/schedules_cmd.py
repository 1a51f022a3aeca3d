"""``dagy schedules``: list, create, pause, resume, trigger and delete schedules.

Through dagy.backend: the API of the profile (or DAGY_API_URL) when one is configured, else this
home's live `dagy serve`, else the store file itself. Schedules fire only while a
server runs (`dagy serve --local` for one person); see docs/schedules.md.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from dagy.backend import Backend

QUEUED_NOTE = "No server runs for this home: the run starts when `dagy serve` does."

COLUMNS = ("schedule_id", "flow_name", "mode", "when", "timezone", "enabled", "next_run_at")


def _backend(profile: str | None) -> Backend:
    from dagy.backend import open_backend
    from dagy.config.paths import DagyPaths

    return open_backend(DagyPaths.from_env(), profile)


def _profile_option(fn: Any) -> Any:
    return click.option("--profile", default=None, help="Dagy profile for the API URL.")(fn)


@click.group("schedules")
def schedules() -> None:
    """Schedules of flows and deployments (cron, interval, one-time, manual)."""


@schedules.command("list")
@click.option("--flow", "flow_name", default=None, help="Only the schedules of this flow.")
@click.option("--mode", type=click.Choice(["cron", "interval", "one_time", "manual"]), default=None)
@click.option("--enabled/--disabled", "enabled", default=None, help="Only enabled (or paused).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's items as JSON.")
@_profile_option
def list_(
    flow_name: str | None,
    mode: str | None,
    enabled: bool | None,
    as_json: bool,
    profile: str | None,
) -> None:
    """List schedules, every page, in the profile's table format."""
    from tabulate import tabulate

    backend = _backend(profile)
    items = backend.schedules.list(flow_name=flow_name, mode=mode, enabled=enabled)
    if as_json:
        click.echo(json.dumps([item.to_json() for item in items], indent=2))
        return
    rows = [
        [
            item.schedule_id,
            item.flow_name,
            item.mode,
            item.when,
            item.timezone,
            "yes" if item.enabled else "no",
            item.next_run_at or "-",
        ]
        for item in items
    ]
    click.echo(
        tabulate(rows, headers=COLUMNS, tablefmt=backend.table_format, disable_numparse=True)
    )


@schedules.command("create")
@click.argument("schedule_id")
@click.option("--flow", "flow_name", default=None, help="The flow to run (its latest version).")
@click.option("--flow-version", default=None, help="Run this version instead of the latest.")
@click.option("--deployment", default=None, help="Run this deployment (instead of --flow).")
@click.option("--cron", default=None, metavar="EXPR", help='A 5-field cron, e.g. "0 9 * * *".')
@click.option("--interval", default=None, metavar="EVERY", help="Seconds, or e.g. 30m, 12h, 1d.")
@click.option("--at", "one_time_at", default=None, metavar="TIME", help="Run once, at this time.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone.")
@click.option(
    "--catchup",
    "catchup_policy",
    type=click.Choice(["skip", "all", "none"]),
    default="skip",
    show_default=True,
    help="After downtime: the latest missed time, every one, or none.",
)
@click.option("--start-at", default=None, help="Not due before this time (ISO 8601).")
@click.option("--end-at", default=None, help="Not due after this time (ISO 8601).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Run parameter.")
@click.option("--description", default=None)
@click.option("--disabled", is_flag=True, help="Create it paused.")
@_profile_option
def create(schedule_id: str, **options: Any) -> None:
    """Create a schedule: --cron, --interval or --at, or none of them for a manual one.

    \b
    Examples:
      dagy schedules create nightly --flow etl --cron "0 2 * * *" --timezone Europe/Berlin
      dagy schedules create poll --deployment my-etl --interval 15m
    """
    from dagy.backend.triggers import NewSchedule
    from dagy.sdk.params import parse_param_pairs

    timing = [k for k in ("cron", "interval", "one_time_at") if options[k]]
    if len(timing) > 1:
        raise click.UsageError("Give one of --cron, --interval and --at")
    mode = {"cron": "cron", "interval": "interval", "one_time_at": "one_time"}.get(
        timing[0] if timing else "", "manual"
    )
    interval: Any = options["interval"]
    if interval is not None and interval.isdigit():
        interval = int(interval)
    new = NewSchedule(
        schedule_id=schedule_id,
        flow_name=options["flow_name"],
        flow_version=options["flow_version"],
        deployment_name=options["deployment"],
        mode=mode,
        enabled=not options["disabled"],
        timezone=options["timezone"],
        catchup_policy=options["catchup_policy"],
        cron_expression=options["cron"],
        interval_seconds=interval,
        one_time_at=options["one_time_at"],
        start_at=options["start_at"],
        end_at=options["end_at"],
        parameters=parse_param_pairs(options["params"]),
        description=options["description"],
    )
    made = _backend(options["profile"]).schedules.create(new)
    click.echo(f"Schedule created: {made.schedule_id} next_run_at={made.next_run_at}")


@schedules.command("pause")
@click.argument("schedule_id")
@_profile_option
def pause(schedule_id: str, profile: str | None) -> None:
    """Stop a schedule firing until it is resumed."""
    _backend(profile).schedules.set_enabled(schedule_id, False)
    click.echo(f"Schedule paused: {schedule_id}")


@schedules.command("resume")
@click.argument("schedule_id")
@_profile_option
def resume(schedule_id: str, profile: str | None) -> None:
    """Fire a paused schedule again, from its next due time (paused times are not caught up)."""
    found = _backend(profile).schedules.set_enabled(schedule_id, True)
    click.echo(f"Schedule resumed: {schedule_id} next_run_at={found.next_run_at}")


@schedules.command("trigger")
@click.argument("schedule_id")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Run parameter.")
@_profile_option
def trigger(schedule_id: str, params: tuple[str, ...], profile: str | None) -> None:
    """Queue a run of the schedule now (its parameters, with --param over them)."""
    from dagy.sdk.params import parse_param_pairs

    backend = _backend(profile)
    run_id = backend.schedules.trigger(schedule_id, parse_param_pairs(params))
    click.echo(f"Run queued: {run_id} schedule={schedule_id}")
    if backend.mode == "store":
        click.echo(QUEUED_NOTE, err=True)


@schedules.command("delete")
@click.argument("schedule_id")
@_profile_option
def delete(schedule_id: str, profile: str | None) -> None:
    """Delete a schedule (its runs stay)."""
    _backend(profile).schedules.delete(schedule_id)
    click.echo(f"Schedule deleted: {schedule_id}")
