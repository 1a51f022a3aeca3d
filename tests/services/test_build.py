"""The build service: what goes into artifact.zip and where it is written."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import re
import sys
import zipfile
from pathlib import Path

import pytest

import dagy
from dagy.errors import ParameterTypeError
from dagy.services.catalog import build as build_service
from dagy.services.catalog.build import build_artifact, detect_dependencies

FLOW = """
import json
import os.path

import yaml
from dagy import flow, task


@task
def extract(date: str) -> list[dict]:
    return [{"date": date}]


@task
def repeat(rows: list[dict], n: int) -> list[dict]:
    import click  # a lazy import is still a dependency of the artifact

    return rows * n


@flow(name="daily_report", version="2.0.0")
def report(date: str, n: int = 1):
    return repeat(extract(date), n)
"""

BUILD_DIR = re.compile(r"daily_report-\d{8}T\d{6}-[0-9a-f]{6}")


def _read(artifact: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(artifact) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_artifact_is_written_under_builds_with_the_spec_layout(write_flow, paths):
    source = write_flow(FLOW, name="build_report")
    result = build_artifact(f"{source}:report", {"date": "2026-03-04"}, None, paths)

    assert result.artifact_path.is_absolute()
    assert result.artifact_path.name == "artifact.zip"
    assert result.artifact_path.parent.parent == paths.builds / "daily_report"
    assert BUILD_DIR.fullmatch(result.artifact_path.parent.name)
    assert (result.flow_name, result.flow_version) == ("daily_report", "2.0.0")
    assert list(result.artifact_path.parent.iterdir()) == [result.artifact_path]


def test_output_dir_replaces_the_builds_directory(write_flow, paths, tmp_path):
    source = write_flow(FLOW, name="build_outdir")
    out = tmp_path / "dist"
    result = build_artifact(f"{source}:report", {"date": "2026-03-04"}, out, paths)

    assert result.artifact_path.parent.parent == out / "daily_report"
    assert not paths.builds.exists()


def test_zip_holds_spec_metadata_manifest_and_source_in_a_fixed_order(write_flow, paths):
    source = write_flow(FLOW, name="build_contents")
    result = build_artifact(f"{source}:report", {"date": "2026-03-04", "n": "3"}, None, paths)

    with zipfile.ZipFile(result.artifact_path) as zf:
        names = zf.namelist()
    assert names == ["build_contents.py", "flow_spec.json", "metadata.json", "manifest.json"]
    files = _read(result.artifact_path)
    assert files["build_contents.py"] == source.read_bytes()

    spec = json.loads(files["flow_spec.json"])
    assert spec["flow_name"] == "daily_report"
    assert spec["entrypoint"] == "build_contents.py:report"
    assert spec["parameters"] == {"date": "2026-03-04", "n": 3}
    assert [tr["task_run_id"] for tr in spec["task_runs"]] == ["extract-1", "repeat-1"]
    assert spec["edges"] == [["extract-1", "repeat-1"]]
    assert spec["outputs"] == {"$ref": "repeat-1"}


def test_metadata_fields(write_flow, paths):
    source = write_flow(FLOW, name="build_metadata")
    result = build_artifact(f"{source}:report", {"date": "2026-03-04", "n": "2"}, None, paths)
    metadata = json.loads(_read(result.artifact_path)["metadata.json"])

    assert metadata == result.metadata
    assert metadata["name"] == "daily_report"
    assert metadata["version"] == "2.0.0"
    assert metadata["entrypoint"] == "build_metadata.py:report"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", metadata["build_time"])
    stamp = metadata["build_time"].replace("-", "").replace(":", "").rstrip("Z")
    assert result.artifact_path.parent.name.startswith(f"daily_report-{stamp}-")
    assert metadata["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert metadata["dagy_version"] == dagy.__version__
    assert metadata["code_hash"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert metadata["parameters"] == {"date": "2026-03-04", "n": "2"}


def test_manifest_lists_every_other_file_with_its_size_and_sha256(write_flow, paths):
    source = write_flow(FLOW, name="build_manifest")
    result = build_artifact(f"{source}:report", {"date": "2026-03-04"}, None, paths)
    files = _read(result.artifact_path)
    manifest = json.loads(files.pop("manifest.json"))

    assert [entry["path"] for entry in manifest["files"]] == sorted(files)
    for entry in manifest["files"]:
        data = files[entry["path"]]
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()


def test_code_hash_is_stable_and_changes_with_the_source(write_flow, paths):
    source = write_flow(FLOW, name="build_hash")
    first = build_artifact(f"{source}:report", {"date": "2026-03-04"}, None, paths)
    again = build_artifact(f"{source}:report", {"date": "2026-03-05"}, None, paths)
    assert first.code_hash == again.code_hash
    assert first.artifact_path != again.artifact_path

    source.write_text(source.read_text() + "\n# a change\n", encoding="utf-8")
    changed = build_artifact(f"{source}:report", {"date": "2026-03-04"}, None, paths)
    assert changed.code_hash != first.code_hash
    assert changed.code_hash == hashlib.sha256(source.read_bytes()).hexdigest()


def test_dependencies_are_the_installed_third_party_distributions(write_flow, paths):
    source = write_flow(FLOW, name="build_deps")
    result = build_artifact(f"{source}:report", {"date": "2026-03-04"}, None, paths)

    assert result.metadata["dependencies"] == [
        {"name": "click", "version": md.version("click")},
        {"name": "PyYAML", "version": md.version("PyYAML")},
    ]


def test_detect_dependencies_skips_stdlib_dagy_relative_and_unknown_modules():
    source = (
        "from __future__ import annotations\n"
        "import json, os.path\n"
        "import yaml.constructor\n"
        "from tabulate import tabulate\n"
        "from dagy import flow\n"
        "from . import sibling\n"
        "import some_local_helper_module_xyz\n"
    )
    assert detect_dependencies(source) == [
        {"name": "PyYAML", "version": md.version("PyYAML")},
        {"name": "tabulate", "version": md.version("tabulate")},
    ]


def test_flow_name_is_made_safe_as_a_directory_name(write_flow, paths):
    source = write_flow(
        """
        from dagy import flow, task

        @task
        def one() -> int:
            return 1

        @flow(name="../team/etl")
        def odd():
            return one()
        """,
        name="build_odd_name",
    )
    result = build_artifact(f"{source}:odd", None, None, paths)

    assert result.flow_name == "../team/etl"
    assert result.artifact_path.parent.parent == paths.builds / "_team_etl"


def test_a_parameter_error_creates_nothing(write_flow, paths):
    source = write_flow(FLOW, name="build_bad_param")
    with pytest.raises(ParameterTypeError, match="Parameter 'n' expects int, got 'many'"):
        build_artifact(f"{source}:report", {"date": "2026-03-04", "n": "many"}, None, paths)
    assert not paths.builds.exists()


def test_a_failed_write_leaves_no_partial_artifact(write_flow, paths, monkeypatch):
    source = write_flow(FLOW, name="build_failed_write")

    def broken_writestr(self: zipfile.ZipFile, info: object, data: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(build_service.zipfile.ZipFile, "writestr", broken_writestr)
    with pytest.raises(OSError, match="disk full"):
        build_artifact(f"{source}:report", {"date": "2026-03-04"}, None, paths)
    assert [p for p in paths.builds.rglob("*") if p.is_file()] == []
    assert list((paths.builds / "daily_report").iterdir()) == []
