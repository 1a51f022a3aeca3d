"""``dagy secrets``: the master key that seals secrets at rest (see docs/secrets.md)."""

from __future__ import annotations

import sys

import click


@click.group()
def secrets() -> None:
    """Manage the master key of the secrets store."""


@secrets.command("rotate-master-key")
@click.option(
    "--new-key-stdin",
    is_flag=True,
    help="Read the new key (base64 of 32 bytes) from one line of stdin instead of generating "
    "one; required when DAGY_MASTER_KEY provides the key.",
)
def rotate_master_key(new_key_stdin: bool) -> None:
    """Re-encrypt every secret under a new master key, stored where the old one was.

    Works whether or not `dagy serve` is running: with a live server, the server does it.
    """
    from dagy.config import server_file
    from dagy.config.paths import DagyPaths

    text = sys.stdin.readline().strip() if new_key_stdin else None
    paths = DagyPaths.from_env()
    live = server_file.read(paths)
    if live is not None:
        from dagy.client.http import DagyClient

        body = DagyClient(live.api_url, live.token, timeout=300).post(
            "/_local/secrets/rotate-master-key", {"new_key": text}
        )
        key_id, previous, source, count = (
            body["key_id"],
            body["previous_key_ids"],
            body["key_source"],
            body["rotated"],
        )
    else:
        from dagy.auth import crypto
        from dagy.services.accounts import audit
        from dagy.services.accounts import users as accounts
        from dagy.services.vault import secrets as service
        from dagy.store.duckdb_store import DuckDBStore

        new_key = crypto.decode_key(text, "the new key") if text else None
        store = DuckDBStore(paths)
        with store.connection():
            done = service.rotate_master_key(store, new_key)
            audit.record(
                store,
                accounts.local_identity(),
                "update",
                "master_key",
                done.key_id,
                changes={
                    "key_id": [done.previous_key_ids[0], done.key_id],
                    "secrets": done.rotated,
                },
            )
        key_id, previous, source, count = (
            done.key_id,
            done.previous_key_ids,
            done.source,
            done.rotated,
        )
    where = {"env": "DAGY_MASTER_KEY", "keyring": "the OS keyring", "file": "master.key"}
    click.echo(
        f"Master key rotated: {count} secret(s) re-encrypted with {key_id} "
        f"(was {', '.join(previous)}), kept in {where.get(source, source)}"
    )
    if source == "env":
        click.echo("Set DAGY_MASTER_KEY to the new key before Dagy starts again.", err=True)
