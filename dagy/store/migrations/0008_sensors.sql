-- Sensors: event triggers of a flow (webhook, polling, s3). A webhook token is stored only as its
-- SHA-256 (webhook_token_hash) and a masked hint; what a sensor has already seen is kept here so a
-- restart never triggers twice for the same condition (last_fingerprint) or key (sensor_seen_keys).
CREATE TABLE sensors (
    sensor_id           VARCHAR PRIMARY KEY,
    org_id              VARCHAR NOT NULL,
    name                VARCHAR NOT NULL,
    sensor_type         VARCHAR NOT NULL,             -- webhook | polling | s3
    flow_name           VARCHAR NOT NULL,
    config_json         VARCHAR NOT NULL DEFAULT '{}', -- JSON object, checked per sensor_type
    flow_params_json    VARCHAR NOT NULL DEFAULT '{}', -- JSON object
    enabled             BOOLEAN NOT NULL DEFAULT true,
    webhook_token_hash  VARCHAR UNIQUE,               -- sha256 hex of the token (webhook only)
    webhook_token_hint  VARCHAR,                      -- "wh_AbCd***": what GET shows
    last_fingerprint    VARCHAR,                      -- polling: sha256 of the last value that fired
    next_check_at       TIMESTAMP,                    -- polling, s3: when the loop looks next
    last_checked_at     TIMESTAMP,
    last_error          VARCHAR,
    last_run_id         VARCHAR,
    last_triggered_at   TIMESTAMP,
    created_by          VARCHAR,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);

-- s3 sensors: every key already seen (present at creation, or triggered once).
CREATE TABLE sensor_seen_keys (
    sensor_id  VARCHAR NOT NULL,
    key        VARCHAR NOT NULL,
    seen_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (sensor_id, key)
);
