"""The egress policy of server-side HTTP: loopback, private, link-local (metadata) and other
non-public addresses are refused by default, for polling sensors, notification senders and the
builder's http_fetch; DAGY_EGRESS_ALLOW names exceptions; a redirect into a refused address is
refused. (tests/conftest.py allows 127.0.0.1 for the rest of the suite: each test here sets the
variable itself.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dagy import egress
from dagy.errors import ConfigError
from dagy.notify import _http
from dagy.sensors import polling
from tests.http_support import JsonHandler, serving, url_of


class Hits(JsonHandler):
    hits = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).hits += 1
        self.send_json({"version": 7})

    do_POST = do_GET  # noqa: N815


@pytest.fixture
def site() -> Iterator[Any]:
    Hits.hits = 0
    with serving(Hits) as server:
        yield server


@pytest.fixture
def default_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGY_EGRESS_ALLOW", "")


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
     "100.64.0.1", "0.0.0.0", "fd00:ec2::254", "fe80::1", "::ffff:127.0.0.1", "224.0.0.1"],
)  # fmt: skip
def test_non_public_addresses_are_refused_by_default(default_policy, address):
    assert egress.allowed(address) is False


def test_public_addresses_pass_and_the_allow_list_names_exceptions(monkeypatch):
    monkeypatch.setenv("DAGY_EGRESS_ALLOW", "")
    assert egress.allowed("93.184.216.34") and egress.allowed("2606:2800:220:1::1")
    monkeypatch.setenv("DAGY_EGRESS_ALLOW", "127.0.0.1, 10.0.0.0/8")
    assert egress.allowed("127.0.0.1") and egress.allowed("10.9.8.7")
    assert not egress.allowed("127.0.0.2") and not egress.allowed("169.254.169.254")
    monkeypatch.setenv("DAGY_EGRESS_ALLOW", "not-an-address")
    with pytest.raises(ConfigError, match="DAGY_EGRESS_ALLOW"):
        egress.allowed("127.0.0.1")


def test_a_host_is_refused_when_it_resolves_to_a_refused_address(default_policy):
    with pytest.raises(egress.EgressRefused, match="localhost resolves to .*egress policy"):
        egress.check_host("localhost", 80)


def test_polling_a_loopback_url_fails_the_look_without_reaching_it(default_policy, site):
    config = polling.check_config({"url": url_of(site, "/v"), "json_field": "version"})
    with pytest.raises(polling.CheckError, match="egress policy"):
        polling.observe(config)
    assert Hits.hits == 0


def test_a_webhook_channel_post_to_metadata_or_loopback_is_a_failed_delivery(default_policy, site):
    for url in (url_of(site, "/hook"), "http://169.254.169.254/latest/meta-data/"):
        outcome = _http.post(url, b"{}", {}, 5)
        assert outcome.success is False and "egress policy" in (outcome.error or ""), outcome
    assert Hits.hits == 0


def test_http_fetch_refuses_a_loopback_url(default_policy, site, dagy_home):
    from dagy.nodes.run import io
    from dagy.nodes.run.frames import NodeError

    with pytest.raises(NodeError, match="egress policy"):
        io.http_fetch.fn({"url": url_of(site, "/v")})
    assert Hits.hits == 0


def test_with_the_allow_list_the_same_calls_reach_the_receiver(monkeypatch, site):
    monkeypatch.setenv("DAGY_EGRESS_ALLOW", "127.0.0.1")
    config = polling.check_config({"url": url_of(site, "/v"), "json_field": "version"})
    assert polling.observe(config) == 7
    assert _http.post(url_of(site, "/hook"), b"{}", {}, 5).success
    assert Hits.hits == 2


class Redirect(JsonHandler):
    target = ""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(302)
        self.send_header("Location", type(self).target)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_a_redirect_into_a_refused_address_is_refused(monkeypatch, site):
    """127.0.0.1 is allowed, 127.0.0.2 (where the redirect points) is not."""
    import threading
    from http.server import ThreadingHTTPServer

    inner = ThreadingHTTPServer(("127.0.0.2", 0), Hits)
    threading.Thread(target=inner.serve_forever, daemon=True).start()
    try:
        Redirect.target = f"http://127.0.0.2:{inner.server_address[1]}/v"
        monkeypatch.setenv("DAGY_EGRESS_ALLOW", "127.0.0.1")
        with serving(Redirect) as outer:
            config = polling.check_config({"url": url_of(outer, "/go"), "json_field": "version"})
            with pytest.raises(polling.CheckError, match="127.0.0.2.*egress policy"):
                polling.observe(config)
        assert Hits.hits == 0
        monkeypatch.setenv("DAGY_EGRESS_ALLOW", "127.0.0.0/8")
        with serving(Redirect) as outer:
            assert polling.observe({**config, "url": url_of(outer, "/go")}) == 7
    finally:
        inner.shutdown()
        inner.server_close()


def test_dagy_serve_refuses_a_polling_sensor_on_loopback_by_default(tmp_path):
    """A real server without the tests' allow-list: the look fails, recorded on the sensor, and
    the receiver is never reached."""
    from tests.server.flows_support import Api
    from tests.server.runs_support import wait_until
    from tests.server.sensors_support import Endpoint, create, start

    endpoint = Endpoint()
    endpoint.status, endpoint.body = 200, {"version": 1}
    server = start(tmp_path / "home", tmp_path, {"DAGY_EGRESS_ALLOW": ""})
    try:
        owner = Api(server, server.login("owner@example.com", "password-123"))
        sensor = create(
            owner,
            sensor_type="polling",
            flow_name="hooked",
            config_json={"url": endpoint.url, "json_field": "version", "interval_seconds": 0.2},
        )
        shown = wait_until(
            lambda: (s := owner.ok("GET", f"/sensors/{sensor['sensor_id']}"))["last_error"] and s,
            20,
            "the refused look",
        )
        assert "egress policy" in shown["last_error"] and shown["last_run_id"] is None
        assert endpoint.hits == 0
    finally:
        server.stop()
        endpoint.close()
