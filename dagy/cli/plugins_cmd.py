"""``dagy plugins list``: the executors and artifact stores installed, and any that fail to load."""

from __future__ import annotations

import json

import click


@click.group("plugins")
def plugins() -> None:
    """Installed plugins (entry points in the dagy.* groups)."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
def list_(as_json: bool) -> None:
    """List built-in and plugin executors and artifact stores; a broken one shows why."""
    from tabulate import tabulate

    from dagy.plugins import discover

    found = discover()
    if as_json:
        click.echo(json.dumps([{**p.__dict__, "ok": p.ok} for p in found], indent=2))
        return
    rows = [
        [
            p.kind,
            p.name,
            f"{p.distribution} {p.version}" if p.distribution else "-",
            "ok" if p.ok else f"broken: {p.error}",
        ]
        for p in found
    ]
    click.echo(tabulate(rows, headers=("kind", "name", "package", "status"), disable_numparse=True))
