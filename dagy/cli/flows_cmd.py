"""``dagy flows list``: the flows registered with the API, every page in one table."""

from __future__ import annotations

import click

COLUMNS = ("flow_name", "flow_version", "created_at", "updated_at", "artifact_s3_uri")
MISSING_API_URL = "Missing Dagy API URL. Set DAGY_API_URL or run 'dagy config'."


@click.group("flows")
def flows() -> None:
    """Flows registered with the Dagy API."""


@flows.command("list")
@click.option("--profile", default=None, help="Dagy profile for the API URL.")
@click.option(
    "--limit",
    type=click.IntRange(min=1, max=100),
    default=100,
    show_default=True,
    help="Page size for API pagination.",
)
def list_(profile: str | None, limit: int) -> None:
    """List every deployed flow (all pages) in the profile's table format."""
    from tabulate import tabulate

    from dagy.cli._errors import CONFIG, CLIExit
    from dagy.client.http import DagyClient
    from dagy.config.paths import DagyPaths
    from dagy.config.profiles import load_config, resolve_api_url, resolve_table_format

    paths = DagyPaths.from_env()
    config = load_config(paths)
    api_url = resolve_api_url(config, profile)
    if api_url is None:
        raise CLIExit(MISSING_API_URL, CONFIG)
    items = DagyClient(api_url, paths=paths).paginate("/flows", limit=limit)
    rows = [[_cell(item.get(column)) for column in COLUMNS] for item in items]
    table_format = resolve_table_format(config, profile)
    # Versions are text: without disable_numparse "1.0" would print as "1".
    click.echo(tabulate(rows, headers=COLUMNS, tablefmt=table_format, disable_numparse=True))


def _cell(value: object) -> str:
    return "" if value is None else str(value)
