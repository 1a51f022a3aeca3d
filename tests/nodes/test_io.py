"""s3_ingest / s3_write against moto's S3, files in every format, the local artifact store, and
http_fetch against a test HTTP server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagy.engine.context import TaskContext
from dagy.nodes.run import frames, io
from dagy.nodes.run.frames import NodeError

RECORDS = [
    {"id": 1, "name": "Ada", "score": 9.5},
    {"id": 2, "name": "Grace", "score": 7.0},
    {"id": 3, "name": "Linus", "score": None},
]


def test_s3_ingest_reads_an_object_as_records_and_as_a_dataframe(ctx, s3, bucket):
    s3.put_object(Bucket=bucket, Key="in/orders.json", Body=json.dumps(RECORDS).encode())
    uri = f"s3://{bucket}/in/orders.json"

    assert io.s3_ingest({"uri": uri}) == RECORDS

    df = io.s3_ingest({"uri": uri, "output": "dataframe"})
    info = df[frames.KEY]
    assert info["rows"] == 3 and info["columns"] == ["id", "name", "score"]
    assert Path(info["path"]).parent == ctx.artifact_dir
    assert frames.to_records(df) == RECORDS


def test_s3_write_uploads_what_it_is_given_and_s3_ingest_reads_it_back(ctx, s3, bucket):
    s3.put_object(Bucket=bucket, Key="src.json", Body=json.dumps(RECORDS).encode())
    assert io.s3_ingest({"bucket": bucket, "key": "src.json"}) == RECORDS
    for fmt in ("json", "ndjson", "csv", "parquet"):
        uri = f"s3://{bucket}/out/data.{fmt}"
        result = io.s3_write({"uri": uri}, {"data_in": RECORDS})
        assert result["uri"] == uri and result["rows"] == 3 and result["format"] == fmt
        assert io.s3_ingest({"uri": uri}) == RECORDS
    # A dataframe goes up as written by DuckDB.
    frame = io.s3_ingest({"uri": f"s3://{bucket}/out/data.parquet", "output": "dataframe"})
    io.s3_write({"uri": f"s3://{bucket}/out/again.ndjson"}, {"data_in": frame})
    body = s3.get_object(Bucket=bucket, Key="out/again.ndjson")["Body"].read().decode()
    assert [json.loads(line) for line in body.splitlines()] == RECORDS


def test_a_missing_object_or_bucket_fails_naming_it(ctx, s3, bucket):
    with pytest.raises(NodeError, match=rf"cannot read s3://{bucket}/nope.json: no such object"):
        io.s3_ingest({"uri": f"s3://{bucket}/nope.json"})
    with pytest.raises(
        NodeError, match="cannot write s3://no-such-bucket-x/a.json: no such bucket$"
    ):
        io.s3_write({"uri": "s3://no-such-bucket-x/a.json"}, {"data_in": RECORDS})


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "parquet"])
def test_files_round_trip_in_every_format(ctx, tmp_path, fmt):
    target = tmp_path / "out" / f"data.{fmt}"
    written = io.file_write({"uri": f"file://{target}"}, {"data": RECORDS})
    assert written == {
        "uri": f"file://{target}",
        "format": fmt,
        "rows": 3,
        "bytes": target.stat().st_size,
    }
    assert io.file_ingest({"uri": str(target)}) == RECORDS
    df = io.file_ingest({"uri": str(target), "output": "dataframe"})
    assert df[frames.KEY]["rows"] == 3


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_gzipped_files_round_trip(ctx, tmp_path, fmt):
    target = tmp_path / f"data.{fmt}.gz"
    df = io.file_ingest({"uri": _file(tmp_path), "output": "dataframe"})
    for data in (RECORDS, df):
        io.file_write({"uri": str(target)}, {"data": data})
        assert target.read_bytes()[:2] == b"\x1f\x8b"  # gzip's magic number
        assert io.file_ingest({"uri": str(target)}) == RECORDS


def _file(folder: Path) -> str:
    path = folder / "records.json"
    path.write_text(json.dumps(RECORDS), encoding="utf-8")
    return str(path)


def test_a_relative_path_is_found_beside_the_pipeline_file(ctx: TaskContext, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.ndjson").write_text(
        "\n".join(json.dumps(r) for r in RECORDS), encoding="utf-8"
    )
    assert io.file_ingest({"uri": "data/in.ndjson"}) == RECORDS


def test_s3_write_without_a_uri_keeps_the_data_in_the_local_artifact_store(ctx, dagy_home):
    result = io.s3_write({}, {"data_in": RECORDS})
    stored = dagy_home / "artifact-store" / "nodes" / "r1" / "t1" / "output.json"
    assert result["uri"] == stored.as_uri()
    assert json.loads(stored.read_text()) == RECORDS


def test_bad_inputs_fail_with_one_clear_line(ctx, tmp_path):
    with pytest.raises(NodeError, match="no such file"):
        io.file_ingest({"uri": str(tmp_path / "missing.csv")})
    with pytest.raises(NodeError, match="cannot tell the format"):
        io.file_ingest({"uri": str(tmp_path / "data.bin")})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(NodeError, match="cannot read .*bad.json as json"):
        io.file_ingest({"uri": str(bad)})
    with pytest.raises(NodeError, match="unsupported URI scheme"):
        io.file_ingest({"uri": "ftp://host/x.json"})
    with pytest.raises(NodeError, match="no input"):
        io.file_write({"uri": str(tmp_path / "x.json")}, {})
    assert not (tmp_path / "x.json").exists()


# -- http_fetch -----------------------------------------------------------------------------------


def test_http_fetch_parses_json_and_returns_text_as_text(ctx, site):
    assert io.http_fetch({"url": site.url("/orders?day=2026-03-04")}) == site.ORDERS
    assert io.http_fetch({"url": site.url("/text")}) == "hello"
    df = io.http_fetch({"url": site.url("/orders"), "output": "dataframe"})
    assert frames.to_records(df) == site.ORDERS


def test_http_fetch_stops_at_its_timeout(ctx, site):
    with pytest.raises(NodeError, match=r"timed out after 0.3s"):
        io.http_fetch({"url": site.url("/slow"), "timeout_seconds": 0.3})


def test_http_fetch_stops_reading_at_max_bytes(ctx, site):
    with pytest.raises(NodeError, match=r"is 5000 bytes, more than max_bytes=100"):
        io.http_fetch({"url": site.url("/big"), "max_bytes": 100})
    with pytest.raises(NodeError, match=r"larger than max_bytes=100"):
        io.http_fetch({"url": site.url("/big-unsized"), "max_bytes": 100})
    assert io.http_fetch({"url": site.url("/big"), "max_bytes": 5000}) == "x" * 5000


def test_http_fetch_fails_on_a_non_2xx_status_or_no_server(ctx, site):
    with pytest.raises(NodeError, match=r"GET .*/missing answered HTTP 500"):
        io.http_fetch({"url": site.url("/missing")})
    with pytest.raises(NodeError, match="cannot connect"):
        io.http_fetch({"url": "http://127.0.0.1:9/x", "timeout_seconds": 2})
    with pytest.raises(NodeError, match="must be an http"):
        io.http_fetch({"url": "file:///etc/passwd"})


def test_json_too_big_for_a_task_result_asks_for_a_dataframe(ctx, tmp_path, monkeypatch, site):
    monkeypatch.setenv("DAGY_LOCAL_ARTIFACT_MAX_BYTES", "64")
    path = tmp_path / "many.json"
    path.write_text(json.dumps(RECORDS * 10), encoding="utf-8")
    with pytest.raises(
        NodeError, match=r"more than the artifact limit of 64 bytes .*output: dataframe"
    ):
        io.file_ingest({"uri": str(path)})
    assert io.file_ingest({"uri": str(path), "output": "dataframe"})[frames.KEY]["rows"] == 30
    with pytest.raises(NodeError, match=r"the response from .* set output: dataframe"):
        io.http_fetch({"url": site.url("/orders")})
