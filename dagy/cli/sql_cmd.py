"""``dagy sql``: read-only SQL over the run history's views, and saved queries (docs/sql.md).

Works on the store file, this home's live server or a remote API alike. ``dagy sql "SELECT ..."``
is the hidden ``query`` command: any first word that is not a subcommand is a query.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from dagy.backend import Backend
    from dagy.backend.history import SavedSql, SqlResult

FORMATS = ("table", "csv", "json", "parquet")
# What a JSON value of each DuckDB type is read back as, for Parquet (query.plain's forms).
_AS_JSON_TYPE = {"INTERVAL": "DOUBLE", "BLOB": "VARCHAR", "BIT": "VARCHAR"}


class SqlGroup(click.Group):
    """``dagy sql [OPTIONS] SQL`` runs a query; ``dagy sql save|run|list|delete`` the others."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["query", *args]
        return super().parse_args(ctx, args)


def _open(profile: str | None) -> Backend:
    from dagy.backend import open_backend

    return open_backend(profile=profile)


def _profile(fn: Any) -> Any:
    return click.option("--profile", default=None, help="Dagy profile to use.")(fn)


def _output_options(fn: Any) -> Any:
    fn = click.option(
        "--limit",
        type=click.IntRange(min=1),
        default=None,
        help="Most rows to return (default 1000; at most DAGY_SQL_MAX_ROWS).",
    )(fn)
    fn = click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write the result to FILE (mode 0600) instead of stdout.",
    )(fn)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format; parquet needs --output.",
    )(fn)


@click.group(cls=SqlGroup, subcommand_metavar='"SQL" | COMMAND [ARGS]...')
def sql() -> None:
    """Read-only SQL over the run history: views runs, task_runs, attempts, events, schedules
    and usage (see docs/sql.md).

    \b
      dagy sql "SELECT status, count(*) FROM runs GROUP BY status"
      dagy sql --format csv -o runs.csv "SELECT * FROM runs"
      dagy sql save failures "SELECT * FROM runs WHERE status = 'failed'"
      dagy sql run failures

    A query (and `run`) takes --format table|csv|json|parquet, --output FILE (mode 0600;
    parquet needs it), --limit N (default 1000) and --profile NAME.

    Exit codes: 2 for SQL that is invalid, refused (writes, ATTACH, COPY, files, SET,
    INSTALL/LOAD) or over the time limit; 3 for an unknown saved query.
    """


@sql.command("query", hidden=True)
@click.argument("text", metavar="SQL")
@_output_options
@_profile
def query_(
    text: str, fmt: str, output: Path | None, limit: int | None, profile: str | None
) -> None:
    """Run one read-only query over the history views."""
    _check_output(fmt, output)
    backend = _open(profile)
    _emit(backend, backend.history.query(text, limit), fmt, output)


@sql.command("run")
@click.argument("name")
@_output_options
@_profile
def run_(name: str, fmt: str, output: Path | None, limit: int | None, profile: str | None) -> None:
    """Run saved query NAME."""
    _check_output(fmt, output)
    backend = _open(profile)
    _emit(backend, backend.history.run(name, limit), fmt, output)


@sql.command("save")
@click.argument("name")
@click.argument("text", metavar="SQL")
@_profile
def save(name: str, text: str, profile: str | None) -> None:
    """Save SQL as query NAME (replacing the SQL of an existing one). It must parse; it is not run."""
    found, created = _open(profile).history.save(name, text)
    click.echo(f"{'Saved' if created else 'Updated'} query {found.name}")


@sql.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_profile
def list_(as_json: bool, profile: str | None) -> None:
    """List saved queries."""
    backend = _open(profile)
    found = backend.history.list()
    if as_json:
        click.echo(json.dumps([_saved_json(q) for q in found], indent=2))
        return
    if not found:
        click.echo("No saved queries.")
        return
    from tabulate import tabulate

    rows = [[q.name, q.sql, _when(q.updated_at)] for q in found]
    click.echo(
        tabulate(
            rows,
            headers=("name", "sql", "updated_at"),
            tablefmt=backend.table_format,
            disable_numparse=True,
        )
    )


@sql.command("delete")
@click.argument("name")
@_profile
def delete(name: str, profile: str | None) -> None:
    """Delete saved query NAME."""
    _open(profile).history.delete(name)
    click.echo(f"Deleted query {name}")


def _when(value: Any) -> str:
    return value.isoformat(sep=" ") if value is not None else ""


def _saved_json(q: SavedSql) -> dict[str, Any]:
    return {
        "name": q.name,
        "sql": q.sql,
        "created_by": q.created_by,
        "created_at": q.created_at.isoformat() + "Z" if q.created_at else None,
        "updated_at": q.updated_at.isoformat() + "Z" if q.updated_at else None,
    }


def _check_output(fmt: str, output: Path | None) -> None:
    if fmt == "parquet" and output is None:
        raise click.UsageError("--format parquet needs --output FILE")


def _emit(backend: Backend, result: SqlResult, fmt: str, output: Path | None) -> None:
    if fmt == "parquet":
        assert output is not None
        _write_parquet(result, output)
    else:
        text = {"table": _table, "csv": _csv, "json": _json}[fmt](backend, result)
        if output is None:
            click.echo(text, nl=not text.endswith("\n"))
        else:
            from dagy.config.files import write_private

            write_private(output, text)
    if result.truncated:
        click.echo(
            f"Truncated: only the first {result.row_count} rows (raise --limit for more)", err=True
        )
    if output is not None:
        click.echo(f"Wrote {result.row_count} rows to {output}", err=True)


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _table(backend: Backend, result: SqlResult) -> str:
    from tabulate import tabulate

    rows = [["" if v is None else _cell(v) for v in row] for row in result.rows]
    headers = [c.name for c in result.columns]
    table = tabulate(rows, headers=headers, tablefmt=backend.table_format, disable_numparse=True)
    noun = "row" if result.row_count == 1 else "rows"
    return f"{table}\n({result.row_count} {noun}, {result.elapsed_ms:.0f} ms)\n"


def _csv(backend: Backend, result: SqlResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.name for c in result.columns])
    writer.writerows([["" if v is None else _cell(v) for v in row] for row in result.rows])
    return buffer.getvalue()


def _json(backend: Backend, result: SqlResult) -> str:
    return json.dumps(result.to_json(), indent=2) + "\n"


def _write_parquet(result: SqlResult, output: Path) -> None:
    """The rows through DuckDB (in memory, this process's own) into a Parquet file, mode 0600,
    written beside ``output`` and renamed into place."""
    import tempfile

    import duckdb

    names = [c.name for c in result.columns]
    if len(set(names)) != len(names):
        raise click.UsageError("Parquet needs distinct column names: alias the columns (AS ...)")
    folder = output.resolve().parent
    with tempfile.TemporaryDirectory(dir=folder, prefix=".dagy-sql-") as scratch:
        rows_file = Path(scratch) / "rows.json"
        with rows_file.open("w", encoding="utf-8") as f:
            for row in result.rows:
                f.write(json.dumps(dict(zip(names, row, strict=True))) + "\n")
        columns = {c.name: _AS_JSON_TYPE.get(c.type, c.type) for c in result.columns}
        target = Path(scratch) / "out.parquet"
        con = duckdb.connect(":memory:")
        try:
            con.execute(
                "COPY (SELECT * FROM read_json(?, format = 'newline_delimited', columns = ?)) "
                "TO ? (FORMAT parquet)",
                [str(rows_file), columns, str(target)],
            )
        finally:
            con.close()
        os.chmod(target, 0o600)
        os.replace(target, output)
