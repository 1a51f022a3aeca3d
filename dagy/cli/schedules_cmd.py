"""``dagy schedules``: list, create, pause, resume, trigger and delete schedules.

On the API of the profile (or DAGY_API_URL) when one is configured, else on this home: through
its live `dagy serve` when one runs, else on the store file itself. Schedules fire only while a
server runs (`dagy serve --local` for one person); see docs/schedules.md.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import click

COLUMNS = ("schedule_id", "flow_name", "mode", "when", "timezone", "enabled", "next_run_at")


class _Api:
    """The schedules routes of an API (a configured one, or this home's live server)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def list(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self.client.paginate("/schedules", limit=100, **filters))

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.client.post("/schedules", body))

    def update(self, schedule_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.client.patch(f"/schedules/{quote(schedule_id, safe='')}", body))

    def trigger(self, schedule_id: str, parameters: dict[str, Any]) -> dict[str, Any]:
        path = f"/schedules/{quote(schedule_id, safe='')}/trigger"
        return dict(self.client.post(path, {"parameters": parameters}))

    def delete(self, schedule_id: str) -> None:
        self.client.delete(f"/schedules/{quote(schedule_id, safe='')}")


class _Local:
    """The same on this home's store file, in its personal org (no server runs)."""

    queued_note = "No server runs for this home: the run starts when `dagy serve` does."

    def __init__(self, store: Any) -> None:
        from dagy.services.triggers import schedules

        self.store, self.service = store, schedules

    def list(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = None
        while True:
            page = self.service.list_page(
                self.store, "personal", limit=100, next_token=token, **filters
            )
            items += page["items"]
            token = page["next_token"]
            if not token:
                return items

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.service.to_body(self.service.create(self.store, "personal", body)))

    def update(self, schedule_id: str, body: dict[str, Any]) -> dict[str, Any]:
        found = self.service.update(self.store, "personal", schedule_id, body)
        return dict(self.service.to_body(found))

    def trigger(self, schedule_id: str, parameters: dict[str, Any]) -> dict[str, Any]:
        return dict(self.service.trigger(self.store, "personal", None, schedule_id, parameters))

    def delete(self, schedule_id: str) -> None:
        self.service.delete(self.store, "personal", schedule_id)


def _backend(profile: str | None) -> Any:
    from dagy.client.http import DagyClient
    from dagy.config import server_file
    from dagy.config.paths import DagyPaths
    from dagy.config.profiles import load_config, resolve_api_url

    paths = DagyPaths.from_env()
    api_url = resolve_api_url(load_config(paths), profile)
    if api_url is not None:
        return _Api(DagyClient(api_url, paths=paths))
    live = server_file.read(paths)
    if live is not None:
        return _Api(DagyClient(live.api_url, live.token))
    from dagy.store.duckdb_store import DuckDBStore

    return _Local(DuckDBStore(paths))


def _when(item: dict[str, Any]) -> str:
    if item.get("cron_expression"):
        return str(item["cron_expression"])
    if item.get("interval_seconds"):
        return f"every {item['interval_seconds']}s"
    return str(item.get("one_time_at") or "")


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

    from dagy.config.paths import DagyPaths
    from dagy.config.profiles import load_config, resolve_table_format

    filters: dict[str, Any] = {"flow_name": flow_name, "mode": mode}
    if enabled is not None:
        filters["enabled"] = "true" if enabled else "false"
    items = _backend(profile).list({k: v for k, v in filters.items() if v is not None})
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    rows = [
        [
            item["schedule_id"],
            item["flow_name"],
            item["mode"],
            _when(item),
            item["timezone"],
            "yes" if item["enabled"] else "no",
            item.get("next_run_at") or "-",
        ]
        for item in items
    ]
    table_format = resolve_table_format(load_config(DagyPaths.from_env()), profile)
    click.echo(tabulate(rows, headers=COLUMNS, tablefmt=table_format, disable_numparse=True))


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
    body = {
        "schedule_id": schedule_id,
        "flow_name": options["flow_name"],
        "flow_version": options["flow_version"],
        "deployment_name": options["deployment"],
        "mode": mode,
        "enabled": not options["disabled"],
        "timezone": options["timezone"],
        "catchup_policy": options["catchup_policy"],
        "cron_expression": options["cron"],
        "interval_seconds": interval,
        "one_time_at": options["one_time_at"],
        "start_at": options["start_at"],
        "end_at": options["end_at"],
        "parameters": parse_param_pairs(options["params"]),
        "description": options["description"],
    }
    made = _backend(options["profile"]).create({k: v for k, v in body.items() if v is not None})
    click.echo(f"Schedule created: {made['schedule_id']} next_run_at={made.get('next_run_at')}")


@schedules.command("pause")
@click.argument("schedule_id")
@_profile_option
def pause(schedule_id: str, profile: str | None) -> None:
    """Stop a schedule firing until it is resumed."""
    _backend(profile).update(schedule_id, {"enabled": False})
    click.echo(f"Schedule paused: {schedule_id}")


@schedules.command("resume")
@click.argument("schedule_id")
@_profile_option
def resume(schedule_id: str, profile: str | None) -> None:
    """Fire a paused schedule again, from its next due time (paused times are not caught up)."""
    found = _backend(profile).update(schedule_id, {"enabled": True})
    click.echo(f"Schedule resumed: {schedule_id} next_run_at={found.get('next_run_at')}")


@schedules.command("trigger")
@click.argument("schedule_id")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Run parameter.")
@_profile_option
def trigger(schedule_id: str, params: tuple[str, ...], profile: str | None) -> None:
    """Queue a run of the schedule now (its parameters, with --param over them)."""
    from dagy.sdk.params import parse_param_pairs

    backend = _backend(profile)
    body = backend.trigger(schedule_id, parse_param_pairs(params))
    click.echo(f"Run queued: {body['run_id']} schedule={schedule_id}")
    if isinstance(backend, _Local):
        click.echo(_Local.queued_note, err=True)


@schedules.command("delete")
@click.argument("schedule_id")
@_profile_option
def delete(schedule_id: str, profile: str | None) -> None:
    """Delete a schedule (its runs stay)."""
    _backend(profile).delete(schedule_id)
    click.echo(f"Schedule deleted: {schedule_id}")
