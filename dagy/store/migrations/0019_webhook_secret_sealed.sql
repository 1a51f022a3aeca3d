-- A webhook sensor's signing secret (X-Dagy-Signature) is kept only sealed with the master key,
-- like secret values: bound to its org and sensor, never in config_json. The SQL cannot seal (the
-- key lives outside the store): a secret stored in plaintext before this migration is sealed by
-- `dagy serve` at start-up, before it answers (sensors.seal_plaintext_secrets), and is verified
-- as it is until then.
ALTER TABLE sensors ADD COLUMN secret_key_id VARCHAR;  -- the master key that sealed sealed_secret
ALTER TABLE sensors ADD COLUMN sealed_secret BLOB;     -- the webhook secret, sealed; NULL: none
