"""`dagy config`."""

from __future__ import annotations

import click


@click.command("config")
def config() -> None:
    """(being written)"""
