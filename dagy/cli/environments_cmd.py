"""``dagy environments``: where deployments run, with the variables their runs get, a
promotion order and protection (docs/environments.md). The same on the store file, this
home's live server or a remote API."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from dagy.cli._errors import USAGE, CLIExit

if TYPE_CHECKING:
    from dagy.backend import Backend
    from dagy.backend.vault import Environment

COLUMNS = ("env_name", "default_executor", "is_protected", "created_at")


def _open(profile: str | None) -> Backend:
    from dagy.backend import open_backend

    return open_backend(profile=profile)


def _profile(fn: Any) -> Any:
    return click.option("--profile", default=None, help="Dagy profile to use.")(fn)


def _row(env: Environment) -> list[str]:
    when = env.created_at.isoformat(sep=" ") if env.created_at else ""
    return [env.env_name, env.default_executor or "", "yes" if env.is_protected else "no", when]


def _table(backend: Backend, rows: list[list[str]], headers: tuple[str, ...]) -> str:
    from tabulate import tabulate

    return tabulate(rows, headers=headers, tablefmt=backend.table_format, disable_numparse=True)


@click.group()
def environments() -> None:
    """Environments (develop, staging, production, ...) and their variables."""


@environments.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_profile
def list_(as_json: bool, profile: str | None) -> None:
    """List environments in promotion order."""
    backend = _open(profile)
    found = backend.environments.list()
    if as_json:
        click.echo(json.dumps([e.to_json() for e in found], indent=2))
    elif not found:
        click.echo("No environments.")
    else:
        click.echo(_table(backend, [_row(e) for e in found], COLUMNS))


@environments.command("create")
@click.argument("name")
@click.option("--executor", default=None, help="The default executor of its runs.")
@click.option("--protected", is_flag=True, help="Only an owner or admin may change it.")
@click.option("--config", "config_text", default=None, help="Configuration, a JSON object.")
@_profile
def create(
    name: str, executor: str | None, protected: bool, config_text: str | None, profile: str | None
) -> None:
    """Create environment NAME."""
    config = _json_object(config_text, "--config") if config_text is not None else None
    env = _open(profile).environments.create(
        name, default_executor=executor, config=config, protected=protected
    )
    click.echo(f"Environment created: {env.env_name}")


@environments.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_profile
def show(name: str, as_json: bool, profile: str | None) -> None:
    """Show an environment, its configuration and its variables."""
    backend = _open(profile)
    detail = backend.environments.get(name)
    if as_json:
        click.echo(json.dumps(detail.to_json(), indent=2))
        return
    env = detail.environment
    for label, value in zip(COLUMNS, _row(env), strict=True):
        click.echo(f"{label}: {value}")
    click.echo(f"env_id: {env.env_id}")
    click.echo(f"config_json: {json.dumps(detail.config, sort_keys=True)}")
    if detail.variables:
        rows = [[k, v] for k, v in sorted(detail.variables.items())]
        click.echo(_table(backend, rows, ("variable", "value")))
    else:
        click.echo("No variables.")


@environments.command("delete")
@click.argument("name")
@_profile
def delete(name: str, profile: str | None) -> None:
    """Delete an environment and its variables (not a protected one)."""
    _open(profile).environments.delete(name)
    click.echo(f"Environment deleted: {name}")


@environments.command("set-var")
@click.argument("name")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
@_profile
def set_var(name: str, assignments: tuple[str, ...], profile: str | None) -> None:
    """Set variables of environment NAME (others are kept)."""
    values: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CLIExit(f"Error: expected KEY=VALUE, got {item!r}", USAGE)
        values[key] = value
    _open(profile).environments.set_variables(name, values)
    click.echo(f"Variables set on {name}: {', '.join(sorted(values))}")


@environments.command("unset-var")
@click.argument("name")
@click.argument("key")
@_profile
def unset_var(name: str, key: str, profile: str | None) -> None:
    """Remove variable KEY from environment NAME."""
    _open(profile).environments.unset_variable(name, key)
    click.echo(f"Variable removed from {name}: {key}")


@environments.command("diff")
@click.argument("source")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_profile
def diff(source: str, target: str, as_json: bool, profile: str | None) -> None:
    """Compare the deployments of SOURCE with those of TARGET."""
    backend = _open(profile)
    found = backend.environments.diff(source, target)
    if as_json:
        click.echo(json.dumps(found.to_json(), indent=2))
        return
    rows = [[d.flow_name, d.deployment_name, d.flow_version, "", ""] for d in found.only_in_source]
    rows += [[d.flow_name, "", "", d.deployment_name, d.flow_version] for d in found.only_in_target]
    rows += [
        [s.flow_name, s.deployment_name, s.flow_version, t.deployment_name, t.flow_version]
        for s, t in found.version_differs
    ]
    if not rows:
        click.echo(f"No differences between {source} and {target}.")
        return
    headers = ("flow_name", f"{source}", "version", f"{target}", "version")
    click.echo(_table(backend, rows, headers))


@environments.command("promote")
@click.argument("deployment")
@click.argument("target")
@click.option("--name", "new_name", default=None, help="The deployment's name in TARGET.")
@click.option("--flow-version", default=None, help="Promote this version instead of the source's.")
@_profile
def promote(
    deployment: str,
    target: str,
    new_name: str | None,
    flow_version: str | None,
    profile: str | None,
) -> None:
    """Promote DEPLOYMENT to environment TARGET (created there, or updated)."""
    done = _open(profile).environments.promote(
        deployment, target, new_deployment_name=new_name, flow_version=flow_version
    )
    click.echo(
        f"Promoted {deployment} to {done.target_environment}: {done.target_deployment} "
        f"({done.flow_name} {done.flow_version})"
    )


@environments.command("reorder")
@click.argument("names", nargs=-1, required=True)
@_profile
def reorder(names: tuple[str, ...], profile: str | None) -> None:
    """Set the promotion order: NAMES first, in this order; the others keep theirs after them."""
    ordered = _open(profile).environments.reorder(list(names))
    click.echo(f"Promotion order: {', '.join(e.env_name for e in ordered)}")


def _json_object(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise CLIExit(f"Error: {option} must be a JSON object", USAGE)
    return value
