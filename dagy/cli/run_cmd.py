"""``dagy run``: execute a flow locally (``<path>:<flow_fn>``), or trigger a deployment's run on the
configured API (``<deployment_name>``)."""

from __future__ import annotations

import signal
from typing import Any

import click

from dagy.cli import _errors


def _sigterm_as_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class interrupts_cancel:
    """SIGINT and SIGTERM raise KeyboardInterrupt while a run executes, so the engine cancels it
    cleanly (even when the shell started us with SIGINT ignored, as it does for background jobs)."""

    def __enter__(self) -> None:
        self._saved = (
            signal.signal(signal.SIGINT, signal.default_int_handler),
            signal.signal(signal.SIGTERM, _sigterm_as_interrupt),
        )

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._saved[0])
        signal.signal(signal.SIGTERM, self._saved[1])


@click.command("run")
@click.argument("target")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Flow parameter (repeatable); coerced to the flow's annotations.",
)
@click.option(
    "--max-workers",
    type=int,
    default=1,
    show_default=True,
    help="Maximum parallel task workers (local only).",
)
@click.option(
    "--no-fail-fast",
    is_flag=True,
    help="Let independent tasks finish after a failure (local only).",
)
@click.option(
    "--executor",
    default="local",
    show_default=True,
    help="Where tasks run: 'local' (threads) or 'process' (a child process per task, "
    "so a timeout or cancel really stops it), or an installed plugin.",
)
@click.option(
    "--env",
    "env_name",
    default=None,
    metavar="NAME",
    help="Run in this environment (local only): its variables and DAGY_ENVIRONMENT=NAME are set "
    "for the run, and dagy.secret() prefers its secrets. Unknown environment: exit 3.",
)
@click.option("--profile", default=None, help="Dagy profile for API URL resolution.")
def run(
    target: str,
    params: tuple[str, ...],
    max_workers: int,
    no_fail_fast: bool,
    executor: str,
    env_name: str | None,
    profile: str | None,
) -> None:
    """Execute a flow locally (TARGET is <path>:<flow_fn>), or trigger a run of a
    deployment (TARGET is its name) on the API of DAGY_API_URL or the profile.

    \b
    Examples:
      dagy run examples/flow_example.py:example_flow --param date=2026-03-04 --max-workers 4
      DAGY_API_URL=http://127.0.0.1:8000/v1 dagy run my-etl --param env=prod

    Locally it prints `Run completed: <run_id> status=<STATUS>`; exit code 0 when the run
    succeeded, 1 when it failed, 130 when it was cancelled (Ctrl+C), 3 when --env names no
    environment. Remotely it prints the
    queued run as the API returned it, status in the CLI's words (PENDING).
    """
    from dagy.config.paths import DagyPaths
    from dagy.sdk.params import parse_param_pairs
    from dagy.services.runs import local as runs

    raw = parse_param_pairs(params)
    if ":" not in target:
        if env_name is not None:
            raise click.UsageError(
                "--env applies to local runs (<path>:<flow_fn>); a deployment runs in its own"
            )
        _remote_run(target, raw, profile)
        return
    if env_name is not None:
        from dagy.backend import open_backend

        open_backend(DagyPaths.from_env(), profile).environments.resolve_for_run(env_name).apply()
    settings = runs.RunSettings(
        max_workers=max_workers, fail_fast=not no_fail_fast, executor=executor
    )
    with interrupts_cancel():
        record = runs.run_target(target, raw, settings, DagyPaths.from_env())
    _report(record)


def _remote_run(target: str, raw: dict[str, str], profile: str | None) -> None:
    """A target without ':' names a deployment, which only a configured API can run."""
    from dagy.client.http import DagyClient
    from dagy.config.paths import DagyPaths
    from dagy.config.profiles import load_config, resolve_api_url

    paths = DagyPaths.from_env()
    api_url = resolve_api_url(load_config(paths), profile)
    if api_url is None:
        raise ValueError("Flow target must be in <path>:<flow_fn> format")
    body = DagyClient(api_url, paths=paths).post("/runs", {"deployment": target, "parameters": raw})
    click.echo(repr(cli_view(body)))


def cli_view(body: Any) -> Any:
    """An API run body with its status in the CLI's words (queued → PENDING, ...)."""
    from dagy.store.records import API_STATUS

    if isinstance(body, dict) and isinstance(body.get("status"), str):
        internal = {api: cli for cli, api in API_STATUS.items()}
        return {**body, "status": internal.get(body["status"], body["status"].upper())}
    return body


def _report(record: Any) -> None:
    """The spec's line on stdout; the reason on stderr and a non-zero exit when it did not succeed."""
    click.echo(f"Run completed: {record.run_id} status={record.status}")
    if record.status == "SUCCEEDED":
        return
    if record.error:
        click.echo(record.error, err=True)
    code = _errors.INTERRUPTED if record.status == "CANCELLED" else _errors.RUN_FAILED
    raise click.exceptions.Exit(code)
