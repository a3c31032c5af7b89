-- Money held for calls in flight, per gateway process ("holder") instead of
-- one shared sum: a process killed mid-call (kill -9, OOM) cannot release
-- what it held, so its holds count only while its lease is renewed, and then
-- lapse. Spent money is booked on budget_counters in the transaction that
-- writes the call's record, so the counter never counts a call the ledger
-- has no record of.
ALTER TABLE budget_counters DROP COLUMN reserved_musd;

CREATE TABLE budget_holders (
    holder       TEXT PRIMARY KEY,
    alive_until  BIGINT NOT NULL
);

CREATE TABLE budget_holds (
    holder        TEXT NOT NULL,
    team          TEXT NOT NULL,
    period_start  BIGINT NOT NULL,
    reserved_musd BIGINT NOT NULL,
    PRIMARY KEY (holder, team, period_start)
);
CREATE INDEX budget_holds_team ON budget_holds(team, period_start);
