-- Teams, API keys (hashed), settings and request records.
-- Timestamps are Unix epoch milliseconds so both backends share one representation.
CREATE TABLE teams (
    name        TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    team        TEXT NOT NULL REFERENCES teams(name),
    key_hash    TEXT NOT NULL UNIQUE,
    hint        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX api_keys_team ON api_keys(team);

CREATE TABLE settings (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL
);

CREATE TABLE requests (
    seq               BIGSERIAL PRIMARY KEY,
    id                TEXT NOT NULL,
    team              TEXT NOT NULL,
    key_id            TEXT,
    endpoint          TEXT NOT NULL,
    model             TEXT,
    upstream          TEXT,
    stream            BOOLEAN NOT NULL,
    status            INTEGER NOT NULL,
    outcome           TEXT NOT NULL,
    prompt_tokens     BIGINT,
    completion_tokens BIGINT,
    cached_tokens     BIGINT,
    reasoning_tokens  BIGINT,
    latency_us        BIGINT NOT NULL,
    ttft_us           BIGINT,
    client_closed     BOOLEAN NOT NULL,
    error             TEXT,
    metadata          TEXT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX requests_id ON requests(id);
CREATE INDEX requests_team_created ON requests(team, created_at);
