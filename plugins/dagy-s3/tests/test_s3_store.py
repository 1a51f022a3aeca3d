"""The S3 artifact store against moto's S3 server over HTTP: whole objects, presigned multipart
uploads PUT part by part, refusals that leave the key as it was, abort, and bucket resolution."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dagy_s3 import S3ArtifactStore, resolve_bucket
from s3_support import multipart_uploads, put_part

from dagy import artifacts
from dagy.artifacts.base import MIN_PART_SIZE, ArtifactStore
from dagy.config.paths import DagyPaths
from dagy.errors import InvalidInputError, NotFoundError

KEY = "dagy/flows/personal/etl/1.0/artifact.zip"


@pytest.fixture
def store(bucket: str, tmp_path: Path) -> S3ArtifactStore:
    made = artifacts.get_store("s3", paths=DagyPaths(tmp_path / "home"), bucket=bucket)
    assert isinstance(made, S3ArtifactStore)
    return made


def upload(store: S3ArtifactStore, data: bytes, part_size: int = MIN_PART_SIZE):
    started = store.initiate(KEY, len(data), part_size, 600)
    etags = []
    for part in started.parts:
        offset = (part.part_number - 1) * part_size
        assert part.url.startswith(os.environ["AWS_ENDPOINT_URL"])  # straight to S3
        etags.append((part.part_number, put_part(part.url, data[offset : offset + part.size])))
    return started, etags


def test_it_is_an_artifact_store_found_by_entry_point():
    assert artifacts.store_classes()["s3"] is S3ArtifactStore
    assert isinstance(S3ArtifactStore(), ArtifactStore)


def test_put_file_fetch_exists_delete(store, s3, bucket, tmp_path):
    source = tmp_path / "a.zip"
    source.write_bytes(b"zip bytes")
    assert not store.exists(KEY)
    uri = store.put_file(KEY, source)
    assert uri == f"s3://{bucket}/{KEY}" and store.exists(KEY)
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == b"zip bytes"
    fetched = artifacts.fetch(uri, tmp_path / "out")  # by the URI's scheme, whatever is configured
    assert fetched.read_bytes() == b"zip bytes" and fetched.name == "artifact.zip"
    store.delete(KEY)
    store.delete(KEY)
    assert not store.exists(KEY)
    with pytest.raises(NotFoundError):
        store.fetch(uri, tmp_path / "again")


def test_a_multipart_upload_through_presigned_urls_lands_at_the_key_only_when_complete(
    store, s3, bucket
):
    data = os.urandom(2 * MIN_PART_SIZE + 1234)
    started, etags = upload(store, data)
    assert len(started.parts) == 3
    assert not store.exists(KEY)  # parts went to a staging key
    uri = store.complete(KEY, started.upload_id, list(reversed(etags)))
    assert uri == f"s3://{bucket}/{KEY}"
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == data
    assert store.list_keys("dagy/") == [KEY]  # the staging object is gone
    assert multipart_uploads(s3, bucket) == []


def test_a_refused_check_or_wrong_etag_leaves_the_previous_artifact(store, s3, bucket, tmp_path):
    previous = tmp_path / "old.zip"
    previous.write_bytes(b"the deployed one")
    store.put_file(KEY, previous)
    data = os.urandom(MIN_PART_SIZE + 10)

    started, etags = upload(store, data)
    with pytest.raises(InvalidInputError):
        store.complete(KEY, started.upload_id, [(1, etags[0][1]), (2, '"' + "0" * 32 + '"')])
    store.abort(KEY, started.upload_id)

    started, etags = upload(store, data)

    def refuse(path: Path) -> None:
        assert path.read_bytes() == data
        raise InvalidInputError("Invalid artifact: manifest mismatch")

    with pytest.raises(InvalidInputError, match="manifest"):
        store.complete(KEY, started.upload_id, etags, check=refuse)
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == b"the deployed one"
    assert store.list_keys("dagy/") == [KEY]


def test_abort_drops_the_parts_and_unknown_uploads_are_not_found(store, s3, bucket):
    started, _ = upload(store, os.urandom(MIN_PART_SIZE + 1))
    assert len(multipart_uploads(s3, bucket)) == 1
    store.abort(KEY, started.upload_id)
    assert multipart_uploads(s3, bucket) == []
    with pytest.raises(NotFoundError):
        store.abort(KEY, started.upload_id)
    with pytest.raises(NotFoundError):
        store.complete(KEY, "not-an-upload", [(1, "x")])


def test_the_bucket_is_the_flag_then_the_variable_then_sts_then_the_fallback(aws, monkeypatch):
    assert resolve_bucket("mine") == "mine"
    monkeypatch.setenv("DAGY_ARTIFACT_BUCKET", "from-env")
    assert resolve_bucket(None) == "from-env"
    monkeypatch.delenv("DAGY_ARTIFACT_BUCKET")
    # moto's STS answers for its default account.
    assert resolve_bucket(None) == "dagy-artifacts-123456789012-useast1"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: no STS
    assert resolve_bucket(None) == "dagy-artifacts"
