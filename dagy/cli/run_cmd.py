"""``dagy run``: execute a flow locally (``<path>:<flow_fn>``)."""

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
@click.option("--profile", default=None, help="Dagy profile for API URL resolution.")
def run(
    target: str,
    params: tuple[str, ...],
    max_workers: int,
    no_fail_fast: bool,
    executor: str,
    profile: str | None,
) -> None:
    """Execute a flow locally: TARGET is <path>:<flow_fn>.

    \b
    Example:
      dagy run examples/flow_example.py:example_flow --param date=2026-03-04 --max-workers 4

    Prints `Run completed: <run_id> status=<STATUS>`. Exit code 0 when the run
    succeeded, 1 when it failed, 130 when it was cancelled (Ctrl+C).
    """
    from dagy.config.paths import DagyPaths
    from dagy.sdk.params import parse_param_pairs
    from dagy.services import runs

    if ":" not in target:
        _remote_or_error(target, profile)
    raw = parse_param_pairs(params)
    settings = runs.RunSettings(
        max_workers=max_workers, fail_fast=not no_fail_fast, executor=executor
    )
    with interrupts_cancel():
        record = runs.run_target(target, raw, settings, DagyPaths.from_env())
    _report(record)


def _remote_or_error(target: str, profile: str | None) -> None:
    """A target without ':' names a deployment, which only a configured API can run."""
    from dagy.config.paths import DagyPaths
    from dagy.config.profiles import load_config, resolve_api_url

    api_url = resolve_api_url(load_config(DagyPaths.from_env()), profile)
    if api_url is None:
        raise ValueError("Flow target must be in <path>:<flow_fn> format")
    raise _errors.CLIExit(
        f"Remote runs of deployment '{target}' through {api_url} need `dagy serve` support, "
        "which this version of Dagy does not have yet; run a local <path>:<flow_fn> target instead.",
        _errors.USAGE,
    )


def _report(record: Any) -> None:
    """The spec's line on stdout; the reason on stderr and a non-zero exit when it did not succeed."""
    click.echo(f"Run completed: {record.run_id} status={record.status}")
    if record.status == "SUCCEEDED":
        return
    if record.error:
        click.echo(record.error, err=True)
    code = _errors.INTERRUPTED if record.status == "CANCELLED" else _errors.RUN_FAILED
    raise click.exceptions.Exit(code)
