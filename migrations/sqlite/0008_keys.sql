-- Keys gain a name, an expiry and the models they may call, and rotation:
-- after `rotate`, the old secret (previous_hash) keeps working until
-- previous_expires_at, under the same key id.
ALTER TABLE api_keys ADD COLUMN name TEXT;
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
ALTER TABLE api_keys ADD COLUMN allowed_models TEXT;
ALTER TABLE api_keys ADD COLUMN previous_hash TEXT;
ALTER TABLE api_keys ADD COLUMN previous_hint TEXT;
ALTER TABLE api_keys ADD COLUMN previous_expires_at BIGINT;
CREATE INDEX api_keys_previous_hash ON api_keys(previous_hash);
-- Which secret of the key a request used (its hint).
ALTER TABLE requests ADD COLUMN key_hint TEXT;
