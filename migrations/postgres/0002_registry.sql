-- Prompt registry: immutable numbered versions, movable labels with history,
-- and a change log that replicas poll to refresh their in-memory registry.
CREATE TABLE prompt_versions (
    name            TEXT NOT NULL,
    version         BIGINT NOT NULL,
    content         TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    commit_message  TEXT,
    author          TEXT,
    source          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE prompt_labels (
    name        TEXT NOT NULL,
    label       TEXT NOT NULL,
    target      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT,
    PRIMARY KEY (name, label)
);

CREATE TABLE prompt_label_history (
    seq         BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL,
    label       TEXT NOT NULL,
    from_target TEXT,
    to_target   TEXT NOT NULL,
    actor       TEXT,
    at          BIGINT NOT NULL
);
CREATE INDEX prompt_label_history_name ON prompt_label_history(name, label, seq);

CREATE TABLE registry_changes (
    seq         BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL
);

ALTER TABLE requests ADD COLUMN prompt_name TEXT;
ALTER TABLE requests ADD COLUMN prompt_version BIGINT;
ALTER TABLE requests ADD COLUMN prompt_sha256 TEXT;
