-- Flows and deployments registered with the API, and the event queue the server's workers consume.
CREATE TABLE flows (
    org_id              VARCHAR NOT NULL,
    flow_name           VARCHAR NOT NULL,
    flow_version        VARCHAR NOT NULL,
    deployment_version  INTEGER NOT NULL,      -- 1, 2, ... per flow, in registration order
    flow_spec           VARCHAR NOT NULL,      -- JSON FlowSpec
    artifact_uri        VARCHAR,               -- where the artifact zip lives (artifact store URI)
    code_hash           VARCHAR,
    namespace           VARCHAR,
    tags                VARCHAR,               -- JSON object
    status              VARCHAR NOT NULL DEFAULT 'active',
    default_executor    VARCHAR,
    deployment_name     VARCHAR,
    schedule            VARCHAR,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, flow_name, flow_version)
);

CREATE TABLE deployments (
    deployment_id             VARCHAR NOT NULL,
    org_id                    VARCHAR NOT NULL,
    name                      VARCHAR NOT NULL,
    flow_name                 VARCHAR NOT NULL,
    flow_version              VARCHAR NOT NULL,
    environment               VARCHAR,
    status                    VARCHAR NOT NULL DEFAULT 'active',
    schedule                  VARCHAR,
    timezone                  VARCHAR,
    default_executor          VARCHAR,
    execution_mode            VARCHAR,
    tags                      VARCHAR,         -- JSON object
    dep_package_slugs         VARCHAR,         -- JSON list
    max_concurrent_runs       INTEGER,         -- NULL: only the server-wide limit applies
    created_at                TIMESTAMP NOT NULL,
    updated_at                TIMESTAMP NOT NULL,
    promoted_from_env         VARCHAR,
    promoted_from_deployment  VARCHAR,
    promoted_at               TIMESTAMP,
    PRIMARY KEY (org_id, name)
);

-- Every version change of a deployment (create, update, patch, rollback), newest last.
CREATE TABLE deployment_history (
    org_id            VARCHAR NOT NULL,
    deployment_name   VARCHAR NOT NULL,
    seq               INTEGER NOT NULL,
    flow_version      VARCHAR NOT NULL,
    previous_version  VARCHAR,
    action            VARCHAR NOT NULL,
    actor_email       VARCHAR,
    changed_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, deployment_name, seq)
);

-- The event log and queue: flow_trigger events are claimed by the server's workers; status events
-- record what happened to runs. Rows are kept (the event log) and pruned by age.
CREATE SEQUENCE event_seq START 1;
CREATE TABLE events (
    event_id         BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),
    org_id           VARCHAR NOT NULL,
    type             VARCHAR NOT NULL,         -- flow_trigger | run_status_update | ...
    status           VARCHAR NOT NULL,         -- pending | processing | done | failed
    run_id           VARCHAR,
    flow_name        VARCHAR,
    deployment_name  VARCHAR,
    payload          VARCHAR,                  -- JSON
    created_at       TIMESTAMP NOT NULL,
    claimed_at       TIMESTAMP,
    finished_at      TIMESTAMP,
    attempts         INTEGER NOT NULL DEFAULT 0,
    error            VARCHAR
);

ALTER TABLE runs ADD COLUMN execution_mode VARCHAR;
ALTER TABLE runs ADD COLUMN tags VARCHAR;             -- JSON list
