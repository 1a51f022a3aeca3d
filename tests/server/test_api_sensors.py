"""Sensors against a real `dagy serve`: webhooks (payload → run, 404/400/429, the token kept only
hashed), polling an HTTP server of the test and a module:function check, an s3 sensor on a local
bucket folder, the test endpoint, permissions and validation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess
from tests.server.flows_support import Api, assert_error, login
from tests.server.runs_support import wait_until
from tests.server.sensors_support import (
    Endpoint,
    create,
    label,
    runs_labelled,
    start,
    wait_done,
    wait_runs,
)

EVENT = {"event": "data_ready", "data": {"file": "data.csv"}}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    tmp = tmp_path_factory.mktemp("sensors")
    server = start(tmp / "home", tmp, {"DAGY_SENSOR_BUCKETS_ROOT": str(tmp / "buckets")})
    yield server, tmp
    server.stop()


@pytest.fixture(scope="module")
def owner(env: tuple[ServerProcess, Path]) -> Api:
    server, _ = env
    return Api(server, server.login("owner@example.com", "password-123"))


def hook(server: ServerProcess, token: str, body: Any = None, raw: bytes | None = None) -> tuple:
    headers = {"Content-Type": "application/json"} if raw is not None else None
    status, hdrs, answer = server.request(
        "POST", f"/webhooks/{token}", body=body, raw=raw, headers=headers
    )
    return status, hdrs, answer


# -- webhooks ---------------------------------------------------------------------------------------


def test_a_webhook_event_queues_a_run_with_the_payload_in_its_payload_parameter(env, owner):
    server, _ = env
    tag = label()
    created = create(
        owner,
        name="Hook",
        sensor_type="webhook",
        flow_name="hooked",
        flow_params_json={"label": tag},
    )
    assert set(created) == {
        "sensor_id",
        "name",
        "sensor_type",
        "flow_name",
        "enabled",
        "webhook_token",
        "created_at",
    }
    assert created["sensor_id"].startswith("sensor_") and created["enabled"] is True
    token = created["webhook_token"]
    assert token.startswith("wh_") and len(token) > 40

    status, _, body = hook(server, token, EVENT)
    assert status == 202, body
    assert set(body) == {"run_id", "status", "message"}
    assert body["status"] == "queued" and body["message"] == "Event received and flow triggered"
    done = wait_done(owner, body["run_id"])
    assert done["status"] == "completed", done["error"]
    assert done["parameters"] == {"payload": EVENT, "label": tag}
    assert done["output"] == {"payload": EVENT, "label": tag}
    assert done["tags"] == ["webhook"]
    (entry,) = owner.audit("run", body["run_id"])
    assert entry["action"] == "execute" and entry["actor_email"] is None
    assert entry["changes"] == {"sensor_id": created["sensor_id"], "trigger": "webhook"}

    shown = owner.ok("GET", f"/sensors/{created['sensor_id']}")
    assert shown["webhook_token"] == token[:7] + "***"  # masked: never the token again
    assert shown["config_json"] == {} and shown["flow_params_json"] == {"label": tag}
    assert shown["last_run_id"] == body["run_id"]


def test_a_webhook_body_is_merged_over_flow_params_when_the_flow_has_no_payload_parameter(
    env, owner
):
    server, _ = env
    tag = label()
    token = create(
        owner, sensor_type="webhook", flow_name="merged", flow_params_json={"label": tag}
    )["webhook_token"]
    status, _, body = hook(server, token, EVENT)
    assert status == 202, body
    done = wait_done(owner, body["run_id"])
    assert done["output"] == {**EVENT, "label": tag}

    status, _, body = hook(server, token, {"event": "x", "nope": 1})
    assert_error(body, status, 400, "body.nope")
    assert "Unknown parameter 'nope'" in body["message"]
    assert len(runs_labelled(owner, "merged", tag)) == 1  # the refused event queued nothing


def test_the_specs_webhook_example_maps_its_data_fields_to_the_flows_parameters(env, owner):
    """`{"event": ..., "data": {...}}` (the reference's example) reaches a flow that takes the
    data's fields, not `event`/`data` themselves: each field of `data` is a parameter, and
    `event` too when the flow declares it."""
    server, _ = env
    tag = label()
    token = create(
        owner, sensor_type="webhook", flow_name="filed", flow_params_json={"label": tag}
    )["webhook_token"]
    status, _, body = hook(server, token, EVENT)
    assert status == 202, body
    done = wait_done(owner, body["run_id"])
    assert done["status"] == "completed", done["error"]
    assert done["output"] == {"file": "data.csv", "event": "data_ready", "size": 0, "label": tag}

    status, _, body = hook(server, token, {"event": "x", "data": {"nope": 1}})
    assert_error(body, status, 400, "body.data.nope")
    assert "Unknown parameter 'nope'" in body["message"]
    assert len(runs_labelled(owner, "filed", tag)) == 1


def test_a_webhook_sensors_mapping_picks_parameters_from_the_event(env, owner):
    server, _ = env
    tag = label()
    created = create(
        owner,
        sensor_type="webhook",
        flow_name="filed",
        config_json={"mapping": {"file": "data.object.key", "size": "data.object.size"}},
        flow_params_json={"label": tag},
    )
    event = {"event": "put", "data": {"object": {"key": "in/a.csv", "size": 12}, "x": 1}}
    status, _, body = hook(server, created["webhook_token"], event)
    assert status == 202, body
    done = wait_done(owner, body["run_id"])
    assert done["output"] == {"file": "in/a.csv", "event": "none", "size": 12, "label": tag}
    assert owner.ok("GET", f"/sensors/{created['sensor_id']}")["config_json"] == {
        "mapping": {"file": "data.object.key", "size": "data.object.size"}
    }
    for mapping, field in (([1], "config_json.mapping"), ({"a b": "x"}, "config_json.mapping.a b"),
                           ({"file": "a..b"}, "config_json.mapping.file")):  # fmt: skip
        status, answer = owner.call(
            "POST",
            "/sensors",
            {"name": "m", "sensor_type": "webhook", "flow_name": "filed",
             "config_json": {"mapping": mapping}},
        )  # fmt: skip
        assert_error(answer, status, 400, field)


SECRET = "s3cret-of-at-least-16"


def signed(body: dict, secret: str = SECRET, at: float | None = None, **extra: str) -> tuple:
    """The raw body and the headers a sender signing with ``secret`` sends."""
    import json as _json

    from dagy.sensors.webhook import sign

    raw = _json.dumps(body).encode()
    stamp = str(int(time.time() if at is None else at))
    headers = {
        "Content-Type": "application/json",
        "X-Dagy-Timestamp": stamp,
        "X-Dagy-Signature": sign(secret, stamp, raw),
        **extra,
    }
    return raw, headers


def test_a_webhook_with_a_secret_needs_a_fresh_right_signature(env, owner):
    server, _ = env
    tag = label()
    created = create(
        owner,
        sensor_type="webhook",
        flow_name="hooked",
        config_json={"secret": SECRET},
        flow_params_json={"label": tag},
    )
    token = created["webhook_token"]
    shown = owner.ok("GET", f"/sensors/{created['sensor_id']}")
    assert shown["config_json"] == {"secret": "***"}  # never shown again

    path = f"/webhooks/{token}"
    raw, headers = signed(EVENT)
    status, _, body = server.request("POST", path, raw=raw, headers=headers)
    assert status == 202, body
    refused = [
        signed(EVENT, secret="another-secret-0123456"),  # wrong secret
        # Stale and from the future: 5 minutes' tolerance, off by 10 (not by 1 s, which a
        # loaded machine ate: the future one was sent > 1 s after it was stamped, and passed).
        signed(EVENT, at=time.time() - 600),
        signed(EVENT, at=time.time() + 600),
        (raw, {"Content-Type": "application/json"}),  # unsigned
        (raw + b" ", headers),  # the body changed after signing
    ]
    for data, hdrs in refused:
        status, _, body = server.request("POST", path, raw=data, headers=hdrs)
        assert_error(body, status, 401)
    assert len(runs_labelled(owner, "hooked", tag)) == 1

    status, answer = owner.call(
        "POST",
        "/sensors",
        {"name": "x", "sensor_type": "webhook", "flow_name": "hooked",
         "config_json": {"secret": "short"}},
    )  # fmt: skip
    assert_error(answer, status, 400, "config_json.secret")


def test_a_replayed_delivery_answers_200_with_the_first_run_and_queues_no_other(env, owner):
    server, _ = env
    tag = label()
    token = create(
        owner,
        sensor_type="webhook",
        flow_name="hooked",
        config_json={"secret": SECRET},
        flow_params_json={"label": tag},
    )["webhook_token"]
    raw, headers = signed(EVENT, **{"X-Dagy-Delivery": "delivery-1"})
    status, _, first = server.request("POST", f"/webhooks/{token}", raw=raw, headers=headers)
    assert status == 202, first
    status, _, again = server.request("POST", f"/webhooks/{token}", raw=raw, headers=headers)
    assert status == 200, again
    assert again["run_id"] == first["run_id"] and again["status"] == "duplicate"
    raw, headers = signed(EVENT, **{"X-Dagy-Delivery": "delivery-2"})
    status, _, other = server.request("POST", f"/webhooks/{token}", raw=raw, headers=headers)
    assert status == 202 and other["run_id"] != first["run_id"]
    assert len(runs_labelled(owner, "hooked", tag)) == 2

    # Without a secret the token URL works as before, and a delivery id dedupes there too.
    plain = create(
        owner, sensor_type="webhook", flow_name="hooked", flow_params_json={"label": tag}
    )
    hdrs = {"X-Dagy-Delivery": "d-1"}
    status, _, one = server.request(
        "POST", f"/webhooks/{plain['webhook_token']}", body=EVENT, headers=hdrs
    )
    assert status == 202, one
    status, _, two = server.request(
        "POST", f"/webhooks/{plain['webhook_token']}", body=EVENT, headers=hdrs
    )
    assert (status, two["run_id"]) == (200, one["run_id"])
    assert len(runs_labelled(owner, "hooked", tag)) == 3


def test_unknown_tokens_and_disabled_sensors_are_404_and_bad_bodies_400(env, owner):
    server, _ = env
    for token in ("wh_nothing-like-a-real-token", "nope"):
        status, _, body = hook(server, token, EVENT)
        assert_error(body, status, 404)
    disabled = create(owner, sensor_type="webhook", flow_name="hooked", enabled=False)
    status, _, body = hook(server, disabled["webhook_token"], EVENT)
    assert_error(body, status, 404)
    assert body["message"] == "Webhook token not found or sensor disabled"

    token = create(owner, sensor_type="webhook", flow_name="hooked")["webhook_token"]
    for raw in (b"not json", b"[1, 2]", b'{"a": "' + b"x" * (1024 * 1024) + b'"}'):
        status, _, body = hook(server, token, raw=raw)
        assert_error(body, status, 400, "body")


def test_a_webhook_token_past_its_burst_is_429_with_retry_after(env, owner):
    server, _ = env
    tag = label()
    token = create(
        owner, sensor_type="webhook", flow_name="hooked", flow_params_json={"label": tag}
    )["webhook_token"]
    other = create(owner, sensor_type="webhook", flow_name="hooked")["webhook_token"]
    answers = [hook(server, token, {"n": i}) for i in range(4)]  # burst 3 (SERVER_ENV)
    assert [a[0] for a in answers] == [202, 202, 202, 429]
    status, headers, body = answers[-1]
    assert_error(body, status, 429)
    assert body["error"] == "rate_limited" and int(headers["retry-after"]) >= 1
    assert hook(server, other, {"n": 0})[0] == 202  # each token has its own bucket
    assert len(runs_labelled(owner, "hooked", tag)) == 3


# -- the sensors resource ---------------------------------------------------------------------------


def test_sensors_are_listed_in_pages_and_deleted(env, owner):
    made = [create(owner, sensor_type="webhook", flow_name="hooked")["sensor_id"] for _ in range(3)]
    seen: list[str] = []
    token = None
    while True:
        path = "/sensors?limit=2" + (f"&next_token={token}" if token else "")
        page = owner.ok("GET", path)
        assert len(page["items"]) <= 2
        for item in page["items"]:
            assert set(item) == {
                "sensor_id",
                "name",
                "sensor_type",
                "flow_name",
                "enabled",
                "created_at",
            }
        seen += [i["sensor_id"] for i in page["items"]]
        token = page["next_token"]
        if token is None:
            break
    assert set(made) <= set(seen) and len(seen) == len(set(seen))

    owner.ok("DELETE", f"/sensors/{made[0]}", status=204)
    status, body = owner.call("GET", f"/sensors/{made[0]}")
    assert_error(body, status, 404)
    status, body = owner.call("DELETE", f"/sensors/{made[0]}")
    assert_error(body, status, 404)
    status, body = owner.call("GET", "/sensors?next_token=garbage")
    assert_error(body, status, 400, "next_token")


def test_a_viewer_reads_sensors_but_cannot_create_test_or_delete_them(env, owner):
    server, _ = env
    viewer = login(server, "viewer@example.com", "viewer")
    developer = login(server, "developer@example.com", "developer")
    sensor = create(developer, sensor_type="webhook", flow_name="hooked")
    status, body = viewer.call(
        "POST", "/sensors", {"name": "x", "sensor_type": "webhook", "flow_name": "hooked"}
    )
    assert_error(body, status, 403)
    status, body = viewer.call("GET", "/sensors")
    assert_error(body, status, 403)  # the matrix gives viewers no sensors.read
    for method, path in (("DELETE", ""), ("POST", "/test")):
        status, body = viewer.call(method, f"/sensors/{sensor['sensor_id']}{path}")
        assert_error(body, status, 403)
    status, _, body = server.request("GET", "/sensors")
    assert_error(body, status, 401)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"sensor_type": "webhook", "flow_name": "hooked"}, 400, "name"),
        ({"name": "s", "sensor_type": "kafka", "flow_name": "hooked"}, 400, "sensor_type"),
        ({"name": "s", "sensor_type": "webhook"}, 400, "flow_name"),
        ({"name": "s", "sensor_type": "webhook", "flow_name": "nope"}, 404, None),
        (
            {"name": "s", "sensor_type": "webhook", "flow_name": "hooked", "config_json": [1]},
            400,
            "config_json",
        ),
        (
            {"name": "s", "sensor_type": "webhook", "flow_name": "hooked", "enabled": "yes"},
            400,
            "enabled",
        ),
        (
            {"name": "s", "sensor_type": "webhook", "flow_name": "hooked", "flow_params_json": 3},
            400,
            "flow_params_json",
        ),
        (
            {"name": "s", "sensor_type": "webhook", "flow_name": "hooked", "config_json": {"x": 1}},
            400,
            "config_json.x",
        ),
        (
            {"name": "s", "sensor_type": "webhook", "flow_name": "hooked", "webhook_token": "x"},
            400,
            "webhook_token",
        ),
        (
            {
                "name": "s",
                "sensor_type": "webhook",
                "flow_name": "hooked",
                "flow_params_json": {"lable": "typo"},
            },
            400,
            "flow_params_json.lable",
        ),
        ({"name": "s", "sensor_type": "polling", "flow_name": "hooked"}, 400, "config_json.url"),
        (
            {
                "name": "s",
                "sensor_type": "polling",
                "flow_name": "hooked",
                "config_json": {"url": "ftp://x", "interval_seconds": 1},
            },
            400,
            "config_json.url",
        ),
        (
            {
                "name": "s",
                "sensor_type": "polling",
                "flow_name": "hooked",
                "config_json": {"url": "http://x", "check": "m:f"},
            },
            400,
            "config_json.url",
        ),
        (
            {
                "name": "s",
                "sensor_type": "polling",
                "flow_name": "hooked",
                "config_json": {"check": "no-function"},
            },
            400,
            "config_json.check",
        ),
        (
            {
                "name": "s",
                "sensor_type": "polling",
                "flow_name": "hooked",
                "config_json": {"url": "http://x", "interval_seconds": 0},
            },
            400,
            "config_json.interval_seconds",
        ),
        ({"name": "s", "sensor_type": "s3", "flow_name": "hooked"}, 400, "config_json.bucket"),
        (
            {
                "name": "s",
                "sensor_type": "s3",
                "flow_name": "hooked",
                "config_json": {"bucket": "../etc"},
            },
            400,
            "config_json.bucket",
        ),
        (
            {
                "name": "s",
                "sensor_type": "s3",
                "flow_name": "hooked",
                "config_json": {"bucket": "data", "events": ["s3:ObjectRemoved:*"]},
            },
            400,
            "config_json.events",
        ),
    ],
)
def test_invalid_sensors_are_refused_naming_the_field(env, owner, body, code, field):
    before = len(owner.ok("GET", "/sensors?limit=100")["items"])
    status, answer = owner.call("POST", "/sensors", body)
    assert_error(answer, status, code, field)
    assert len(owner.ok("GET", "/sensors?limit=100")["items"]) == before


# -- polling ----------------------------------------------------------------------------------------


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.close()


def settle(seconds: float = 0.8) -> None:
    """Give the loop (tick 0.1 s, interval 0.1 s) several looks."""
    time.sleep(seconds)


def test_polling_a_url_fires_once_per_new_value_of_its_json_field(env, owner, endpoint):
    tag = label()
    sensor = create(
        owner,
        sensor_type="polling",
        flow_name="hooked",
        config_json={"url": endpoint.url, "interval_seconds": 0.1, "json_field": "data.version"},
        flow_params_json={"label": tag},
    )
    assert sensor["webhook_token"] is None
    settle()
    assert endpoint.hits >= 2 and runs_labelled(owner, "hooked", tag) == []  # 404: no condition

    endpoint.status, endpoint.body = 200, {"data": {"version": 1}}
    first = wait_runs(owner, "hooked", tag, 1)
    settle()
    assert len(runs_labelled(owner, "hooked", tag)) == 1  # the condition stays: no more runs
    done = wait_done(owner, first[0]["run_id"])
    assert done["parameters"]["payload"] == {"sensor_id": sensor["sensor_id"], "value": 1}
    assert done["tags"] == ["sensor"]

    endpoint.body = {"data": {"version": 2}}
    runs = wait_runs(owner, "hooked", tag, 2)
    settle()
    assert len(runs_labelled(owner, "hooked", tag)) == 2
    assert sorted(r["parameters"]["payload"]["value"] for r in runs) == [1, 2]
    shown = owner.ok("GET", f"/sensors/{sensor['sensor_id']}")
    assert shown["last_checked_at"] and shown["last_error"] is None
    owner.ok("DELETE", f"/sensors/{sensor['sensor_id']}", status=204)


def checking(api: Api, flow_name: str, target: str, tag: str | None = None) -> dict[str, Any]:
    """A polling sensor calling ``target`` every 0.1 s, its runs labelled ``tag``."""
    return create(
        api,
        sensor_type="polling",
        flow_name=flow_name,
        config_json={"check": target, "interval_seconds": 0.1},
        flow_params_json={"label": tag} if tag else {},
    )


def test_polling_a_module_function_fires_per_distinct_truthy_value(env, owner, tmp_path):
    tag = label()
    marker = tmp_path / "marker.txt"
    check = tmp_path / "checks.py"
    check.write_text(
        "from pathlib import Path\n\n"
        "def current():\n"
        f"    path = Path({str(marker)!r})\n"
        "    print('noise on stdout is not the result')\n"
        "    return path.read_text() if path.exists() else None\n"
    )
    sensor = checking(owner, "merged", f"{check}:current", tag)
    settle()
    assert runs_labelled(owner, "merged", tag) == []
    marker.write_text("one")
    wait_runs(owner, "merged", tag, 1)
    settle()
    assert len(runs_labelled(owner, "merged", tag)) == 1
    marker.write_text("two")
    runs = wait_runs(owner, "merged", tag, 2)
    assert runs[1]["parameters"] == {"event": "none", "data": None, "label": tag}
    assert owner.ok("GET", f"/sensors/{sensor['sensor_id']}")["last_error"] is None
    owner.ok("DELETE", f"/sensors/{sensor['sensor_id']}", status=204)


def test_a_failing_check_is_recorded_and_does_not_stop_other_sensors(env, owner, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def check():\n    raise RuntimeError('kaput')\n")
    bad = checking(owner, "hooked", f"{broken}:check")
    tag = label()
    good = tmp_path / "good.py"
    good.write_text("def check():\n    return {'ready': True}\n")
    good_sensor = checking(owner, "hooked", f"{good}:check", tag)
    wait_runs(owner, "hooked", tag, 1)
    shown = wait_until(
        lambda: (got := owner.ok("GET", f"/sensors/{bad['sensor_id']}"))["last_error"] and got,
        what="the broken check's error",
    )
    assert "RuntimeError: kaput" in shown["last_error"] and shown["last_run_id"] is None
    for sensor in (bad, good_sensor):
        owner.ok("DELETE", f"/sensors/{sensor['sensor_id']}", status=204)


# -- s3 ---------------------------------------------------------------------------------------------


def test_an_s3_sensor_fires_once_per_new_key_and_never_for_keys_there_before(env, owner):
    server, tmp = env
    bucket = tmp / "buckets" / f"landing-{label()}"
    (bucket / "incoming").mkdir(parents=True)
    (bucket / "incoming" / "old.csv").write_text("old")
    tag = label()
    sensor = create(
        owner,
        sensor_type="s3",
        flow_name="hooked",
        config_json={"bucket": bucket.name, "prefix": "incoming/", "interval_seconds": 0.1},
        flow_params_json={"label": tag},
    )
    settle()
    assert runs_labelled(owner, "hooked", tag) == []
    (bucket / "incoming" / "a.csv").write_text("a")
    (bucket / "elsewhere.csv").write_text("not under the prefix")
    wait_runs(owner, "hooked", tag, 1)
    (bucket / "incoming" / "b.csv").write_text("b")
    runs = wait_runs(owner, "hooked", tag, 2)
    settle()
    runs = runs_labelled(owner, "hooked", tag)
    keys = sorted(r["parameters"]["payload"]["key"] for r in runs)
    assert keys == ["incoming/a.csv", "incoming/b.csv"]
    assert runs[0]["parameters"]["payload"]["bucket"] == bucket.name
    owner.ok("DELETE", f"/sensors/{sensor['sensor_id']}", status=204)


# -- the test endpoint ------------------------------------------------------------------------------


def test_the_test_endpoint_queues_a_run_and_is_400_when_the_check_fails(env, owner, endpoint):
    tag = label()
    sensor = create(
        owner, sensor_type="webhook", flow_name="hooked", flow_params_json={"label": tag}
    )
    body = owner.ok("POST", f"/sensors/{sensor['sensor_id']}/test")
    assert body["status"] == "success" and body["message"] == "Test event triggered successfully"
    done = wait_done(owner, body["run_id"])
    assert done["status"] == "completed"
    assert done["parameters"]["payload"] == {"sensor_id": sensor["sensor_id"], "test": True}
    assert done["tags"] == ["sensor-test"]

    endpoint.status, endpoint.body = 200, {"ok": True}
    polled = create(
        owner,
        sensor_type="polling",
        flow_name="hooked",
        config_json={"url": endpoint.url, "interval_seconds": 3600, "json_field": "ok"},
    )
    body = owner.ok("POST", f"/sensors/{polled['sensor_id']}/test")
    assert wait_done(owner, body["run_id"])["parameters"]["payload"]["value"] is True

    dead = create(
        owner,
        sensor_type="polling",
        flow_name="hooked",
        config_json={"url": "http://127.0.0.1:9/nothing", "interval_seconds": 3600},
    )
    status, answer = owner.call("POST", f"/sensors/{dead['sensor_id']}/test")
    assert_error(answer, status, 400)
    assert answer["error"] == "sensor_test_failed" and "GET failed" in answer["message"]
    status, answer = owner.call("POST", "/sensors/sensor_nope/test")
    assert_error(answer, status, 404)
