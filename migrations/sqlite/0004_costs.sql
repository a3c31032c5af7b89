-- The cost ledger: each record's exact cost in pico-USD (10^-12 USD; prices
-- have at most 6 decimals and token counts are integers, so every cost is an
-- exact integer in this unit), what a cache hit saved, and where its token
-- counts came from.
ALTER TABLE requests ADD COLUMN cost_pusd BIGINT;
ALTER TABLE requests ADD COLUMN saved_pusd BIGINT;
ALTER TABLE requests ADD COLUMN usage_source TEXT;
ALTER TABLE requests ADD COLUMN tags TEXT;
CREATE INDEX requests_created ON requests(created_at);

CREATE TABLE budgets (
    team        TEXT PRIMARY KEY REFERENCES teams(name),
    usd         TEXT NOT NULL,
    period      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Shared budget counters for replicas without Redis (PostgreSQL), in
-- micro-USD: enforcement needs no finer unit than the ledger reports.
CREATE TABLE budget_counters (
    team          TEXT NOT NULL,
    period_start  BIGINT NOT NULL,
    spent_musd    BIGINT NOT NULL,
    reserved_musd BIGINT NOT NULL,
    PRIMARY KEY (team, period_start)
);
