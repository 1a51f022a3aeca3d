"""PagerDuty: an Events API v2 ``trigger`` POSTed to ``events_url`` (PagerDuty's by default).

The dedup key is the run and the event, so a run's repeated attempts open one incident."""

from __future__ import annotations

import json
from typing import Any

from dagy.notify import _http as http
from dagy.notify.base import Context, Field, Outcome, summary

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITIES = ("critical", "error", "warning", "info")
FIELDS = (
    Field("routing_key", "text", required=True, secret=True),
    Field("severity", "choice", default="error", choices=SEVERITIES),
    Field("source", "text", default="dagy"),
    Field("events_url", "url", default=EVENTS_URL),
)


def body(config: dict[str, Any], notification: dict[str, Any]) -> dict[str, Any]:
    run = notification.get("run") or {}
    payload: dict[str, Any] = {
        "summary": summary(notification)[:1024],  # the API's limit
        "severity": config.get("severity") or "error",
        "source": config.get("source") or "dagy",
        "timestamp": notification.get("occurred_at"),
        "class": notification.get("event"),
        "custom_details": notification,
    }
    if run.get("flow_name"):
        payload["component"] = run["flow_name"]
    if run.get("deployment_name"):
        payload["group"] = run["deployment_name"]
    return {
        "routing_key": config["routing_key"],
        "event_action": "trigger",
        "dedup_key": f"dagy/{run.get('run_id') or 'test'}/{notification.get('event')}",
        "payload": payload,
    }


def send(config: dict[str, Any], notification: dict[str, Any], context: Context) -> Outcome:
    data = json.dumps(body(config, notification)).encode()
    return http.post(config.get("events_url") or EVENTS_URL, data, {}, context.timeout)
