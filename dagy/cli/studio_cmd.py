"""``dagy studio "Build a workflow that..."``: one AI studio turn, the answer and its validation."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dagy.cli._errors import RUN_FAILED, CLIExit


@click.command("studio")
@click.argument("message")
@click.option(
    "--intent",
    type=click.Choice(["auto", "build", "modify", "advisory"]),
    default="auto",
    show_default=True,
    help="What the turn should do.",
)
@click.option("--session", "session_id", default=None, help="Continue this session (its id).")
@click.option("--tier", default=None, help="The tier of a new session (GET /ai-studio/tiers).")
@click.option(
    "--save",
    "save",
    default=None,
    metavar="NAME",
    help="Write the workflow's YAML to NAME (NAME.yaml unless it ends in .yaml/.yml).",
)
@click.option(
    "--draft",
    is_flag=True,
    help="With --save: also save it as a DAG draft bound to the flow NAME (its file stem).",
)
@click.option("--deploy", is_flag=True, help="With --draft: deploy the draft as flow NAME.")
@click.option("--json", "as_json", is_flag=True, help="Print the turn's JSON body.")
@click.option("--profile", default=None, help="Dagy profile for the API URL.")
def studio(
    message: str,
    intent: str,
    session_id: str | None,
    tier: str | None,
    save: str | None,
    draft: bool,
    deploy: bool,
    as_json: bool,
    profile: str | None,
) -> None:
    """Ask the AI studio for a workflow in words; print its answer and validation.

    Runs one turn through this home's store, its live `dagy serve`, or the API (DAGY_API_URL or
    the profile's), as every command does. A turn that does not produce a valid workflow prints
    the errors and exits 1; nothing is saved then.

    \b
    Examples:
      dagy studio "Build a workflow that reads JSON from S3, validates schema, normalizes records, deduplicates, and writes back to S3."
      dagy studio "Also post the result to a webhook" --session ss_123 --intent modify
      dagy studio "Fetch https://api.example.com/items and dedupe by id" --save items --draft
    """
    from dagy.backend import open_backend
    from dagy.config.paths import DagyPaths

    if (draft or deploy) and not save:
        raise click.UsageError("--draft and --deploy need --save NAME")
    backend = open_backend(DagyPaths.from_env(), profile)
    done = backend.studio.turn(message, intent=intent, session_id=session_id, tier=tier)
    if as_json:
        click.echo(json.dumps(done.to_json(), indent=2, default=str))
    else:
        click.echo(done.response)
        click.echo("")
        click.echo(f"Session: {done.session_id}")
        status = done.body.get("workflow_status") or "-"
        click.echo(f"Workflow: {status} (credits used: {done.body.get('credits_used', 0)})")
        validation = done.validation
        click.echo("Validation: " + ("valid" if validation.get("valid") else "invalid"))
        for problem in validation.get("errors") or []:
            click.echo(f"  {problem.get('path') or '-'}: {problem.get('message')}", err=True)
    if not done.ok:
        raise CLIExit("The request did not produce a valid workflow; nothing saved.", RUN_FAILED)
    if save:
        if not done.pipeline_yaml:
            raise CLIExit("This turn produced no workflow to save (advisory answer).", RUN_FAILED)
        target = Path(save if save.endswith((".yaml", ".yml")) else f"{save}.yaml")
        target.write_text(done.pipeline_yaml, encoding="utf-8")
        click.echo(f"Saved: {target.resolve()}")
        if draft or deploy:
            saved = backend.studio.save(done.session_id, target.stem, deploy=deploy)
            found = saved.get("draft") or {}
            click.echo(f"Draft: {found.get('draft_id')} (flow {target.stem})")
            deployed = saved.get("deployment")
            if deployed:
                click.echo(f"Deployed: {deployed['flow_name']} {deployed['flow_version']}")
