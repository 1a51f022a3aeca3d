"""``dagy``: the entry point. Heavy modules (duckdb, ...) are imported inside the commands that need them."""

from __future__ import annotations

import sys
from typing import Any

import click

from dagy import __version__
from dagy.cli import _errors
from dagy.config import settings


class DagyGroup(click.Group):
    """Turns known errors into one line on stderr and a documented exit code (see docs/cli.md)."""

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


def _register() -> None:
    from dagy.cli import (
        admin_cmd,
        auth_cmd,
        build_cmd,
        config_cmd,
        deploy_cmd,
        deployments_cmd,
        environments_cmd,
        flows_cmd,
        logs_cmd,
        plugins_cmd,
        run_cmd,
        runs_cmd,
        schedules_cmd,
        secrets_cmd,
        sensors_cmd,
        serve_cmd,
        sql_cmd,
        studio_cmd,
        tui_cmd,
        users_cmd,
        validate_cmd,
    )

    cli.add_command(run_cmd.run)
    cli.add_command(validate_cmd.validate)
    cli.add_command(runs_cmd.runs)
    cli.add_command(logs_cmd.logs)
    cli.add_command(build_cmd.build)
    cli.add_command(deploy_cmd.deploy)
    cli.add_command(flows_cmd.flows)
    cli.add_command(deployments_cmd.deployments)
    cli.add_command(config_cmd.config)
    cli.add_command(auth_cmd.login)
    cli.add_command(auth_cmd.logout)
    cli.add_command(auth_cmd.auth)
    cli.add_command(serve_cmd.serve)
    cli.add_command(plugins_cmd.plugins)
    cli.add_command(schedules_cmd.schedules)
    cli.add_command(sensors_cmd.sensors)
    cli.add_command(secrets_cmd.secrets)
    cli.add_command(environments_cmd.environments)
    cli.add_command(users_cmd.users)
    cli.add_command(admin_cmd.admin)
    cli.add_command(tui_cmd.tui)
    cli.add_command(studio_cmd.studio)
    cli.add_command(sql_cmd.sql)


_register()


def main(argv: list[str] | None = None) -> None:
    from dagy.config.files import private_umask

    private_umask()  # once, for this process and every child it starts (docs/security.md)
    cli.main(args=argv, prog_name="dagy")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
