"""Alerting: runs matched to alert rules, delivery jobs queued for their channels, and the jobs
sent with retries. The server's notification threads (dagy/notify/loop.py) call ``match`` and
``deliver_due``; ``POST /alert-rules/{id}/test`` calls ``test_rule``.

When a rule fires (docs/notifications.md):
- ``on_success`` / ``on_failure``: a ``run_status_update`` event says the run completed / failed
  (every run the server's workers close, and every run `dagy run` records through the server);
- ``on_retry``: a run that retries another (``POST /runs/{id}/retry``) is queued; a task's own
  retries inside a run do not fire it;
- ``on_sla_breach``: a run has been RUNNING longer than ``sla_seconds`` since it started (the
  watchdog sees it while it runs; a run that ended past its SLA before the watchdog looked fires
  when its end is matched).
A rule fires at most once per run (``alert_firings``); it queues one job per enabled channel.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from typing import Any

from dagy.errors import RequestError
from dagy.notify import TYPES
from dagy.notify import config as channel_config
from dagy.notify.base import Context, Outcome
from dagy.notify.loop import Notifier, Settings
from dagy.services.notifications import channels as notifications
from dagy.services.vault import secrets
from dagy.store import notifications as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.notifications import DeliveryRow, JobRow, RuleRow
from dagy.store.queue import FLOW_TRIGGER, RUN_STATUS_UPDATE
from dagy.store.records import API_STATUS, RunRecord, iso_z, utcnow

EVENTS = {
    "on_success": "run.succeeded",
    "on_failure": "run.failed",
    "on_retry": "run.retried",
    "on_sla_breach": "run.sla_breach",
}
_BY_STATUS = {"completed": "on_success", "failed": "on_failure"}
MATCH_BATCH = 200
DELIVER_BATCH = 20


def notifier(store: DuckDBStore, settings: Settings | None = None) -> Notifier:
    """The server's notification threads over ``store`` (settings from DAGY_NOTIFY_*)."""
    policy = settings or Settings.from_env()
    return Notifier(
        lambda: match(store),
        lambda: deliver_due(store, policy),
        poll=policy.poll_seconds,
    )


# -- what a channel is sent -------------------------------------------------------------------------


def _summary(trigger: str, run: RunRecord, sla: float | None) -> str:
    what = f"Run {run.run_id} of flow {run.flow_name}"
    if trigger == "on_success":
        return f"{what} completed"
    if trigger == "on_failure":
        return f"{what} failed" + (f": {run.error}" if run.error else "")
    if trigger == "on_retry":
        return f"{what} retries run {run.retry_of}"
    return f"{what} has run longer than its SLA of {sla:g}s"


def notification(rule: RuleRow, run: RunRecord, now: _dt.datetime) -> dict[str, Any]:
    """The notification every channel type renders (a webhook receives it as is)."""
    return {
        "event": EVENTS[rule.trigger],
        "trigger": rule.trigger,
        "summary": _summary(rule.trigger, run, rule.sla_seconds),
        "occurred_at": iso_z(now),
        "org_id": run.org_id,
        "rule": {"rule_id": rule.rule_id, "name": rule.name, "sla_seconds": rule.sla_seconds},
        "run": {
            "run_id": run.run_id,
            "flow_name": run.flow_name,
            "flow_version": run.flow_version,
            "deployment_name": run.deployment_name,
            "status": API_STATUS.get(run.status, run.status.lower()),
            "error": run.error,
            "retry_of": run.retry_of,
            "started_at": iso_z(run.started_at) if run.started_at else None,
            "ended_at": iso_z(run.ended_at) if run.ended_at else None,
            "duration_seconds": run.duration_seconds,
        },
    }


def _test_notification(rule: RuleRow, now: _dt.datetime) -> dict[str, Any]:
    return {
        "event": "test",
        "trigger": rule.trigger,
        "summary": f"Test notification from Dagy alert rule {rule.name}",
        "occurred_at": iso_z(now),
        "org_id": rule.org_id,
        "rule": {"rule_id": rule.rule_id, "name": rule.name, "sla_seconds": rule.sla_seconds},
        "run": None,
    }


# -- matching ---------------------------------------------------------------------------------------


def _firing(
    store: DuckDBStore, rule: RuleRow, run: RunRecord, now: _dt.datetime
) -> tuple[str, str, list[JobRow]]:
    body = json.dumps(notification(rule, run, now))
    jobs = []
    for channel_id in rule.channel_ids:
        channel = sql.get_channel(store, rule.org_id, channel_id)
        if channel is not None and channel.enabled:
            jobs.append(
                JobRow(
                    0,
                    rule.org_id,
                    channel_id,
                    rule.rule_id,
                    run.run_id,
                    EVENTS[rule.trigger],
                    body,
                    sql.PENDING,
                    0,
                    now,
                    now,
                    None,
                    None,
                )
            )
    return rule.rule_id, run.run_id, jobs


def _triggers(kind: str, payload: str | None, run: RunRecord) -> list[str]:
    if kind == FLOW_TRIGGER:
        return ["on_retry"] if run.retry_of else []
    status = str((json.loads(payload or "{}") or {}).get("status"))
    return [t for t in (_BY_STATUS.get(status), "on_sla_breach") if t]


def match(store: DuckDBStore, now: _dt.datetime | None = None) -> int:
    """Match the events since the cursor, then look for SLA breaches; returns jobs queued."""
    now = now or utcnow()
    with store.connection():  # the server's lock: no event is written between read and cursor
        events = sql.events_after(
            store, sql.cursor(store), (RUN_STATUS_UPDATE, FLOW_TRIGGER), MATCH_BATCH
        )
        last = events[-1][0] if len(events) == MATCH_BATCH else sql.last_event_id(store)
        firings = []
        for _, kind, payload, run in events:
            for trigger in _triggers(kind, payload, run):
                for rule in sql.rules_for(store, run.org_id, trigger, run.flow_name):
                    if trigger == "on_sla_breach" and not _ended_past_sla(run, rule):
                        continue
                    firings.append(_firing(store, rule, run, now))
        for rule, run in sql.sla_breaches(store, now):
            firings.append(_firing(store, rule, run, now))
        return sql.fire(store, firings, now, cursor_to=last)


def _ended_past_sla(run: RunRecord, rule: RuleRow) -> bool:
    duration = run.duration_seconds
    return duration is not None and rule.sla_seconds is not None and duration > rule.sla_seconds


# -- delivery ---------------------------------------------------------------------------------------


def _prepare(
    store: DuckDBStore, org_id: str, channel_id: str, timeout: float, delivery_id: str
) -> tuple[notifications.OpenChannel | None, Context, str | None]:
    """The channel opened, and the send's context; or why it cannot be sent."""
    row = sql.get_channel(store, org_id, channel_id)
    if row is None:
        return None, Context(timeout, delivery_id), "the channel was deleted"
    if not row.enabled:
        return None, Context(timeout, delivery_id), "the channel is disabled"
    try:
        opened = notifications.open_channel(store, row)
    except RequestError as exc:
        return None, Context(timeout, delivery_id), exc.message

    def secret(name: str) -> str:
        from dagy.services.accounts import audit

        with store.connection():
            found, value = secrets.lookup(store, org_id, name, None)
            audit.record(
                store,
                None,
                "read",
                "secret",
                found.secret_id,
                resource_name=name,
                changes={"channel_id": channel_id},
                org_id=org_id,
            )
        return value

    return opened, Context(timeout, delivery_id, secret), None


def _send(
    store: DuckDBStore, org_id: str, channel_id: str, body: dict[str, Any], timeout: float, tag: str
) -> tuple[Outcome, int]:
    """One attempt, outside the store's lock (a slow receiver holds up nothing else): the outcome
    with any secret scrubbed from its error, and how long it took in ms."""
    with store.connection():
        opened, context, problem = _prepare(store, org_id, channel_id, timeout, tag)
    started = time.monotonic()
    if opened is None:
        return Outcome(False, None, problem), 0
    try:
        outcome = TYPES[opened.row.channel_type].send(opened.config, body, context)
    except RequestError as exc:  # the email password's secret is gone or will not open
        outcome = Outcome(False, None, exc.message)
    error = channel_config.scrub(outcome.error, opened.secret)
    elapsed = int((time.monotonic() - started) * 1000)
    return Outcome(outcome.success, outcome.status_code, error), elapsed


def deliver(store: DuckDBStore, settings: Settings, job: JobRow) -> Outcome:
    """Send one due job and record the attempt; a failure is retried after the backoff, until
    ``max_attempts`` are spent."""
    outcome, elapsed = _send(
        store,
        job.org_id,
        job.channel_id,
        json.loads(job.payload),
        settings.timeout_seconds,
        str(job.job_id),
    )
    now = utcnow()
    attempt = job.attempts + 1
    if outcome.success:
        status, retry_at = sql.DELIVERED, None
    elif attempt >= settings.max_attempts:
        status, retry_at = sql.FAILED, None
    else:
        status = sql.PENDING
        retry_at = now + _dt.timedelta(seconds=settings.delay_after(attempt))
    with store.connection():
        if sql.get_channel(store, job.org_id, job.channel_id) is None:
            return outcome  # deleted while sending: its jobs and history went with it
        sql.record_attempt(
            store,
            DeliveryRow(
                0,
                job.org_id,
                job.channel_id,
                job.job_id,
                job.rule_id,
                job.run_id,
                job.event,
                attempt,
                now,
                outcome.success,
                outcome.status_code,
                outcome.error,
                elapsed,
            ),
            status=status,
            next_attempt_at=retry_at,
        )
    return outcome


def deliver_due(store: DuckDBStore, settings: Settings) -> int:
    """Send the jobs that are due; returns how many were attempted."""
    jobs = sql.due_jobs(store, utcnow(), DELIVER_BATCH)
    for job in jobs:
        deliver(store, settings, job)
    return len(jobs)


# -- a test notification ----------------------------------------------------------------------------


def test_rule(
    store: DuckDBStore, org_id: str, rule_id: str, settings: Settings | None = None
) -> dict[str, Any]:
    """Send a test notification to each of the rule's channels now (one attempt each, recorded
    in their deliveries); says how many it reached."""
    policy = settings or Settings.from_env()
    rule = notifications.get_rule(store, org_id, rule_id)
    now = utcnow()
    body = _test_notification(rule, now)
    results = []
    for channel_id in rule.channel_ids:
        outcome, elapsed = _send(store, org_id, channel_id, body, policy.timeout_seconds, "test")
        with store.connection():
            if sql.get_channel(store, org_id, channel_id) is not None:
                sql.record_attempt(
                    store,
                    DeliveryRow(
                        0,
                        org_id,
                        channel_id,
                        None,
                        rule.rule_id,
                        None,
                        "test",
                        1,
                        utcnow(),
                        outcome.success,
                        outcome.status_code,
                        outcome.error,
                        elapsed,
                    ),
                )
        results.append(
            {"channel_id": channel_id, "success": outcome.success, "error": outcome.error}
        )
    sent = sum(1 for r in results if r["success"])
    plural = "channel" if len(results) == 1 else "channels"
    if sent == len(results) and results:
        status, message = "sent", f"Test notification sent to {sent} {plural}"
    else:
        status = "partial" if sent else "failed"
        message = f"Test notification sent to {sent} of {len(results)} {plural}"
    return {"status": status, "message": message, "channels": results}
