"""The ArtifactStore contract, run against every store this package ships (a plugin can reuse it:
parametrise ``store`` with its own). Multipart parts are written the way `dagy serve` does for the
local store; a store with real presigned URLs would PUT them instead."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from dagy import artifacts
from dagy.artifacts.base import MIB, MIN_PART_SIZE, ArtifactStore, plan_parts
from dagy.artifacts.local import LocalArtifactStore
from dagy.config.paths import DagyPaths
from dagy.errors import InvalidInputError, NotFoundError, PermissionDeniedError

KEY = "dagy/flows/personal/etl/1.0/artifact.zip"


@pytest.fixture(params=["local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    paths = DagyPaths(tmp_path / "home")
    return artifacts.get_store(request.param, paths=paths, api_url="http://127.0.0.1:1/v1")


def send_part(store: ArtifactStore, upload_id: str, number: int, data: bytes) -> str:
    """What the part PUT route does with a body (the local store's parts arrive through it)."""
    assert isinstance(store, LocalArtifactStore)
    writer = store.part_writer(upload_id, number)
    for start in range(0, len(data), MIB):
        writer.write(data[start : start + MIB])
    return writer.finish()


def test_the_local_store_is_registered_by_entry_point_and_built_in():
    assert "local" in artifacts.store_classes()
    assert artifacts.store_class("local") is LocalArtifactStore
    assert isinstance(LocalArtifactStore(DagyPaths(Path("/nonexistent"))), ArtifactStore)


def test_an_unknown_store_is_a_500_naming_the_installed_ones(tmp_path):
    with pytest.raises(artifacts.ArtifactStoreNotConfigured, match="installed: local") as caught:
        artifacts.get_store("nope", paths=DagyPaths(tmp_path))
    assert caught.value.status == 500


def test_put_file_fetch_exists_delete(store, tmp_path):
    source = tmp_path / "a.zip"
    source.write_bytes(b"zip bytes")
    assert not store.exists(KEY)
    uri = store.put_file(KEY, source)
    assert uri == store.uri(KEY) and store.exists(KEY)
    fetched = artifacts.fetch(uri, tmp_path / "out", paths=store.paths)  # type: ignore[attr-defined]
    assert fetched.read_bytes() == b"zip bytes" and fetched.parent == tmp_path / "out"
    store.delete(KEY)
    store.delete(KEY)  # missing is fine
    assert not store.exists(KEY)


def test_list_keys_lists_stored_keys_under_a_prefix_sorted(store, tmp_path):
    assert store.list_keys("") == []  # nothing stored yet (for the local store: no folder yet)
    source = tmp_path / "a.zip"
    source.write_bytes(b"x")
    for key in ("in/b.csv", "in/a.csv", "in/deep/c.csv", "out/d.csv"):
        store.put_file(key, source)
    assert store.list_keys("in/") == ["in/a.csv", "in/b.csv", "in/deep/c.csv"]
    assert store.list_keys("") == ["in/a.csv", "in/b.csv", "in/deep/c.csv", "out/d.csv"]
    assert store.list_keys("nothing/") == []


def test_the_local_store_lists_no_file_being_written_and_takes_another_root(tmp_path):
    root = tmp_path / "bucket"
    store = LocalArtifactStore(DagyPaths(tmp_path / "home"), root=root)
    (root / "in").mkdir(parents=True)
    (root / "in" / "ready.csv").write_text("x")
    (root / "in" / ".ready2.csv.1234.tmp").write_text("half")
    assert store.list_keys() == ["in/ready.csv"] and store.exists("in/ready.csv")


def test_multipart_upload_reassembles_parts_in_order(store):
    data = os.urandom(2 * MIN_PART_SIZE + 123)
    upload = store.initiate(KEY, len(data), MIN_PART_SIZE, 60)
    assert [(p.part_number, p.size) for p in upload.parts] == plan_parts(len(data), MIN_PART_SIZE)
    assert [p.size for p in upload.parts] == [MIN_PART_SIZE, MIN_PART_SIZE, 123]
    etags = []
    for part in reversed(upload.parts):  # arrival order does not matter
        start = (part.part_number - 1) * MIN_PART_SIZE
        etags.append(
            (
                part.part_number,
                send_part(
                    store, upload.upload_id, part.part_number, data[start : start + part.size]
                ),
            )
        )
    etags.sort()
    assert etags[2][1] == '"' + hashlib.md5(data[-123:]).hexdigest() + '"'
    seen: list[bytes] = []
    uri = store.complete(KEY, upload.upload_id, etags, check=lambda p: seen.append(p.read_bytes()))
    assert seen == [data]
    assert store.exists(KEY) and uri == store.uri(KEY)
    with pytest.raises(NotFoundError):  # an upload completes once
        store.complete(KEY, upload.upload_id, etags)


def test_complete_refuses_wrong_etags_missing_parts_and_a_failed_check(store, tmp_path):
    old = tmp_path / "old.zip"
    old.write_bytes(b"the deployed artifact")
    store.put_file(KEY, old)
    data = os.urandom(MIN_PART_SIZE + 10)
    upload = store.initiate(KEY, len(data), MIN_PART_SIZE, 60)
    first = send_part(store, upload.upload_id, 1, data[:MIN_PART_SIZE])
    with pytest.raises(InvalidInputError, match="Part 2 was not uploaded"):
        store.complete(KEY, upload.upload_id, [(1, first), (2, '"00"')])
    second = send_part(store, upload.upload_id, 2, data[MIN_PART_SIZE:])
    with pytest.raises(InvalidInputError, match="ETag mismatch for part 2"):
        store.complete(KEY, upload.upload_id, [(1, first), (2, '"' + "0" * 32 + '"')])
    with pytest.raises(InvalidInputError, match="every part, 1 to 2, in order"):
        store.complete(KEY, upload.upload_id, [(2, second), (1, first)])

    def refuse(path: Path) -> None:
        raise InvalidInputError("not a valid artifact")

    with pytest.raises(InvalidInputError, match="not a valid artifact"):
        store.complete(KEY, upload.upload_id, [(1, first), (2, second)], check=refuse)
    fetched = artifacts.fetch(store.uri(KEY), tmp_path / "f", paths=store.paths)  # type: ignore[attr-defined]
    assert fetched.read_bytes() == b"the deployed artifact"  # a refused artifact replaces nothing
    # Unquoted ETags are accepted, as S3 accepts them.
    store.complete(KEY, upload.upload_id, [(1, first.strip('"')), (2, second)])
    assert artifacts.fetch(store.uri(KEY), tmp_path / "g", paths=store.paths).read_bytes() == data  # type: ignore[attr-defined]


def test_abort_drops_the_parts_and_unknown_uploads_are_not_found(store):
    upload = store.initiate(KEY, 10, MIN_PART_SIZE, 60)
    send_part(store, upload.upload_id, 1, b"0123456789")
    with pytest.raises(NotFoundError):
        store.abort("dagy/flows/other/etl/1.0/artifact.zip", upload.upload_id)  # not its key
    store.abort(KEY, upload.upload_id)
    assert not (store.uploads / upload.upload_id).exists()  # type: ignore[attr-defined]
    for upload_id in (upload.upload_id, "../../etc", "0" * 32):
        with pytest.raises(NotFoundError):
            store.abort(KEY, upload_id)


@pytest.mark.parametrize(
    ("file_size", "part_size", "message"),
    [
        (0, None, "file_size must be a positive"),
        (-5, None, "file_size must be a positive"),
        (10, MIN_PART_SIZE - 1, "part_size must be at least"),
        (10_001 * MIN_PART_SIZE, MIN_PART_SIZE, "Too many parts: 10001"),
    ],
)
def test_plan_parts_refuses_impossible_uploads(file_size, part_size, message):
    with pytest.raises(InvalidInputError, match=message):
        plan_parts(file_size, part_size)


def test_plan_parts_defaults_to_8_mb_and_allows_exactly_10000_parts():
    assert plan_parts(25_000_000, None) == [(1, 8388608), (2, 8388608), (3, 8222784)]
    assert len(plan_parts(10_000 * MIN_PART_SIZE, MIN_PART_SIZE)) == 10_000


@pytest.mark.parametrize("key", ["", "/abs/key", "a/../b", "a//b", "a/./b", "a\\b"])
def test_keys_never_leave_the_store(store, key, tmp_path):
    with pytest.raises(InvalidInputError, match="Invalid artifact key"):
        store.put_file(key, tmp_path)


def test_local_fetch_refuses_files_outside_the_store(tmp_path):
    store = LocalArtifactStore(DagyPaths(tmp_path / "home"))
    outside = tmp_path / "secret.zip"
    outside.write_bytes(b"x")
    with pytest.raises(InvalidInputError, match="outside the artifact store"):
        store.fetch(outside.as_uri(), tmp_path / "out")
    with pytest.raises(InvalidInputError):
        store.fetch("s3://bucket/key", tmp_path / "out")


def test_part_urls_are_signed_per_part_and_expire(tmp_path):
    store = LocalArtifactStore(DagyPaths(tmp_path / "home"), api_url="http://h:1/v1")
    upload = store.initiate(KEY, 10, MIN_PART_SIZE, 60)
    url = upload.parts[0].url
    assert url.startswith(f"http://h:1/v1/artifacts/uploads/{upload.upload_id}/parts/1?expires=")
    query = dict(kv.split("=") for kv in url.split("?")[1].split("&"))
    store.verify_part_url(upload.upload_id, 1, query["expires"], query["signature"])
    with pytest.raises(PermissionDeniedError, match="signature"):
        store.verify_part_url(upload.upload_id, 2, query["expires"], query["signature"])
    with pytest.raises(PermissionDeniedError, match="signature"):
        store.verify_part_url(
            upload.upload_id, 1, str(int(query["expires"]) + 1), query["signature"]
        )
    past = str(int(time.time()) - 1)
    with pytest.raises(PermissionDeniedError, match="expired"):
        store.verify_part_url(upload.upload_id, 1, past, store.signature(upload.upload_id, 1, past))
    # The secret is the home's, 0600, and survives a new store object (a server restart).
    key_file = tmp_path / "home" / "artifact-signing.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = LocalArtifactStore(DagyPaths(tmp_path / "home"), api_url="http://h:1/v1")
    again.verify_part_url(upload.upload_id, 1, query["expires"], query["signature"])


def test_a_part_of_the_wrong_size_is_refused_as_it_arrives(tmp_path):
    store = LocalArtifactStore(DagyPaths(tmp_path / "home"), api_url="http://h:1/v1")
    upload = store.initiate(KEY, 10, MIN_PART_SIZE, 60)
    writer = store.part_writer(upload.upload_id, 1)
    with pytest.raises(InvalidInputError, match="must be 10 bytes"):
        writer.write(b"x" * 11)
    writer.discard()
    short = store.part_writer(upload.upload_id, 1)
    short.write(b"x" * 9)
    with pytest.raises(InvalidInputError, match="must be 10 bytes, got 9"):
        short.finish()
    short.discard()
    with pytest.raises(NotFoundError):
        store.part_writer(upload.upload_id, 2)
    assert [p.name for p in (store.uploads / upload.upload_id).iterdir()] == ["upload.json"]


def test_initiate_without_an_api_url_says_storage_is_not_configured(tmp_path):
    store = LocalArtifactStore(DagyPaths(tmp_path / "home"))
    with pytest.raises(artifacts.ArtifactStoreNotConfigured):
        store.initiate(KEY, 10, MIN_PART_SIZE, 60)


def test_abandoned_uploads_are_swept_a_day_after_they_expire(tmp_path):
    store = LocalArtifactStore(DagyPaths(tmp_path / "home"), api_url="http://h:1/v1")
    old = store.initiate(KEY, 10, MIN_PART_SIZE, 60)
    fresh = store.initiate(KEY, 10, MIN_PART_SIZE, 60)
    store.sweep(now=time.time() + 60 + 24 * 3600 + 5)
    assert not (store.uploads / old.upload_id).exists()
    assert not (store.uploads / fresh.upload_id).exists()
    kept = store.initiate(KEY, 10, MIN_PART_SIZE, 60)
    store.sweep()
    assert (store.uploads / kept.upload_id).exists()
