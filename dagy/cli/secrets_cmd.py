"""``dagy secrets``: named values sealed at rest, and the master key that seals them
(docs/secrets.md). Works on the store file, this home's live server or a remote API alike;
values go in through stdin or a hidden prompt, never through the command line, and never out."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from dagy.backend import Backend
    from dagy.backend.vault import Secret

COLUMNS = ("secret_name", "environment", "created_at", "updated_at")


def _open(profile: str | None) -> Backend:
    from dagy.backend import open_backend

    return open_backend(profile=profile)


def _profile(fn: Any) -> Any:
    return click.option("--profile", default=None, help="Dagy profile to use.")(fn)


def _env(help_text: str) -> Any:
    return click.option("--env", "environment", default=None, metavar="NAME", help=help_text)


def _when(value: Any) -> str:
    return value.isoformat(sep=" ") if value is not None else ""


def _scope(secret: Secret) -> str:
    return secret.environment or "(all)"


@click.group()
def secrets() -> None:
    """Secrets for runs (`dagy.secret(name)`), and the master key that seals them."""


@secrets.command("list")
@_env("Only the secrets of this environment ('' for those of none).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_profile
def list_(environment: str | None, as_json: bool, profile: str | None) -> None:
    """List secrets: names, environments and times, never values."""
    backend = _open(profile)
    found = backend.secrets.list(environment)
    if as_json:
        click.echo(json.dumps([s.to_json() for s in found], indent=2))
        return
    if not found:
        click.echo("No secrets.")
        return
    from tabulate import tabulate

    rows = [[s.secret_name, _scope(s), _when(s.created_at), _when(s.updated_at)] for s in found]
    click.echo(
        tabulate(rows, headers=COLUMNS, tablefmt=backend.table_format, disable_numparse=True)
    )


@secrets.command("set")
@click.argument("name")
@_env("The environment whose secret this is (default: none, seen by every environment).")
@click.option("--value-stdin", is_flag=True, help="Read the value from stdin (all of it).")
@_profile
def set_(name: str, environment: str | None, value_stdin: bool, profile: str | None) -> None:
    """Create secret NAME, or give it a new value. The value comes from stdin with
    --value-stdin, else from a hidden prompt; never from the command line."""
    if value_stdin:
        value = sys.stdin.read()
        value = value[:-1] if value.endswith("\n") else value
        value = value[:-1] if value.endswith("\r") else value
    else:
        value = click.prompt("Value", hide_input=True, confirmation_prompt=True)
    secret, created = _open(profile).secrets.set(name, value, environment)
    where = f" (environment {secret.environment})" if secret.environment else ""
    click.echo(f"Secret {'created' if created else 'updated'}: {secret.secret_name}{where}")


@secrets.command("show")
@click.argument("name")
@_env("The environment of the secret ('' for none); needed when NAME is in several.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_profile
def show(name: str, environment: str | None, as_json: bool, profile: str | None) -> None:
    """Show a secret's metadata (never its value)."""
    secret = _open(profile).secrets.get(name, environment)
    if as_json:
        click.echo(json.dumps(secret.to_json(), indent=2))
        return
    for label, value in (
        ("secret_name", secret.secret_name),
        ("environment", _scope(secret)),
        ("secret_id", secret.secret_id),
        ("created_at", _when(secret.created_at)),
        ("updated_at", _when(secret.updated_at)),
    ):
        click.echo(f"{label}: {value}")


@secrets.command("delete")
@click.argument("name")
@_env("The environment of the secret ('' for none); needed when NAME is in several.")
@_profile
def delete(name: str, environment: str | None, profile: str | None) -> None:
    """Delete a secret."""
    secret = _open(profile).secrets.delete(name, environment)
    where = f" (environment {secret.environment})" if secret.environment else ""
    click.echo(f"Secret deleted: {secret.secret_name}{where}")


@secrets.command("rotate-master-key")
@click.option(
    "--new-key-stdin",
    is_flag=True,
    help="Read the new key (base64 of 32 bytes) from one line of stdin instead of generating "
    "one; required when DAGY_MASTER_KEY provides the key.",
)
@_profile
def rotate_master_key(new_key_stdin: bool, profile: str | None) -> None:
    """Re-encrypt every secret under a new master key, stored where the old one was.

    Works on the store file or through this home's live server; not against a remote API (the
    master key lives with the server).
    """
    text = sys.stdin.readline().strip() if new_key_stdin else None
    done = _open(profile).secrets.rotate_master_key(text or None)
    where = {"env": "DAGY_MASTER_KEY", "keyring": "the OS keyring", "file": "master.key"}
    click.echo(
        f"Master key rotated: {done.rotated} secret(s) re-encrypted with {done.key_id} "
        f"(was {', '.join(done.previous_key_ids)}), kept in {where.get(done.key_source, done.key_source)}"
    )
    if done.key_source == "env":
        click.echo("Set DAGY_MASTER_KEY to the new key before Dagy starts again.", err=True)
