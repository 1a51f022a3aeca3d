-- Issue 18: audit rows written while a super admin impersonates an org (X-Impersonate-Org) name
-- the super admin here; the row's org_id is the impersonated org and actor_email the super admin.
ALTER TABLE audit_log ADD COLUMN impersonated_by VARCHAR;
-- When a super admin last changed the org (PATCH, suspend, activate); NULL: never (created_at).
ALTER TABLE orgs ADD COLUMN updated_at TIMESTAMP;
