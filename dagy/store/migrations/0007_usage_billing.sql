-- Usage metering and billing. Runs and task runs already say what was done (their own tables);
-- these hold what they cannot: API calls (fed in batches by the server), per-org quota overrides,
-- the org's Stripe subscription, and the Stripe events already applied (a replay is a no-op).
CREATE TABLE api_calls (
    org_id  VARCHAR NOT NULL,
    day     DATE NOT NULL,
    calls   BIGINT NOT NULL,
    PRIMARY KEY (org_id, day)
);

-- A NULL limit keeps the plan's; a row overrides only the limits it sets.
CREATE TABLE quota_overrides (
    org_id                    VARCHAR PRIMARY KEY,
    monthly_runs              BIGINT,
    monthly_tasks             BIGINT,
    concurrent_runs           BIGINT,
    max_run_duration_seconds  BIGINT,
    updated_at                TIMESTAMP NOT NULL
);

CREATE TABLE billing_accounts (
    org_id              VARCHAR PRIMARY KEY,
    stripe_customer_id  VARCHAR,
    subscription_id     VARCHAR,
    status              VARCHAR,           -- Stripe's: active | past_due | canceled | ...
    plan                VARCHAR,
    billing_email       VARCHAR,
    cycle_start         TIMESTAMP,
    cycle_end           TIMESTAMP,
    card_brand          VARCHAR,
    card_last_four      VARCHAR,
    card_exp_month      INTEGER,
    card_exp_year       INTEGER,
    updated_at          TIMESTAMP NOT NULL
);

CREATE TABLE stripe_events (
    event_id      VARCHAR PRIMARY KEY,
    type          VARCHAR NOT NULL,
    org_id        VARCHAR,                 -- NULL: no org matched (recorded, nothing changed)
    processed_at  TIMESTAMP NOT NULL
);
