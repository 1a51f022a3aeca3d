"""``dagy runs list|show|retry|cancel``: the runs of the store file, this home's live server or a
remote API (dagy.backend chooses), printed the same way in each."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from dagy.cli import _style

if TYPE_CHECKING:
    from dagy.backend import Backend
    from dagy.backend.records import Run

PROFILE_HELP = "Dagy profile (which API, or this home's store, to look at)."


def _backend(profile: str | None) -> Backend:
    from dagy.backend import open_backend
    from dagy.config.paths import DagyPaths

    return open_backend(DagyPaths.from_env(), profile)


def _iso(value: object) -> str:
    import datetime as _dt

    if not isinstance(value, _dt.datetime):
        return "-"
    return value.replace(microsecond=0).isoformat() + "Z"


@click.group("runs")
def runs() -> None:
    """Inspect, retry and cancel runs."""


def collect(
    backend: Backend, limit: int, status: str | None, flow_name: str | None
) -> tuple[list[Run], int | None, bool]:
    """Up to ``limit`` runs (0: all), newest first, page by page; (runs, how many match in all
    when the backend can say, whether more exist)."""
    items: list[Run] = []
    token: str | None = None
    total: int | None = None
    while True:
        want = 100 if not limit else min(100, limit - len(items))
        page = backend.runs.list(status=status, flow_name=flow_name, limit=want, next_token=token)
        total = page.total if total is None else total
        items += page.items
        token = page.next_token
        if not token or (limit and len(items) >= limit):
            return items, total, bool(token)


@runs.command("list")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Newest N runs (0 for all).",
)
@click.option("--status", default=None, help="Only runs with this status (e.g. FAILED).")
@click.option("--flow", "flow_name", default=None, help="Only runs of this flow name.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of lines.")
@click.option("--profile", default=None, help=PROFILE_HELP)
def list_(
    limit: int, status: str | None, flow_name: str | None, as_json: bool, profile: str | None
) -> None:
    """List runs, newest first: run id, status, start time, flow."""
    records, total, more = collect(_backend(profile), limit, status, flow_name)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in records], indent=2))
        return
    if not records:
        click.echo("No runs found.")
        return
    click.echo(
        "\n".join(
            f"{r.run_id} {_style.state(r.status)} {_iso(r.started_at or r.created_at)} {r.flow_id}"
            for r in records
        )
    )
    if total is not None and total > len(records):
        click.echo(f"({len(records)} of {total} runs shown; use --limit 0 for all)", err=True)
    elif total is None and more:
        click.echo(f"({len(records)} runs shown, more exist; use --limit 0 for all)", err=True)


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the run and its task runs as JSON.")
@click.option("--profile", default=None, help=PROFILE_HELP)
def show(run_id: str, as_json: bool, profile: str | None) -> None:
    """Show a run and its task runs."""
    detail = _backend(profile).runs.get(run_id)
    run = detail.run
    if as_json:
        data = run.to_json()
        data["task_runs"] = [t.to_json() for t in detail.task_runs]
        click.echo(json.dumps(data, indent=2))
        return
    lines = [
        f"Run: {run.run_id} status={run.status} flow={run.flow_id}",
        f"Start: {_iso(run.started_at)} End: {_iso(run.ended_at)}",
    ]
    if run.retry_of:
        lines.append(f"Retry of: {run.retry_of}")
    if run.replay_of:
        lines.append(f"Replay of: {run.replay_of}")
    if run.error:
        lines.append(f"Error: {run.error}")
    for t in detail.task_runs:
        line = f"- {t.task_run_id} {t.task_name} status={t.status} attempt={t.attempt}"
        if t.reused_from:
            line += f" (reused from {t.reused_from})"
        lines.append(line)
        if t.error and t.status != "SUCCEEDED":
            lines.append(f"    error: {t.error}")
    click.echo("\n".join(lines))


@runs.command("retry")
@click.argument("run_id")
@click.option(
    "--max-workers",
    type=int,
    default=None,
    help="Worker threads (default: the original run's; a server sizes its own runs).",
)
@click.option("--no-wait", is_flag=True, help="Start the retry and print its id; do not wait.")
@click.option("--run-id", "new_id", default=None, hidden=True)  # set by start_retry's process
@click.option("--profile", default=None, help=PROFILE_HELP)
def retry(
    run_id: str, max_workers: int | None, no_wait: bool, new_id: str | None, profile: str | None
) -> None:
    """Start a new run of a failed or cancelled run's flow, re-executing only the task runs
    that did not succeed; the artifacts of those that did are reused.

    Without a server it executes here; on a server (this home's or an API) it is queued there,
    and the command waits for it to end. Either way it prints
    `Run completed: <run_id> status=<STATUS>` (with --no-wait: `Run queued: <run_id>`).
    """
    backend = _backend(profile)
    if no_wait:
        click.echo(f"Run queued: {backend.runs.start_retry(run_id)}")
        return
    from dagy.cli.run_cmd import _report, interrupts_cancel

    with interrupts_cancel():
        record = backend.runs.retry(run_id, max_workers=max_workers, new_id=new_id)
    _report(record)


@runs.command("cancel")
@click.argument("run_id")
@click.option("--profile", default=None, help=PROFILE_HELP)
def cancel(run_id: str, profile: str | None) -> None:
    """Cancel a queued or running run.

    On a server (this home's live one or an API) the server cancels it. From the store file, the
    `dagy run` process of this host executing it gets SIGTERM and records it CANCELLED, as on
    Ctrl+C; a queued run is cancelled at once. Prints `Run cancelled: <run_id> status=CANCELLED`.
    """
    ended = _backend(profile).runs.cancel(run_id)
    click.echo(f"Run cancelled: {ended.run_id} status={ended.status}")


@runs.command("replay")
@click.argument("run_id")
@click.option(
    "--from",
    "from_step",
    default=None,
    help="Rerun this step (a task run id, or a task or step name) and all downstream of it; "
    "reuse the recorded results of what is upstream.",
)
@click.option("--profile", default=None, help=PROFILE_HELP)
def replay(run_id: str, from_step: str | None, profile: str | None) -> None:
    """Re-run a finished run's flow or pipeline as it is now, with that run's parameters.

    Steps whose code and inputs are unchanged (same source hash, same inputs, upstream reused)
    are not executed: their recorded results are reused, so no live system is called for them.
    With --from, the step and what is downstream run, what is upstream is reused. The replay is a
    new run linked to the source (`Replay of:` in `dagy runs show`). Without a server it executes
    here; on a server it is queued there and the command waits. Prints
    `Run completed: <run_id> status=<STATUS>` (exit codes as for `dagy run`). See docs/replay.md.
    """
    from dagy.cli._progress import RunProgress, is_terminal
    from dagy.cli.run_cmd import _report, interrupts_cancel

    backend = _backend(profile)
    with interrupts_cancel():
        if backend.mode == "store" and is_terminal():
            with RunProgress() as progress:
                record = backend.runs.replay(run_id, from_step=from_step, progress=progress)
        else:
            record = backend.runs.replay(run_id, from_step=from_step)
    _report(record)


def _seconds(value: object) -> str:
    return f"{value:.3f}s" if isinstance(value, (int, float)) else "-"


def _pair(a: object, b: object, fmt: object = str) -> str:
    show = fmt if callable(fmt) else str
    left = "-" if a is None else show(a)
    right = "-" if b is None else show(b)
    return left if left == right else f"{left} → {right}"


def diff_lines(body: dict[str, Any]) -> list[str]:
    """`dagy runs diff` as a table: one row per task run; a map's unchanged children folded into
    one line; a changed result's JSON differences under its row."""
    a, b = body["run_a"], body["run_b"]
    head = ["TASK RUN", "STATUS", "DURATION", "ATTEMPTS", "SOURCE", "RESULT"]
    rows: list[list[str]] = []
    notes: dict[int, list[str]] = {}
    folded: dict[str, int] = {}
    for item in body["items"]:
        same = item["result"] == "reused" or (
            item["result"] in ("equal", "none")
            and item["source"] != "changed"
            and item["status_a"] == item["status_b"]
        )
        if item["parent"] and same:
            folded[item["parent"]] = folded.get(item["parent"], 0) + 1
            continue
        rows.append(
            [
                ("  " if item["parent"] else "") + item["task_run_id"],
                _pair(item["status_a"], item["status_b"]),
                _pair(item["duration_a"], item["duration_b"], _seconds),
                _pair(item["attempts_a"], item["attempts_b"]),
                item["source"] or "-",
                item["result"],
            ]
        )
        lines = [
            f"      {c['path']}: {c['a'] or '(absent)'} → {c['b'] or '(absent)'}"
            for c in item["changes"]
        ]
        if item.get("more_changes"):
            lines.append(f"      … {item['more_changes']} more differences")
        if lines:
            notes[len(rows) - 1] = lines
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    out = [
        f"Run A: {a['run_id']} ({a['status']})  Run B: {b['run_id']} ({b['status']})",
        "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip(),
    ]
    for i, row in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        out += notes.get(i, [])
    for parent, count in folded.items():
        out.append(f"({count} unchanged map children of {parent} not shown)")
    s = body["summary"]
    out.append(
        f"{s['task_runs']} task runs, {s['different']} different"
        + "".join(
            f", {s[k]} {k.replace('_', ' ')}"
            for k in ("changed", "missing", "source_changed", "unavailable")
            if s.get(k)
        )
    )
    return out


@runs.command("diff")
@click.argument("run_a")
@click.argument("run_b")
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON (the API's body).")
@click.option("--profile", default=None, help=PROFILE_HELP)
def diff(run_a: str, run_b: str, as_json: bool, profile: str | None) -> None:
    """Compare two runs task run by task run: status, duration, attempts, source hash (equal or
    changed) and result (equal, changed with a short JSON diff, missing from one run).

    Exit code 0 whether or not the runs differ (read the summary line or --json's ``summary``);
    1 with a one-line error for an unknown run. See docs/replay.md.
    """
    body = _backend(profile).runs.diff(run_a, run_b)
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    click.echo("\n".join(diff_lines(body)))


@runs.command("artifacts")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of lines.")
@click.option("--profile", default=None, help=PROFILE_HELP)
def artifacts(run_id: str, as_json: bool, profile: str | None) -> None:
    """List a run's stored files: each task run's result.json and the files it wrote.

    One line per file: task run id, task name, file name, size in bytes, content type. A task that
    returned nothing and wrote nothing has no line. The API serves each file at
    GET /v1/runs/<run_id>/artifacts/<task_run_id>/<name>.
    """
    backend = _backend(profile)
    files = []
    token: str | None = None
    while True:
        page = backend.runs.artifacts(run_id, limit=500, next_token=token)
        files += page.items
        token = page.next_token
        if not token:
            break
    if as_json:
        click.echo(json.dumps([f.to_json() for f in files], indent=2))
        return
    if not files:
        click.echo(f"No stored files for run {run_id}")
        return
    for f in files:
        click.echo(f"{f.task_run_id} {f.task_name} {f.name} {f.size} {f.content_type}")
