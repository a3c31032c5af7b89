-- Experiments: rollout reports and guards read a prompt's records in a time
-- window. Partial, so records of raw (prompt-less) calls do not pay for it.
CREATE INDEX requests_prompt_created ON requests(prompt_name, created_at)
    WHERE prompt_name IS NOT NULL;
-- Why a label moved, when a machine moved it (a rollout guard's figures).
ALTER TABLE prompt_label_history ADD COLUMN reason TEXT;
