"""config.yaml: profiles, their validation, and the spec's resolution precedence.

yaml and tabulate are imported inside the functions that need them: `dagy --help` must start fast.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dagy.config import settings
from dagy.config.files import write_private
from dagy.config.paths import DagyPaths
from dagy.config.settings import Setting
from dagy.errors import ConfigError

CONFIG_VERSION = 1
DEFAULT_TABLE_FORMAT = "heavy_grid"
DEFAULT_APP_URL = "https://dagy.io"

_PROFILE_NAME = r"^[A-Za-z0-9-]+$"
# RFC 1123 labels, plus "_" which Docker/compose service names use in practice.
_HOST_LABEL = r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$"  # compiled when first used (re's cache)
_PROFILE_KEYS = ("api_url", "app_url", "table_format", "last_updated")


@dataclass(frozen=True)
class Profile:
    """One named Dagy environment; ``last_updated`` is UTC ISO-8601 with a ``Z``."""

    name: str
    api_url: str | None = None
    app_url: str | None = None
    table_format: str = DEFAULT_TABLE_FORMAT
    last_updated: str | None = None


@dataclass(frozen=True)
class Config:
    """The whole of config.yaml."""

    version: int = CONFIG_VERSION
    default_profile: str | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)


class _CorruptConfig(Exception):
    """Internal: the file exists but is not a config.yaml we can read."""


# --- reading and writing ------------------------------------------------------------------------


def load_config(paths: DagyPaths) -> Config:
    """Read config.yaml; a missing file is an empty Config, a corrupt one a ConfigError."""
    path = paths.config_file
    try:
        return _read(path)
    except _CorruptConfig:
        raise ConfigError(
            f"Config file is corrupt: {path} (run 'dagy config' to repair it)"
        ) from None


def load_config_or_recover(paths: DagyPaths) -> tuple[Config, Path | None]:
    """For the wizard: move a corrupt config.yaml aside and start fresh; returns the backup path."""
    path = paths.config_file
    try:
        return _read(path), None
    except _CorruptConfig:
        return Config(), _backup(path)


def save_config(paths: DagyPaths, config: Config) -> None:
    """Write config.yaml atomically with mode 0600 (a temp file in the same folder, then replace)."""
    import yaml

    paths.ensure_home()
    target = paths.config_file
    text = yaml.dump(_to_document(config), Dumper=_dumper(), sort_keys=False)
    write_private(target, text)


class _Quoted(str):
    """A string written in double quotes, as the spec's example writes ``last_updated``."""


def _dumper() -> type:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(
        _Quoted, lambda dumper, data: dumper.represent_scalar("tag:yaml.org,2002:str", data, '"')
    )
    return Dumper


def _read(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except UnicodeDecodeError:
        raise _CorruptConfig from None
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror or exc}") from None
    import yaml  # only when there is a file: a home without profiles never pays for it

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        raise _CorruptConfig from None
    return _from_document(document)


def _from_document(document: Any) -> Config:
    """Check the shape of a parsed config.yaml; anything unexpected means corrupt."""
    if document is None:  # an empty file
        return Config()
    if not isinstance(document, dict):
        raise _CorruptConfig
    version = document.get("version", CONFIG_VERSION)
    default = document.get("default_profile")
    raw_profiles = document.get("profiles")
    raw_profiles = {} if raw_profiles is None else raw_profiles
    if version != CONFIG_VERSION or isinstance(version, bool):
        raise _CorruptConfig
    if not (default is None or isinstance(default, str)) or not isinstance(raw_profiles, dict):
        raise _CorruptConfig
    profiles: dict[str, Profile] = {}
    for name, raw in raw_profiles.items():
        if not isinstance(name, str) or not isinstance(raw, dict):
            raise _CorruptConfig
        values = {key: raw.get(key) for key in _PROFILE_KEYS}
        if isinstance(values["last_updated"], datetime):  # an unquoted timestamp in the YAML
            values["last_updated"] = _iso_z(values["last_updated"])
        if any(v is not None and not isinstance(v, str) for v in values.values()):
            raise _CorruptConfig
        profiles[name] = Profile(
            name=name,
            api_url=values["api_url"],
            app_url=values["app_url"],
            table_format=values["table_format"] or DEFAULT_TABLE_FORMAT,
            last_updated=values["last_updated"],
        )
    return Config(version=CONFIG_VERSION, default_profile=default, profiles=profiles)


def _to_document(config: Config) -> dict[str, Any]:
    """The spec's YAML shape, profiles alphabetically, None fields left out."""
    profiles: dict[str, dict[str, str]] = {}
    for name in sorted(config.profiles):
        profile = config.profiles[name]
        entry = {key: getattr(profile, key) for key in _PROFILE_KEYS}
        if entry["last_updated"] is not None:
            entry["last_updated"] = _Quoted(entry["last_updated"])
        profiles[name] = {key: value for key, value in entry.items() if value is not None}
    document: dict[str, Any] = {"version": config.version}
    if config.default_profile is not None:
        document["default_profile"] = config.default_profile
    document["profiles"] = profiles
    return document


def _backup(path: Path) -> Path:
    """Rename ``path`` to config.bak-<UTC timestamp>.yaml beside it, never over an existing file."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(1000):
        suffix = "" if attempt == 0 else f"-{attempt}"
        candidate = path.with_name(f"config.bak-{stamp}{suffix}.yaml")
        try:
            os.link(path, candidate)  # fails if candidate exists, unlike rename
        except FileExistsError:
            continue
        except OSError:  # no hard links on this file system
            if candidate.exists():
                continue
            os.rename(path, candidate)
            return candidate
        path.unlink()
        return candidate
    raise ConfigError(f"Cannot back up corrupt config file {path}: too many backups")


# --- changing a Config --------------------------------------------------------------------------


def utc_now_iso() -> str:
    """Now, as config.yaml writes ``last_updated``: ``2026-03-01T12:00:00Z``."""
    return _iso_z(datetime.now(timezone.utc))


def with_profile(config: Config, profile: Profile, *, make_default: bool = False) -> Config:
    """Add or replace ``profile`` (stamping ``last_updated``), optionally as the default."""
    stamped = replace(profile, last_updated=utc_now_iso())
    profiles = {**config.profiles, profile.name: stamped}
    default = profile.name if make_default else config.default_profile
    return replace(config, profiles=profiles, default_profile=default)


def without_profile(config: Config, name: str) -> Config:
    """Remove a profile; if it was the default, the first remaining one (alphabetically) is."""
    if name not in config.profiles:
        raise ConfigError(f"Profile not found: {name}")
    profiles = {key: value for key, value in config.profiles.items() if key != name}
    default = config.default_profile
    if default == name or default not in profiles:
        default = min(profiles) if profiles else None
    return replace(config, profiles=profiles, default_profile=default)


def _iso_z(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


# --- validation ---------------------------------------------------------------------------------


def validate_profile_name(name: str) -> str:
    """A profile name is letters, digits and hyphens only."""
    if not isinstance(name, str) or not re.fullmatch(_PROFILE_NAME, name):
        raise ConfigError(f"Invalid profile name: {name!r} (use only letters, digits and hyphens)")
    return name


def validate_api_url(url: str) -> str:
    """An http(s) URL with a valid hostname; returned without trailing slash."""
    text = url.strip()
    problem = _url_problem(text)
    if problem:
        raise ConfigError(f"Invalid URL: {url!r} ({problem})")
    return text.rstrip("/")


def validate_table_format(name: str) -> str:
    """One of tabulate's formats."""
    from tabulate import tabulate_formats

    if name not in tabulate_formats:
        raise ConfigError(f"Unknown table format: {name!r}")
    return name


def _url_problem(text: str) -> str | None:
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 host
        return "it is not a URL"
    if parts.scheme.lower() not in {"http", "https"} or not text.lower().startswith(
        ("http://", "https://")
    ):
        return "it must start with http:// or https://"
    if any(ch.isspace() for ch in text):
        return "it must not contain spaces"
    if parts.query or parts.fragment:
        return "it must not contain a query or fragment"
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "the port is not valid"
    host = parts.hostname
    if not host or not _is_valid_host(host):
        return "it needs a valid hostname"
    return None


def _is_valid_host(host: str) -> bool:
    import ipaddress  # here: most commands never check a URL

    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return True
    if len(host) > 253 or host.replace(".", "").isdigit():  # "999.1.1.1" is not a hostname
        return False
    return all(re.fullmatch(_HOST_LABEL, label) for label in host.split("."))


def is_localhost_url(url: str) -> bool:
    """True when the URL's host is this machine: localhost, 127.0.0.0/8, ::1 or 0.0.0.0."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    import ipaddress

    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


# --- resolution precedence (spec: "Profile Management", "dagy login") ---------------------------


def resolve_profile_name(
    config: Config, explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """--profile, then DAGY_PROFILE, then default_profile, then the first profile alphabetically."""
    for requested in (explicit, settings.PROFILE.get(environ)):
        if requested:
            if requested not in config.profiles:
                raise ConfigError(f"Profile not found: {requested}")
            return requested
    if config.default_profile in config.profiles:
        return config.default_profile
    return min(config.profiles) if config.profiles else None


def resolve_profile(
    config: Config, explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> Profile | None:
    """The Profile that resolve_profile_name picks, or None when there are no profiles."""
    name = resolve_profile_name(config, explicit, environ)
    return config.profiles[name] if name is not None else None


def resolve_api_url(
    config: Config,
    explicit_profile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """DAGY_API_URL, then the resolved profile's api_url, then None (local-only)."""
    profile = resolve_profile(config, explicit_profile, environ)  # an unknown one is an error
    from_env = _env_url(settings.API_URL, environ)
    if from_env:
        return from_env
    return profile.api_url if profile is not None else None


def resolve_app_url(
    config: Config,
    explicit_profile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """DAGY_APP_URL, then the resolved profile's app_url, then https://dagy.io."""
    profile = resolve_profile(config, explicit_profile, environ)
    from_env = _env_url(settings.APP_URL, environ)
    if from_env:
        return from_env
    if profile is not None and profile.app_url:
        return profile.app_url
    return DEFAULT_APP_URL


def resolve_table_format(
    config: Config,
    explicit_profile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The resolved profile's table_format, else heavy_grid."""
    profile = resolve_profile(config, explicit_profile, environ)
    return profile.table_format if profile is not None else DEFAULT_TABLE_FORMAT


def _env_url(setting: Setting[str | None], environ: Mapping[str, str] | None) -> str | None:
    raw = setting.get(environ)
    if not raw:
        return None
    try:
        return validate_api_url(raw)
    except ConfigError as exc:
        raise ConfigError(f"{setting.name}: {exc}") from None


__all__ = [
    "DEFAULT_APP_URL",
    "DEFAULT_TABLE_FORMAT",
    "Config",
    "Profile",
    "is_localhost_url",
    "load_config",
    "load_config_or_recover",
    "resolve_api_url",
    "resolve_app_url",
    "resolve_profile",
    "resolve_profile_name",
    "resolve_table_format",
    "save_config",
    "utc_now_iso",
    "validate_api_url",
    "validate_profile_name",
    "validate_table_format",
    "with_profile",
    "without_profile",
]
