"""SQL for flows, deployments, deployment history and the event queue."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, fields
from typing import Any

from dagy.store.duckdb_store import DuckDBStore


@dataclass
class FlowVersion:
    org_id: str
    flow_name: str
    flow_version: str
    deployment_version: int
    flow_spec: str
    artifact_uri: str | None
    code_hash: str | None
    namespace: str | None
    tags: str | None  # JSON object
    status: str
    default_executor: str | None
    deployment_name: str | None
    schedule: str | None
    created_at: _dt.datetime
    updated_at: _dt.datetime

    @property
    def tag_map(self) -> dict[str, Any]:
        return dict(json.loads(self.tags)) if self.tags else {}


@dataclass
class Deployment:
    deployment_id: str
    org_id: str
    name: str
    flow_name: str
    flow_version: str
    environment: str | None
    status: str
    schedule: str | None
    timezone: str | None
    default_executor: str | None
    execution_mode: str | None
    tags: str | None  # JSON object
    dep_package_slugs: str | None  # JSON list
    max_concurrent_runs: int | None
    created_at: _dt.datetime
    updated_at: _dt.datetime
    promoted_from_env: str | None = None
    promoted_from_deployment: str | None = None
    promoted_at: _dt.datetime | None = None

    @property
    def tag_map(self) -> dict[str, Any]:
        return dict(json.loads(self.tags)) if self.tags else {}

    @property
    def slugs(self) -> list[str]:
        return list(json.loads(self.dep_package_slugs)) if self.dep_package_slugs else []


@dataclass
class FlowSummary:
    """One flow as GET /flows lists it: its active (else latest) version, and its time span."""

    version: FlowVersion
    first_created_at: _dt.datetime
    last_updated_at: _dt.datetime


@dataclass
class History:
    """One version change of a deployment (deployment_history)."""

    org_id: str
    deployment_name: str
    seq: int
    flow_version: str
    previous_version: str | None
    action: str
    actor_email: str | None
    changed_at: _dt.datetime


@dataclass
class FlowDeletion:
    """What deleting a flow removed from the store; the caller removes the files it names."""

    versions: list[str]
    deployments: list[str]
    run_ids: list[str]
    task_runs: int
    events: int
    artifact_uris: list[str]


@dataclass
class Event:
    event_id: int
    org_id: str
    type: str
    status: str
    run_id: str | None
    flow_name: str | None
    deployment_name: str | None
    payload: str | None
    created_at: _dt.datetime
    claimed_at: _dt.datetime | None
    finished_at: _dt.datetime | None
    attempts: int
    error: str | None


def _names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def _select(cls: type, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + n for n in _names(cls))


def _insert(con: Any, table: str, record: Any) -> None:
    names = _names(type(record))
    con.execute(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
        [getattr(record, n) for n in names],
    )


def _transaction(store: DuckDBStore, *statements: tuple[str, list[Any]]) -> None:
    with store.transaction() as con:
        for sql, params in statements:
            con.execute(sql, params)


def _update(con: Any, table: str, where: dict[str, Any], changes: dict[str, Any]) -> None:
    if not changes:
        return
    sets = ", ".join(f"{k} = ?" for k in changes)
    cond = " AND ".join(f"{k} = ?" for k in where)
    con.execute(f"UPDATE {table} SET {sets} WHERE {cond}", [*changes.values(), *where.values()])


# -- flows ------------------------------------------------------------------------------------------


def get_flow_version(
    store: DuckDBStore, org_id: str, flow_name: str, flow_version: str
) -> FlowVersion | None:
    with store.reading() as con:
        row = con.execute(
            f"SELECT {_select(FlowVersion)} FROM flows "
            "WHERE org_id = ? AND flow_name = ? AND flow_version = ?",
            [org_id, flow_name, flow_version],
        ).fetchone()
    return FlowVersion(*row) if row else None


def latest_flow_version(store: DuckDBStore, org_id: str, flow_name: str) -> FlowVersion | None:
    with store.reading() as con:
        row = con.execute(
            f"SELECT {_select(FlowVersion)} FROM flows WHERE org_id = ? AND flow_name = ? "
            "ORDER BY deployment_version DESC LIMIT 1",
            [org_id, flow_name],
        ).fetchone()
    return FlowVersion(*row) if row else None


def next_deployment_version(store: DuckDBStore, org_id: str, flow_name: str) -> int:
    with store.reading() as con:
        row = con.execute(
            "SELECT coalesce(max(deployment_version), 0) + 1 FROM flows "
            "WHERE org_id = ? AND flow_name = ?",
            [org_id, flow_name],
        ).fetchone()
    return int(row[0]) if row else 1


def insert_flow_version(store: DuckDBStore, flow: FlowVersion) -> None:
    with store.connection() as con:
        _insert(con, "flows", flow)


def update_flow_version(
    store: DuckDBStore, org_id: str, flow_name: str, flow_version: str, **changes: Any
) -> None:
    with store.connection() as con:
        _update(
            con,
            "flows",
            {"org_id": org_id, "flow_name": flow_name, "flow_version": flow_version},
            changes,
        )


def flow_versions(store: DuckDBStore, org_id: str, flow_name: str) -> list[FlowVersion]:
    """Every version of a flow, newest registration first."""
    with store.reading() as con:
        rows = con.execute(
            f"SELECT {_select(FlowVersion)} FROM flows WHERE org_id = ? AND flow_name = ? "
            "ORDER BY deployment_version DESC",
            [org_id, flow_name],
        ).fetchall()
    return [FlowVersion(*row) for row in rows]


def flows_page(
    store: DuckDBStore, org_id: str, *, after: str | None, limit: int
) -> list[FlowSummary]:
    """One row per flow name after ``after`` (by name): its active version, else its latest;
    without its FlowSpec (``flow_spec`` None: a list shows none, and a spec can be megabytes)."""
    columns = ", ".join("NULL" if n == "flow_spec" else n for n in _names(FlowVersion))
    with store.reading() as con:
        rows = con.execute(
            f"""
            SELECT {columns}, first_created_at, last_updated_at FROM (
                SELECT * EXCLUDE (flow_spec),
                    row_number() OVER (
                        PARTITION BY flow_name
                        ORDER BY (status = 'active') DESC, deployment_version DESC
                    ) AS pick,
                    min(created_at) OVER (PARTITION BY flow_name) AS first_created_at,
                    max(updated_at) OVER (PARTITION BY flow_name) AS last_updated_at
                FROM flows WHERE org_id = ? AND (?::VARCHAR IS NULL OR flow_name > ?)
            ) WHERE pick = 1 ORDER BY flow_name LIMIT ?
            """,
            [org_id, after, after, limit],
        ).fetchall()
    return [FlowSummary(FlowVersion(*row[:-2]), row[-2], row[-1]) for row in rows]


def set_active_version(store: DuckDBStore, org_id: str, flow_name: str, flow_version: str) -> None:
    """Mark one version of a flow ``active`` and the others ``inactive``."""
    with store.connection() as con:
        con.execute(
            "UPDATE flows SET status = CASE WHEN flow_version = ? THEN 'active' ELSE 'inactive' END "
            "WHERE org_id = ? AND flow_name = ? "
            "AND status <> CASE WHEN flow_version = ? THEN 'active' ELSE 'inactive' END",
            [flow_version, org_id, flow_name, flow_version],
        )


# -- deployments ------------------------------------------------------------------------------------


def get_deployment(store: DuckDBStore, org_id: str, name: str) -> Deployment | None:
    with store.reading() as con:
        row = con.execute(
            f"SELECT {_select(Deployment)} FROM deployments WHERE org_id = ? AND name = ?",
            [org_id, name],
        ).fetchone()
    return Deployment(*row) if row else None


def deployments_page(
    store: DuckDBStore,
    org_id: str,
    *,
    environment: str | None,
    after: str | None,
    limit: int,
) -> list[Deployment]:
    """The org's deployments by name, after ``after``, optionally of one environment."""
    with store.reading() as con:
        rows = con.execute(
            f"SELECT {_select(Deployment)} FROM deployments WHERE org_id = ? "
            "AND (?::VARCHAR IS NULL OR environment = ?) "
            "AND (?::VARCHAR IS NULL OR name > ?) ORDER BY name LIMIT ?",
            [org_id, environment, environment, after, after, limit],
        ).fetchall()
    return [Deployment(*row) for row in rows]


def insert_deployment(store: DuckDBStore, deployment: Deployment) -> None:
    with store.connection() as con:
        _insert(con, "deployments", deployment)


def update_deployment(store: DuckDBStore, org_id: str, name: str, **changes: Any) -> None:
    with store.connection() as con:
        _update(con, "deployments", {"org_id": org_id, "name": name}, changes)


def add_history(
    store: DuckDBStore,
    org_id: str,
    deployment_name: str,
    flow_version: str,
    previous_version: str | None,
    action: str,
    actor_email: str | None,
    at: _dt.datetime,
) -> None:
    with store.connection() as con:
        con.execute(
            "INSERT INTO deployment_history SELECT ?, ?, coalesce(max(seq), 0) + 1, ?, ?, ?, ?, ? "
            "FROM deployment_history WHERE org_id = ? AND deployment_name = ?",
            [
                org_id,
                deployment_name,
                flow_version,
                previous_version,
                action,
                actor_email,
                at,
                org_id,
                deployment_name,
            ],
        )


def last_history(store: DuckDBStore, org_id: str, deployment_name: str) -> History | None:
    """The deployment's most recent version change."""
    with store.reading() as con:
        row = con.execute(
            f"SELECT {_select(History)} FROM deployment_history "
            "WHERE org_id = ? AND deployment_name = ? ORDER BY seq DESC LIMIT 1",
            [org_id, deployment_name],
        ).fetchone()
    return History(*row) if row else None


def delete_deployment(store: DuckDBStore, org_id: str, name: str) -> None:
    """The deployment and its history; flow versions registered with it forget its name."""
    with store.connection():
        _transaction(
            store,
            (
                "DELETE FROM deployment_history WHERE org_id = ? AND deployment_name = ?",
                [org_id, name],
            ),
            ("DELETE FROM deployments WHERE org_id = ? AND name = ?", [org_id, name]),
            (
                "UPDATE flows SET deployment_name = NULL WHERE org_id = ? AND deployment_name = ?",
                [org_id, name],
            ),
        )


# -- deleting a flow --------------------------------------------------------------------------------


def active_run_ids(store: DuckDBStore, org_id: str, flow_name: str) -> list[str]:
    """Runs of the flow that are queued or running."""
    with store.reading() as con:
        rows = con.execute(
            "SELECT run_id FROM runs WHERE org_id = ? AND flow_name = ? "
            "AND status IN ('PENDING', 'RUNNING') ORDER BY created_at",
            [org_id, flow_name],
        ).fetchall()
    return [row[0] for row in rows]


def delete_flow(store: DuckDBStore, org_id: str, flow_name: str) -> FlowDeletion:
    """Every version of the flow, its deployments and their history, its runs and task runs, and
    its pending events, in one transaction."""
    org_flow = [org_id, flow_name]
    runs_of_flow = "SELECT run_id FROM runs WHERE org_id = ? AND flow_name = ?"
    deployments_of_flow = "SELECT name FROM deployments WHERE org_id = ? AND flow_name = ?"
    with store.connection() as con:
        run_ids = [
            r[0] for r in con.execute(runs_of_flow + " ORDER BY run_id", org_flow).fetchall()
        ]
        names = [
            r[0] for r in con.execute(deployments_of_flow + " ORDER BY name", org_flow).fetchall()
        ]
        uris = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT artifact_uri FROM flows WHERE org_id = ? AND flow_name = ? "
                "AND artifact_uri IS NOT NULL ORDER BY 1",
                org_flow,
            ).fetchall()
        ]
        versions = [
            r[0]
            for r in con.execute(
                "SELECT flow_version FROM flows WHERE org_id = ? AND flow_name = ? "
                "ORDER BY deployment_version",
                org_flow,
            ).fetchall()
        ]
        counts = con.execute(
            f"SELECT (SELECT count(*) FROM task_runs WHERE run_id IN ({runs_of_flow})), "
            "(SELECT count(*) FROM events WHERE org_id = ? AND flow_name = ? AND status = 'pending')",
            org_flow * 2,
        ).fetchone()
        _transaction(
            store,
            (f"DELETE FROM task_runs WHERE run_id IN ({runs_of_flow})", org_flow),
            ("DELETE FROM runs WHERE org_id = ? AND flow_name = ?", org_flow),
            (
                "DELETE FROM events WHERE org_id = ? AND flow_name = ? AND status = 'pending'",
                org_flow,
            ),
            (
                "DELETE FROM deployment_history WHERE org_id = ? "
                f"AND deployment_name IN ({deployments_of_flow})",
                [org_id, *org_flow],
            ),
            ("DELETE FROM deployments WHERE org_id = ? AND flow_name = ?", org_flow),
            ("DELETE FROM flows WHERE org_id = ? AND flow_name = ?", org_flow),
        )
    task_runs, events = counts if counts else (0, 0)
    return FlowDeletion(versions, names, run_ids, int(task_runs), int(events), uris)


def artifact_in_use(store: DuckDBStore, artifact_uri: str) -> bool:
    """True while any flow version (of any org) still names this artifact."""
    with store.reading() as con:
        row = con.execute(
            "SELECT count(*) FROM flows WHERE artifact_uri = ?", [artifact_uri]
        ).fetchone()
    return bool(row and row[0])


# -- events -----------------------------------------------------------------------------------------


def insert_event(
    store: DuckDBStore,
    *,
    org_id: str,
    type: str,  # noqa: A002 - the column's name
    status: str,
    run_id: str | None = None,
    flow_name: str | None = None,
    deployment_name: str | None = None,
    payload: dict[str, Any] | None = None,
    at: _dt.datetime,
) -> int:
    with store.connection() as con:
        row = con.execute(
            "INSERT INTO events (org_id, type, status, run_id, flow_name, deployment_name, "
            "payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING event_id",
            [
                org_id,
                type,
                status,
                run_id,
                flow_name,
                deployment_name,
                json.dumps(payload) if payload is not None else None,
                at,
            ],
        ).fetchone()
    return int(row[0]) if row else 0


def get_event(store: DuckDBStore, event_id: int) -> Event | None:
    with store.reading() as con:
        row = con.execute(
            f"SELECT {_select(Event)} FROM events WHERE event_id = ?", [event_id]
        ).fetchone()
    return Event(*row) if row else None


def update_event(store: DuckDBStore, event_id: int, **changes: Any) -> None:
    with store.connection() as con:
        _update(con, "events", {"event_id": event_id}, changes)


def events_with_status(store: DuckDBStore, type: str, status: str) -> list[Event]:  # noqa: A002
    """Events of one type in one status, oldest first (the queue's order)."""
    with store.reading() as con:
        rows = con.execute(
            f"SELECT {_select(Event)} FROM events WHERE type = ? AND status = ? ORDER BY event_id",
            [type, status],
        ).fetchall()
    return [Event(*row) for row in rows]
