"""``dagy tui``: the terminal dashboard (textual is imported here, never by `dagy --help`)."""

from __future__ import annotations

import click


@click.command("tui")
@click.option("--profile", default=None, help="Look at this profile's API instead of this home.")
def tui(profile: str | None) -> None:
    """Browse runs, task runs, logs, flows, deployments and schedules in the terminal.

    Without an API URL (DAGY_API_URL or the profile's) it looks at this home: its live
    `dagy serve`, else the store file, opened briefly per refresh.
    """
    from dagy.config.paths import DagyPaths
    from dagy.tui.source import open_source

    source = open_source(DagyPaths.from_env(), profile)
    try:
        from dagy.tui.app import DagyApp
    except ImportError:
        from dagy.cli._errors import CONFIG, CLIExit

        raise CLIExit("The TUI needs textual: pip install 'dagy[tui]'", CONFIG) from None
    DagyApp(source).run()
