-- Issue 18: an impersonation a super admin started with POST /admin/impersonate/{org_id}; the
-- X-Impersonate-Org header is honoured only while one is open (until expires_at).
CREATE TABLE impersonations (
    email       VARCHAR NOT NULL,   -- the super admin
    org_id      VARCHAR NOT NULL,   -- the org they act in
    started_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (email, org_id)
);
