"""`dagy tui` as a command: registered, textual kept out of `dagy --help`, an unknown profile is
one line."""

from __future__ import annotations

import subprocess
import sys
from typing import Any


def test_help_lists_tui_without_importing_textual() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from dagy.cli.main import cli\n"
        "out = CliRunner().invoke(cli, ['--help']).output\n"
        "assert 'tui' in out, out\n"
        "out = CliRunner().invoke(cli, ['tui', '--help']).output\n"
        "assert '--profile' in out, out\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'duckdb')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_an_unknown_profile_is_one_line_and_exit_code_4(run_dagy: Any) -> None:
    done = run_dagy("tui", "--profile", "nope")
    assert done.returncode == 4
    assert done.stderr.strip() == "ConfigError: Profile not found: nope"  # as every command says
