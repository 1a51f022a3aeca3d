-- Environments (promotion order, protection, variables) and secrets. A secret's value is stored
-- only encrypted: AES-256-GCM under the master key named by key_id (see dagy/auth/crypto.py).
CREATE TABLE environments (
    env_id            VARCHAR PRIMARY KEY,
    org_id            VARCHAR NOT NULL,
    env_name          VARCHAR NOT NULL,
    default_executor  VARCHAR,
    config_json       VARCHAR NOT NULL DEFAULT '{}',   -- JSON object
    is_protected      BOOLEAN NOT NULL DEFAULT false,
    promotion_order   INTEGER NOT NULL,                -- 0, 1, ... within the org
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    UNIQUE (org_id, env_name)
);

-- Variables a run of the environment gets in its task processes' environment.
CREATE TABLE environment_variables (
    env_id      VARCHAR NOT NULL,
    var_key     VARCHAR NOT NULL,
    value       VARCHAR NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (env_id, var_key)
);

CREATE TABLE secrets (
    secret_id    VARCHAR PRIMARY KEY,
    org_id       VARCHAR NOT NULL,
    secret_name  VARCHAR NOT NULL,
    environment  VARCHAR NOT NULL DEFAULT '',  -- '' = every environment (the API shows null)
    key_id       VARCHAR NOT NULL,             -- which master key encrypted it
    ciphertext   BLOB NOT NULL,                -- nonce (12 bytes) || AES-256-GCM ciphertext and tag
    version      INTEGER NOT NULL DEFAULT 1,   -- +1 at each value change
    created_by   VARCHAR,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    UNIQUE (org_id, environment, secret_name)
);
