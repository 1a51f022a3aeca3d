"""Help that names paths under the Dagy home as they are: ``~/.dagy`` becomes ``DAGY_LOCAL_DIR``.

A command's docstring and its options' defaults say ``~/.dagy/...``; with ``DAGY_LOCAL_DIR`` set,
``--help`` shows that folder instead, resolved when the help is printed (docs/cli.md).
"""

from __future__ import annotations

import click

HOME = "~/.dagy"


def under_home(text: str) -> str:
    """``text`` with ``~/.dagy`` replaced by the home ``DAGY_LOCAL_DIR`` names, when it is set."""
    from dagy.config import settings

    if not settings.LOCAL_DIR.is_set():
        return text
    return text.replace(HOME, str(settings.local_dir()))


class HomeCommand(click.Command):
    """A click command whose help (text, options, defaults) shows the real Dagy home."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        inner = ctx.make_formatter()
        super().format_help(ctx, inner)
        formatter.write(under_home(inner.getvalue()))
