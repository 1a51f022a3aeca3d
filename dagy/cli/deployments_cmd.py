"""``dagy deployments``: list and show deployments, from this home's store or server, or an API."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from dagy.backend import Backend

COLUMNS = ("deployment_name", "flow_name", "flow_version", "status", "schedule", "environment")
# `show`: the fields in this order, one `field: value` line each.
FIELDS = (
    "deployment_name",
    "deployment_id",
    "flow_name",
    "flow_version",
    "status",
    "environment",
    "schedule",
    "timezone",
    "default_executor",
    "execution_mode",
    "max_concurrent_runs",
    "dep_package_slugs",
    "tags",
    "created_at",
    "updated_at",
)


def _backend(profile: str | None) -> Backend:
    from dagy.backend import open_backend
    from dagy.config.paths import DagyPaths

    return open_backend(DagyPaths.from_env(), profile)


def _profile_option(fn: Any) -> Any:
    return click.option("--profile", default=None, help="Dagy profile for the API URL.")(fn)


def _cell(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return "-"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


@click.group("deployments")
def deployments() -> None:
    """Deployments: named versions of flows that `dagy run <deployment>` runs."""


@deployments.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the deployments as JSON.")
@_profile_option
def list_(as_json: bool, profile: str | None) -> None:
    """List every deployment, by name, in the profile's table format."""
    from tabulate import tabulate

    backend = _backend(profile)
    found = backend.catalog.deployments()
    if as_json:
        click.echo(json.dumps([d.to_json() for d in found], indent=2))
        return
    rows = [[_cell(getattr(d, column)) for column in COLUMNS] for d in found]
    click.echo(
        tabulate(rows, headers=COLUMNS, tablefmt=backend.table_format, disable_numparse=True)
    )


@deployments.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the deployment as JSON.")
@_profile_option
def show(name: str, as_json: bool, profile: str | None) -> None:
    """Show one deployment; `Deployment not found: NAME` (exit 3) when there is none."""
    found = _backend(profile).catalog.deployment(name)
    if as_json:
        click.echo(json.dumps(found.to_json(), indent=2))
        return
    for field in FIELDS:
        click.echo(f"{field}: {_cell(getattr(found, field))}")
