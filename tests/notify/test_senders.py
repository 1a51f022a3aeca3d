"""What each channel type sends, built without sending; the backoff policy."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from dagy.errors import ConfigError
from dagy.notify import email, pagerduty, slack, webhook
from dagy.notify.loop import Settings

NOTE = {
    "event": "run.failed",
    "summary": "Run r1 of flow etl failed: boom",
    "occurred_at": "2026-03-02T10:30:00Z",
    "run": {"run_id": "r1", "flow_name": "etl", "status": "failed", "error": "boom",
            "deployment_name": "etl-prod"},
}  # fmt: skip


def test_the_webhook_signature_is_an_hmac_of_timestamp_dot_body():
    body = b'{"event":"run.failed"}'
    expected = hmac.new(b"k" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhook.signature("k" * 16, "1700000000", body) == "sha256=" + expected
    assert webhook.signature("k" * 16, "1700000001", body) != "sha256=" + expected


def test_pagerduty_body_is_an_events_v2_trigger():
    body = pagerduty.body({"routing_key": "rk", "severity": "critical", "source": "ci"}, NOTE)
    assert body["routing_key"] == "rk" and body["event_action"] == "trigger"
    assert body["dedup_key"] == "dagy/r1/run.failed"
    assert body["payload"]["summary"] == NOTE["summary"]
    assert body["payload"]["severity"] == "critical" and body["payload"]["source"] == "ci"
    assert body["payload"]["component"] == "etl" and body["payload"]["group"] == "etl-prod"
    long = {**NOTE, "summary": "x" * 2000}
    assert len(pagerduty.body({"routing_key": "rk"}, long)["payload"]["summary"]) == 1024


def test_slack_text_names_the_run_and_its_error():
    body = slack.body({"webhook_url": "https://h/x", "username": "dagy"}, NOTE)
    assert body["username"] == "dagy" and "channel" not in body
    assert "`r1`" in body["text"] and "boom" in body["text"]


def test_the_email_names_its_recipients_and_the_run():
    msg = email.message({"from_address": "d@x", "to_addresses": ["a@x", "b@x"]}, NOTE)
    assert msg["To"] == "a@x, b@x" and msg["Subject"] == f"[Dagy] {NOTE['summary']}"
    assert "run_id: r1" in msg.get_content()


def test_backoff_doubles_up_to_its_cap():
    settings = Settings(max_attempts=6, backoff_seconds=2, backoff_max_seconds=10)
    assert [settings.delay_after(n) for n in range(1, 6)] == [2, 4, 8, 10, 10]


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DAGY_NOTIFY_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("DAGY_NOTIFY_BACKOFF_SECONDS", "0.5")
    assert Settings.from_env() == Settings(max_attempts=7, backoff_seconds=0.5)
    for name, raw in [("DAGY_NOTIFY_MAX_ATTEMPTS", "0"), ("DAGY_NOTIFY_POLL_SECONDS", "soon")]:
        monkeypatch.setenv(name, raw)
        with pytest.raises(ConfigError, match=name):
            Settings.from_env()
        monkeypatch.delenv(name)
