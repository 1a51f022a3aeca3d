"""Notification channels and alert rules: what can be done with them, for the server and the CLI.

Rules that live here:
- a channel's ``config_json`` is checked against its type's fields (dagy/notify/); a bad one is a
  400 naming ``config_json.<field>``; its secret fields are sealed with the master key
  (dagy/services/vault/secrets.py) and every response shows them masked;
- an email channel's password is a Dagy secret named by ``password_secret``, which must exist;
- a rule names existing channels of its org (400 otherwise); ``sla_seconds`` is for
  ``on_sla_breach`` only, and required there;
- deleting a channel drops its jobs and delivery history and takes it out of every rule;
- every create and delete writes its audit row, as the ``Actor``, in the change's transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dagy.auth import secrets as ids
from dagy.errors import InvalidInputError, NotFoundError
from dagy.names import check_display_name
from dagy.notify import TYPES, config
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.vault import secrets
from dagy.store import notifications as sql
from dagy.store import secrets as secret_sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.notifications import ChannelRow, RuleRow
from dagy.store.records import utcnow

TRIGGERS = ("on_failure", "on_success", "on_retry", "on_sla_breach")
MAX_NAME = 200
MAX_RULE_CHANNELS = 20
MAX_SLA_SECONDS = 30 * 24 * 3600.0


@dataclass(frozen=True)
class OpenChannel:
    """A channel with its whole config (secret fields opened): what a sender is given."""

    row: ChannelRow
    public: dict[str, Any]
    secret: dict[str, Any]

    @property
    def config(self) -> dict[str, Any]:
        return {**self.public, **self.secret}


# -- validation -------------------------------------------------------------------------------------


def _name(value: Any) -> str:
    return check_display_name(value, "name", max_length=MAX_NAME, message="Invalid name")


def _flag(value: Any, field: str) -> bool:
    if value is None:
        return True
    if not isinstance(value, bool):
        raise InvalidInputError(f"Invalid {field}", {field: "true or false"})
    return value


def _channel_type(value: Any) -> str:
    if value not in TYPES:
        raise InvalidInputError(
            f"Invalid channel_type: {value!r}", {"channel_type": f"one of {', '.join(TYPES)}"}
        )
    return str(value)


def check_config(
    store: DuckDBStore, org_id: str, channel_type: str, raw: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(public, secret)`` parts of a valid config for ``channel_type``."""
    module = TYPES[channel_type]
    public, secret = config.check(module.FIELDS, raw)
    extra = getattr(module, "check", None)
    if extra is not None:
        extra(public)
    name = public.get("password_secret")
    if name is not None and not secret_sql.named(store, org_id, name):
        raise InvalidInputError(
            f"Invalid channel configuration: no secret named {name}",
            {"config_json.password_secret": "must name an existing secret (create it first)"},
        )
    return public, secret


# -- channels ---------------------------------------------------------------------------------------


def create_channel(
    store: DuckDBStore,
    actor: Actor,
    *,
    name: Any,
    channel_type: Any,
    config_json: Any,
    enabled: Any = None,
) -> ChannelRow:
    kind = _channel_type(channel_type)
    label = _name(name)
    on = _flag(enabled, "enabled")
    channel_id, org_id = ids.new_id("channel"), actor.org_id
    with store.transaction():
        public, secret = check_config(store, org_id, kind, config_json)
        key_id, sealed = None, None
        if secret:
            key_id, sealed = secrets.seal_channel(
                store, org_id, channel_id, json.dumps(secret).encode()
            )
        row = ChannelRow(
            channel_id,
            org_id,
            label,
            kind,
            json.dumps(public),
            key_id,
            sealed,
            on,
            actor.email,
            utcnow(),
        )
        sql.insert_channel(store, row)
        audit.write(
            store,
            actor,
            "create",
            "channel",
            row.channel_id,
            resource_name=row.name,
            changes={"channel_type": [None, row.channel_type]},
        )
    return row


def _found(row: Any, what: str, field: str, value: str) -> Any:
    if row is None:
        raise NotFoundError(f"{what} not found: {value}", {field: value})
    return row


def get_channel(store: DuckDBStore, org_id: str, channel_id: str) -> ChannelRow:
    row: ChannelRow = _found(
        sql.get_channel(store, org_id, channel_id), "Channel", "channel_id", channel_id
    )
    return row


def list_channels(store: DuckDBStore, org_id: str) -> list[ChannelRow]:
    return sql.channels(store, org_id)


def delete_channel(store: DuckDBStore, actor: Actor, channel_id: str) -> ChannelRow:
    with store.transaction():
        row = get_channel(store, actor.org_id, channel_id)
        sql.delete_channel(store, row.channel_id)
        audit.write(store, actor, "delete", "channel", row.channel_id, resource_name=row.name)
    return row


def open_channel(store: DuckDBStore, row: ChannelRow) -> OpenChannel:
    """The channel's config with its secret fields; SecretsUnavailableError when they won't open."""
    public = json.loads(row.config_json)
    secret = json.loads(secrets.open_channel(store, row)) if row.sealed_config else {}
    return OpenChannel(row, public, secret)


def shown_config(store: DuckDBStore, row: ChannelRow) -> dict[str, Any]:
    """The config as responses show it: secret fields masked."""
    opened = open_channel(store, row)
    return config.masked(TYPES[row.channel_type].FIELDS, opened.public, opened.secret)


# -- alert rules ------------------------------------------------------------------------------------


def _trigger(value: Any) -> str:
    if value not in TRIGGERS:
        raise InvalidInputError(
            f"Invalid trigger: {value!r}", {"trigger": f"one of {', '.join(TRIGGERS)}"}
        )
    return str(value)


def _flow_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise InvalidInputError("Invalid flow_name", {"flow_name": "a flow's name, or null"})
    return value


def _sla(value: Any, trigger: str) -> float | None:
    if trigger != "on_sla_breach":
        if value is not None:
            raise InvalidInputError(
                "sla_seconds is only for on_sla_breach rules", {"sla_seconds": "must be null"}
            )
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidInputError(
            "on_sla_breach needs sla_seconds", {"sla_seconds": "a number of seconds above 0"}
        )
    if not 0 < value <= MAX_SLA_SECONDS:
        raise InvalidInputError(
            "Invalid sla_seconds", {"sla_seconds": f"above 0 and at most {MAX_SLA_SECONDS:g}"}
        )
    return float(value)


def _channel_ids(store: DuckDBStore, org_id: str, value: Any) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or len(value) > MAX_RULE_CHANNELS
        or not all(isinstance(v, str) for v in value)
    ):
        raise InvalidInputError(
            "Invalid channel_ids",
            {"channel_ids": f"a list of 1-{MAX_RULE_CHANNELS} channel ids"},
        )
    wanted = list(dict.fromkeys(value))
    missing = [c for c in wanted if c not in sql.existing_channel_ids(store, org_id, wanted)]
    if missing:
        raise InvalidInputError(
            f"Unknown channel: {missing[0]}", {"channel_ids": f"unknown: {', '.join(missing)}"}
        )
    return wanted


def create_rule(
    store: DuckDBStore,
    actor: Actor,
    *,
    name: Any,
    trigger: Any,
    channel_ids: Any,
    flow_name: Any = None,
    sla_seconds: Any = None,
    enabled: Any = None,
) -> RuleRow:
    label = _name(name)
    kind = _trigger(trigger)
    sla = _sla(sla_seconds, kind)
    flow = _flow_name(flow_name)
    on = _flag(enabled, "enabled")
    with store.transaction():
        channels = _channel_ids(store, actor.org_id, channel_ids)
        row = RuleRow(
            ids.new_id("rule"),
            actor.org_id,
            label,
            kind,
            flow,
            sla,
            channels,
            on,
            actor.email,
            utcnow(),
        )
        sql.insert_rule(store, row)
        audit.write(
            store,
            actor,
            "create",
            "alert_rule",
            row.rule_id,
            resource_name=row.name,
            changes={"trigger": [None, row.trigger], "channel_ids": [None, row.channel_ids]},
        )
    return row


def get_rule(store: DuckDBStore, org_id: str, rule_id: str) -> RuleRow:
    row: RuleRow = _found(sql.get_rule(store, org_id, rule_id), "Rule", "rule_id", rule_id)
    return row


def list_rules(store: DuckDBStore, org_id: str) -> list[RuleRow]:
    return sql.rules(store, org_id)


def delete_rule(store: DuckDBStore, actor: Actor, rule_id: str) -> RuleRow:
    with store.transaction():
        row = get_rule(store, actor.org_id, rule_id)
        sql.delete_rule(store, row.rule_id)
        audit.write(store, actor, "delete", "alert_rule", row.rule_id, resource_name=row.name)
    return row
