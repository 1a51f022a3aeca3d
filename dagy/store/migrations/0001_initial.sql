-- Runs and task runs: the local engine's history. Every tenant row carries org_id so the server's
-- resources (later migrations) join them without rework; the local CLI writes the 'personal' org.
CREATE TABLE orgs (
    org_id      VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);
INSERT INTO orgs (org_id, name) VALUES ('personal', 'Personal');

CREATE TABLE runs (
    run_id          VARCHAR PRIMARY KEY,
    org_id          VARCHAR NOT NULL DEFAULT 'personal',
    flow_name       VARCHAR NOT NULL,
    flow_version    VARCHAR NOT NULL,
    deployment_name VARCHAR,
    entrypoint      VARCHAR,
    status          VARCHAR NOT NULL,
    trigger         VARCHAR NOT NULL DEFAULT 'cli',
    parameters      VARCHAR,            -- JSON
    flow_spec       VARCHAR,            -- JSON FlowSpec
    output          VARCHAR,            -- JSON of the flow's return value
    error           VARCHAR,
    retry_of        VARCHAR,
    executor        VARCHAR NOT NULL DEFAULT 'local',
    max_workers     INTEGER NOT NULL DEFAULT 1,
    fail_fast       BOOLEAN NOT NULL DEFAULT true,
    pid             INTEGER,
    pid_started     VARCHAR,            -- the process's start time, so a reused pid is not "alive"
    host            VARCHAR,
    created_at      TIMESTAMP NOT NULL,
    started_at      TIMESTAMP,
    ended_at        TIMESTAMP,
    events_offset   BIGINT NOT NULL DEFAULT 0,  -- bytes of events.jsonl already applied here
    files_pruned    BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE task_runs (
    run_id           VARCHAR NOT NULL,
    task_run_id      VARCHAR NOT NULL,
    org_id           VARCHAR NOT NULL DEFAULT 'personal',
    task_name        VARCHAR NOT NULL,
    seq              INTEGER NOT NULL,
    status           VARCHAR NOT NULL,
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 1,
    executor         VARCHAR,
    started_at       TIMESTAMP,
    ended_at         TIMESTAMP,
    duration_seconds DOUBLE,
    error            VARCHAR,
    artifact_path    VARCHAR,
    reused_from      VARCHAR,
    PRIMARY KEY (run_id, task_run_id)
);
