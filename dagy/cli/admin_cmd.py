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


@admin.command("exceptions")
@click.argument("keys", nargs=-1)
@click.option("--show", "show", default=None, metavar="KEY", help="Print the whole trace at KEY.")
@click.option("--delete", "delete", is_flag=True, help="Delete the traces named by KEYS.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_profile
def exceptions(
    keys: tuple[str, ...],
    show: str | None,
    delete: bool,
    limit: int,
    as_json: bool,
    profile: str | None,
) -> None:
    """Exception traces (unhandled server errors, engine and executor faults), newest first.

    `--show KEY` prints one trace; `--delete KEY...` removes traces.
    """
    if keys and not delete:
        raise click.UsageError("KEYS are for --delete; use --show KEY to read one trace")
    if delete and not keys:
        raise click.UsageError("--delete needs at least one KEY")
    backend = _open(profile)
    if show is not None:
        click.echo(json.dumps(backend.admin.exception(show), indent=2))
        return
    if delete:
        deleted = backend.admin.delete_exceptions(list(keys))
        click.echo(f"Deleted {deleted} exception trace{'s' if deleted != 1 else ''}")
        return
    items = backend.admin.exceptions(limit)
    if as_json:
        click.echo(json.dumps({"items": items}, indent=2))
        return
    if not items:
        click.echo("No exception traces.")
        return
    from tabulate import tabulate

    rows = [
        [
            i.get("time") or "",
            i.get("kind") or "",
            i.get("org_id") or "",
            _where(i),
            f"{i.get('exception_type') or ''}: {(i.get('message') or '')[:60]}",
            i["key"],
        ]
        for i in items
    ]
    headers = ("time", "kind", "org_id", "where", "exception", "key")
    click.echo(tabulate(rows, headers=headers, tablefmt=backend.table_format))


def _where(item: dict[str, Any]) -> str:
    request, run = item.get("request") or {}, item.get("run") or {}
    if request:
        return f"{request.get('method')} {request.get('path')}"
    if run:
        return str(run.get("task_run_id") or run.get("run_id") or "")
    return ""
