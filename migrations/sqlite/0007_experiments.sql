-- Experiments: rollout reports and guards aggregate one prompt's records in
-- a time window, per version. Partial, so raw (prompt-less) calls do not pay.
-- Sums stream through this index in version order (no sort of the window),
-- reading rows in about the order they were written.
CREATE INDEX requests_prompt_version ON requests(prompt_name, prompt_version, created_at)
    WHERE prompt_name IS NOT NULL;
-- Latency histograms are read from this one alone (it covers the query):
-- the bucket expression is the one in src/store/sql/experiments.rs.
CREATE INDEX requests_prompt_latency ON requests(prompt_name, prompt_version, (CASE
    WHEN latency_us < 1000 THEN latency_us
    WHEN latency_us < 10000 THEN latency_us / 10 * 10
    WHEN latency_us < 100000 THEN latency_us / 100 * 100
    WHEN latency_us < 1000000 THEN latency_us / 1000 * 1000
    WHEN latency_us < 10000000 THEN latency_us / 10000 * 10000
    WHEN latency_us < 100000000 THEN latency_us / 100000 * 100000
    ELSE latency_us / 1000000 * 1000000 END), created_at, team)
    WHERE prompt_name IS NOT NULL;
-- Why a label moved, when a machine moved it (a rollout guard's figures).
ALTER TABLE prompt_label_history ADD COLUMN reason TEXT;
