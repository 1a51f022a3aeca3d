"""``dagy run``: execute a flow here (``<path>:<flow_fn>``), or run a deployment
(``<deployment_name>``): here from the store file, or queued on the API the backend reaches."""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import Iterator
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
@click.option("--profile", default=None, help="Dagy profile (where a deployment runs).")
@click.option(
    "--quiet", "-q", is_flag=True, help="No live progress line (it shows only on a terminal)."
)
def run(
    target: str,
    params: tuple[str, ...],
    max_workers: int,
    no_fail_fast: bool,
    executor: str,
    env_name: str | None,
    profile: str | None,
    quiet: bool,
) -> None:
    """Execute a flow locally (TARGET is <path>:<flow_fn>, or a YAML pipeline file), or
    trigger a run of a deployment (TARGET is its name) on the API of DAGY_API_URL or the profile.

    \b
    Examples:
      dagy run examples/flow_example.py:example_flow --param date=2026-03-04 --max-workers 4
      dagy run examples/pipelines/orders_etl.yaml --param day=2026-03-05
      DAGY_API_URL=http://127.0.0.1:8000/v1 dagy run my-etl --param env=prod

    Locally it prints `Run completed: <run_id> status=<STATUS>`; exit code 0 when the run
    succeeded, 1 when it failed, 130 when it was cancelled (Ctrl+C), 3 when --env names no
    environment. A deployment runs here too when no API is configured (from the store file);
    on an API (or this home's live server) it is queued and the API's answer printed as JSON,
    status in the CLI's words (PENDING).
    """
    from dagy.backend import open_backend
    from dagy.config.paths import DagyPaths
    from dagy.sdk.params import parse_param_pairs

    paths = DagyPaths.from_env()
    backend = open_backend(paths, profile)  # an unknown --profile: exit 4, whatever the target
    raw = parse_param_pairs(params)
    pipeline = _is_pipeline(target)
    if not pipeline and ":" not in target and (target.endswith(".py") or "/" in target):
        raise ValueError("Flow target must be in <path>:<flow_fn> format")  # a file, no function
    if ":" not in target and not pipeline:
        if env_name is not None:
            raise click.UsageError(
                "--env applies to local runs (<path>:<flow_fn>); a deployment runs in its own"
            )
        if backend.mode != "store":
            click.echo(json.dumps(queued_view(backend.runs.trigger(target, raw)), indent=2))
            return
        with interrupts_cancel(), _progress_line(quiet) as progress:
            record = backend.runs.trigger(target, raw, progress=progress)
        _report(record)
        return
    from dagy.backend.execute import Settings, run_target

    # --env: the environment's variables, from where the backend looks (exit 3 when unknown)
    run_env = backend.environments.resolve_for_run(env_name) if env_name is not None else None
    with interrupts_cancel(), _progress_line(quiet) as progress:
        settings = Settings(max_workers, not no_fail_fast, executor, progress=progress)
        record = run_target(target, raw, settings, paths, environment=run_env)
    _report(record)


def _is_pipeline(target: str) -> bool:
    """A YAML pipeline file (``x.yaml``, or ``x.yaml:<name>``) runs here like a flow file."""
    head = target if ":" not in target else target.rpartition(":")[0]
    return target.lower().endswith((".yaml", ".yml")) or head.lower().endswith((".yaml", ".yml"))


@contextlib.contextmanager
def _progress_line(quiet: bool) -> Iterator[Any]:
    """A live progress line on a terminal (none with --quiet or when stdout is not a terminal:
    scripts and tests see exactly the result line)."""
    from dagy.cli._progress import RunProgress, is_terminal

    if quiet or not is_terminal():
        yield None
        return
    with RunProgress() as progress:
        yield progress


def queued_view(run: Any) -> dict[str, Any]:
    """A queued run as POST /runs answers it (``run_slug`` included), status in the CLI's words."""
    created = run.created_at
    return {
        "run_id": run.run_id,
        "run_slug": f"{run.flow_name}-{created.strftime('%Y-%m-%d-%H%M%S')}" if created else None,
        "flow_name": run.flow_name,
        "flow_version": run.flow_version,
        "status": run.status,
        "created_at": created.replace(microsecond=0).isoformat() + "Z" if created else None,
        "parameters": run.parameters,
    }


def _report(record: Any) -> None:
    """The spec's line on stdout; the reason on stderr and a non-zero exit when it did not succeed."""
    click.echo(f"Run completed: {record.run_id} status={record.status}")
    if record.status == "SUCCEEDED":
        return
    if record.error:
        click.echo(record.error, err=True)
    code = _errors.INTERRUPTED if record.status == "CANCELLED" else _errors.RUN_FAILED
    raise click.exceptions.Exit(code)
