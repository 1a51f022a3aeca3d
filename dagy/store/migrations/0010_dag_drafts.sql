-- DAG drafts: a visual-builder canvas saved as a work in progress (docs/builder.md). Only its shape
-- is checked when saved; what else is wrong is computed on every read, never stored, so a change
-- to the node registry shows at once. deployed_*: the flow version its last deploy registered.
CREATE TABLE dag_drafts (
    draft_id               VARCHAR PRIMARY KEY,
    org_id                 VARCHAR NOT NULL,
    name                   VARCHAR NOT NULL,
    description            VARCHAR NOT NULL DEFAULT '',
    canvas_json            VARCHAR NOT NULL,            -- {"nodes": [...], "edges": [...]}
    flow_name              VARCHAR,                     -- what deploy registers a version of
    executor               VARCHAR,
    created_by             VARCHAR,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL,
    deployed_flow_version  VARCHAR,
    deployed_at            TIMESTAMP
);
CREATE INDEX dag_drafts_org ON dag_drafts (org_id, created_at, draft_id);
