"""`dagy build`."""

from __future__ import annotations

import click


@click.command("build")
def build() -> None:
    """(being written)"""
