-- How many tries the answer took (retries and fallbacks included);
-- NULL when no upstream was called (a cache hit, a rejected call).
ALTER TABLE requests ADD COLUMN attempts BIGINT;
