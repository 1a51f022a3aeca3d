"""``dagy deploy``: upload a built artifact and register its flow version and deployment."""

from __future__ import annotations

import json
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import click

DEP_PACKAGES = "--dep-packages"


def spread_values(args: list[str], option: str = DEP_PACKAGES) -> list[str]:
    """``--dep-packages A B`` → ``--dep-packages A --dep-packages B`` (click has no nargs=-1 option).

    Values run until the next option or ``--``; a ``.zip`` path ends them too, so the artifact may
    follow the slugs.
    """
    out: list[str] = []
    greedy = first = False
    for i, token in enumerate(args):
        if token == "--":
            return out + args[i:]
        if token == option or token.startswith(option + "="):
            greedy, first = True, token == option
        elif greedy and not token.startswith("-") and not token.lower().endswith(".zip"):
            out += [token] if first else [option, token]
            first = False
            continue
        else:
            greedy = False
        out.append(token)
    return out


class DeployCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread_values(args))


@click.command("deploy", cls=DeployCommand)
@click.argument("artifact", metavar="ARTIFACT.ZIP|PIPELINE.YAML", type=click.Path(path_type=Path))
@click.option(
    "--deployment",
    default=None,
    help="Deployment name (used to trigger runs).  [required for a zip; a pipeline's: its name]",
)
@click.option(
    "--flow-name",
    default=None,
    help="Flow name to register.  [required for a zip; a pipeline's: its name]",
)
@click.option(
    "--flow-version", default=None, help="Flow version to register.  [default: the artifact's]"
)
@click.option(
    "--bucket", default=None, help="Bucket for the artifact (S3 store; $DAGY_ARTIFACT_BUCKET)."
)
@click.option("--profile", default=None, help="Dagy profile for the API URL.")
@click.option(
    "--schedule", default=None, metavar="CRON", help="Cron expression for automatic runs."
)
@click.option(
    "--timezone",
    default="America/New_York",
    show_default=True,
    help="IANA timezone of the schedule.",
)
@click.option("--status", default="ACTIVE", show_default=True, help="Deployment status.")
@click.option("--default-executor", default=None, help="Default executor for tasks.")
@click.option(
    "--prefix", default="dagy", show_default=True, help="Key prefix in the artifact store."
)
@click.option(
    "--execution-mode",
    type=click.Choice(["in-process", "task-isolated"]),
    default="in-process",
    show_default=True,
)
@click.option("--force", is_flag=True, help="Deploy even if the code has not changed.")
@click.option(
    DEP_PACKAGES, "dep_packages", multiple=True, metavar="SLUG [SLUG ...]",
    help="One or more dependency package slugs to attach.",
)  # fmt: skip
def deploy(artifact: Path, **options: Any) -> None:
    """Upload ARTIFACT.ZIP (from `dagy build`) and register it as a deployment; or deploy a
    YAML pipeline (PIPELINE.YAML): its zip (the YAML, the python files its steps reference, the
    compiled FlowSpec) is built first, and the flow and deployment default to its name.

    With an API URL (DAGY_API_URL or the profile's) the zip goes up in parts through the API;
    without one it is stored and registered in this machine's Dagy home (through its `dagy serve`
    when one runs, else in its store file), and `dagy flows list`, `dagy deployments show` and
    `dagy run <deployment>` find it there.

    \b
    Examples:
      dagy deploy ./dist/artifact.zip --deployment my-etl --flow-name daily_etl --flow-version 1.0.0
      dagy deploy artifact.zip --deployment my-etl --flow-name daily_etl --dep-packages A1B2 X9Y8
      dagy deploy examples/pipelines/orders_etl.yaml --deployment orders
    """
    path = artifact.expanduser().absolute()
    if path.suffix.lower() in (".yaml", ".yml"):
        with tempfile.TemporaryDirectory(prefix="dagy-deploy-") as scratch:
            _deploy(_pipeline_zip(path, Path(scratch), options), options)
        return
    for option in ("deployment", "flow_name"):
        if not options[option]:
            raise click.UsageError(f"Missing option '--{option.replace('_', '-')}'.")
    _deploy(path, options)


def _pipeline_zip(path: Path, scratch: Path, options: dict[str, Any]) -> Path:
    """Build the pipeline's zip in ``scratch``; the flow and deployment default to its name."""
    from dagy.backend.catalog import build_pipeline_artifact

    if not path.is_file():
        raise FileNotFoundError(f"Pipeline file not found: {path}")
    built = build_pipeline_artifact(path, scratch)
    with zipfile.ZipFile(built) as zf:
        name = json.loads(zf.read("flow_spec.json"))["flow_name"]
    if options["flow_name"] not in (None, name):
        raise ValueError(f"--flow-name {options['flow_name']} is not the pipeline's name {name}")
    options["flow_name"] = name
    options["deployment"] = options["deployment"] or name
    return built


def _deploy(path: Path, options: dict[str, Any]) -> None:
    from dagy.backend import open_backend
    from dagy.backend.catalog import DeployOptions
    from dagy.config.paths import DagyPaths

    deploy_options = DeployOptions(
        deployment_name=options["deployment"],
        flow_name=options["flow_name"],
        flow_version=options["flow_version"],
        status=options["status"],
        schedule=options["schedule"],
        timezone=options["timezone"],
        default_executor=options["default_executor"],
        execution_mode=options["execution_mode"],
        dep_package_slugs=list(options["dep_packages"]) or None,
        prefix=options["prefix"],
        bucket=options["bucket"],
        force=options["force"],
    )
    backend = open_backend(DagyPaths.from_env(), options["profile"])
    progress = _progress if sys.stderr.isatty() else None
    done = backend.catalog.deploy(path, deploy_options, on_part=progress)
    if done.unchanged:
        click.echo(
            "No code changes detected (code_hash unchanged). Skipping deployment.\n"
            f"  Local:  {done.code_hash}\n"
            f"  Remote: {done.remote_hash}\n"
            "Use --force to deploy anyway."
        )
        return
    click.echo(
        f"Deployed to {done.artifact_uri} and registered as {done.flow_name}:{done.flow_version}"
    )


def _progress(number: int, total: int) -> None:
    if total > 1:
        click.echo(f"\rUploaded part {number}/{total}", err=True, nl=number == total)
