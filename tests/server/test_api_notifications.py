"""Channels, alert rules and their deliveries on a real `dagy serve`: runs executed by its workers
reach an HTTP receiver, an SMTP server and a PagerDuty stand-in started by the test.

One server per module (its runs share a store: each test looks at its own run ids and its own
receivers); the restart test starts its own. Delivery is made fast through DAGY_NOTIFY_*.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, ServerProcess, dagy_cmd, start_server
from tests.server.flows_support import PASSWORD, Api, add_user, assert_error
from tests.server.notify_support import Mailbox, Receiver, free_port, self_signed
from tests.server.runs_support import register, trigger, wait_status, wait_until, write_flows

ENV = {
    "DAGY_RATE_LIMIT_PER_MINUTE": "0",
    "DAGY_KEYRING": "0",
    "DAGY_MASTER_KEY": "",
    "DAGY_SERVER_WORKERS": "4",
    "DAGY_LOCAL_KEEP_RUNS": "0",
    "DAGY_NOTIFY_POLL_SECONDS": "0.1",
    "DAGY_NOTIFY_BACKOFF_SECONDS": "0.2",
    "DAGY_NOTIFY_MAX_ATTEMPTS": "3",
    "DAGY_NOTIFY_TIMEOUT_SECONDS": "3",
}
WEBHOOK_SECRET = "whsec-0123456789abcdef"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefWXYZ"
SLACK_TOKEN = "T0000/B0000/sl4cktok3nXYZW"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("notify")
    register(tmp / "home", write_flows(tmp / "code"))
    # The server trusts the test SMTP server's certificate (and only it) for STARTTLS.
    cert, _ = self_signed(tmp / "tls")
    server = start_server(tmp / "home", env={**ENV, "SSL_CERT_FILE": str(cert)})
    add_user(server, "owner@example.com", "owner")
    add_user(server, "dev@example.com", "developer")
    add_user(server, "viewer@example.com", "viewer")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def owner(srv: ServerProcess) -> Api:
    return Api(srv, srv.login("owner@example.com", PASSWORD))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def channel(api: Api, channel_type: str, config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"name": f"{channel_type} channel", "channel_type": channel_type, "config_json": config}
    return api.ok("POST", "/channels", {**body, **extra}, status=201)  # type: ignore[no-any-return]


def webhook(api: Api, url: str) -> str:
    return str(channel(api, "webhook", {"url": url, "secret": WEBHOOK_SECRET})["channel_id"])


def rule(api: Api, trigger_: str, channel_ids: list[str], **extra: Any) -> dict[str, Any]:
    body = {"name": f"{trigger_} rule", "trigger": trigger_, "channel_ids": channel_ids, **extra}
    return api.ok("POST", "/alert-rules", body, status=201)  # type: ignore[no-any-return]


def run(srv: ServerProcess, flow: str, *final: str, **params: Any) -> dict[str, Any]:
    started = trigger(srv, flow_name=flow, flow_version="1.0.0", parameters=params)
    return wait_status(srv, started["run_id"], *(final or ("completed", "failed")))


def deliveries(api: Api, channel_id: str) -> list[dict[str, Any]]:
    return api.ok("GET", f"/channels/{channel_id}/deliveries")["items"]  # type: ignore[no-any-return]


def email_config(mailbox: Mailbox, password_secret: str, *to: str) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": mailbox.port,
        "from_address": "dagy@example.com",
        "to_addresses": list(to or ["oncall@example.com"]),
        "username": mailbox.login,
        "password_secret": password_secret,
    }


def nowhere() -> str:
    """A loopback URL nothing answers at: tests send nothing off this machine."""
    return f"http://127.0.0.1:{free_port()}/nowhere"


def verify(received: Any) -> dict[str, Any]:
    """The webhook's signature checked as a receiver would; returns the body."""
    stamp = received.headers["x-dagy-timestamp"]
    mac = hmac.new(WEBHOOK_SECRET.encode(), stamp.encode() + b"." + received.body, hashlib.sha256)
    assert hmac.compare_digest(received.headers["x-dagy-signature"], "sha256=" + mac.hexdigest())
    assert abs(time.time() - int(stamp)) < 60
    return received.json  # type: ignore[no-any-return]


# -- delivery per channel type ----------------------------------------------------------------------


def test_a_webhook_gets_a_signed_notification_when_a_run_succeeds(srv, owner, receiver):
    cid = webhook(owner, receiver.url("/hooks/dagy"))
    rule(owner, "on_success", [cid], flow_name="quick")
    done = run(srv, "quick", n=2)
    assert done["status"] == "completed"

    (got,) = receiver.wait_for(done["run_id"])
    assert got.path == "/hooks/dagy"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-dagy-event"] == "run.succeeded"
    body = verify(got)
    assert body["event"] == "run.succeeded" and body["trigger"] == "on_success"
    assert body["run"]["run_id"] == done["run_id"] and body["run"]["flow_name"] == "quick"
    assert body["run"]["status"] == "completed" and body["run"]["error"] is None
    assert "completed" in body["summary"]

    wait_until(lambda: deliveries(owner, cid), what="a delivery recorded")
    (attempt,) = deliveries(owner, cid)
    assert attempt["success"] is True and attempt["status_code"] == 200
    assert attempt["attempt"] == 1 and attempt["event"] == "run.succeeded"
    assert attempt["run_id"] == done["run_id"] and attempt["error"] is None


def test_a_tampered_body_fails_the_signature_check(srv, owner, receiver):
    """The test's own check is a real one: a changed byte no longer verifies."""
    cid = webhook(owner, receiver.url())
    rule(owner, "on_success", [cid], flow_name="quick")
    done = run(srv, "quick")
    (got,) = receiver.wait_for(done["run_id"])
    got.body = got.body.replace(b"run.succeeded", b"run.failed")
    with pytest.raises(AssertionError):
        verify(got)


def test_slack_gets_a_message_when_a_run_fails(srv, owner, receiver, tmp_path):
    url = receiver.url(f"/services/{SLACK_TOKEN}")
    cid = channel(owner, "slack", {"webhook_url": url, "channel": "#alerts"})["channel_id"]
    rule(owner, "on_failure", [cid], flow_name="flaky")
    done = run(srv, "flaky", marker=str(tmp_path / "absent"), tally=str(tmp_path / "t"))
    assert done["status"] == "failed"

    (got,) = receiver.wait_for(done["run_id"])
    assert got.path == f"/services/{SLACK_TOKEN}"
    body = got.json
    assert set(body) == {"text", "channel"} and body["channel"] == "#alerts"
    assert done["run_id"] in body["text"] and "failed" in body["text"]
    assert "no marker yet" in body["text"]  # the run's error


def test_email_goes_out_over_smtp_with_the_password_from_a_secret(srv, owner):
    mailbox = Mailbox()
    try:
        owner.ok("POST", "/secrets", {"secret_name": "SMTP_PW", "value": mailbox.password}, 201)
        config = email_config(mailbox, "SMTP_PW", "oncall@example.com", "team@example.com")
        cid = channel(owner, "email", config)["channel_id"]
        shown = owner.ok("GET", f"/channels/{cid}")["config_json"]
        assert shown == {**config, "starttls": False}  # nothing secret in it: the password is not
        rule(owner, "on_failure", [cid], flow_name="fragile")
        done = run(srv, "fragile", explode=True)
        assert done["status"] == "failed"

        msg = mailbox.wait_for(done["run_id"])
        assert msg["From"] == "dagy@example.com"
        assert msg["To"] == "oncall@example.com, team@example.com"
        assert msg["Subject"].startswith("[Dagy] Run ") and "failed" in msg["Subject"]
        assert "boom at build" in msg.get_payload()
        recipients = next(r for r, m in mailbox.messages if m is msg)
        assert sorted(recipients) == ["oncall@example.com", "team@example.com"]
        assert mailbox.logins == [mailbox.login]
        wait_until(lambda: deliveries(owner, cid), what="the delivery recorded")
        assert deliveries(owner, cid)[0]["success"] is True
    finally:
        mailbox.close()


def test_email_can_log_in_after_starttls(srv, owner):
    tls = (srv.home.parent / "tls" / "smtp-cert.pem", srv.home.parent / "tls" / "smtp-key.pem")
    mailbox = Mailbox(tls=tls)  # refuses mail, and AUTH, before STARTTLS
    try:
        owner.ok("POST", "/secrets", {"secret_name": "SMTP_TLS", "value": mailbox.password}, 201)
        config = email_config(mailbox, "SMTP_TLS")
        plain = channel(owner, "email", config)["channel_id"]
        secure = channel(owner, "email", {**config, "starttls": True})["channel_id"]
        rid = rule(owner, "on_failure", [plain, secure], flow_name="no-such-flow")["rule_id"]
        answer = owner.ok("POST", f"/alert-rules/{rid}/test")
        assert answer["message"] == "Test notification sent to 1 of 2 channels", answer
        assert [c["success"] for c in answer["channels"]] == [False, True]
        # Without STARTTLS the server offers no AUTH: the password never travels in the clear.
        assert "AUTH extension not supported" in answer["channels"][0]["error"]
        msg = mailbox.wait_for("Test notification")
        assert msg["To"] == "oncall@example.com" and mailbox.logins == [mailbox.login]
    finally:
        mailbox.close()


def test_disabled_rules_and_channels_send_nothing(srv, owner, receiver):
    on = webhook(owner, receiver.url("/on"))
    off = channel(owner, "webhook", {"url": receiver.url("/off"), "secret": WEBHOOK_SECRET},
                  enabled=False)["channel_id"]  # fmt: skip
    rule(owner, "on_success", [on, off], flow_name="quick")
    rule(owner, "on_success", [on], flow_name="quick", enabled=False)
    done = run(srv, "quick")
    (got,) = receiver.wait_for(done["run_id"])
    time.sleep(0.5)
    assert got.path == "/on" and len(receiver.about(done["run_id"])) == 1
    assert deliveries(owner, off) == []


def test_a_wrong_smtp_password_is_a_failed_attempt(srv, owner):
    mailbox = Mailbox()
    try:
        owner.ok("POST", "/secrets", {"secret_name": "SMTP_BAD", "value": "wrong-pw"}, 201)
        config = email_config(mailbox, "SMTP_BAD")
        cid = channel(owner, "email", config)["channel_id"]
        rule(owner, "on_success", [cid], flow_name="quick")
        run(srv, "quick")
        tries = wait_until(lambda: len(deliveries(owner, cid)) == 3 and deliveries(owner, cid))
        assert [t["success"] for t in tries] == [False, False, False]
        assert tries[0]["status_code"] == 535 and "wrong-pw" not in str(tries)
        assert mailbox.messages == []
    finally:
        mailbox.close()


def test_pagerduty_gets_an_events_v2_trigger(srv, owner, receiver):
    config = {"routing_key": ROUTING_KEY, "events_url": receiver.url("/v2/enqueue")}
    cid = channel(owner, "pagerduty", config)["channel_id"]
    rule(owner, "on_failure", [cid], flow_name="dies")
    done = run(srv, "dies")
    assert done["status"] == "failed"

    (got,) = receiver.wait_for(done["run_id"])
    body = got.json
    assert got.path == "/v2/enqueue"
    assert body["routing_key"] == ROUTING_KEY and body["event_action"] == "trigger"
    assert body["dedup_key"] == f"dagy/{done['run_id']}/run.failed"
    payload = body["payload"]
    assert payload["severity"] == "error" and payload["source"] == "dagy"
    assert payload["component"] == "dies" and payload["class"] == "run.failed"
    assert done["run_id"] in payload["summary"] and "failed" in payload["summary"]
    assert payload["custom_details"]["run"]["run_id"] == done["run_id"]


# -- triggers ---------------------------------------------------------------------------------------


def test_on_retry_fires_when_a_failed_run_is_retried(srv, owner, receiver, tmp_path):
    cid = webhook(owner, receiver.url())
    rule(owner, "on_retry", [cid], flow_name="flaky")
    marker = tmp_path / "marker"
    failed = run(srv, "flaky", marker=str(marker), tally=str(tmp_path / "t"))
    assert failed["status"] == "failed"
    marker.touch()
    status, again = owner.call("POST", f"/runs/{failed['run_id']}/retry")
    assert status == 202, again
    assert wait_status(srv, again["run_id"], "completed")["status"] == "completed"

    (got,) = receiver.wait_for(again["run_id"])
    body = verify(got)
    assert body["event"] == "run.retried" and body["run"]["retry_of"] == failed["run_id"]
    assert receiver.about(failed["run_id"]) == [got]  # the first run's failure: no on_retry


def test_on_sla_breach_fires_once_while_the_run_is_still_running(srv, owner, receiver, tmp_path):
    cid = webhook(owner, receiver.url())
    rule(owner, "on_sla_breach", [cid], flow_name="gated", sla_seconds=0.5)
    gate = tmp_path / "gate"
    started = trigger(
        srv, flow_name="gated", flow_version="1.0.0",
        parameters={"gate": str(gate), "tally": str(tmp_path / "t")},
    )  # fmt: skip
    (got,) = receiver.wait_for(started["run_id"])
    assert owner.ok("GET", f"/runs/{started['run_id']}")["status"] == "running"
    body = verify(got)
    assert body["event"] == "run.sla_breach" and body["rule"]["sla_seconds"] == 0.5
    assert "SLA of 0.5s" in body["summary"]

    time.sleep(1.0)  # ten more watchdog ticks while it still runs
    gate.touch()
    wait_status(srv, started["run_id"], "completed")
    time.sleep(1.0)  # and its end matched
    assert len(receiver.about(started["run_id"])) == 1


def test_a_quick_run_breaches_no_sla(srv, owner, receiver):
    cid = webhook(owner, receiver.url())
    rule(owner, "on_sla_breach", [cid], flow_name="quick", sla_seconds=30)
    rule(owner, "on_success", [cid], flow_name="quick")
    done = run(srv, "quick")
    (got,) = receiver.wait_for(done["run_id"])
    time.sleep(0.5)
    assert got.json["event"] == "run.succeeded" and receiver.about(done["run_id"]) == [got]


def test_flow_name_filters_which_runs_a_rule_fires_for(srv, owner, tmp_path):
    everyone, only_gated = Receiver(), Receiver()
    all_id = webhook(owner, everyone.url())
    gated_id = webhook(owner, only_gated.url())
    every_flow = rule(owner, "on_success", [all_id])["rule_id"]
    rule(owner, "on_success", [gated_id], flow_name="gated")
    try:
        done = run(srv, "quick")
        everyone.wait_for(done["run_id"])
        time.sleep(0.5)
        assert only_gated.about(done["run_id"]) == []

        gate = tmp_path / "gate"
        gate.touch()
        other = run(srv, "gated", gate=str(gate), tally=str(tmp_path / "t"))
        assert only_gated.wait_for(other["run_id"])[0].json["run"]["flow_name"] == "gated"
        assert everyone.wait_for(other["run_id"])
    finally:
        owner.call("DELETE", f"/alert-rules/{every_flow}")  # the module's later runs: not here
        everyone.close()
        only_gated.close()


def test_a_run_of_dagy_run_through_the_server_fires_too(srv, owner, receiver, tmp_path):
    cid = webhook(owner, receiver.url())
    rule(owner, "on_success", [cid], flow_name="quick")
    flows = write_flows(tmp_path / "cli")
    done = subprocess.run(
        [*dagy_cmd(), "run", f"{flows}:quick"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DAGY_LOCAL_DIR": str(srv.home)},
        cwd=str(REPO),
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[2]
    (got,) = receiver.wait_for(run_id)
    assert verify(got)["run"]["status"] == "completed"


# -- failures and retries ---------------------------------------------------------------------------


def test_a_receiver_that_is_down_costs_attempts_not_the_run(srv, owner):
    cid = webhook(owner, f"http://127.0.0.1:{free_port()}/down")
    rule(owner, "on_success", [cid], flow_name="quick")
    done = run(srv, "quick")
    assert done["status"] == "completed" and done["error"] is None

    tries = wait_until(lambda: len(deliveries(owner, cid)) >= 3 and deliveries(owner, cid))
    time.sleep(1.0)  # no fourth: DAGY_NOTIFY_MAX_ATTEMPTS=3
    tries = deliveries(owner, cid)
    assert [t["attempt"] for t in tries] == [3, 2, 1]  # newest first
    for t in tries:
        assert t["success"] is False and t["status_code"] is None
        assert t["run_id"] == done["run_id"] and "refused" in t["error"].lower()
    assert owner.ok("GET", f"/runs/{done['run_id']}")["status"] == "completed"


def test_a_failing_receiver_is_retried_until_it_answers(srv, owner):
    flaky = Receiver(statuses=[500, 503])
    try:
        cid = webhook(owner, flaky.url())
        rule(owner, "on_success", [cid], flow_name="quick")
        done = run(srv, "quick")
        got = flaky.wait_for(done["run_id"], count=3)
        assert len({r.headers["x-dagy-delivery"] for r in got}) == 1  # one job, three attempts
        tries = wait_until(lambda: len(deliveries(owner, cid)) == 3 and deliveries(owner, cid))
        assert [(t["attempt"], t["success"], t["status_code"]) for t in tries] == [
            (3, True, 200),
            (2, False, 503),
            (1, False, 500),
        ]
        assert tries[2]["error"] == "HTTP 500 Internal Server Error"
        time.sleep(0.5)
        assert len(flaky.about(done["run_id"])) == 3
    finally:
        flaky.close()


def test_deliveries_are_paged(srv, owner):
    cid = webhook(owner, f"http://127.0.0.1:{free_port()}/down")
    rule(owner, "on_success", [cid], flow_name="quick")
    run(srv, "quick")
    wait_until(lambda: len(deliveries(owner, cid)) == 3, what="three attempts")
    first = owner.ok("GET", f"/channels/{cid}/deliveries?limit=2")
    assert [d["attempt"] for d in first["items"]] == [3, 2] and first["next_token"]
    rest = owner.ok("GET", f"/channels/{cid}/deliveries?limit=2&next_token={first['next_token']}")
    assert [d["attempt"] for d in rest["items"]] == [1] and rest["next_token"] is None
    status, body = owner.call("GET", f"/channels/{cid}/deliveries?next_token=bogus")
    assert_error(body, status, 400, "next_token")


def test_pending_deliveries_resume_after_a_restart(tmp_path):
    register(tmp_path / "home", write_flows(tmp_path / "code"))
    port = free_port()
    slow = {**ENV, "DAGY_NOTIFY_MAX_ATTEMPTS": "50", "DAGY_NOTIFY_BACKOFF_SECONDS": "0.3"}
    slow["DAGY_NOTIFY_BACKOFF_MAX_SECONDS"] = "0.5"
    server = start_server(tmp_path / "home", "--local", env=slow)
    try:
        api = Api(server, server.local_token)
        cid = webhook(api, f"http://127.0.0.1:{port}/late")
        rule(api, "on_success", [cid], flow_name="quick")
        done = run(server, "quick")
        wait_until(lambda: deliveries(api, cid), what="a first failed attempt")
    finally:
        server.stop()
    late = Receiver(port=port)
    server = start_server(tmp_path / "home", "--local", env=slow)
    try:
        (got,) = late.wait_for(done["run_id"])
        assert verify(got)["run"]["run_id"] == done["run_id"]
        api = Api(server, server.local_token)
        tries = wait_until(lambda: (d := deliveries(api, cid)) and d[0]["success"] and d)
        assert tries[-1]["success"] is False and len(tries) >= 2
    finally:
        server.stop()
        late.close()


# -- the API: responses, validation, permissions ----------------------------------------------------


def test_channel_responses_mask_secrets(srv, owner):
    slack_url = f"https://hooks.slack.com/services/{SLACK_TOKEN}"
    created = channel(owner, "slack", {"webhook_url": slack_url}, name="Production Alerts")
    assert set(created) == {"channel_id", "name", "channel_type", "enabled", "created_at"}
    assert created["name"] == "Production Alerts" and created["enabled"] is True
    assert created["channel_id"].startswith("channel_") and created["created_at"].endswith("Z")
    shown = owner.ok("GET", f"/channels/{created['channel_id']}")
    assert shown["config_json"] == {"webhook_url": "https://hooks.slack.com/****XYZW"}
    pd = channel(owner, "pagerduty", {"routing_key": ROUTING_KEY, "severity": "critical"})
    assert owner.ok("GET", f"/channels/{pd['channel_id']}")["config_json"] == {
        "routing_key": "****WXYZ",
        "severity": "critical",
        "source": "dagy",
        "events_url": "https://events.pagerduty.com/v2/enqueue",
    }
    wh = webhook(owner, nowhere())
    assert owner.ok("GET", f"/channels/{wh}")["config_json"]["secret"] == "****cdef"
    listed = owner.ok("GET", "/channels")
    assert created["channel_id"] in [c["channel_id"] for c in listed["items"]]
    everything = str(listed) + str(owner.ok("GET", f"/channels/{pd['channel_id']}"))
    for secret in (SLACK_TOKEN, ROUTING_KEY, WEBHOOK_SECRET):
        assert secret not in everything
        assert secret not in Path(srv.stderr_path).read_text()  # nor in the server's log
    with open_store_file(srv) as raw:  # nor in the store file: sealed
        for secret in (SLACK_TOKEN, ROUTING_KEY, WEBHOOK_SECRET):
            assert secret.encode() not in raw


class open_store_file:  # noqa: N801 - a context manager read like a function
    def __init__(self, srv: ServerProcess) -> None:
        self.path = srv.home / "dagy.duckdb"

    def __enter__(self) -> bytes:
        data = self.path.read_bytes()
        wal = self.path.with_name("dagy.duckdb.wal")
        return data + (wal.read_bytes() if wal.exists() else b"")

    def __exit__(self, *exc: object) -> None:
        pass


def test_rules_round_trip_and_list(srv, owner):
    cid = webhook(owner, nowhere())
    created = rule(owner, "on_failure", [cid], flow_name="my-flow", name="Production Flow Failures")
    assert created == {
        "rule_id": created["rule_id"],
        "name": "Production Flow Failures",
        "trigger": "on_failure",
        "flow_name": "my-flow",
        "channel_ids": [cid],
        "sla_seconds": None,
        "enabled": True,
        "created_at": created["created_at"],
    }
    assert owner.ok("GET", f"/alert-rules/{created['rule_id']}") == created
    assert created in owner.ok("GET", "/alert-rules")["items"]
    sla = rule(owner, "on_sla_breach", [cid], sla_seconds=90, enabled=False)
    assert sla["sla_seconds"] == 90 and sla["enabled"] is False and sla["flow_name"] is None


def test_deleting_a_channel_takes_it_out_of_its_rules(srv, owner):
    keep, gone = webhook(owner, nowhere()), webhook(owner, nowhere())
    rid = rule(owner, "on_failure", [keep, gone], flow_name="no-such-flow")["rule_id"]
    status, _ = owner.call("DELETE", f"/channels/{gone}")
    assert status == 204
    assert owner.ok("GET", f"/alert-rules/{rid}")["channel_ids"] == [keep]
    status, body = owner.call("GET", f"/channels/{gone}")
    assert_error(body, status, 404)
    status, body = owner.call("DELETE", f"/channels/{gone}")
    assert_error(body, status, 404)
    assert owner.call("DELETE", f"/alert-rules/{rid}")[0] == 204
    assert owner.call("GET", f"/alert-rules/{rid}")[0] == 404


def test_creating_and_deleting_channels_and_rules_leaves_audit_rows(srv, owner):
    agent = f"notify-audit/{time.time_ns()}"
    api = Api(srv, owner.token, {"User-Agent": agent})
    cid = channel(api, "webhook", {"url": nowhere(), "secret": WEBHOOK_SECRET}, name="audited")
    cid = cid["channel_id"]
    rid = rule(api, "on_failure", [cid], flow_name="no-such-flow", name="audited rule")["rule_id"]
    status, _ = api.call(
        "POST",
        "/alert-rules",
        {"name": "x", "trigger": "on_failure", "channel_ids": ["channel_nope"]},
    )
    assert status == 400  # refused: no row
    assert api.call("DELETE", f"/alert-rules/{rid}")[0] == 204
    assert api.call("DELETE", f"/channels/{cid}")[0] == 204

    rows = [
        r
        for kind in ("channel", "alert_rule")
        for r in owner.ok("GET", f"/audit-logs?resource_type={kind}&limit=100")["items"]
        if r["user_agent"] == agent
    ]
    assert {(r["actor_email"], r["ip_address"]) for r in rows} == {
        ("owner@example.com", "127.0.0.1")
    }
    got = sorted(
        (r["action"], r["resource_type"], r["resource_id"], r["resource_name"], r["changes"])
        for r in rows
    )
    assert got == sorted(
        [
            ("create", "channel", cid, "audited", {"channel_type": [None, "webhook"]}),
            ("delete", "channel", cid, "audited", {}),
            (
                "create",
                "alert_rule",
                rid,
                "audited rule",
                {"trigger": [None, "on_failure"], "channel_ids": [None, [cid]]},
            ),
            ("delete", "alert_rule", rid, "audited rule", {}),
        ]
    )


def test_testing_a_rule_reports_the_channels_it_reached(srv, owner, receiver):
    up = webhook(owner, receiver.url())
    down = webhook(owner, f"http://127.0.0.1:{free_port()}/down")
    one = rule(owner, "on_failure", [up], flow_name="no-such-flow")["rule_id"]
    assert owner.ok("POST", f"/alert-rules/{one}/test") == {
        "status": "sent",
        "message": "Test notification sent to 1 channel",
        "channels": [{"channel_id": up, "success": True, "error": None}],
    }
    (got,) = receiver.requests
    assert verify(got)["event"] == "test" and got.headers["x-dagy-delivery"] == "test"
    both = rule(owner, "on_failure", [up, down], flow_name="no-such-flow")["rule_id"]
    answer = owner.ok("POST", f"/alert-rules/{both}/test")
    assert answer["status"] == "partial"
    assert answer["message"] == "Test notification sent to 1 of 2 channels"
    assert "refused" in answer["channels"][1]["error"].lower()
    assert [d["event"] for d in deliveries(owner, down)] == ["test"]
    status, body = owner.call("POST", "/alert-rules/rule_nope/test")
    assert_error(body, status, 404)


BAD_CHANNELS = [
    ({"channel_type": "sms", "config_json": {}}, "channel_type"),
    ({"channel_type": "slack", "config_json": {}}, "config_json.webhook_url"),
    ({"channel_type": "slack", "config_json": {"webhook_url": "ftp://x/y"}}, "config_json.webhook_url"),
    ({"channel_type": "slack", "config_json": {"webhook_url": "https://h/x", "colour": 1}}, "config_json.colour"),
    ({"channel_type": "slack", "config_json": "https://h/x"}, "config_json"),
    ({"channel_type": "webhook", "config_json": {"url": "https://h/x"}}, "config_json.secret"),
    ({"channel_type": "pagerduty", "config_json": {"routing_key": "k" * 20, "severity": "meh"}}, "config_json.severity"),
    ({"channel_type": "email", "config_json": {"smtp_host": "h", "from_address": "a@b", "to_addresses": []}}, "config_json.to_addresses"),
    ({"channel_type": "email", "config_json": {"smtp_host": "h", "from_address": "nobody", "to_addresses": ["a@b"]}}, "config_json.from_address"),
    ({"channel_type": "email", "config_json": {"smtp_host": "h", "smtp_port": 0, "from_address": "a@b", "to_addresses": ["a@b"]}}, "config_json.smtp_port"),
    ({"channel_type": "email", "config_json": {"smtp_host": "h", "from_address": "a@b", "to_addresses": ["a@b"], "username": "u"}}, "config_json.password_secret"),
    ({"channel_type": "email", "config_json": {"smtp_host": "h", "from_address": "a@b", "to_addresses": ["a@b"], "username": "u", "password_secret": "NO_SUCH"}}, "config_json.password_secret"),
    ({"channel_type": "slack", "config_json": {"webhook_url": "https://h/x"}, "name": ""}, "name"),
    ({"channel_type": "slack", "config_json": {"webhook_url": "https://h/x"}, "enabled": "yes"}, "enabled"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "field"), BAD_CHANNELS)
def test_an_invalid_channel_is_a_400_naming_the_field(srv, owner, body, field):
    before = owner.ok("GET", "/channels")["items"]
    status, answer = owner.call("POST", "/channels", {"name": "bad", **body})
    assert_error(answer, status, 400, field)
    assert "https://h/x" not in answer["message"]  # a value (maybe a secret) is never quoted
    assert owner.ok("GET", "/channels")["items"] == before


def test_an_invalid_rule_is_a_400_naming_the_field(srv, owner):
    cid = webhook(owner, nowhere())
    before = owner.ok("GET", "/alert-rules")["items"]
    cases = [
        ({"trigger": "on_tuesday", "channel_ids": [cid]}, "trigger"),
        ({"trigger": "on_failure", "channel_ids": []}, "channel_ids"),
        ({"trigger": "on_failure", "channel_ids": ["channel_nope"]}, "channel_ids"),
        ({"trigger": "on_failure", "channel_ids": [cid], "sla_seconds": 5}, "sla_seconds"),
        ({"trigger": "on_sla_breach", "channel_ids": [cid]}, "sla_seconds"),
        ({"trigger": "on_sla_breach", "channel_ids": [cid], "sla_seconds": -1}, "sla_seconds"),
        ({"trigger": "on_failure", "channel_ids": [cid], "flow_name": 3}, "flow_name"),
        ({"trigger": "on_failure", "channel_ids": [cid], "name": None}, "name"),
    ]
    for body, field in cases:
        status, answer = owner.call("POST", "/alert-rules", {"name": "r", **body})
        assert_error(answer, status, 400, field)
    assert (
        "channel_nope"
        in owner.call(
            "POST",
            "/alert-rules",
            {"name": "r", "trigger": "on_failure", "channel_ids": ["channel_nope"]},
        )[1]["message"]
    )
    assert owner.ok("GET", "/alert-rules")["items"] == before


def test_unknown_ids_are_404s(srv, owner):
    for method, path in [
        ("GET", "/channels/channel_nope"),
        ("DELETE", "/channels/channel_nope"),
        ("GET", "/channels/channel_nope/deliveries"),
        ("GET", "/alert-rules/rule_nope"),
        ("DELETE", "/alert-rules/rule_nope"),
    ]:
        status, body = owner.call(method, path)
        assert_error(body, status, 404)


def test_permissions_follow_the_matrix(srv, owner):
    viewer = Api(srv, srv.login("viewer@example.com", PASSWORD))
    dev = Api(srv, srv.login("dev@example.com", PASSWORD))
    body = {
        "name": "x",
        "channel_type": "webhook",
        "config_json": {"url": nowhere(), "secret": "s" * 16},
    }
    status, answer = viewer.call("POST", "/channels", body)
    assert_error(answer, status, 403)
    assert answer["details"] == {"permission": "notifications.write"}
    assert viewer.call("GET", "/channels")[0] == 403  # viewers lack notifications.read
    assert dev.call("GET", "/channels")[0] == 200
    assert dev.call("POST", "/channels", body)[0] == 403
    cid = webhook(owner, nowhere())
    rid = rule(owner, "on_failure", [cid], flow_name="no-such-flow")["rule_id"]
    assert dev.call("GET", f"/alert-rules/{rid}")[0] == 200
    for method, path in [
        ("POST", "/alert-rules"),
        ("DELETE", f"/alert-rules/{rid}"),
        ("POST", f"/alert-rules/{rid}/test"),
        ("DELETE", f"/channels/{cid}"),
    ]:
        assert dev.call(method, path, {})[0] == 403, (method, path)
    status, _, answer = srv.request("GET", "/channels")
    assert status == 401
    assert owner.ok("GET", f"/channels/{cid}")["channel_id"] == cid  # all of it changed nothing
