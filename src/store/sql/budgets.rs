//! Budgets: each team's limit, its recorded spend, and the shared counters
//! PostgreSQL replicas reserve against when there is no Redis.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{rows_on, Engine, SqlStore};
use crate::store::{
    BudgetRow, BudgetStore, ChargeBook, CounterRelease, CounterReserve, RequestRecord, StoreResult,
};

#[async_trait]
impl<DB: Engine> BudgetStore for SqlStore<DB> {
    async fn put_budget(&self, b: &BudgetRow) -> StoreResult<()> {
        self.run(
            "INSERT INTO budgets (team, usd, period, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (team) DO UPDATE SET usd = excluded.usd, period = excluded.period, \
             updated_at = excluded.updated_at",
            &[
                (&b.team).into(),
                (&b.usd).into(),
                (&b.period).into(),
                b.updated_at.into(),
            ],
        )
        .await
    }

    async fn delete_budget(&self, team: &str) -> StoreResult<bool> {
        let deleted: Option<(String,)> = self
            .row(
                "DELETE FROM budgets WHERE team = $1 RETURNING team",
                &[team.into()],
            )
            .await?;
        Ok(deleted.is_some())
    }

    async fn budgets(&self) -> StoreResult<Vec<BudgetRow>> {
        self.rows("SELECT team, usd, period, updated_at FROM budgets", &[])
            .await
    }

    async fn spent_since(&self, team: &str, from_ms: i64) -> StoreResult<i128> {
        // A sum of pico-USD can pass i64, so it comes back as text.
        let total: Option<(Option<String>,)> = self
            .row(
                "SELECT CAST(COALESCE(SUM(cost_pusd), 0) AS TEXT) FROM requests \
                 WHERE team = $1 AND created_at >= $2",
                &[team.into(), from_ms.into()],
            )
            .await?;
        Ok(total
            .and_then(|(t,)| t)
            .and_then(|t| t.parse().ok())
            .unwrap_or(0))
    }

    async fn counter_reserve(&self, r: &CounterReserve<'_>) -> StoreResult<bool> {
        self.run(
            "INSERT INTO budget_counters (team, period_start, spent_musd) \
             VALUES ($1, $2, $3) ON CONFLICT (team, period_start) DO NOTHING",
            &[r.team.into(), r.period_start.into(), r.init_spent.into()],
        )
        .await?;
        // The counter's row is locked first: reservations of a team queue
        // there, and each statement after the lock sees the holds the
        // previous reservation committed, so the check and the hold are
        // one atomic step across replicas.
        let mut tx = self.pool.begin().await?;
        let lock = format!(
            "SELECT spent_musd FROM budget_counters WHERE team = $1 AND period_start = $2{}",
            DB::FOR_UPDATE
        );
        let spent: Vec<(i64,)> =
            rows_on::<DB, _>(&mut tx, &lock, &[r.team.into(), r.period_start.into()]).await?;
        let spent = spent.first().map_or(0, |(s,)| *s);
        let held: Vec<(i64,)> = rows_on::<DB, _>(
            &mut tx,
            LIVE_HOLDS,
            &[r.team.into(), r.period_start.into(), r.now_ms.into()],
        )
        .await?;
        let held = held.first().map_or(0, |(h,)| *h);
        if spent + held + r.amount > r.limit {
            tx.commit().await?;
            return Ok(false);
        }
        DB::execute(
            &mut tx,
            "INSERT INTO budget_holds (holder, team, period_start, reserved_musd) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (holder, team, period_start) \
             DO UPDATE SET reserved_musd = budget_holds.reserved_musd + excluded.reserved_musd",
            &[
                r.holder.into(),
                r.team.into(),
                r.period_start.into(),
                r.amount.into(),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn counter_release(&self, r: &CounterRelease<'_>) -> StoreResult<()> {
        self.run(
            RELEASE,
            &[
                r.musd.into(),
                r.holder.into(),
                r.team.into(),
                r.period_start.into(),
            ],
        )
        .await
    }

    async fn counter_read(
        &self,
        team: &str,
        period_start: i64,
        now_ms: i64,
    ) -> StoreResult<Option<(i64, i64)>> {
        let spent: Option<(i64,)> = self
            .row(
                "SELECT spent_musd FROM budget_counters WHERE team = $1 AND period_start = $2",
                &[team.into(), period_start.into()],
            )
            .await?;
        let Some((spent,)) = spent else {
            return Ok(None);
        };
        let held: Option<(i64,)> = self
            .row(
                LIVE_HOLDS,
                &[team.into(), period_start.into(), now_ms.into()],
            )
            .await?;
        Ok(Some((spent, held.map_or(0, |(h,)| h))))
    }

    async fn holder_renew(
        &self,
        holder: &str,
        alive_until: i64,
        forget_before: i64,
    ) -> StoreResult<()> {
        self.run(
            "INSERT INTO budget_holders (holder, alive_until) VALUES ($1, $2) \
             ON CONFLICT (holder) DO UPDATE SET alive_until = excluded.alive_until",
            &[holder.into(), alive_until.into()],
        )
        .await?;
        let mut tx = self.pool.begin().await?;
        DB::execute(
            &mut tx,
            "DELETE FROM budget_holds WHERE holder IN \
             (SELECT holder FROM budget_holders WHERE alive_until < $1)",
            &[forget_before.into()],
        )
        .await?;
        DB::execute(
            &mut tx,
            "DELETE FROM budget_holders WHERE alive_until < $1",
            &[forget_before.into()],
        )
        .await?;
        tx.commit().await
    }

    async fn holder_release(&self, holder: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        DB::execute(
            &mut tx,
            "DELETE FROM budget_holds WHERE holder = $1",
            &[holder.into()],
        )
        .await?;
        DB::execute(
            &mut tx,
            "DELETE FROM budget_holders WHERE holder = $1",
            &[holder.into()],
        )
        .await?;
        tx.commit().await
    }
}

/// What the live holders hold against a team's period (`$3`: now, epoch ms).
const LIVE_HOLDS: &str = "SELECT CAST(COALESCE(SUM(h.reserved_musd), 0) AS BIGINT) \
    FROM budget_holds h JOIN budget_holders l ON l.holder = h.holder \
    WHERE h.team = $1 AND h.period_start = $2 AND l.alive_until >= $3";

/// Shrinks a holder's hold by `$1`.
const RELEASE: &str = "UPDATE budget_holds SET reserved_musd = reserved_musd - $1 \
    WHERE holder = $2 AND team = $3 AND period_start = $4";

/// Books the budget charges of `records` on an open transaction (the one
/// writing them): each team's counter gains what its calls spent and their
/// holders' holds give it up. Counters first, in a fixed order, the way a
/// reservation takes its locks, so two writers never wait on each other.
pub(super) async fn book_charges<DB: Engine>(
    conn: &mut DB::Connection,
    records: &[RequestRecord],
) -> StoreResult<()> {
    let mut spent: BTreeMap<(&str, i64), i64> = BTreeMap::new();
    let mut held: BTreeMap<(&str, &str, i64), i64> = BTreeMap::new();
    for r in records {
        let Some(c) = r
            .budget_charge
            .as_ref()
            .filter(|c| c.book == ChargeBook::Store)
        else {
            continue;
        };
        *spent.entry((r.team.as_str(), c.period_start)).or_default() += c.spent_musd;
        *held
            .entry((&*c.holder, r.team.as_str(), c.period_start))
            .or_default() += c.held_musd;
    }
    for ((team, period_start), musd) in spent {
        DB::execute(
            conn,
            "UPDATE budget_counters SET spent_musd = spent_musd + $1 \
             WHERE team = $2 AND period_start = $3",
            &[musd.into(), team.into(), period_start.into()],
        )
        .await?;
    }
    for ((holder, team, period_start), musd) in held {
        DB::execute(
            conn,
            RELEASE,
            &[musd.into(), holder.into(), team.into(), period_start.into()],
        )
        .await?;
    }
    Ok(())
}
