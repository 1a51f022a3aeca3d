"""A bounded schemathesis run against a real `dagy serve` over the /v1/sql routes: no generated
request gets a 5xx (bad SQL, odd names and limits are 4xx)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ops.support import ROOT, serve

pytest.importorskip("schemathesis")


def test_no_sql_route_answers_5xx_to_generated_requests(tmp_path: Path) -> None:
    st = shutil.which("st") or shutil.which("schemathesis")
    if st is None:
        pytest.skip("schemathesis's command is not on PATH")
    srv = serve(tmp_path / "home")
    try:
        token = srv.login(ROOT)
        done = subprocess.run(
            [
                st, "run", f"{srv.url}/docs/openapi.json", "--url", srv.url,
                "--include-path-regex", r"^/v1/sql",
                "--checks", "not_a_server_error",
                "--max-examples", "5", "--seed", "22", "--workers", "1",
                "--phases", "examples,coverage,fuzzing",
                "--generation-database", "none",
                "--header", f"Authorization: Bearer {token}",
                "--no-color",
            ],
            capture_output=True, text=True, timeout=110, cwd=tmp_path,
        )  # fmt: skip
        log = srv.stderr_path.read_text()  # type: ignore[attr-defined]
    finally:
        srv.stop()
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Tested: " in done.stdout and "Traceback" not in log
