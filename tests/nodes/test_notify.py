"""Notification nodes deliver through Dagy's senders to receivers in the test."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

import pytest

from dagy.nodes.run import notify
from dagy.nodes.run.frames import NodeError
from tests.server.notify_support import Mailbox, Receiver

SECRET = "whsec-node-test-1234"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def test_webhook_post_sends_its_input_signed(ctx, receiver):
    rows = [{"id": 1}, {"id": 2}]
    result = notify.webhook_post(
        {"url": receiver.url("/signed"), "secret": SECRET, "headers": {"X-Team": "data"}},
        {"data_in": rows},
    )
    assert result == {"delivered": True, "status_code": 200}
    got = next(r for r in receiver.requests if r.path == "/signed")
    stamp = got.headers["x-dagy-timestamp"]
    mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + got.body, hashlib.sha256)
    assert got.headers["x-dagy-signature"] == "sha256=" + mac.hexdigest()
    assert got.headers["x-team"] == "data" and got.headers["x-dagy-delivery"] == "t1/1"
    body = got.json
    assert body["data"] == rows and body["run"] == {
        "run_id": "r1",
        "task_run_id": "t1",
        "attempt": 1,
    }


def test_webhook_post_fails_on_a_non_2xx_answer(ctx, receiver):
    receiver.statuses.append(503)
    with pytest.raises(NodeError, match=r"webhook POST to .*/down failed: HTTP 503"):
        notify.webhook_post({"url": receiver.url("/down"), "secret": SECRET}, {"data_in": {}})


def test_slack_and_pagerduty_go_to_their_endpoints(ctx, receiver):
    notify.slack_message(
        {"webhook_url": receiver.url("/slack"), "text": "loaded 3 rows", "channel": "#etl"}, {}
    )
    slack = next(r for r in receiver.requests if r.path == "/slack").json
    assert slack["channel"] == "#etl" and "*loaded 3 rows*" in slack["text"]
    notify.pagerduty_event(
        {
            "routing_key": "rk-1",
            "summary": "orders late",
            "severity": "warning",
            "url": receiver.url("/pd"),
        },
        {},
    )
    pd = next(r for r in receiver.requests if r.path == "/pd").json
    assert pd["routing_key"] == "rk-1" and pd["event_action"] == "trigger"
    assert pd["payload"]["summary"] == "orders late" and pd["payload"]["severity"] == "warning"


def test_email_send_delivers_subject_and_body(ctx):
    pytest.importorskip("aiosmtpd")
    mailbox = Mailbox()
    try:
        notify.email_send(
            {
                "to": ["ops@example.com"],
                "subject": "Nightly load",
                "body": "3 rows loaded",
                "smtp_host": "127.0.0.1",
                "smtp_port": mailbox.port,
                "from_address": "dagy@example.com",
            },
            {},
        )
        msg = mailbox.wait_for("3 rows loaded")
    finally:
        mailbox.close()
    assert msg["Subject"] == "[Dagy] Nightly load" and msg["To"] == "ops@example.com"


def test_missing_required_config_is_named(ctx):
    with pytest.raises(NodeError, match="config.url is required"):
        notify.webhook_post({}, {})
    with pytest.raises(NodeError, match="config.text is required"):
        notify.slack_message({"webhook_url": "http://127.0.0.1:9/x"}, {})
