"""``dagy build``: zip a local flow into a deployment artifact."""

from __future__ import annotations

from pathlib import Path

import click

from dagy.cli._help import HomeCommand


@click.command("build", cls=HomeCommand)
@click.argument("target", metavar="PATH:FLOW_FN")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory to write the artifact in.  [default: ~/.dagy/builds/]",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Build-time flow parameter (repeatable); coerced to the flow's annotations.",
)
def build(target: str, output_dir: Path | None, params: tuple[str, ...]) -> None:
    """Build a deployment artifact (zip) from a local flow: PATH:FLOW_FN, or from a YAML
    pipeline (PATH.yaml: the zip holds the YAML and the python files its steps reference).

    The zip holds flow_spec.json (the built DAG), metadata.json (name, version,
    entrypoint, build time, Python version, dependencies, code_hash),
    manifest.json (every file with its size and sha256) and the flow's source file.

    \b
    Examples:
      dagy build examples/flow_example.py:example_flow
      dagy build pipelines/etl.py:daily_etl --output-dir ./dist
      dagy build flows/main.py:my_flow --param env=prod --param batch_size=100

    Prints `Artifact: <absolute path to artifact.zip>`.
    """
    from dagy.backend.catalog import build_artifact
    from dagy.config.paths import DagyPaths
    from dagy.sdk.loader import split_target
    from dagy.sdk.params import parse_param_pairs

    if not target.lower().endswith((".yaml", ".yml")):  # a YAML pipeline needs no :<fn>
        split_target(target)  # a malformed target is reported before a malformed --param
    raw = parse_param_pairs(params)
    click.echo(f"Artifact: {build_artifact(target, raw, output_dir, DagyPaths.from_env())}")
