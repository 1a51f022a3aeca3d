-- The AI studio (docs/ai-studio.md): a user's sessions, the turns of each, and the files attached.
-- A session's canvas is the workflow as of its last valid build/modify turn (or canvas PATCH);
-- a turn row is written when the turn starts (status 'running'), so the same turn_id or
-- X-Idempotency-Key twice is a 409, and finished with its stored answer ('completed' or 'invalid').
CREATE TABLE studio_sessions (
    session_id   VARCHAR PRIMARY KEY,
    org_id       VARCHAR NOT NULL,
    user_email   VARCHAR NOT NULL,
    title        VARCHAR NOT NULL,
    tier         VARCHAR NOT NULL,
    status       VARCHAR NOT NULL DEFAULT 'active',   -- active | archived
    flow_name    VARCHAR,                             -- bind-flow
    draft_id     VARCHAR,                             -- the DAG draft a save made
    canvas_json  VARCHAR NOT NULL,                    -- {"nodes": [...], "edges": [...]}
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    archived_at  TIMESTAMP
);
CREATE INDEX studio_sessions_user ON studio_sessions (org_id, user_email, created_at, session_id);

CREATE TABLE studio_turns (
    turn_key         VARCHAR PRIMARY KEY,
    session_id       VARCHAR NOT NULL,
    org_id           VARCHAR NOT NULL,
    seq              INTEGER NOT NULL,                -- 1, 2, ... within the session
    turn_id          VARCHAR,                         -- the client's turn_id
    idempotency_key  VARCHAR,                         -- the X-Idempotency-Key header
    status           VARCHAR NOT NULL,                -- running | completed | invalid
    intent           VARCHAR,                         -- what the turn did: build | modify | advisory
    message          VARCHAR NOT NULL,
    response         VARCHAR,
    status_code      INTEGER,                         -- 200 or 422: what a replay answered
    result_json      VARCHAR,                         -- the stored answer (replayed in a 409)
    credits_used     DOUBLE NOT NULL DEFAULT 0,
    created_by       VARCHAR,
    created_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP
);
CREATE INDEX studio_turns_session ON studio_turns (session_id, seq);

CREATE TABLE studio_attachments (
    attachment_id  VARCHAR PRIMARY KEY,
    session_id     VARCHAR NOT NULL,
    org_id         VARCHAR NOT NULL,
    file_name      VARCHAR NOT NULL,
    content_type   VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,                  -- pdf | docx | pptx | csv | txt | md | json | yaml
    size_bytes     BIGINT,                            -- declared at initiate, actual at complete
    status         VARCHAR NOT NULL,                  -- pending | ready
    text           VARCHAR,                           -- what the provider sees
    created_by     VARCHAR,
    created_at     TIMESTAMP NOT NULL,
    completed_at   TIMESTAMP
);
CREATE INDEX studio_attachments_session ON studio_attachments (session_id, created_at);
