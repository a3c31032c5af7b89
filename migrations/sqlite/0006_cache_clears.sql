-- Clears of the response cache (`DELETE /v1/cache`), so that replicas sharing
-- this store drop their in-process copies too. `prompt` is NULL for "all".
CREATE TABLE cache_clears (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    prompt      TEXT,
    at          BIGINT NOT NULL
);
