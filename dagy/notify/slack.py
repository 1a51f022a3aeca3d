"""Slack: an incoming webhook's JSON POST. The webhook URL carries its token: a secret field."""

from __future__ import annotations

import json
from typing import Any

from dagy.notify import _http as http
from dagy.notify.base import Context, Field, Outcome, summary

FIELDS = (
    Field("webhook_url", "url", required=True, secret=True),
    Field("channel", "text"),
    Field("username", "text"),
)


def body(config: dict[str, Any], notification: dict[str, Any]) -> dict[str, Any]:
    run = notification.get("run") or {}
    lines = [f"*{summary(notification)}*"]
    for label, key in (("Flow", "flow_name"), ("Run", "run_id"), ("Status", "status")):
        if run.get(key):
            lines.append(f"{label}: `{run[key]}`")
    if run.get("error"):
        lines.append(f"Error: {run['error']}")
    out: dict[str, Any] = {"text": "\n".join(lines)}
    for key in ("channel", "username"):
        if config.get(key):
            out[key] = config[key]
    return out


def send(config: dict[str, Any], notification: dict[str, Any], context: Context) -> Outcome:
    data = json.dumps(body(config, notification)).encode()
    return http.post(config["webhook_url"], data, {}, context.timeout)
