"""``dagy``: the entry point. Heavy modules (duckdb, ...) are imported inside the commands that need them."""

from __future__ import annotations

import importlib
import sys
from gettext import gettext
from typing import Any

import click

from dagy import __version__
from dagy.cli import _errors
from dagy.config import settings


class DagyGroup(click.Group):
    """Turns known errors into one line on stderr and a documented exit code (see docs/cli.md).

    Its commands are loaded when asked for (``COMMANDS``); ``add_command`` still adds one directly.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = self.commands.get(cmd_name)
        if found is None and cmd_name in COMMANDS:
            module, attribute, _help = COMMANDS[cmd_name]
            found = getattr(importlib.import_module(module), attribute)
            self.commands[cmd_name] = found
        return found

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list of commands, from ``COMMANDS`` for those not loaded: no command module imported."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.commands.get(name) or _stand_in(name)
            if not cmd.hidden:
                rows.append((name, cmd))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _cmd in rows)
            with formatter.section(gettext("Commands")):  # as click says it
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except _errors.CLIExit as exc:
            click.echo(exc.message, err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(_errors.INTERRUPTED)
        except Exception as exc:
            if _debug(ctx):
                raise
            code = _errors.exit_code_for(exc)
            message = _errors.message_for(exc)
            if code == _errors.INTERNAL:
                message = f"Internal error: {message} (rerun with --debug for the traceback)"
            click.echo(message, err=True)
            ctx.exit(code)


def _debug(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool((root.obj or {}).get("debug")) or settings.DEBUG.get()


@click.group(cls=DagyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="dagy", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Dagy: a local-first workflow orchestrator.

    Run a flow with `dagy run path/to/file.py:flow_fn`, then inspect it with
    `dagy runs list`, `dagy runs show <run_id>` and `dagy logs <run_id>`.
    """
    ctx.obj = {"debug": debug}


# Every built-in command: name -> (module, attribute, the first paragraph of its help). `dagy <cmd>`
# imports only that command's module and `dagy --help` none: click derives the list's one-line help
# from the first paragraph, so a stand-in with that paragraph prints the same line at any terminal
# width. tests/cli/test_lazy_commands.py imports every module and checks the table against it.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": (
        "dagy.cli.run_cmd",
        "run",
        "Execute a flow locally (TARGET is <path>:<flow_fn>, or a YAML pipeline file), or trigger a "
        "run of a deployment (TARGET is its name) on the API of DAGY_API_URL or the profile.",
    ),
    "validate": (
        "dagy.cli.validate_cmd",
        "validate",
        "Check a YAML pipeline: its shape, node types, references, cycles and config fields.",
    ),
    "runs": ("dagy.cli.runs_cmd", "runs", "Inspect, retry and cancel runs."),
    "logs": (
        "dagy.cli.logs_cmd",
        "logs",
        "Display the logs of a run, or of one of its task runs. Ctrl+C stops --follow (exit 130).",
    ),
    "build": (
        "dagy.cli.build_cmd",
        "build",
        "Build a deployment artifact (zip) from a local flow: PATH:FLOW_FN, or from a YAML pipeline "
        "(PATH.yaml: the zip holds the YAML and the python files its steps reference).",
    ),
    "deploy": (
        "dagy.cli.deploy_cmd",
        "deploy",
        "Upload ARTIFACT.ZIP (from `dagy build`) and register it as a deployment; or deploy a YAML "
        "pipeline (PIPELINE.YAML): its zip (the YAML, the python files its steps reference, the "
        "compiled FlowSpec) is built first, and the flow and deployment default to its name.",
    ),
    "flows": (
        "dagy.cli.flows_cmd",
        "flows",
        "Flows registered with Dagy (this home's store or server, or the API).",
    ),
    "deployments": (
        "dagy.cli.deployments_cmd",
        "deployments",
        "Deployments: named versions of flows that `dagy run <deployment>` runs.",
    ),
    "config": (
        "dagy.cli.config_cmd",
        "config",
        "Create, edit and delete profiles in config.yaml, interactively.",
    ),
    "login": (
        "dagy.cli.auth_cmd",
        "login",
        "Sign in through the browser (or --with-token) and store the access token.",
    ),
    "logout": (
        "dagy.cli.auth_cmd",
        "logout",
        "Revoke the stored token on the server and forget it locally.",
    ),
    "auth": ("dagy.cli.auth_cmd", "auth", "Inspect the login in use."),
    "serve": (
        "dagy.cli.serve_cmd",
        "serve",
        "Serve the Dagy REST API from this machine's store (~/.dagy/dagy.duckdb).",
    ),
    "plugins": (
        "dagy.cli.plugins_cmd",
        "plugins",
        "Installed plugins (entry points in the dagy.* groups).",
    ),
    "schedules": (
        "dagy.cli.schedules_cmd",
        "schedules",
        "Schedules of flows and deployments (cron, interval, one-time, manual).",
    ),
    "sensors": (
        "dagy.cli.sensors_cmd",
        "sensors",
        "Sensors: start runs of a flow on a webhook, a polled value or a new S3 key.",
    ),
    "secrets": (
        "dagy.cli.secrets_cmd",
        "secrets",
        "Secrets for runs (`dagy.secret(name)`), and the master key that seals them.",
    ),
    "environments": (
        "dagy.cli.environments_cmd",
        "environments",
        "Environments (develop, staging, production, ...) and their variables.",
    ),
    "users": ("dagy.cli.users_cmd", "users", "Accounts and members of an organization."),
    "admin": (
        "dagy.cli.admin_cmd",
        "admin",
        "Super admin: customer organizations across the platform.",
    ),
    "tui": (
        "dagy.cli.tui_cmd",
        "tui",
        "Browse runs, task runs, logs, flows, deployments and schedules in the terminal.",
    ),
    "studio": (
        "dagy.cli.studio_cmd",
        "studio",
        "Ask the AI studio for a workflow in words; print its answer and validation.",
    ),
    "sql": (
        "dagy.cli.sql_cmd",
        "sql",
        "Read-only SQL over the run history: views runs, task_runs, attempts, events, schedules "
        "and usage (see docs/sql.md).",
    ),
}


def _stand_in(name: str) -> click.Command:
    """A command that only knows ``name``'s one-line help, for the list in ``dagy --help``."""
    return click.Command(name, help=COMMANDS[name][2])


def main(argv: list[str] | None = None) -> None:
    from dagy.config.files import private_umask

    private_umask()  # once, for this process and every child it starts (docs/security.md)
    cli.main(args=argv, prog_name="dagy")


def entry() -> None:
    """The ``dagy`` script: ``main()``, then the process ends without the interpreter's teardown.

    Tearing down ~200 modules (a full garbage collection, every module's dict cleared) cost
    ~15-20 ms of CPU at the end of every command, for nobody: by then the command has closed its
    store and files. What the usual exit still owes is done first: the atexit functions (logging's
    flush among them) and flushing stdout and stderr. A command that left a non-daemon thread
    running takes the usual exit, which waits for it. Only here, never in ``main()``: tests and
    other programs call ``main()`` in their own process.
    """
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    _leave(code)


def _leave(code: str | int | None) -> None:
    import threading

    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): printed, exit 1, as Python does
        print(code, file=sys.stderr)
        status = 1
    import atexit
    import contextlib
    import os

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`dagy runs list | head`)
            stream.flush()
    os._exit(status)


if __name__ == "__main__":  # pragma: no cover
    entry()
