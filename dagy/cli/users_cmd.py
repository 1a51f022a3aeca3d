"""``dagy users``: the accounts and members of an org. On the store file or through this home's
live server an account can be created with its password (the first owner is made here);
against a remote API an admin invites people instead (docs/server.md)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from dagy.cli._errors import USAGE, CLIExit

if TYPE_CHECKING:
    from dagy.backend import Backend

ROLES = click.Choice(["owner", "admin", "developer", "viewer"])
COLUMNS = ("email", "role", "status", "joined_at")


def _open(profile: str | None) -> Backend:
    from dagy.backend import open_backend

    return open_backend(profile=profile)


def _profile(fn: Any) -> Any:
    return click.option("--profile", default=None, help="Dagy profile to use.")(fn)


def _org(fn: Any) -> Any:
    return click.option(
        "--org",
        "org_id",
        default=None,
        help="The organization (default: this home's personal org, or yours on a remote API).",
    )(fn)


@click.group()
def users() -> None:
    """Accounts and members of an organization."""


@users.command("create")
@click.option("--email", required=True, help="The account's email address.")
@click.option("--role", default="developer", show_default=True, type=ROLES)
@_org
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@click.option(
    "--super-admin",
    is_flag=True,
    help="Make the account a platform super admin (the /admin routes; separate from org roles).",
)
@_profile
def create(
    email: str,
    role: str,
    org_id: str | None,
    password_stdin: bool,
    super_admin: bool,
    profile: str | None,
) -> None:
    """Create an account with a password (or set the password of an invited one).

    Works on the store file and through this home's live server; a remote API cannot set a
    password: use `dagy users invite` there.
    """
    backend = _open(profile)
    if not backend.users.sets_passwords:
        from dagy.backend.accounts import REMOTE_PASSWORD

        raise CLIExit(f"Error: {REMOTE_PASSWORD}", USAGE)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise CLIExit("Error: password must be at least 8 characters", USAGE)
    member = backend.users.create(email, password, role=role, org_id=org_id)
    if super_admin:
        backend.admin.set_super_admin(member.email, True)
    extra = ", super admin" if super_admin else ""
    click.echo(f"Created {member.email} ({member.role} of {member.org_id}{extra})")


@users.command("set-super-admin")
@click.argument("email")
@click.option("--on/--off", "on", required=True, help="Grant or withdraw the flag.")
@_profile
def set_super_admin(email: str, on: bool, profile: str | None) -> None:
    """Grant (--on) or withdraw (--off) EMAIL's platform-level super-admin flag.

    Only where the store is (the store file, or this home's live server); audited.
    """
    backend = _open(profile)
    if not backend.local:
        from dagy.backend.admin import REMOTE_SUPER_ADMIN

        raise CLIExit(f"Error: {REMOTE_SUPER_ADMIN}", USAGE)
    now = backend.admin.set_super_admin(email, on)
    click.echo(f"{email.strip().lower()} is {'now' if now else 'no longer'} a super admin")


@users.command("invite")
@click.argument("email")
@click.option("--role", default="developer", show_default=True, type=ROLES)
@_org
@_profile
def invite(email: str, role: str, org_id: str | None, profile: str | None) -> None:
    """Add EMAIL to the organization; they are 'invited' until they sign in with a password."""
    member = _open(profile).users.invite(email, role=role, org_id=org_id)
    click.echo(f"Added {member.email} ({member.role} of {member.org_id}, {member.status})")


@users.command("list")
@_org
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_profile
def list_(org_id: str | None, as_json: bool, profile: str | None) -> None:
    """List the organization's members."""
    backend = _open(profile)
    found = backend.users.list(org_id)
    if as_json:
        click.echo(json.dumps([m.to_json() for m in found], indent=2))
        return
    if not found:
        click.echo("No members.")
        return
    from tabulate import tabulate

    rows = [
        [m.email, m.role, m.status, m.joined_at.isoformat(sep=" ") if m.joined_at else ""]
        for m in found
    ]
    click.echo(tabulate(rows, headers=COLUMNS, tablefmt=backend.table_format))


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=ROLES)
@_org
@_profile
def set_role(email: str, role: str, org_id: str | None, profile: str | None) -> None:
    """Change a member's role (an org keeps at least one owner)."""
    member = _open(profile).users.set_role(email, role, org_id)
    click.echo(f"{member.email} is now {member.role} of {member.org_id}")
