-- Notifications: channels, alert rules, what fired, and the jobs the server's delivery thread sends
-- (dagy/notify/, docs/notifications.md).

-- A channel's secret fields (a webhook's signing secret, a PagerDuty routing key, a Slack webhook
-- URL) are kept only sealed with the master key, like secrets; config_json holds the rest.
CREATE TABLE channels (
    channel_id     VARCHAR PRIMARY KEY,
    org_id         VARCHAR NOT NULL,
    name           VARCHAR NOT NULL,
    channel_type   VARCHAR NOT NULL,      -- slack | email | webhook | pagerduty
    config_json    VARCHAR NOT NULL,      -- JSON object without the secret fields
    key_id         VARCHAR,               -- the master key that sealed sealed_config
    sealed_config  BLOB,                  -- the secret fields as a JSON object, sealed; NULL: none
    enabled        BOOLEAN NOT NULL DEFAULT true,
    created_by     VARCHAR,
    created_at     TIMESTAMP NOT NULL
);

CREATE TABLE alert_rules (
    rule_id      VARCHAR PRIMARY KEY,
    org_id       VARCHAR NOT NULL,
    name         VARCHAR NOT NULL,
    trigger      VARCHAR NOT NULL,        -- on_failure | on_success | on_retry | on_sla_breach
    flow_name    VARCHAR,                 -- NULL: every flow
    sla_seconds  DOUBLE,                  -- on_sla_breach only
    channel_ids  VARCHAR[] NOT NULL,
    enabled      BOOLEAN NOT NULL DEFAULT true,
    created_by   VARCHAR,
    created_at   TIMESTAMP NOT NULL
);

-- A rule fires at most once per run (an SLA breach seen by every watchdog tick, an event seen
-- again after a crash): this row is the proof it did.
CREATE TABLE alert_firings (
    rule_id   VARCHAR NOT NULL,
    run_id    VARCHAR NOT NULL,
    fired_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (rule_id, run_id)
);

-- One job per channel a firing reaches: pending until delivered, or failed after the last attempt.
CREATE SEQUENCE notification_job_seq START 1;
CREATE TABLE notification_jobs (
    job_id           BIGINT PRIMARY KEY DEFAULT nextval('notification_job_seq'),
    org_id           VARCHAR NOT NULL,
    channel_id       VARCHAR NOT NULL,
    rule_id          VARCHAR,
    run_id           VARCHAR,
    event            VARCHAR NOT NULL,    -- run.succeeded | run.failed | run.retried | run.sla_breach
    payload          VARCHAR NOT NULL,    -- JSON: the notification as every channel type renders it
    status           VARCHAR NOT NULL,    -- pending | delivered | failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP,
    last_error       VARCHAR
);

-- Every attempt to reach a channel (a job's, or POST /alert-rules/{id}/test's: job_id NULL).
CREATE SEQUENCE notification_delivery_seq START 1;
CREATE TABLE notification_deliveries (
    delivery_id   BIGINT PRIMARY KEY DEFAULT nextval('notification_delivery_seq'),
    org_id        VARCHAR NOT NULL,
    channel_id    VARCHAR NOT NULL,
    job_id        BIGINT,
    rule_id       VARCHAR,
    run_id        VARCHAR,
    event         VARCHAR NOT NULL,
    attempt       INTEGER NOT NULL,
    attempted_at  TIMESTAMP NOT NULL,
    success       BOOLEAN NOT NULL,
    status_code   INTEGER,                -- the receiver's HTTP status (or SMTP reply code)
    error         VARCHAR,                -- never holds a secret (senders scrub them)
    duration_ms   INTEGER NOT NULL
);

-- How far the matcher has read the events table. It starts at the events already there: runs
-- that ended before notifications existed are not announced.
CREATE TABLE notification_cursor (
    name           VARCHAR PRIMARY KEY,
    last_event_id  BIGINT NOT NULL
);
INSERT INTO notification_cursor SELECT 'events', coalesce(max(event_id), 0) FROM events;
