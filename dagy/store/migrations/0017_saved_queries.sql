-- Saved `dagy sql` queries: a name per org for a query over the history views (docs/sql.md).
CREATE TABLE saved_queries (
    org_id      VARCHAR NOT NULL,
    name        VARCHAR NOT NULL,
    sql         VARCHAR NOT NULL,
    created_by  VARCHAR,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, name)
);
