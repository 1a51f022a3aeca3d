-- What a super admin sets on a customer org (issue 18): its status (a suspended org's members,
-- keys, webhooks, sensors and schedules are refused), quota overrides the server enforces, feature
-- flags features check (dagy/services/accounts/features.py), and notes.
ALTER TABLE orgs ADD COLUMN status VARCHAR DEFAULT 'active';      -- active | suspended
ALTER TABLE orgs ADD COLUMN suspended_at TIMESTAMP;
ALTER TABLE orgs ADD COLUMN quota_overrides VARCHAR DEFAULT '{}'; -- JSON object: quota -> limit
ALTER TABLE orgs ADD COLUMN feature_flags VARCHAR DEFAULT '{}';   -- JSON object: flag -> bool
ALTER TABLE orgs ADD COLUMN notes VARCHAR;
