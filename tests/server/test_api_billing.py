"""Billing on a real multi-user `dagy serve` with the stripe SDK pointed at a stand-in for Stripe's
API in the test (DAGY_STRIPE_API_BASE): checkout and portal sessions as Stripe answers them, and
webhooks signed here with Stripe's scheme (``t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<payload>">``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tests.conftest import ServerProcess, start_server
from tests.server.flows_support import Api, add_user, assert_error, new_org, unique

API_KEY = "sk_test_dagy_not_a_real_key_4242"
SECRET = "whsec_dagy_test_secret"
PRICES = {"professional": "price_pro_test", "enterprise": "price_ent_test"}


class FakeStripe(ThreadingHTTPServer):
    """Answers POST /v1/checkout/sessions and /v1/billing_portal/sessions like Stripe's API and
    records each request (path, headers, form fields)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _StripeHandler)
        self.requests: list[dict[str, Any]] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class _StripeHandler(BaseHTTPRequestHandler):
    server: FakeStripe

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        self.server.requests.append(
            {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, **form}
        )
        n = len(self.server.requests)
        if self.path == "/v1/checkout/sessions":
            status, body = (
                200,
                {
                    "id": f"cs_test_{n}",
                    "object": "checkout.session",
                    "url": f"https://checkout.stripe.com/c/pay/cs_test_{n}",
                    "expires_at": 1_900_000_000,
                    "mode": form.get("mode"),
                },
            )
        elif self.path == "/v1/billing_portal/sessions":
            status, body = (
                200,
                {
                    "id": f"bps_test_{n}",
                    "object": "billing_portal.session",
                    "url": f"https://billing.stripe.com/p/session/bps_test_{n}",
                    "customer": form.get("customer"),
                },
            )
        else:
            status, body = 404, {"error": {"type": "invalid_request_error", "message": "nope"}}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{n}")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def stripe_api() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    thread = threading.Thread(target=fake.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.shutdown()
    fake.server_close()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, stripe_api: FakeStripe
) -> Iterator[ServerProcess]:
    srv = start_server(
        tmp_path_factory.mktemp("billing") / "home",
        env={
            "DAGY_RATE_LIMIT_PER_MINUTE": "0",
            "STRIPE_API_KEY": API_KEY,
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "DAGY_STRIPE_API_BASE": stripe_api.url,
            "DAGY_STRIPE_PRICE_PROFESSIONAL": PRICES["professional"],
            "DAGY_STRIPE_PRICE_ENTERPRISE": PRICES["enterprise"],
        },
    )
    yield srv
    srv.stop()


def signed(payload: bytes, secret: str = SECRET, at: int | None = None) -> str:
    ts = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:12]}",
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "data": {"object": obj},
        }
    ).encode()


def post_webhook(server: ServerProcess, payload: bytes, signature: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    status, _, body = server.request("POST", "/billing/webhook", raw=payload, headers=headers)
    return status, body


def plan_of(api: Api) -> str:
    return str(api.ok("GET", "/billing/subscription")["plan"])


def completed(org_id: str, customer: str, plan: str = "professional") -> dict[str, Any]:
    return {
        "id": f"cs_{uuid.uuid4().hex[:8]}",
        "object": "checkout.session",
        "client_reference_id": org_id,
        "customer": customer,
        "subscription": f"sub_{customer}",
        "metadata": {"org_id": org_id, "plan": plan},
        "customer_details": {"email": "billing@example.com"},
    }


# -- plans and subscription -------------------------------------------------------------------------


def test_plans_are_public(server):
    status, _, body = server.request("GET", "/billing/plans")
    assert status == 200
    plans = {p["plan_id"]: p for p in body["items"]}
    assert list(plans) == ["free", "professional", "enterprise"]
    assert plans["free"] == {
        "plan_id": "free",
        "name": "Free",
        "monthly_cost_usd": 0,
        "limits": {"monthly_runs": 100, "monthly_tasks": 1000, "concurrent_runs": 2},
    }
    assert plans["professional"]["monthly_cost_usd"] == 299.0


def test_a_new_org_is_on_the_free_plan_without_a_subscription(server):
    api = new_org(server)
    sub = api.ok("GET", "/billing/subscription")
    assert sub["plan"] == "free" and sub["status"] == "none" and sub["subscription_id"] is None
    assert sub["monthly_cost_usd"] == 0 and sub["payment_method"] is None
    assert sub["billing_cycle_start"].endswith("T00:00:00Z")


def test_a_plan_asked_for_at_org_creation_is_not_paid_for(server):
    email = f"{unique('buyer')}@example.com"
    add_user(server, email, "developer")
    token = server.login(email)
    status, _, org = server.request(
        "POST", "/orgs", token=token, body={"org_name": unique("Org"), "plan": "enterprise"}
    )
    assert status == 201 and org["plan"] == "enterprise", org
    api = Api(server, token, {"X-Dagy-Org": org["org_id"]})
    assert api.ok("GET", "/usage/quota")["plan"] == "free"
    assert plan_of(api) == "free"
    payload = event("checkout.session.completed", completed(org["org_id"], "cus_buyer"))
    assert post_webhook(server, payload, signed(payload))[0] == 200
    assert api.ok("GET", "/usage/quota")["plan"] == "professional"


# -- checkout and portal ----------------------------------------------------------------------------


def test_checkout_creates_a_stripe_session_for_the_plans_price(server, stripe_api):
    api = new_org(server)
    org_id = api.headers["X-Dagy-Org"]
    body = {
        "plan": "professional",
        "success_url": "https://example.com/success",
        "cancel_url": "https://example.com/cancel",
    }
    answer = api.ok("POST", "/billing/checkout", body, status=201)
    sent = stripe_api.requests[-1]
    n = len(stripe_api.requests)
    assert answer == {
        "checkout_id": f"cs_test_{n}",
        "url": f"https://checkout.stripe.com/c/pay/cs_test_{n}",
        "expires_at": "2030-03-17T17:46:40Z",
    }
    assert sent["path"] == "/v1/checkout/sessions"
    assert sent["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert sent["mode"] == "subscription"
    assert sent["line_items[0][price]"] == PRICES["professional"]
    assert sent["line_items[0][quantity]"] == "1"
    assert sent["client_reference_id"] == org_id and sent["metadata[org_id]"] == org_id
    assert sent["metadata[plan]"] == "professional"
    assert sent["subscription_data[metadata][plan]"] == "professional"
    assert sent["success_url"] == body["success_url"] and sent["cancel_url"] == body["cancel_url"]
    assert "@example.com" in sent["customer_email"]
    # Only a webhook changes the plan.
    assert plan_of(api) == "free"
    (row,) = api.ok("GET", "/audit-logs?resource_type=checkout_session")["items"]
    assert (row["action"], row["resource_id"], row["changes"]) == (
        "create",
        answer["checkout_id"],
        {"plan": "professional"},
    )
    assert row["actor_email"].endswith("@example.com") and row["ip_address"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"plan": "free"}, "plan"),
        ({"plan": "platinum"}, "plan"),
        ({"success_url": "javascript:alert(1)"}, "success_url"),
        ({"cancel_url": None}, "cancel_url"),
    ],
)
def test_a_bad_checkout_is_a_400_and_reaches_no_stripe(server, stripe_api, change, field):
    api = new_org(server)
    body = {
        "plan": "professional",
        "success_url": "https://example.com/s",
        "cancel_url": "https://example.com/c",
        **change,
    }
    before = len(stripe_api.requests)
    status, answer = api.call("POST", "/billing/checkout", body)
    assert_error(answer, status, 400, field)
    assert len(stripe_api.requests) == before


def test_the_portal_opens_for_the_orgs_stripe_customer(server, stripe_api):
    api = new_org(server)
    org_id = api.headers["X-Dagy-Org"]
    status, body = api.call("POST", "/billing/portal", {"return_url": "https://example.com/x"})
    assert_error(body, status, 400, "customer")  # no customer before a checkout completes
    customer = f"cus_{uuid.uuid4().hex[:8]}"
    payload = event("checkout.session.completed", completed(org_id, customer))
    assert post_webhook(server, payload, signed(payload)) == (200, {"received": True})

    status, body = api.call("POST", "/billing/portal", {"return_url": "not a url"})
    assert_error(body, status, 400, "return_url")
    answer = api.ok(
        "POST", "/billing/portal", {"return_url": "https://example.com/settings"}, status=201
    )
    sent = stripe_api.requests[-1]
    assert sent["path"] == "/v1/billing_portal/sessions"
    assert sent["customer"] == customer and sent["return_url"] == "https://example.com/settings"
    n = len(stripe_api.requests)
    assert answer == {
        "portal_session_id": f"bps_test_{n}",
        "url": f"https://billing.stripe.com/p/session/bps_test_{n}",
    }
    # One row: the refused calls wrote none.
    (row,) = api.ok("GET", "/audit-logs?resource_type=portal_session")["items"]
    assert (row["action"], row["resource_id"], row["changes"]) == (
        "create",
        answer["portal_session_id"],
        {},
    )
    assert row["actor_email"].endswith("@example.com") and row["ip_address"] == "127.0.0.1"


def test_billing_write_is_the_owners(server):
    api = new_org(server)
    org_id = api.headers["X-Dagy-Org"]
    body = {
        "plan": "professional",
        "success_url": "https://example.com/s",
        "cancel_url": "https://example.com/c",
    }
    for role, read in (("developer", 403), ("viewer", 200), ("admin", 200)):
        email = f"{unique(role)}@example.com"
        add_user(server, email, role, org_id)
        member = Api(server, server.login(email))
        status, answer = member.call("POST", "/billing/checkout", body)
        assert_error(answer, status, 403)
        status, answer = member.call("POST", "/billing/portal", {"return_url": "https://e.com"})
        assert_error(answer, status, 403)
        assert member.call("GET", "/billing/subscription")[0] == read, role


# -- the webhook ------------------------------------------------------------------------------------


def test_a_signed_checkout_completed_sets_the_plan_and_the_subscription(server):
    api = new_org(server)
    org_id = api.headers["X-Dagy-Org"]
    payload = event("checkout.session.completed", completed(org_id, "cus_a1"))
    assert post_webhook(server, payload, signed(payload)) == (200, {"received": True})
    sub = api.ok("GET", "/billing/subscription")
    assert sub["plan"] == "professional" and sub["status"] == "active"
    assert sub["subscription_id"] == "sub_cus_a1" and sub["billing_email"] == "billing@example.com"
    assert sub["monthly_cost_usd"] == 299.0
    quota = api.ok("GET", "/usage/quota")
    assert quota["plan"] == "professional" and quota["limits"]["monthly_runs"] == 10_000


def test_subscription_updates_deletion_and_failed_payments_follow_stripe(server):
    api = new_org(server)
    org_id = api.headers["X-Dagy-Org"]
    customer = f"cus_{uuid.uuid4().hex[:8]}"
    for payload in (
        event("checkout.session.completed", completed(org_id, customer)),
        event(
            "customer.subscription.updated",
            {
                "id": f"sub_{customer}",
                "object": "subscription",
                "customer": customer,
                "status": "active",
                "items": {
                    "data": [
                        {
                            "price": {"id": PRICES["enterprise"]},
                            "current_period_start": 1_800_000_000,
                            "current_period_end": 1_802_592_000,
                        }
                    ]
                },
                "default_payment_method": {
                    "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2031}
                },
            },
        ),
    ):
        assert post_webhook(server, payload, signed(payload))[0] == 200
    sub = api.ok("GET", "/billing/subscription")
    assert sub["plan"] == "enterprise"
    assert sub["billing_cycle_start"] == "2027-01-15T08:00:00Z"
    assert sub["payment_method"] == {
        "type": "card",
        "brand": "visa",
        "last_four": "4242",
        "expiry_month": 12,
        "expiry_year": 2031,
    }

    failed = event("invoice.payment_failed", {"object": "invoice", "customer": customer})
    assert post_webhook(server, failed, signed(failed))[0] == 200
    sub = api.ok("GET", "/billing/subscription")
    assert sub["status"] == "past_due" and sub["plan"] == "enterprise"  # Stripe retries first

    gone = event(
        "customer.subscription.deleted",
        {"id": f"sub_{customer}", "object": "subscription", "customer": customer},
    )
    assert post_webhook(server, gone, signed(gone))[0] == 200
    sub = api.ok("GET", "/billing/subscription")
    assert sub["plan"] == "free" and sub["status"] == "canceled"


def test_a_replayed_event_is_applied_once(server):
    api = new_org(server)
    org_id = api.headers["X-Dagy-Org"]
    customer = f"cus_{uuid.uuid4().hex[:8]}"
    upgrade = event("checkout.session.completed", completed(org_id, customer))
    assert post_webhook(server, upgrade, signed(upgrade))[0] == 200
    gone = event(
        "customer.subscription.deleted",
        {"id": f"sub_{customer}", "object": "subscription", "customer": customer},
    )
    assert post_webhook(server, gone, signed(gone))[0] == 200
    assert plan_of(api) == "free"
    # Stripe delivers the first event again (freshly signed): already applied, nothing changes.
    assert post_webhook(server, upgrade, signed(upgrade)) == (200, {"received": True})
    assert plan_of(api) == "free"


@pytest.mark.parametrize(
    ("signature", "status"),
    [
        (None, 400),
        ("", 400),
        ("garbage", 400),
        ("t=abc,v1=00", 400),
        ("WRONG_SECRET", 403),
        ("TAMPERED", 403),
        ("STALE", 403),
    ],
)
def test_an_unsigned_or_wrongly_signed_webhook_changes_nothing(server, signature, status):
    api = new_org(server)
    org_id = api.headers["X-Dagy-Org"]
    payload = event("checkout.session.completed", completed(org_id, "cus_evil"))
    if signature == "WRONG_SECRET":
        signature = signed(payload, secret="whsec_someone_else")
    elif signature == "TAMPERED":
        signature = signed(payload.replace(b"professional", b"enterprise"))
    elif signature == "STALE":
        signature = signed(payload, at=int(time.time()) - 3600)
    code, body = post_webhook(server, payload, signature)
    assert_error(body, code, status)
    assert plan_of(api) == "free"
    # The same event, once signed, still applies: the refusal recorded nothing.
    assert post_webhook(server, payload, signed(payload))[0] == 200
    assert plan_of(api) == "professional"


def test_a_signed_body_that_is_not_an_event_is_a_400(server):
    for payload in (b"[1, 2]", b"not json", b'{"type": "x"}'):
        code, body = post_webhook(server, payload, signed(payload))
        assert_error(body, code, 400)


def test_an_event_for_no_known_org_is_received_and_changes_nothing(server):
    payload = event("customer.subscription.deleted", {"id": "sub_nobody", "customer": "cus_x"})
    assert post_webhook(server, payload, signed(payload)) == (200, {"received": True})


# -- Stripe not configured --------------------------------------------------------------------------


def test_without_stripe_billing_is_a_503_but_plans_and_the_local_plan_answer(tmp_path):
    srv = start_server(tmp_path / "home", env={"DAGY_RATE_LIMIT_PER_MINUTE": "0"})
    try:
        api = new_org(srv)
        assert srv.request("GET", "/billing/plans")[0] == 200
        status, answer = api.call("GET", "/billing/subscription")
        assert status == 200, answer
        assert (answer["plan"], answer["status"], answer["subscription_id"]) == (
            "free",
            "active",
            None,
        )
        assert answer["limits"]["monthly_runs"] == 100
        for method, path, body in (
            ("POST", "/billing/checkout", {"plan": "professional"}),
            ("POST", "/billing/portal", {"return_url": "https://example.com"}),
        ):
            status, answer = api.call(method, path, body)
            assert_error(answer, status, 503)
            assert "STRIPE_API_KEY" in answer["message"]
        payload = event("checkout.session.completed", completed(api.headers["X-Dagy-Org"], "c"))
        code, answer = post_webhook(srv, payload, signed(payload))
        assert_error(answer, code, 503)
        assert "STRIPE_WEBHOOK_SECRET" in answer["message"]
        log = srv.stderr_path.read_text()  # type: ignore[attr-defined]
        assert "sk_" not in log
    finally:
        srv.stop()


def test_no_stripe_key_reaches_the_servers_log(server, stripe_api):
    api = new_org(server)
    status, _ = api.call("POST", "/billing/checkout", {"plan": "professional"})  # a refusal
    assert status == 400
    log = server.stderr_path.read_text()  # type: ignore[attr-defined]
    assert API_KEY not in log and SECRET not in log
