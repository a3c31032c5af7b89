-- Experiments: rollout reports and guards aggregate one prompt's records in
-- a time window, per version. Partial, so raw (prompt-less) calls do not pay.
-- (PostgreSQL hash-aggregates, so it needs no index for the latency
-- histogram, unlike SQLite.)
CREATE INDEX requests_prompt_version ON requests(prompt_name, prompt_version, created_at)
    WHERE prompt_name IS NOT NULL;
-- Why a label moved, when a machine moved it (a rollout guard's figures).
ALTER TABLE prompt_label_history ADD COLUMN reason TEXT;
