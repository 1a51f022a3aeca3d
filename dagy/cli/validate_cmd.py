"""``dagy validate``: check a YAML pipeline without running it."""

from __future__ import annotations

from pathlib import Path

import click

from dagy.cli import _errors


@click.command("validate")
@click.argument("pipeline", metavar="PIPELINE.YAML", type=click.Path(path_type=Path))
def validate(pipeline: Path) -> None:
    """Check a YAML pipeline: its shape, node types, references, cycles and config fields.

    \b
    Examples:
      dagy validate examples/pipelines/orders_etl.yaml

    Prints `OK: <name>:<version> (<n> steps)` and exits 0 when it would run; otherwise one
    line per problem, `<path>: <message>` (e.g. `steps[1].config.url: required field 'url' is
    missing`), on stderr, and exit 2. A missing file is exit 3.
    """
    from dagy.pipelines.check import check_pipeline
    from dagy.pipelines.loader import is_pipeline_file, read_pipeline
    from dagy.pipelines.problems import PipelineError

    if not is_pipeline_file(pipeline):
        raise ValueError(f"Not a YAML pipeline (.yaml or .yml): {pipeline}")
    try:
        parsed = read_pipeline(pipeline)
        problems = check_pipeline(parsed)
    except PipelineError as exc:
        problems = exc.problems
    if problems:
        for problem in problems:
            click.echo(problem.line(), err=True)
        raise click.exceptions.Exit(_errors.USAGE)
    click.echo(f"OK: {parsed.name}:{parsed.version} ({len(parsed.steps)} steps)")
