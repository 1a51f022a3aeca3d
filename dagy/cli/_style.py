"""Colours for states and log levels. click.echo drops them when stdout is not a terminal, so
scripts and tests read the plain words."""

from __future__ import annotations

import click

STATE_COLOURS = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "UPSTREAM_FAILED": "red",
    "SKIPPED": "bright_black",
    "CANCELLED": "yellow",
    "RUNNING": "cyan",
    "RETRYING": "magenta",
    "PENDING": "blue",
}
LEVEL_COLOURS = {"ERROR": "red", "CRITICAL": "red", "WARNING": "yellow", "DEBUG": "bright_black"}


def state(word: str) -> str:
    colour = STATE_COLOURS.get(word)
    return click.style(word, fg=colour) if colour else word


def log_line(text: str) -> str:
    """``<time> LEVEL message`` with its level coloured."""
    stamp, sep, rest = text.partition(" ")
    level, sep2, message = rest.partition(" ")
    colour = LEVEL_COLOURS.get(level)
    if not sep or not colour:
        return text
    return f"{stamp} {click.style(level, fg=colour, bold=level != 'DEBUG')}{sep2}{message}"
