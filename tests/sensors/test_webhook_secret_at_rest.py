"""A webhook sensor's signing secret at rest: sealed with the master key, never in the store in
plaintext (a new one, and one stored in plaintext before migration 0019, which `dagy serve` seals
at start-up); signed deliveries still start runs, GET still shows "***", rotation keeps it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import start_server
from tests.server.flows_support import Api
from tests.server.runs_support import wait_until
from tests.server.sensors_support import SERVER_ENV, create, label, runs_labelled, start

NEW_SECRET = "new-secret-0123456789-abcdef"
OLD_SECRET = "old-plaintext-secret-9876543210"
EVENT = {"event": "data_ready", "data": {"file": "data.csv"}}


def _signed(secret: str) -> tuple[bytes, dict[str, str]]:
    from dagy.sensors.webhook import sign

    raw = json.dumps(EVENT).encode()
    stamp = str(int(time.time()))
    return raw, {
        "Content-Type": "application/json",
        "X-Dagy-Timestamp": stamp,
        "X-Dagy-Signature": sign(secret, stamp, raw),
    }


def _row(home: Path, sensor_id: str) -> dict[str, object]:
    with duckdb.connect(str(home / "dagy.duckdb")) as con:
        cur = con.execute("SELECT * FROM sensors WHERE sensor_id = ?", [sensor_id])
        names = [d[0] for d in cur.description]
        found = cur.fetchone()
    assert found is not None
    return dict(zip(names, found, strict=True))


def _stored_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.glob("dagy.duckdb*"))


def test_the_secret_is_stored_sealed_and_signed_deliveries_still_start_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    for name, value in SERVER_ENV.items():  # this process opens the store as the server does
        monkeypatch.setenv(name, value)
    home = tmp_path / "home"
    server = start(home, tmp_path)
    try:
        api = Api(server, server.login("owner@example.com", "password-123"))
        tag = label()
        fresh = create(
            api,
            sensor_type="webhook",
            flow_name="hooked",
            config_json={"secret": NEW_SECRET},
            flow_params_json={"label": tag},
        )
        legacy = create(
            api,
            sensor_type="webhook",
            flow_name="hooked",
            config_json={"secret": OLD_SECRET},
            flow_params_json={"label": tag},
        )
    finally:
        server.stop()

    # A new sensor's row: the secret only sealed, nowhere in the file in plaintext.
    row = _row(home, fresh["sensor_id"])
    assert NEW_SECRET not in repr(row)
    assert row["config_json"] == "{}" and row["sealed_secret"] and row["secret_key_id"]
    assert NEW_SECRET.encode() not in _stored_bytes(home)

    # The other one as a store written before migration 0019 holds it: plaintext in config_json.
    with duckdb.connect(str(home / "dagy.duckdb")) as con:
        con.execute(
            "UPDATE sensors SET config_json = ?, secret_key_id = NULL, sealed_secret = NULL "
            "WHERE sensor_id = ?",
            [json.dumps({"secret": OLD_SECRET}), legacy["sensor_id"]],
        )
    assert OLD_SECRET in repr(_row(home, legacy["sensor_id"]))

    server = start_server(home, env=SERVER_ENV)  # seals it at start-up, before answering
    try:
        api = Api(server, server.login("owner@example.com", "password-123"))
        for created, secret in ((fresh, NEW_SECRET), (legacy, OLD_SECRET)):
            shown = api.ok("GET", f"/sensors/{created['sensor_id']}")
            assert shown["config_json"] == {"secret": "***"}
            raw, headers = _signed(secret)
            path = f"/webhooks/{created['webhook_token']}"
            status, _, body = server.request("POST", path, raw=raw, headers=headers)
            assert status == 202, body
            raw, headers = _signed("not-the-secret-0123456789")
            status, _, body = server.request("POST", path, raw=raw, headers=headers)
            assert status == 401, body
        wait_until(lambda: len(runs_labelled(api, "hooked", tag)) == 2, 90, "the 2 signed runs")
    finally:
        server.stop()

    row = _row(home, legacy["sensor_id"])
    assert OLD_SECRET not in repr(row)
    assert row["config_json"] == "{}" and row["sealed_secret"] and row["secret_key_id"]

    # A master key rotation re-seals it: the old key is gone, the secret still checks signatures.
    from dagy.config.paths import DagyPaths
    from dagy.services.accounts.audit import local_actor
    from dagy.services.triggers import sensor_runs, sensors
    from dagy.services.vault.rotation import rotate_master_key
    from dagy.store.duckdb_store import DuckDBStore

    store = DuckDBStore(DagyPaths(home))
    before = row["secret_key_id"]
    rotated = rotate_master_key(store, local_actor())
    assert rotated.key_id != before and before in rotated.previous_key_ids
    with store.connection():
        for created, secret in ((fresh, NEW_SECRET), (legacy, OLD_SECRET)):
            sensor = sensors.get(store, "personal", created["sensor_id"])
            assert sensor.secret_key_id == rotated.key_id
            raw, headers = _signed(secret)
            lowered = {k.lower(): v for k, v in headers.items()}
            assert sensor_runs.check_delivery(store, sensor, raw, lowered) is None
