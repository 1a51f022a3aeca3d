-- Credits: an org's balance for metered features (the AI studio's turns), shared by the AI studio
-- (spends) and super admins (adjust). Changed only through dagy/services/accounts/credits.py, each
-- change a credit_ledger row in the same transaction; a balance never goes below zero.
CREATE TABLE org_credits (
    org_id      VARCHAR PRIMARY KEY,
    balance     DOUBLE NOT NULL CHECK (balance >= 0),
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE credit_ledger (
    entry_id    VARCHAR PRIMARY KEY,
    org_id      VARCHAR NOT NULL,
    delta       DOUBLE NOT NULL,
    balance     DOUBLE NOT NULL,              -- the balance after this change
    reason      VARCHAR NOT NULL,             -- grant | spend | adjust
    ref         VARCHAR,                      -- what it was for: a turn id, an admin's note
    actor       VARCHAR,                      -- email of who caused it
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX credit_ledger_org ON credit_ledger (org_id, created_at);
