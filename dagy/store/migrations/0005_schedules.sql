-- Schedules: cron, interval, one-time and manual triggers of a flow version or a deployment.
-- next_run_at is the next due time in UTC (NULL: nothing due — manual, paused, finished, past
-- end_at); the scheduler loop of `dagy serve` fires what is due and advances it in the same
-- transaction as the run it queues, so a due time fires exactly once, across restarts too.
CREATE TABLE schedules (
    org_id            VARCHAR NOT NULL,
    schedule_id       VARCHAR NOT NULL,
    flow_name         VARCHAR NOT NULL,
    flow_version      VARCHAR,               -- JSON: "1.0.0" or 5 (a registration number); NULL: latest
    deployment_name   VARCHAR,               -- set: runs go through the deployment
    mode              VARCHAR NOT NULL,      -- cron | interval | one_time | manual
    enabled           BOOLEAN NOT NULL,
    timezone          VARCHAR NOT NULL,
    catchup_policy    VARCHAR NOT NULL,      -- skip | all | none
    cron_expression   VARCHAR,
    interval_seconds  BIGINT,
    one_time_at       TIMESTAMP,
    start_at          TIMESTAMP,
    end_at            TIMESTAMP,
    parameters        VARCHAR NOT NULL,      -- JSON object
    description       VARCHAR,
    environment       VARCHAR,
    next_run_at       TIMESTAMP,
    last_run_at       TIMESTAMP,
    last_run_id       VARCHAR,
    last_error        VARCHAR,               -- why the last due time queued no run (NULL: it did)
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, schedule_id)
);
