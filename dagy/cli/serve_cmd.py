"""``dagy serve``: the REST API over this machine's store."""

from __future__ import annotations

import click

from dagy.cli._errors import USAGE, CLIExit
from dagy.cli._help import HomeCommand


@click.command(cls=HomeCommand)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; loopback unless you mean to expose the server.",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port; server.json tells which).",
)
@click.option("--base-path", default="/v1", show_default=True, help="Path prefix of the API.")
@click.option(
    "--local",
    "local",
    is_flag=True,
    help="Single user on loopback, no passwords: POST /auth/login takes an email alone.",
)
@click.option(
    "--email",
    "local_email",
    default="local@localhost",
    show_default=True,
    help="With --local: the account created on first start.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve(
    host: str, port: int, base_path: str, local: bool, local_email: str, log_level: str
) -> None:
    """Serve the Dagy REST API from this machine's store (~/.dagy/dagy.duckdb).

    While it runs, the server owns the store: `dagy run`, `dagy runs` and `dagy logs` in other
    terminals reach it through the server. Stop with Ctrl+C (in-flight requests finish first).
    """
    try:
        import litestar  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise CLIExit(
            "dagy serve needs the server extra: pip install 'dagy[server]'", USAGE
        ) from None
    from dagy.server.runner import ServeOptions
    from dagy.server.runner import serve as run_server

    run_server(ServeOptions(host, port, base_path, local, local_email, log_level))
    # Stopped cleanly: the store is closed, server.json removed, the run workers' children
    # reaped. What is left is the interpreter tearing down Litestar, DuckDB and ~900 modules,
    # ~0.1 s of CPU that nobody waits for the result of: flush and leave.
    import logging
    import os
    import sys

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
