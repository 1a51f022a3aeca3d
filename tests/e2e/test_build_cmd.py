"""`dagy build` through the real command: the spec's output line and every row of its error table."""

from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import dagy_cmd

ARTIFACT_LINE = re.compile(
    r"^Artifact: (/\S+/daily_report/daily_report-\d{8}T\d{6}-[0-9a-f]{6}/artifact\.zip)$"
)

FLOWS = """
from dagy import flow, task


@task
def extract(date: str) -> list[str]:
    return [date]


@task
def repeat(rows: list[str], n: int) -> list[str]:
    return rows * n


@flow(name="daily_report", version="1.2.0")
def report(date: str, n: int = 1):
    return repeat(extract(date), n)
"""


def _artifact(stdout: str) -> Path:
    match = ARTIFACT_LINE.match(stdout.strip())
    assert match, stdout
    return Path(match.group(1))


def _zips(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.is_file() and ".zip" in p.name]


def test_build_prints_the_artifact_line_and_writes_under_builds(run_dagy, write_flow, dagy_home):
    flows = write_flow(FLOWS, name="e2e_build_flows")
    result = run_dagy("build", f"{flows}:report", "--param", "date=2026-03-04", "--param", "n=2")

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    artifact = _artifact(result.stdout)
    assert artifact.parent.parent == dagy_home / "builds" / "daily_report"
    with zipfile.ZipFile(artifact) as zf:
        assert sorted(zf.namelist()) == [
            "e2e_build_flows.py",
            "flow_spec.json",
            "manifest.json",
            "metadata.json",
        ]
        metadata = json.loads(zf.read("metadata.json"))
        spec = json.loads(zf.read("flow_spec.json"))
    assert metadata["name"] == "daily_report"
    assert metadata["version"] == "1.2.0"
    assert metadata["entrypoint"] == "e2e_build_flows.py:report"
    assert metadata["parameters"] == {"date": "2026-03-04", "n": "2"}
    assert spec["parameters"] == {"date": "2026-03-04", "n": 2}


def test_build_writes_under_output_dir_when_given(run_dagy, write_flow, dagy_home, tmp_path):
    flows = write_flow(FLOWS, name="e2e_build_outdir")
    out = tmp_path / "dist"
    result = run_dagy(
        "build", f"{flows}:report", "--output-dir", str(out), "--param", "date=2026-03-04"
    )

    assert result.returncode == 0, result.stderr
    artifact = _artifact(result.stdout)
    assert artifact.parent.parent == out / "daily_report"
    assert artifact.is_file()
    assert not (dagy_home / "builds").exists()


def test_relative_target_and_output_dir_print_an_absolute_path(write_flow, dagy_home, tmp_path):
    write_flow(FLOWS, name="e2e_build_relative")
    result = subprocess.run(
        [*dagy_cmd(), "build", "e2e_build_relative.py:report", "--output-dir", "dist"]
        + ["--param", "date=2026-03-04"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(tmp_path),
        env={**os.environ},
    )

    assert result.returncode == 0, result.stderr
    artifact = _artifact(result.stdout)
    assert artifact.parent.parent == tmp_path.resolve() / "dist" / "daily_report"
    assert artifact.is_file()


def test_build_the_shipped_example(run_dagy, dagy_home):
    result = run_dagy("build", "examples/flow_example.py:example_flow")

    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert re.fullmatch(
        r"Artifact: /\S+/builds/example_flow/example_flow-\d{8}T\d{6}-[0-9a-f]{6}/artifact\.zip",
        line,
    )
    assert Path(line.removeprefix("Artifact: ")).parent.parent.parent == dagy_home / "builds"


def test_help_shows_usage_and_an_example(run_dagy):
    result = run_dagy("build", "--help")

    assert result.returncode == 0
    assert "PATH:FLOW_FN" in result.stdout
    assert "--output-dir" in result.stdout
    assert "--param KEY=VALUE" in result.stdout
    assert "dagy build examples/flow_example.py:example_flow" in result.stdout


@pytest.mark.parametrize(
    ("case", "code", "expected"),
    [
        ("missing_colon", 2, "ValueError: Flow target must be in <path>:<flow_fn> format"),
        ("file_not_found", 3, "FileNotFoundError: Flow file not found: {missing}"),
        ("function_not_found", 3, "AttributeError: Flow 'nope' not found in {flows}"),
        (
            "module_not_loadable",
            2,
            "ImportError: Unable to load module from {broken}: RuntimeError: cannot import me",
        ),
        ("invalid_param", 2, "ValueError: Invalid param 'bad', expected key=value"),
        ("param_not_coercible", 2, "ParameterTypeError: Parameter 'n' expects int, got 'many'"),
        (
            "param_missing",
            2,
            "ParameterTypeError: Missing required parameter 'date' for flow 'daily_report'",
        ),
    ],
)
def test_errors_print_one_line_exit_non_zero_and_leave_no_artifact(
    run_dagy, write_flow, dagy_home, tmp_path, case, code, expected
):
    flows = write_flow(FLOWS, name=f"e2e_build_err_{case}")
    broken = write_flow("raise RuntimeError('cannot import me')\n", name=f"e2e_broken_{case}")
    missing = tmp_path / "nowhere" / "missing.py"
    out = tmp_path / "dist"
    args = {
        "missing_colon": [str(flows)],
        "file_not_found": [f"{missing}:report"],
        "function_not_found": [f"{flows}:nope"],
        "module_not_loadable": [f"{broken}:report"],
        "invalid_param": [f"{flows}:report", "--param", "bad"],
        "param_not_coercible": [f"{flows}:report", "--param", "date=x", "--param", "n=many"],
        "param_missing": [f"{flows}:report"],
    }[case]

    result = run_dagy("build", *args, "--output-dir", str(out))
    default_result = run_dagy("build", *args)

    line = expected.format(missing=missing, flows=flows, broken=broken)
    for res in (result, default_result):
        assert res.returncode == code, res.stderr
        assert res.stdout == ""
        assert "Traceback" not in res.stderr
        assert res.stderr == line + "\n"
    assert _zips(tmp_path) == []
    assert not out.exists()
    assert not (dagy_home / "builds").exists()


def test_output_dir_under_a_file_is_an_io_error_not_a_bug(run_dagy, write_flow, tmp_path):
    flow_file = write_flow(FLOWS, "io_flow")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_dagy(
        "build", f"{flow_file}:report", "--param", "date=d", "--output-dir", str(blocker / "dist")
    )
    assert result.returncode == 74
    assert result.stderr == (
        f"OSError: Cannot write the artifact under {blocker / 'dist'}: Not a directory\n"
    )


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_output_dir_exits_74_as_docs_cli_md_says(run_dagy, write_flow, tmp_path):
    flow_file = write_flow(FLOWS, "ro_flow")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    result = run_dagy(
        "build", f"{flow_file}:report", "--param", "date=d", "--output-dir", str(locked / "dist")
    )
    assert result.returncode == 74
    assert result.stderr == (
        f"OSError: Cannot write the artifact under {locked / 'dist'}: Permission denied\n"
    )
