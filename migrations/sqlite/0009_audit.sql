-- Every admin write: who (key id, or "admin" for the admin key), what, when,
-- and the object before and after (JSON; NULL for "did not exist"). Rows are
-- only ever inserted: no API updates or deletes them.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    before      TEXT,
    after       TEXT
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_action ON audit_log(action, at);
