"""`dagy`'s commands are imported when invoked: the root group lists them from a table
(dagy/cli/main.py's ``COMMANDS``). These tests hold the table to the real commands, so the help a
user reads cannot drift from the modules."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import click.testing
import pytest

from dagy.cli import main

CLI_DIR = Path(main.__file__).parent

_PROBE = """
import json, sys
import click
from dagy.cli import main as m
from dagy.cli.main import main
if {eager!r}:  # every command loaded, the list printed by click's own code
    for name in m.COMMANDS:
        m.cli.get_command(None, name)
    m.DagyGroup.format_commands = click.Group.format_commands
try:
    main({args!r})
except SystemExit as exc:
    code = exc.code
prefixes = ("dagy.cli.", "dagy.sdk") if not {heavy!r} else ("dagy.", "duckdb", "_duckdb", "urllib",
            "http", "ssl")
print(json.dumps([code, sorted(m for m in sys.modules if m.startswith(prefixes))]), file=sys.stderr)
"""


def _probe(
    *args: str, columns: int = 80, eager: bool = False, heavy: bool = False
) -> tuple[str, int, list[str]]:
    """``dagy args`` in a fresh interpreter: its output, exit code and the dagy modules it imported."""
    env = {**os.environ, "COLUMNS": str(columns)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=list(args), eager=eager, heavy=heavy)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    code, modules = json.loads(done.stderr.strip().splitlines()[-1])
    return done.stdout, code, modules


def _real(name: str) -> click.Command:
    module, attribute, _help = main.COMMANDS[name]
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command), name
    return command


@pytest.mark.parametrize("name", sorted(main.COMMANDS))
def test_the_table_says_what_each_command_says(name: str) -> None:
    real = _real(name)
    stand_in = main._stand_in(name)
    assert real.name == name
    assert real.short_help is None and not real.hidden and not real.deprecated
    for limit in range(10, 200):
        assert stand_in.get_short_help_str(limit) == real.get_short_help_str(limit), limit


def test_every_command_module_is_in_the_table() -> None:
    modules = {f"dagy.cli.{path.stem}" for path in CLI_DIR.glob("*_cmd.py")}
    assert modules == {module for module, _attribute, _help in main.COMMANDS.values()}


@pytest.mark.parametrize("columns", [50, 80, 200])
def test_help_is_the_same_as_with_every_command_loaded_and_imports_none(columns: int) -> None:
    lazy, code, modules = _probe("--help", columns=columns)
    assert code == 0
    assert [m for m in modules if m.endswith("_cmd") or m.startswith("dagy.sdk")] == []
    eager, code, modules = _probe("--help", columns=columns, eager=True)
    assert code == 0 and "dagy.cli.sql_cmd" in modules
    assert lazy == eager
    assert "  runs          Inspect, retry and cancel runs.\n" in lazy


def test_a_command_imports_its_own_module_only() -> None:
    out, code, modules = _probe("flows", "list", "--help")
    assert code == 0 and "Usage: dagy flows list" in out
    assert [m for m in modules if m.endswith("_cmd")] == ["dagy.cli.flows_cmd"]
    out, code, modules = _probe("logout", "--help")
    assert code == 0 and "Usage: dagy logout" in out
    assert [m for m in modules if m.endswith("_cmd")] == ["dagy.cli.auth_cmd"]


def test_an_unknown_command_is_a_usage_error() -> None:
    out, code, modules = _probe("nope")
    assert code == 2
    assert [m for m in modules if m.endswith("_cmd")] == []


def test_a_command_added_to_the_group_is_listed_and_runs() -> None:
    """``cli.add_command`` (what a program embedding dagy's CLI would call) still works."""

    @click.command("extra")
    def extra() -> None:
        """An added command."""
        click.echo("extra ran")

    group = main.DagyGroup("dagy", commands=[extra])
    runner = click.testing.CliRunner()
    listed = runner.invoke(group, ["--help"], prog_name="dagy")
    assert "  extra         An added command.\n" in listed.output
    assert "  runs          Inspect, retry and cancel runs.\n" in listed.output
    assert runner.invoke(group, ["extra"]).output == "extra ran\n"


def test_reading_through_a_live_server_imports_no_duckdb_and_no_urllib(
    server_factory: Any, dagy_home: Path
) -> None:
    """`dagy runs list` on a home with a live `dagy serve` asks it over loopback: no store."""
    server_factory()
    out, code, modules = _probe("runs", "list", heavy=True)
    assert code == 0, out
    assert [m for m in modules if m.split(".")[0] in ("duckdb", "_duckdb")] == []
    assert [m for m in modules if m in ("urllib.request", "http.client", "ssl")] == []
    assert "dagy.client.http" in modules  # it did go to the server
