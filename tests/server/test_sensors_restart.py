"""What sensors remember survives a restart of `dagy serve`, and a webhook token is at rest only
as its hash: read from the DuckDB file once the server has released it."""

from __future__ import annotations

import hashlib

from tests.conftest import start_server
from tests.server.flows_support import Api
from tests.server.runs_support import wait_until
from tests.server.sensors_support import (
    SERVER_ENV,
    Endpoint,
    create,
    label,
    runs_labelled,
    start,
    wait_runs,
)


def test_sensors_do_not_fire_again_after_a_restart_and_tokens_are_stored_hashed(tmp_path):
    home = tmp_path / "home"
    buckets = tmp_path / "buckets"
    (buckets / "drop").mkdir(parents=True)
    env = {"DAGY_SENSOR_BUCKETS_ROOT": str(buckets)}
    endpoint = Endpoint()
    endpoint.status, endpoint.body = 200, {"v": "same"}
    server = start(home, tmp_path, env)
    try:
        api = Api(server, server.login("owner@example.com", "password-123"))
        hook_tag, poll_tag, s3_tag = label(), label(), label()
        token = create(
            api, sensor_type="webhook", flow_name="hooked", flow_params_json={"label": hook_tag}
        )["webhook_token"]
        create(
            api,
            sensor_type="polling",
            flow_name="hooked",
            config_json={"url": endpoint.url, "interval_seconds": 0.1},
            flow_params_json={"label": poll_tag},
        )
        create(
            api,
            sensor_type="s3",
            flow_name="hooked",
            config_json={"bucket": "drop", "interval_seconds": 0.1},
            flow_params_json={"label": s3_tag},
        )
        (buckets / "drop" / "one.json").write_text("{}")
        wait_runs(api, "hooked", poll_tag, 1)
        wait_runs(api, "hooked", s3_tag, 1)
    finally:
        server.stop()

    for path in home.glob("dagy.duckdb*"):  # the file and its write-ahead log
        raw = path.read_bytes()
        assert token.encode() not in raw and token[3:].encode() not in raw, path.name
    from dagy.config.paths import DagyPaths
    from dagy.store.duckdb_store import DuckDBStore

    with DuckDBStore(DagyPaths(home)).connection() as con:
        rows = con.execute("SELECT * FROM sensors WHERE sensor_type = 'webhook'").fetchall()
    assert len(rows) == 1 and not any(token in str(value) for value in rows[0])
    assert hashlib.sha256(token.encode()).hexdigest() in rows[0]

    again = start_server(home, env={**SERVER_ENV, **env})
    try:
        api = Api(again, again.login("owner@example.com", "password-123"))
        hits = endpoint.hits
        wait_until(
            lambda: endpoint.hits > hits, what="a look after the restart"
        )  # it looked again ...
        assert len(runs_labelled(api, "hooked", poll_tag)) == 1  # ... and saw nothing new
        assert len(runs_labelled(api, "hooked", s3_tag)) == 1
        status, _, body = again.request("POST", f"/webhooks/{token}", body={"after": "restart"})
        assert status == 202, body
    finally:
        again.stop()
        endpoint.close()
