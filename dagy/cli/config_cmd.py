"""`dagy config`: the interactive profile wizard. Prompts only; the rules live in dagy.config.profiles.

Every question goes through click.prompt/click.confirm, so the wizard also works with piped stdin;
end of input aborts ("Aborted!", exit 1) before anything is saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from dagy.cli._help import HomeCommand

if TYPE_CHECKING:
    from dagy.config.paths import DagyPaths
    from dagy.config.profiles import Config, Profile


@click.command("config", cls=HomeCommand)
def config() -> None:
    """Create, edit and delete profiles in config.yaml, interactively.

    \b
    With no profiles yet, asks for the first one (name, API URL, table format)
    and makes it the default. Otherwise offers:
      1) Select an existing profile  -> Edit, Set as default, or Delete
      2) Create new profile          -> name, API URL, table format, default?
      3) Exit                        -> no changes

    \b
    Profile names use letters, digits and hyphens; API URLs need http:// or
    https:// and a hostname (a localhost URL asks for confirmation).
    The file is $DAGY_LOCAL_DIR/config.yaml (~/.dagy/config.yaml), mode 0600.
    A corrupt config.yaml is kept as config.bak-<timestamp>.yaml and a fresh
    one is started.
    """
    from dagy.config.paths import DagyPaths
    from dagy.config.profiles import load_config_or_recover, with_profile

    paths = DagyPaths.from_env()
    current, backup = load_config_or_recover(paths)
    if backup is not None:
        click.echo(
            f"Config file was corrupt; backed up to {backup}. Starting a fresh config.", err=True
        )
    if not current.profiles:
        click.echo("No profiles found. Creating the first profile.")
        profile = _ask_new_profile(current)
        _save(paths, with_profile(current, profile, make_default=True))
        return

    choice = _choose(
        "What would you like to do?", ["Select an existing profile", "Create new profile", "Exit"]
    )
    if choice == 0:
        updated = _manage_existing(current)
    elif choice == 1:
        updated = _create(current)
    else:
        updated = None
    if updated is None:
        click.echo("No changes.")
    else:
        _save(paths, updated)


def _save(paths: DagyPaths, updated: Config) -> None:
    from dagy.config.profiles import save_config

    save_config(paths, updated)
    click.echo("Configuration saved.")


# --- the menu's branches ------------------------------------------------------------------------


def _create(current: Config) -> Config:
    from dagy.config.profiles import with_profile

    profile = _ask_new_profile(current)
    make_default = click.confirm("Set as default profile?", default=False)
    return with_profile(current, profile, make_default=make_default)


def _manage_existing(current: Config) -> Config | None:
    """Pick a profile, then Edit / Set as default / Delete it; None when nothing changed."""
    from dagy.config.profiles import with_profile, without_profile

    names = sorted(current.profiles)
    labels = [_describe(current, current.profiles[name]) for name in names]
    profile = current.profiles[names[_choose("Select a profile:", labels, keys=names)]]
    action = _choose(f"Profile {profile.name}:", ["Edit", "Set as default", "Delete"])
    if action == 0:
        return _edit(current, profile)
    if action == 1:
        if current.default_profile == profile.name:
            click.echo(f"{profile.name} is already the default profile.")
            return None
        return with_profile(current, profile, make_default=True)
    if not click.confirm(f"Delete profile {profile.name}?", default=False):
        return None
    updated = without_profile(current, profile.name)
    if updated.default_profile != current.default_profile:
        if updated.default_profile is None:
            click.echo("No default profile is set now.")
        else:
            click.echo(f"Default profile is now {updated.default_profile}.")
    return updated


def _edit(current: Config, profile: Profile) -> Config | None:
    from dataclasses import replace

    from dagy.config.profiles import with_profile

    api_url = _ask_api_url(default=profile.api_url)
    table_format = _ask_table_format(current_format=profile.table_format)
    if (api_url, table_format) == (profile.api_url, profile.table_format):
        return None
    return with_profile(current, replace(profile, api_url=api_url, table_format=table_format))


def _describe(current: Config, profile: Profile) -> str:
    marker = " (default)" if current.default_profile == profile.name else ""
    return f"{profile.name}{marker}  {profile.api_url or '-'}  {profile.table_format}"


# --- questions ----------------------------------------------------------------------------------


def _ask_new_profile(current: Config) -> Profile:
    from dagy.config.profiles import Profile

    name = _ask_name(current)
    api_url = _ask_api_url()
    return Profile(name=name, api_url=api_url, table_format=_ask_table_format())


def _ask_name(current: Config) -> str:
    """A valid profile name that is not taken yet."""
    from dagy.config.profiles import validate_profile_name
    from dagy.errors import ConfigError

    while True:
        name = click.prompt("Enter profile name").strip()
        try:
            validate_profile_name(name)
        except ConfigError as exc:
            _error(str(exc))
            continue
        if name in current.profiles:
            _error(f"Profile already exists: {name}")
            continue
        return name


def _ask_api_url(default: str | None = None) -> str:
    """A valid http(s) URL; one pointing at this machine needs a yes (unless it is unchanged)."""
    from dagy.config.profiles import is_localhost_url, validate_api_url
    from dagy.errors import ConfigError

    while True:
        raw = click.prompt("Enter Dagy API URL", default=default)
        try:
            url = validate_api_url(raw)
        except ConfigError as exc:
            _error(str(exc))
            continue
        if url == default or not is_localhost_url(url):
            return url
        if click.confirm(f"{url} points to this machine (localhost). Use it?", default=False):
            return url


def _ask_table_format(current_format: str | None = None) -> str:
    """A tabulate format by number or name; an empty answer keeps the current one (or the default)."""
    from tabulate import tabulate_formats

    from dagy.config.profiles import DEFAULT_TABLE_FORMAT

    formats = sorted(tabulate_formats)
    labels = [f"Use default ({DEFAULT_TABLE_FORMAT})", *formats]
    keys = [DEFAULT_TABLE_FORMAT, *formats]
    default = current_format if current_format in formats else "1"
    index = _choose("Select table format:", labels, keys=keys, default=default)
    return DEFAULT_TABLE_FORMAT if index == 0 else formats[index - 1]


def _choose(
    title: str,
    labels: Sequence[str],
    *,
    keys: Sequence[str] | None = None,
    default: str | None = None,
) -> int:
    """Print a numbered list and return the 0-based index picked by number or by key/label."""
    click.echo(title)
    width = len(str(len(labels)))
    for number, label in enumerate(labels, start=1):
        click.echo(f"  {number:>{width}}) {label}")
    names = [name.lower() for name in (keys if keys is not None else labels)]
    while True:
        answer = click.prompt("Enter a number or name", default=default).strip()
        if answer.isdigit() and 1 <= int(answer) <= len(labels):
            return int(answer) - 1
        matches = [i for i, name in enumerate(names) if name == answer.lower()]
        matches += [i for i, label in enumerate(labels) if label.lower() == answer.lower()]
        if matches:
            return matches[0]
        _error(f"Not a valid choice: {answer!r} (enter 1-{len(labels)} or a name from the list)")


def _error(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
