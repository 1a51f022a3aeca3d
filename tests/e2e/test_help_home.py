"""`--help` names paths under DAGY_LOCAL_DIR when it is set, ~/.dagy otherwise (the real command)."""

from __future__ import annotations

from pathlib import Path

import pytest

CASES = [
    (("build", "--help"), "/builds/"),
    (("serve", "--help"), "/dagy.duckdb"),
    (("config", "--help"), "/config.yaml"),
    (("login", "--help"), "/credentials"),
]


@pytest.mark.parametrize(("args", "tail"), CASES)
def test_help_shows_paths_under_dagy_local_dir(run_dagy, tmp_path: Path, args, tail) -> None:
    home = tmp_path / "elsewhere" / "home"
    result = run_dagy(*args, env={"DAGY_LOCAL_DIR": str(home), "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert f"{home.resolve()}{tail}" in result.stdout
    assert "~/.dagy" not in result.stdout


@pytest.mark.parametrize(("args", "tail"), CASES)
def test_help_shows_the_default_home_when_dagy_local_dir_is_unset(run_dagy, args, tail) -> None:
    result = run_dagy(*args, env={"DAGY_LOCAL_DIR": "", "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert f"~/.dagy{tail}" in result.stdout
