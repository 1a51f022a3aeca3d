"""An s3 sensor on real S3 (moto's server over HTTP): `dagy serve` with DAGY_SENSOR_STORE=s3 lists
the bucket through the plugin's list_keys; new objects fire once each, those there before never."""

from __future__ import annotations

from pathlib import Path

from tests.server.flows_support import Api, assert_error
from tests.server.sensors_support import create, label, runs_labelled, start, wait_runs


def test_an_s3_sensor_fires_once_per_new_object_in_a_real_bucket(tmp_path: Path, aws, s3, bucket):
    s3.put_object(Bucket=bucket, Key="incoming/old.csv", Body=b"old")
    server = start(tmp_path / "home", tmp_path, {**aws, "DAGY_SENSOR_STORE": "s3"})
    try:
        api = Api(server, server.login("owner@example.com", "password-123"))
        tag = label()
        create(
            api,
            sensor_type="s3",
            flow_name="hooked",
            config_json={"bucket": bucket, "prefix": "incoming/", "interval_seconds": 0.1},
            flow_params_json={"label": tag},
        )
        s3.put_object(Bucket=bucket, Key="incoming/new.csv", Body=b"new")
        s3.put_object(Bucket=bucket, Key="other/skip.csv", Body=b"not under the prefix")
        runs = wait_runs(api, "hooked", tag, 1)
        s3.put_object(Bucket=bucket, Key="incoming/newer.csv", Body=b"newer")
        wait_runs(api, "hooked", tag, 2)
        runs = runs_labelled(api, "hooked", tag)
        assert sorted(r["parameters"]["payload"]["key"] for r in runs) == [
            "incoming/new.csv",
            "incoming/newer.csv",
        ]

        status, body = api.call(
            "POST",
            "/sensors",
            {
                "name": "missing",
                "sensor_type": "s3",
                "flow_name": "hooked",
                "config_json": {"bucket": "no-such-bucket-here"},
            },
        )
        assert_error(body, status, 400, "config_json.bucket")
        assert "cannot be listed" in body["message"]
    finally:
        server.stop()
