"""Notification nodes, sent by Dagy's notification senders (dagy/notify): a webhook signed as
alert webhooks are, Slack, email and PagerDuty. A delivery that fails fails the node."""

from __future__ import annotations

import datetime as _dt
import json
import time
import urllib.parse
from typing import Any

from dagy.engine.context import current
from dagy.nodes.run import frames
from dagy.nodes.run.frames import NodeError
from dagy.sdk.task import task

DEFAULT_TIMEOUT = 10.0
# A dataframe posted to a receiver is sent as its records: up to this many.
MAX_POSTED_ROWS = 10_000


def _context(config: dict[str, Any]) -> Any:
    from dagy.notify.base import Context
    from dagy.sdk.secrets import secret

    timeout = config.get("timeout_seconds") or DEFAULT_TIMEOUT
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise NodeError(f"config.timeout_seconds must be a positive number, got {timeout!r}")
    ctx = current()
    delivery = f"{ctx.task_run_id}/{ctx.attempt}" if ctx is not None else "node"
    return Context(timeout=float(timeout), delivery_id=delivery, secret=secret)


def _required(config: dict[str, Any], name: str) -> Any:
    value = config.get(name)
    if value in (None, "", []):
        raise NodeError(f"config.{name} is required")
    return value


def _run_info() -> dict[str, Any]:
    ctx = current()
    if ctx is None:
        return {}
    return {"run_id": ctx.run_id, "task_run_id": ctx.task_run_id, "attempt": ctx.attempt}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _payload(config: dict[str, Any], inputs: dict[str, Any] | None) -> Any:
    """What to send: ``config.payload``, else the data input (a dataframe as its records)."""
    if config.get("payload") is not None:
        return config["payload"]
    inputs = inputs or {}
    data: Any = inputs.get("data_in", inputs.get("data"))
    if data is None and len(inputs) == 1:
        data = next(iter(inputs.values()))
    if frames.is_frame(data):
        rows = int(data[frames.KEY].get("rows", 0))
        if rows > MAX_POSTED_ROWS:
            raise NodeError(
                f"the input dataframe has {rows} rows, more than {MAX_POSTED_ROWS} to post: "
                "write it somewhere (s3_write) and post where it is"
            )
        data = frames.to_records(data)
    return data


def _check(outcome: Any, what: str) -> dict[str, Any]:
    if not outcome.success:
        raise NodeError(f"{what} failed: {outcome.error or f'status {outcome.status_code}'}")
    return {"delivered": True, "status_code": outcome.status_code}


@task
def webhook_post(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """POST ``{event, occurred_at, run, data}`` as JSON to ``config.url``, signed with
    ``config.secret`` the way alert webhooks are (``X-Dagy-Timestamp``, ``X-Dagy-Signature``)."""
    from dagy.notify import _http, webhook
    from dagy.notify.config import scrub

    url = str(_required(config, "url"))
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NodeError(f"config.url must be an http:// or https:// URL, got {url}")
    context = _context(config)
    secret = config.get("secret")
    if not secret and config.get("secret_name"):
        secret = context.secret(str(config["secret_name"]))
    event = str(config.get("event") or "node.webhook")
    body = {
        "event": event,
        "occurred_at": _now(),
        "run": _run_info(),
        "data": _payload(config, inputs),
    }
    data = json.dumps(body, sort_keys=True, default=str).encode()
    stamp = str(int(time.time()))
    extra = config.get("headers") or {}
    if not isinstance(extra, dict):
        raise NodeError("config.headers must be an object of Header: value")
    headers = {str(k): str(v) for k, v in extra.items()}
    headers.update({"X-Dagy-Event": event, "X-Dagy-Delivery": context.delivery_id})
    if secret:
        headers[webhook.TIMESTAMP_HEADER] = stamp
        headers[webhook.SIGNATURE_HEADER] = webhook.signature(str(secret), stamp, data)
    outcome = _http.post(str(url), data, headers, context.timeout)
    if not outcome.success:
        error = scrub(outcome.error, {"secret": secret}) if secret else outcome.error
        raise NodeError(f"webhook POST to {url} failed: {error or outcome.status_code}")
    return {"delivered": True, "status_code": outcome.status_code}


@task
def slack_message(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """Post ``config.text`` to a Slack incoming webhook (``webhook_url``)."""
    from dagy.notify import slack

    sender_config = {
        "webhook_url": _required(config, "webhook_url"),
        "channel": config.get("channel"),
        "username": config.get("username"),
    }
    note = {"event": "node.slack", "summary": str(_required(config, "text")), "run": _run_info()}
    return _check(slack.send(sender_config, note, _context(config)), "Slack message")


@task
def email_send(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """Send ``subject`` and ``body`` to ``to`` over SMTP (``smtp_host``, ``smtp_port``)."""
    from dagy.notify import email

    to = _required(config, "to")
    if isinstance(to, str):
        to = [to]
    sender_config = {
        "smtp_host": config.get("smtp_host") or "localhost",
        "smtp_port": int(config.get("smtp_port") or 25),
        "from_address": config.get("from_address") or "dagy@localhost",
        "to_addresses": list(to),
        "starttls": bool(config.get("starttls", False)),
        "username": config.get("username"),
        "password_secret": config.get("password_secret"),
    }
    note: dict[str, Any] = {
        "event": "node.email",
        "summary": str(_required(config, "subject")),
        "body": config.get("body") or "",
        "run": {},
    }
    return _check(email.send(sender_config, note, _context(config)), "email")


@task
def pagerduty_event(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """Trigger a PagerDuty event (Events API v2) with ``summary`` and ``severity``."""
    from dagy.notify import pagerduty

    severity = config.get("severity") or "error"
    if severity not in pagerduty.SEVERITIES:
        raise NodeError(f"config.severity must be one of {', '.join(pagerduty.SEVERITIES)}")
    sender_config = {
        "routing_key": _required(config, "routing_key"),
        "severity": severity,
        "source": config.get("source") or "dagy",
        "events_url": config.get("url") or pagerduty.EVENTS_URL,
    }
    note = {
        "event": "node.pagerduty",
        "summary": str(_required(config, "summary")),
        "occurred_at": _now(),
        "run": _run_info(),
    }
    return _check(pagerduty.send(sender_config, note, _context(config)), "PagerDuty event")
