-- Accounts for `dagy serve`: users, org memberships, access tokens, API keys and the audit log.
-- Secrets never land here in clear: passwords are scrypt hashes, tokens and keys SHA-256 hashes.
ALTER TABLE orgs ADD COLUMN plan VARCHAR DEFAULT 'free';
ALTER TABLE orgs ADD COLUMN owner_email VARCHAR;

CREATE TABLE users (
    email           VARCHAR PRIMARY KEY,   -- lower-cased
    password_hash   VARCHAR,               -- NULL: invited, no password yet
    super_admin     BOOLEAN NOT NULL DEFAULT false,
    default_org_id  VARCHAR,
    created_at      TIMESTAMP NOT NULL
);

CREATE TABLE memberships (
    member_id   VARCHAR PRIMARY KEY,
    org_id      VARCHAR NOT NULL,
    email       VARCHAR NOT NULL,
    role        VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,          -- invited | active
    added_at    TIMESTAMP NOT NULL,
    joined_at   TIMESTAMP,
    updated_at  TIMESTAMP
);

CREATE TABLE access_tokens (
    token_id      VARCHAR PRIMARY KEY,
    token_hash    VARCHAR NOT NULL,
    email         VARCHAR NOT NULL,
    org_id        VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    revoked_at    TIMESTAMP,
    user_agent    VARCHAR
);

CREATE TABLE api_keys (
    key_id        VARCHAR PRIMARY KEY,
    org_id        VARCHAR NOT NULL,
    created_by    VARCHAR NOT NULL,
    name          VARCHAR NOT NULL,
    key_hash      VARCHAR NOT NULL,
    key_prefix    VARCHAR NOT NULL,
    scopes        VARCHAR NOT NULL,        -- JSON list
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP,
    last_used_at  TIMESTAMP,
    deleted_at    TIMESTAMP
);

CREATE TABLE audit_log (
    audit_id       VARCHAR PRIMARY KEY,
    org_id         VARCHAR NOT NULL,
    ts             TIMESTAMP NOT NULL,
    actor_email    VARCHAR,
    action         VARCHAR NOT NULL,
    resource_type  VARCHAR NOT NULL,
    resource_id    VARCHAR,
    resource_name  VARCHAR,
    changes        VARCHAR,                -- JSON
    ip_address     VARCHAR,
    user_agent     VARCHAR
);
CREATE INDEX audit_log_org_ts ON audit_log (org_id, ts);
