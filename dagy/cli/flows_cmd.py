"""``dagy flows list``: the flows registered in this home's store, its live server or an API."""

from __future__ import annotations

import click

COLUMNS = ("flow_name", "flow_version", "created_at", "updated_at", "artifact_s3_uri")


@click.group("flows")
def flows() -> None:
    """Flows registered with Dagy (this home's store or server, or the API)."""


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
    """List every flow (all pages) in the profile's table format.

    With an API URL (DAGY_API_URL or the profile's) the API's flows; otherwise this home's: from
    its live `dagy serve`, else from its store file.
    """
    from tabulate import tabulate

    from dagy.backend import open_backend
    from dagy.config.paths import DagyPaths

    backend = open_backend(DagyPaths.from_env(), profile)
    rows = [
        [_cell(getattr(flow, "artifact_uri" if c == "artifact_s3_uri" else c)) for c in COLUMNS]
        for flow in backend.catalog.flows(page_size=limit)
    ]
    # Versions are text: without disable_numparse "1.0" would print as "1".
    click.echo(
        tabulate(rows, headers=COLUMNS, tablefmt=backend.table_format, disable_numparse=True)
    )


def _cell(value: object) -> str:
    return "" if value is None else str(value)
