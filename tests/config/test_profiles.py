"""config.yaml: reading, atomic 0600 writes, corrupt-file recovery, validation and precedence."""

from __future__ import annotations

import os
import re
import stat
import textwrap

import pytest

from dagy.config.paths import DagyPaths
from dagy.config.profiles import (
    Config,
    Profile,
    is_localhost_url,
    load_config,
    load_config_or_recover,
    resolve_api_url,
    resolve_app_url,
    resolve_profile_name,
    resolve_table_format,
    save_config,
    validate_api_url,
    validate_profile_name,
    with_profile,
    without_profile,
)
from dagy.errors import ConfigError

SPEC_EXAMPLE = textwrap.dedent(
    """\
    version: 1
    default_profile: dev
    profiles:
      dev:
        api_url: https://api.dev.dagy.io
        app_url: https://dev.dagy.io
        table_format: heavy_grid
        last_updated: "2026-03-01T12:00:00Z"
      prod:
        api_url: https://api.dagy.io
        table_format: plain
        last_updated: "2026-02-28T09:30:00Z"
    """
)


def _config(*names: str, default: str | None = None) -> Config:
    profiles = {
        name: Profile(name=name, api_url=f"https://api.{name}.example", app_url=None)
        for name in names
    }
    return Config(default_profile=default, profiles=profiles)


def _mode(path: os.PathLike[str]) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# --- reading and writing ------------------------------------------------------------------------


def test_missing_config_file_is_an_empty_config(paths: DagyPaths) -> None:
    assert load_config(paths) == Config()


def test_spec_example_loads_and_saves_back_byte_for_byte(paths: DagyPaths) -> None:
    paths.ensure_home()
    paths.config_file.write_text(SPEC_EXAMPLE, encoding="utf-8")

    config = load_config(paths)
    assert config.default_profile == "dev"
    assert config.profiles["dev"] == Profile(
        name="dev",
        api_url="https://api.dev.dagy.io",
        app_url="https://dev.dagy.io",
        table_format="heavy_grid",
        last_updated="2026-03-01T12:00:00Z",
    )
    assert config.profiles["prod"].app_url is None

    paths.config_file.unlink()
    save_config(paths, config)
    assert paths.config_file.read_text(encoding="utf-8") == SPEC_EXAMPLE


def test_save_creates_home_and_writes_mode_0600(tmp_path) -> None:
    paths = DagyPaths(tmp_path / "not-yet")
    save_config(paths, _config("dev", default="dev"))
    assert _mode(paths.config_file) == 0o600
    assert load_config(paths) == _config("dev", default="dev")


def test_save_tightens_an_existing_world_readable_file_and_leaves_no_temp_files(
    paths: DagyPaths,
) -> None:
    paths.ensure_home()
    paths.config_file.write_text("version: 1\n", encoding="utf-8")
    os.chmod(paths.config_file, 0o644)

    save_config(paths, _config("dev"))

    assert _mode(paths.config_file) == 0o600
    assert sorted(p.name for p in paths.home.iterdir()) == ["config.yaml"]


def test_empty_config_file_is_an_empty_config(paths: DagyPaths) -> None:
    paths.ensure_home()
    paths.config_file.write_text("", encoding="utf-8")
    assert load_config(paths) == Config()


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nprofiles: {dev: [unclosed\n",  # not YAML
        "- just\n- a list\n",
        "version: 2\nprofiles: {}\n",
        "version: 1\nprofiles: [dev, prod]\n",
        "version: 1\nprofiles:\n  dev: https://api.dagy.io\n",
        "version: 1\nprofiles:\n  dev:\n    api_url: [1, 2]\n",
        "version: 1\ndefault_profile: [dev]\n",
    ],
)
def test_corrupt_config_is_a_config_error_that_names_the_file(paths: DagyPaths, text: str) -> None:
    paths.ensure_home()
    paths.config_file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(paths)
    assert str(info.value) == (
        f"Config file is corrupt: {paths.config_file} (run 'dagy config' to repair it)"
    )


def test_unquoted_last_updated_timestamp_is_read_as_iso_z(paths: DagyPaths) -> None:
    paths.ensure_home()
    paths.config_file.write_text(
        "profiles:\n  dev:\n    last_updated: 2026-03-01T12:00:00Z\n", encoding="utf-8"
    )
    assert load_config(paths).profiles["dev"].last_updated == "2026-03-01T12:00:00Z"


def test_recover_moves_the_corrupt_file_to_a_timestamped_backup(paths: DagyPaths) -> None:
    paths.ensure_home()
    paths.config_file.write_text("{{{ broken", encoding="utf-8")

    config, backup = load_config_or_recover(paths)

    assert config == Config()
    assert backup is not None and backup.parent == paths.home
    assert re.fullmatch(r"config\.bak-\d{8}T\d{6}Z(-\d+)?\.yaml", backup.name)
    assert backup.read_text(encoding="utf-8") == "{{{ broken"
    assert not paths.config_file.exists()


def test_recover_never_overwrites_an_earlier_backup(paths: DagyPaths) -> None:
    paths.ensure_home()
    paths.config_file.write_text("first: [", encoding="utf-8")
    _, first = load_config_or_recover(paths)
    paths.config_file.write_text("second: [", encoding="utf-8")
    _, second = load_config_or_recover(paths)

    assert first is not None and second is not None and first != second
    assert first.read_text(encoding="utf-8") == "first: ["
    assert second.read_text(encoding="utf-8") == "second: ["


def test_recover_leaves_a_good_config_alone(paths: DagyPaths) -> None:
    save_config(paths, _config("dev"))
    assert load_config_or_recover(paths) == (_config("dev"), None)


# --- changing a Config --------------------------------------------------------------------------


def test_with_profile_stamps_last_updated_and_can_make_it_default() -> None:
    updated = with_profile(_config("dev", default="dev"), Profile("prod"), make_default=True)
    assert updated.default_profile == "prod"
    stamp = updated.profiles["prod"].last_updated
    assert stamp is not None and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)


def test_deleting_the_default_profile_makes_the_first_remaining_one_default() -> None:
    updated = without_profile(_config("dev", "prod", "ci", default="dev"), "dev")
    assert sorted(updated.profiles) == ["ci", "prod"]
    assert updated.default_profile == "ci"
    assert without_profile(_config("dev", default="dev"), "dev").default_profile is None


def test_deleting_another_profile_keeps_the_default() -> None:
    assert without_profile(_config("dev", "prod", default="prod"), "dev").default_profile == "prod"


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dev", "Prod-2", "a", "123"])
def test_valid_profile_names(name: str) -> None:
    assert validate_profile_name(name) == name


@pytest.mark.parametrize("name", ["", "my profile", "dev_1", "dév", "dev\n", "a.b", "-/x"])
def test_invalid_profile_names_are_rejected_naming_the_value(name: str) -> None:
    with pytest.raises(ConfigError, match="Invalid profile name"):
        validate_profile_name(name)


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://api.dagy.io/", "https://api.dagy.io"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("  https://example.com/api/v1/  ", "https://example.com/api/v1"),
        ("http://10.0.0.5:8080", "http://10.0.0.5:8080"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("HTTPS://API.DAGY.IO", "HTTPS://API.DAGY.IO"),
    ],
)
def test_valid_api_urls_are_returned_without_trailing_slash(url: str, normalized: str) -> None:
    assert validate_api_url(url) == normalized


@pytest.mark.parametrize(
    "url",
    [
        "api.dagy.io",
        "ftp://api.dagy.io",
        "https://",
        "http:///path",
        "https://bad host.io",
        "https://-bad-.io",
        "https://api.dagy.io:99999",
        "http://[::1",
        "https://api.dagy.io/?x=1",
        "http://999.1.1.1",
    ],
)
def test_invalid_api_urls_are_rejected_naming_the_value(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_api_url(url)
    assert str(info.value).startswith(f"Invalid URL: {url!r} (")


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://localhost:8000", True),
        ("http://LOCALHOST", True),
        ("http://127.0.0.1:4200", True),
        ("http://127.1.2.3", True),
        ("http://[::1]:8000", True),
        ("http://0.0.0.0:8000", True),
        ("https://api.dagy.io", False),
        ("http://10.0.0.5", False),
        ("http://localhost.example.com", False),
    ],
)
def test_is_localhost_url(url: str, local: bool) -> None:
    assert is_localhost_url(url) is local


# --- precedence ---------------------------------------------------------------------------------


def test_profile_precedence_1_explicit_flag_beats_env_and_default() -> None:
    config = _config("dev", "prod", "staging", default="dev")
    assert resolve_profile_name(config, "staging", {"DAGY_PROFILE": "prod"}) == "staging"


def test_profile_precedence_2_env_beats_default() -> None:
    config = _config("dev", "prod", default="dev")
    assert resolve_profile_name(config, None, {"DAGY_PROFILE": "prod"}) == "prod"


def test_profile_precedence_3_default_profile() -> None:
    assert resolve_profile_name(_config("dev", "prod", default="prod"), None, {}) == "prod"


def test_profile_precedence_4_first_alphabetically_without_a_default() -> None:
    assert resolve_profile_name(_config("prod", "dev", "staging"), None, {}) == "dev"


def test_a_default_profile_that_does_not_exist_falls_through_to_alphabetical() -> None:
    assert resolve_profile_name(_config("prod", "dev", default="gone"), None, {}) == "dev"


def test_no_profiles_resolves_to_none() -> None:
    assert resolve_profile_name(Config(), None, {}) is None


@pytest.mark.parametrize(("explicit", "environ"), [("nope", {}), (None, {"DAGY_PROFILE": "nope"})])
def test_an_unknown_explicit_or_env_profile_is_profile_not_found(
    explicit: str | None, environ: dict[str, str]
) -> None:
    with pytest.raises(ConfigError, match=r"^Profile not found: nope$"):
        resolve_profile_name(_config("dev", default="dev"), explicit, environ)


def test_api_url_precedence() -> None:
    config = _config("dev", "prod", default="dev")
    env = {"DAGY_API_URL": "https://override.example/"}
    assert resolve_api_url(config, "prod", env) == "https://override.example"
    assert resolve_api_url(config, "prod", {}) == "https://api.prod.example"
    assert resolve_api_url(config, None, {}) == "https://api.dev.example"
    assert resolve_api_url(Config(), None, {}) is None


def test_api_url_from_env_must_be_valid() -> None:
    with pytest.raises(ConfigError, match=r"^DAGY_API_URL: Invalid URL: 'api\.dagy\.io'"):
        resolve_api_url(Config(), None, {"DAGY_API_URL": "api.dagy.io"})


def test_api_url_with_an_unknown_profile_is_an_error_even_with_the_env_override() -> None:
    with pytest.raises(ConfigError, match="Profile not found: nope"):
        resolve_api_url(Config(), "nope", {"DAGY_API_URL": "https://api.dagy.io"})


def test_app_url_precedence() -> None:
    dev = Profile("dev", api_url="https://api.dev.dagy.io", app_url="https://dev.dagy.io")
    config = Config(default_profile="dev", profiles={"dev": dev, "prod": Profile("prod")})
    env = {"DAGY_APP_URL": "https://staging.dagy.io"}
    assert resolve_app_url(config, None, env) == "https://staging.dagy.io"
    assert resolve_app_url(config, None, {}) == "https://dev.dagy.io"
    assert resolve_app_url(config, "prod", {}) == "https://dagy.io"
    assert resolve_app_url(Config(), None, {}) == "https://dagy.io"


def test_table_format_comes_from_the_resolved_profile_else_heavy_grid() -> None:
    prod = Profile("prod", table_format="plain")
    config = Config(profiles={"dev": Profile("dev"), "prod": prod})
    assert resolve_table_format(config, "prod", {}) == "plain"
    assert resolve_table_format(config, None, {"DAGY_PROFILE": "prod"}) == "plain"
    assert resolve_table_format(config, None, {}) == "heavy_grid"
    assert resolve_table_format(Config(), None, {}) == "heavy_grid"


def test_resolution_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGY_PROFILE", "prod")
    monkeypatch.setenv("DAGY_API_URL", "https://env.example")
    config = _config("dev", "prod", default="dev")
    assert resolve_profile_name(config) == "prod"
    assert resolve_api_url(config) == "https://env.example"
