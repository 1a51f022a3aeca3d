"""``dagy users``: accounts of `dagy serve` (the first owner is created here)."""

from __future__ import annotations

import sys

import click

from dagy.cli._errors import USAGE, CLIExit


@click.group()
def users() -> None:
    """Manage the accounts of `dagy serve`."""


@users.command("create")
@click.option("--email", required=True, help="The account's email address.")
@click.option(
    "--role",
    default="developer",
    show_default=True,
    type=click.Choice(["owner", "admin", "developer", "viewer"]),
)
@click.option(
    "--org",
    "org_id",
    default="personal",
    show_default=True,
    help="The organization to add the account to.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
def create(email: str, role: str, org_id: str, password_stdin: bool) -> None:
    """Create an account (or set the password of an invited one).

    Works whether or not `dagy serve` is running: with a live server the request goes through it.
    """
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise CLIExit("Error: password must be at least 8 characters", USAGE)
    from dagy.config import server_file
    from dagy.config.paths import DagyPaths

    paths = DagyPaths.from_env()
    live = server_file.read(paths)
    if live is not None:
        from dagy.client.http import DagyClient

        body = DagyClient(live.api_url, live.token).post(
            "/_local/users",
            {"email": email, "password": password, "role": role, "org_id": org_id},
        )
        email, role = body["email"], body["role"]
    else:
        from dagy.services.accounts import users as accounts
        from dagy.store.duckdb_store import DuckDBStore

        _, membership = accounts.create_user(
            DuckDBStore(paths), email, password, role=role, org_id=org_id
        )
        email, role = membership.email, membership.role
    click.echo(f"Created {email} ({role} of {org_id})")
