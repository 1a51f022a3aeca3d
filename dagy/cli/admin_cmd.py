"""``dagy admin``: super-admin work on customer orgs, over the backend (docs/admin.md).

On the store file the commands act as this machine's user; through this home's live server with
its local token; against a remote API the login must be a super admin's (403 otherwise).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from dagy.backend import Backend

COLUMNS = ("org_id", "org_name", "owner_email", "plan", "status", "members", "created_at")


def _open(profile: str | None) -> Backend:
    from dagy.backend import open_backend

    return open_backend(profile=profile)


def _profile(fn: Any) -> Any:
    return click.option("--profile", default=None, help="Dagy profile to use.")(fn)


@click.group()
def admin() -> None:
    """Super admin: customer organizations across the platform."""


@admin.command("customers")
@click.option("--status", type=click.Choice(["active", "suspended"]), default=None)
@click.option("--plan", default=None, help="free, professional or enterprise.")
@click.option("--search", default=None, help="Part of the org's name or its owner's email.")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_profile
def customers(
    status: str | None,
    plan: str | None,
    search: str | None,
    limit: int,
    as_json: bool,
    profile: str | None,
) -> None:
    """List customer organizations (oldest first) with the number that match."""
    backend = _open(profile)
    page = backend.admin.customers(status=status, plan=plan, search=search, limit=limit)
    if as_json:
        body = {"items": [c.to_json() for c in page.items], "total": page.total}
        click.echo(json.dumps(body, indent=2))
        return
    if not page.items:
        click.echo("No customers.")
        return
    from tabulate import tabulate

    rows = [
        [
            c.org_id,
            c.org_name,
            c.owner_email or "",
            c.plan,
            c.status,
            c.member_count,
            c.created_at.isoformat(sep=" ") if c.created_at else "",
        ]
        for c in page.items
    ]
    click.echo(tabulate(rows, headers=COLUMNS, tablefmt=backend.table_format))
    if page.total > len(page.items):
        click.echo(f"{len(page.items)} of {page.total} shown (--limit, --search to narrow)")


@admin.command("suspend")
@click.argument("org_id")
@_profile
def suspend(org_id: str, profile: str | None) -> None:
    """Suspend ORG_ID: its members, API keys, webhooks, sensors and schedules are refused."""
    status = _open(profile).admin.suspend(org_id)
    click.echo(f"{org_id} is {status}")


@admin.command("activate")
@click.argument("org_id")
@_profile
def activate(org_id: str, profile: str | None) -> None:
    """Activate a suspended ORG_ID."""
    status = _open(profile).admin.activate(org_id)
    click.echo(f"{org_id} is {status}")


@admin.command("credits")
@click.argument("org_id")
@click.argument("amount", type=float)
@click.option("--note", default=None, help="Why (kept in the credit ledger).")
@_profile
def credits(org_id: str, amount: float, note: str | None, profile: str | None) -> None:
    """Add AMOUNT credits to ORG_ID (negative to deduct; use `--` before a negative amount)."""
    balance = _open(profile).admin.credits(org_id, amount, note)
    click.echo(f"{org_id} credits balance: {balance:g}")


# -- exceptions ------------------------------------------------------------------------------------
# `dagy admin exceptions ...` (OPS, issue 18): add its commands to the `admin` group here, e.g.
# @admin.group("exceptions") with list/show/download/delete over Backend.admin.
