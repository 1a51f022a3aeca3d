"""``dagy deploy``: upload a built artifact and register its flow version and deployment."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from dagy.client.http import DagyClient
    from dagy.services.catalog.deploy import ArtifactSummary, DeployRequest, Unchanged

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
@click.argument("artifact", metavar="ARTIFACT.ZIP", type=click.Path(path_type=Path))
@click.option("--deployment", required=True, help="Deployment name (used to trigger runs).")
@click.option("--flow-name", required=True, help="Flow name to register.")
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
    """Upload ARTIFACT.ZIP (from `dagy build`) and register it as a deployment.

    With an API URL (DAGY_API_URL or the profile's) the zip goes up in parts through the API;
    without one it is stored and registered in this machine's Dagy home (through its `dagy serve`
    when one runs).

    \b
    Examples:
      dagy deploy ./dist/artifact.zip --deployment my-etl --flow-name daily_etl --flow-version 1.0.0
      dagy deploy artifact.zip --deployment my-etl --flow-name daily_etl --dep-packages A1B2 X9Y8
    """
    from dagy.config.paths import DagyPaths
    from dagy.config.profiles import load_config, resolve_api_url
    from dagy.services.catalog import deploy as service

    path = artifact.expanduser().absolute()
    if not path.is_file():
        raise FileNotFoundError(f"Artifact not found: {path}")
    summary = service.summarize(path)
    version = options["flow_version"] or summary.flow_version
    problem = service.mismatch(
        (options["flow_name"], version), (summary.flow_name, summary.flow_version)
    )
    if problem:
        raise ValueError(problem)
    request = service.DeployRequest(
        deployment_name=options["deployment"],
        flow_name=options["flow_name"],
        flow_version=version,
        status=options["status"],
        schedule=options["schedule"],
        timezone=options["timezone"],
        default_executor=options["default_executor"],
        execution_mode=options["execution_mode"],
        dep_package_slugs=list(options["dep_packages"]) or None,
        code_hash=summary.code_hash,
    )
    paths = DagyPaths.from_env()
    api_url = resolve_api_url(load_config(paths), options["profile"])
    outcome: Any = None
    if api_url is None:
        outcome = service.deploy_locally(
            paths, path, request, prefix=options["prefix"], bucket=options["bucket"],
            force=options["force"],
        )  # fmt: skip
    if outcome is None:  # an API, or this home's live `dagy serve`
        outcome = _via_api(_client(paths, api_url), path, request, summary, options)
    _report(outcome, request)


def _client(paths: Any, api_url: str | None) -> DagyClient:
    from dagy.client.http import DagyClient
    from dagy.config import server_file

    if api_url is not None:
        return DagyClient(api_url, paths=paths)
    live = server_file.read(paths)
    if live is None:  # it stopped between deploy_locally's look and ours: rare, say so plainly
        from dagy.errors import StoreBusyError

        raise StoreBusyError("The local Dagy server stopped during the deploy; run it again")
    return DagyClient(live.api_url, live.token)


def _via_api(
    client: DagyClient,
    path: Path,
    request: DeployRequest,
    summary: ArtifactSummary,
    options: dict[str, Any],
) -> Unchanged | dict[str, Any]:
    """Change detection against GET /flows/<name>/latest, then the multipart upload."""
    import dataclasses
    import urllib.parse

    from dagy.client.uploads import upload_artifact
    from dagy.errors import APIError
    from dagy.services.catalog.deploy import Unchanged

    if not options["force"] and summary.code_hash:
        try:
            latest = client.get(f"/flows/{urllib.parse.quote(request.flow_name, safe='')}/latest")
        except APIError as exc:
            if exc.status_code != 404:  # 404: never deployed
                raise
            latest = None
        remote = (latest or {}).get("code_hash")
        if remote and remote == summary.code_hash:
            return Unchanged(summary.code_hash, remote)
    body = {k: v for k, v in dataclasses.asdict(request).items() if v is not None}
    initiate = {
        "flow_name": request.flow_name,
        "flow_version": request.flow_version,
        "deployment_name": request.deployment_name,
        "prefix": options["prefix"],
    }
    progress = _progress if sys.stderr.isatty() else None
    result: dict[str, Any] = upload_artifact(client, path, initiate, body, on_part=progress)
    return result


def _progress(number: int, total: int) -> None:
    if total > 1:
        click.echo(f"\rUploaded part {number}/{total}", err=True, nl=number == total)


def _report(outcome: Any, request: DeployRequest) -> None:
    from dagy.services.catalog.deploy import Deployed, Unchanged

    if isinstance(outcome, Unchanged):
        click.echo(
            "No code changes detected (code_hash unchanged). Skipping deployment.\n"
            f"  Local:  {outcome.local_hash}\n"
            f"  Remote: {outcome.remote_hash}\n"
            "Use --force to deploy anyway."
        )
        return
    uri = outcome.artifact_uri if isinstance(outcome, Deployed) else outcome["artifact_s3_uri"]
    click.echo(f"Deployed to {uri} and registered as {request.flow_name}:{request.flow_version}")
