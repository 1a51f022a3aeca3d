"""``dagy sensors``: list, create, show, pause, resume, test and delete sensors (docs/sensors.md).

Through dagy.backend: the API of the profile (or DAGY_API_URL), else this home's live
`dagy serve`, else the store file. Sensors look and receive webhooks only while a server runs.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from dagy.backend import Backend

COLUMNS = ("sensor_id", "name", "sensor_type", "flow_name", "enabled", "created_at")
FIELDS = (
    "sensor_id",
    "name",
    "sensor_type",
    "flow_name",
    "enabled",
    "config_json",
    "flow_params_json",
    "webhook_token",
    "created_at",
    "last_checked_at",
    "last_triggered_at",
    "last_run_id",
    "last_error",
)
QUEUED_NOTE = "No server runs for this home: the run starts when `dagy serve` does."


def _backend(profile: str | None) -> Backend:
    from dagy.backend import open_backend
    from dagy.config.paths import DagyPaths

    return open_backend(DagyPaths.from_env(), profile)


def _profile_option(fn: Any) -> Any:
    return click.option("--profile", default=None, help="Dagy profile for the API URL.")(fn)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _json_value(text: str) -> Any:
    """``--config`` values: JSON when they parse (30, true, ["a"]), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _pairs(pairs: tuple[str, ...], option: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"Invalid {option} '{pair}', expected KEY=VALUE")
        out[key.strip()] = _json_value(value)
    return out


@click.group("sensors")
def sensors() -> None:
    """Sensors: start runs of a flow on a webhook, a polled value or a new S3 key."""


@sensors.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the sensors as JSON.")
@_profile_option
def list_(as_json: bool, profile: str | None) -> None:
    """List every sensor, oldest first, in the profile's table format."""
    from tabulate import tabulate

    backend = _backend(profile)
    found = backend.sensors.list()
    if as_json:
        keys = ("sensor_id", "name", "sensor_type", "flow_name", "enabled", "created_at")
        click.echo(json.dumps([{k: getattr(s, k) for k in keys} for s in found], indent=2))
        return
    rows = [[_cell(getattr(s, column)) for column in COLUMNS] for s in found]
    click.echo(
        tabulate(rows, headers=COLUMNS, tablefmt=backend.table_format, disable_numparse=True)
    )


@sensors.command("create")
@click.argument("name")
@click.option(
    "--type",
    "sensor_type",
    type=click.Choice(["webhook", "polling", "s3"]),
    required=True,
    help="What the sensor watches.",
)
@click.option("--flow", "flow_name", required=True, help="The flow its runs run.")
@click.option(
    "--config",
    "config",
    multiple=True,
    metavar="KEY=VALUE",
    help="A config_json key (url, interval_seconds, bucket, prefix, check, ...); JSON values parse.",
)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Run parameter.")
@click.option("--disabled", is_flag=True, help="Create it paused.")
@_profile_option
def create(
    name: str,
    sensor_type: str,
    flow_name: str,
    config: tuple[str, ...],
    params: tuple[str, ...],
    disabled: bool,
    profile: str | None,
) -> None:
    """Create a sensor. A webhook sensor's token is printed this once: keep it.

    \b
    Examples:
      dagy sensors create orders --type webhook --flow ingest --param source=shop
      dagy sensors create version --type polling --flow deploy \\
          --config url=https://example.com/version.json --config json_field=version
      dagy sensors create drops --type s3 --flow ingest --config bucket=landing --config prefix=in/
    """
    from dagy.backend.triggers import NewSensor

    new = NewSensor(
        name=name,
        sensor_type=sensor_type,
        flow_name=flow_name,
        config_json=_pairs(config, "--config"),
        flow_params_json=_pairs(params, "--param"),
        enabled=not disabled,
    )
    made = _backend(profile).sensors.create(new)
    click.echo(
        f"Sensor created: {made.sensor_id} name={made.name} type={made.sensor_type} "
        f"flow={made.flow_name} enabled={_cell(made.enabled)}"
    )
    if made.webhook_token:
        click.echo(f"Webhook token (shown once): {made.webhook_token}")


@sensors.command("show")
@click.argument("sensor_id")
@click.option("--json", "as_json", is_flag=True, help="Print the sensor as JSON.")
@_profile_option
def show(sensor_id: str, as_json: bool, profile: str | None) -> None:
    """Show one sensor (a webhook's token only as its hint)."""
    found = _backend(profile).sensors.get(sensor_id)
    if as_json:
        click.echo(json.dumps(found.to_json(), indent=2))
        return
    for field in FIELDS:
        click.echo(f"{field}: {_cell(getattr(found, field))}")


@sensors.command("pause")
@click.argument("sensor_id")
@_profile_option
def pause(sensor_id: str, profile: str | None) -> None:
    """Stop a sensor looking (its webhook answers 404) until it is resumed."""
    _backend(profile).sensors.set_enabled(sensor_id, False)
    click.echo(f"Sensor paused: {sensor_id}")


@sensors.command("resume")
@click.argument("sensor_id")
@_profile_option
def resume(sensor_id: str, profile: str | None) -> None:
    """Let a paused sensor look again (at once) and receive webhooks."""
    _backend(profile).sensors.set_enabled(sensor_id, True)
    click.echo(f"Sensor resumed: {sensor_id}")


@sensors.command("test")
@click.argument("sensor_id")
@_profile_option
def test(sensor_id: str, profile: str | None) -> None:
    """Look once now and queue a run of what was seen (exit 2 when the look fails)."""
    backend = _backend(profile)
    run_id = backend.sensors.test(sensor_id)
    click.echo(f"Run queued: {run_id} sensor={sensor_id}")
    if backend.mode == "store":
        click.echo(QUEUED_NOTE, err=True)


@sensors.command("delete")
@click.argument("sensor_id")
@_profile_option
def delete(sensor_id: str, profile: str | None) -> None:
    """Delete a sensor (its runs stay)."""
    _backend(profile).sensors.delete(sensor_id)
    click.echo(f"Sensor deleted: {sensor_id}")
