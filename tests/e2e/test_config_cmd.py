"""`dagy config`, the interactive wizard, driven through click's CliRunner with piped answers."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from tabulate import tabulate_formats

from dagy.cli.main import cli

FORMATS = sorted(tabulate_formats)
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
EXISTING = """\
version: 1
default_profile: dev
profiles:
  dev:
    api_url: https://api.dev.dagy.io
    table_format: heavy_grid
    last_updated: "2026-03-01T12:00:00Z"
  prod:
    api_url: https://api.dagy.io
    table_format: plain
    last_updated: "2026-02-28T09:30:00Z"
"""


@pytest.fixture
def home(dagy_home: Path) -> Path:
    """The temporary DAGY_LOCAL_DIR (the conftest fixture also clears DAGY_PROFILE/API/APP_URL)."""
    return dagy_home


def _wizard(*answers: str) -> Result:
    text = "".join(f"{answer}\n" for answer in answers)
    return CliRunner().invoke(cli, ["config"], input=text)


def _saved(home: Path) -> dict:
    config_file = home / "config.yaml"
    assert stat.S_IMODE(os.stat(config_file).st_mode) == 0o600
    return yaml.safe_load(config_file.read_text(encoding="utf-8"))


def _existing(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    config_file = home / "config.yaml"
    config_file.write_text(EXISTING, encoding="utf-8")
    os.chmod(config_file, 0o644)
    return config_file


# --- the first profile --------------------------------------------------------------------------


def test_first_profile_wizard_saves_it_as_default_with_mode_0600(home: Path) -> None:
    result = _wizard("dev", "https://api.dev.dagy.io/", "")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("No profiles found. Creating the first profile.\n")
    assert "Enter profile name: " in result.stdout
    assert "Enter Dagy API URL: " in result.stdout
    assert "Select table format:\n   1) Use default (heavy_grid)\n   2) asciidoc\n" in result.stdout
    assert result.stdout.rstrip().endswith("Configuration saved.")
    saved = _saved(home)
    assert saved["version"] == 1
    assert saved["default_profile"] == "dev"
    dev = saved["profiles"]["dev"]
    assert STAMP.fullmatch(dev.pop("last_updated"))
    assert dev == {"api_url": "https://api.dev.dagy.io", "table_format": "heavy_grid"}
    assert re.search(r'last_updated: "[^"]+Z"\n', (home / "config.yaml").read_text())


def test_invalid_name_is_reported_and_asked_again(home: Path) -> None:
    result = _wizard("my profile", "dev_1", "dev", "https://api.dagy.io", "1")

    assert result.exit_code == 0, result.output
    assert "Error: Invalid profile name: 'my profile'" in result.stderr
    assert "Error: Invalid profile name: 'dev_1'" in result.stderr
    assert result.stdout.count("Enter profile name: ") == 3
    assert list(_saved(home)["profiles"]) == ["dev"]


def test_invalid_url_is_reported_and_asked_again(home: Path) -> None:
    result = _wizard("dev", "api.dagy.io", "ftp://api.dagy.io", "https://api.dagy.io", "1")

    assert result.exit_code == 0, result.output
    assert "Error: Invalid URL: 'api.dagy.io' (it must start with http:// or https://)" in (
        result.stderr
    )
    assert "Error: Invalid URL: 'ftp://api.dagy.io'" in result.stderr
    assert _saved(home)["profiles"]["dev"]["api_url"] == "https://api.dagy.io"


def test_localhost_url_needs_confirmation_and_declining_asks_again(home: Path) -> None:
    result = _wizard("dev", "http://localhost:8000", "n", "http://127.0.0.1:9000/", "y", "1")

    assert result.exit_code == 0, result.output
    assert "http://localhost:8000 points to this machine (localhost). Use it? [y/N]: " in (
        result.stdout
    )
    assert "http://127.0.0.1:9000 points to this machine (localhost). Use it?" in result.stdout
    assert _saved(home)["profiles"]["dev"]["api_url"] == "http://127.0.0.1:9000"


def test_table_format_by_number(home: Path) -> None:
    number = FORMATS.index("plain") + 2  # 1 is "Use default"
    result = _wizard("dev", "https://api.dagy.io", str(number))

    assert result.exit_code == 0, result.output
    assert f"  {number}) plain\n" in result.stdout
    assert _saved(home)["profiles"]["dev"]["table_format"] == "plain"


def test_table_format_by_name(home: Path) -> None:
    result = _wizard("dev", "https://api.dagy.io", "github")

    assert result.exit_code == 0, result.output
    assert _saved(home)["profiles"]["dev"]["table_format"] == "github"


def test_unknown_table_format_is_reported_and_asked_again(home: Path) -> None:
    result = _wizard("dev", "https://api.dagy.io", "fancy", "99", "psql")

    assert result.exit_code == 0, result.output
    assert "Error: Not a valid choice: 'fancy'" in result.stderr
    assert "Error: Not a valid choice: '99'" in result.stderr
    assert _saved(home)["profiles"]["dev"]["table_format"] == "psql"


def test_every_tabulate_format_is_offered(home: Path) -> None:
    result = _wizard("dev", "https://api.dagy.io", "")
    listed = re.findall(r"^\s+\d+\) (\S+)$", result.stdout, flags=re.MULTILINE)
    assert listed == FORMATS


# --- the menu -----------------------------------------------------------------------------------


def test_menu_is_shown_when_profiles_exist_and_exit_leaves_the_file_untouched(home: Path) -> None:
    config_file = _existing(home)
    before = config_file.stat()

    result = _wizard("3")

    assert result.exit_code == 0, result.output
    assert "1) Select an existing profile\n  2) Create new profile\n  3) Exit\n" in result.stdout
    assert "No changes." in result.stdout
    assert config_file.read_text(encoding="utf-8") == EXISTING
    after = config_file.stat()
    assert (after.st_mtime_ns, after.st_ino, stat.S_IMODE(after.st_mode)) == (
        before.st_mtime_ns,
        before.st_ino,
        0o644,
    )


def test_create_second_profile_and_set_it_as_default(home: Path) -> None:
    _existing(home)

    result = _wizard("2", "prod", "staging", "https://api.staging.dagy.io", "plain", "y")

    assert result.exit_code == 0, result.output
    assert "Error: Profile already exists: prod" in result.stderr
    assert "Set as default profile? [y/N]: " in result.stdout
    saved = _saved(home)
    assert saved["default_profile"] == "staging"
    assert sorted(saved["profiles"]) == ["dev", "prod", "staging"]
    assert saved["profiles"]["staging"]["table_format"] == "plain"
    assert STAMP.fullmatch(saved["profiles"]["staging"]["last_updated"])
    # the other profiles are written back as they were
    assert saved["profiles"]["dev"]["last_updated"] == "2026-03-01T12:00:00Z"


def test_create_profile_without_making_it_default(home: Path) -> None:
    _existing(home)
    result = _wizard("2", "staging", "https://api.staging.dagy.io", "", "n")

    assert result.exit_code == 0, result.output
    assert _saved(home)["default_profile"] == "dev"


def test_edit_profile_changes_url_and_format_and_stamps_last_updated(home: Path) -> None:
    _existing(home)

    result = _wizard("Select an existing profile", "prod", "edit", "https://api2.dagy.io", "")

    assert result.exit_code == 0, result.output
    assert "Enter Dagy API URL [https://api.dagy.io]: " in result.stdout
    assert "Enter a number or name [plain]: " in result.stdout
    prod = _saved(home)["profiles"]["prod"]
    assert prod["api_url"] == "https://api2.dagy.io"
    assert prod["table_format"] == "plain"
    assert prod["last_updated"] != "2026-02-28T09:30:00Z"


def test_set_existing_profile_as_default(home: Path) -> None:
    _existing(home)
    result = _wizard("1", "2", "2")  # select, profile #2 (prod), "Set as default"

    assert result.exit_code == 0, result.output
    assert "Configuration saved." in result.stdout
    assert _saved(home)["default_profile"] == "prod"


def test_delete_default_profile_reassigns_default(home: Path) -> None:
    _existing(home)

    result = _wizard("1", "dev", "3", "y")

    assert result.exit_code == 0, result.output
    assert "Delete profile dev? [y/N]: " in result.stdout
    assert "Default profile is now prod." in result.stdout
    saved = _saved(home)
    assert list(saved["profiles"]) == ["prod"]
    assert saved["default_profile"] == "prod"


def test_declining_delete_changes_nothing(home: Path) -> None:
    config_file = _existing(home)

    result = _wizard("1", "dev", "Delete", "n")

    assert result.exit_code == 0, result.output
    assert "No changes." in result.stdout
    assert config_file.read_text(encoding="utf-8") == EXISTING


# --- recovery, end of input, help ---------------------------------------------------------------


def test_corrupt_config_is_backed_up_and_a_fresh_one_started(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "config.yaml").write_text("profiles: {dev: [oops", encoding="utf-8")

    result = _wizard("dev", "https://api.dagy.io", "")

    assert result.exit_code == 0, result.output
    match = re.search(
        r"^Config file was corrupt; backed up to (.+)\. Starting a fresh config\.$",
        result.stderr,
        flags=re.MULTILINE,
    )
    assert match, result.stderr
    backup = Path(match.group(1))
    assert backup.parent == home
    assert re.fullmatch(r"config\.bak-\d{8}T\d{6}Z\.yaml", backup.name)
    assert backup.read_text(encoding="utf-8") == "profiles: {dev: [oops"
    assert "No profiles found. Creating the first profile." in result.stdout
    assert list(_saved(home)["profiles"]) == ["dev"]


def test_end_of_input_aborts_without_traceback_or_saving(home: Path) -> None:
    result = _wizard("dev")  # stdin ends at the URL question

    assert result.exit_code == 1
    assert "Aborted!" in result.output
    assert "Traceback" not in result.output
    assert not (home / "config.yaml").exists()


def test_end_of_input_in_the_menu_leaves_the_file_untouched(home: Path) -> None:
    config_file = _existing(home)
    result = CliRunner().invoke(cli, ["config"], input="")

    assert result.exit_code == 1
    assert "Aborted!" in result.output
    assert config_file.read_text(encoding="utf-8") == EXISTING


def test_help_describes_the_wizard(home: Path) -> None:
    result = CliRunner().invoke(cli, ["config", "--help"])

    assert result.exit_code == 0
    for words in ("Select an existing profile", "Create new profile", "0600", "config.bak-"):
        assert words in result.output
