//! Budgets: each team's limit, its recorded spend, and the shared counters
//! PostgreSQL replicas reserve against when there is no Redis.

use async_trait::async_trait;

use super::{Engine, SqlStore};
use crate::store::{BudgetRow, BudgetStore, CounterReserve, CounterSettle, StoreResult};

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

    async fn counter_reserve(&self, r: &CounterReserve<'_>) -> StoreResult<(bool, i64, i64)> {
        self.run(
            "INSERT INTO budget_counters (team, period_start, spent_musd, reserved_musd) \
             VALUES ($1, $2, $3, 0) ON CONFLICT (team, period_start) DO NOTHING",
            &[r.team.into(), r.period_start.into(), r.init_spent.into()],
        )
        .await?;
        // One conditional UPDATE: the check and the reservation are atomic.
        let got: Option<(i64, i64)> = self
            .row(
                "UPDATE budget_counters SET reserved_musd = reserved_musd + $1 \
                 WHERE team = $2 AND period_start = $3 AND spent_musd + reserved_musd + $1 <= $4 \
                 RETURNING spent_musd, reserved_musd",
                &[
                    r.amount.into(),
                    r.team.into(),
                    r.period_start.into(),
                    r.limit.into(),
                ],
            )
            .await?;
        match got {
            Some((spent, reserved)) => Ok((true, spent, reserved)),
            None => {
                let (spent, reserved) = self
                    .counter_read(r.team, r.period_start)
                    .await?
                    .unwrap_or((0, 0));
                Ok((false, spent, reserved))
            }
        }
    }

    async fn counter_settle(&self, s: &CounterSettle<'_>) -> StoreResult<()> {
        let CounterSettle {
            team,
            period_start,
            reserved,
            spent,
        } = *s;
        self.run(
            "UPDATE budget_counters \
             SET reserved_musd = reserved_musd - $1, spent_musd = spent_musd + $2 \
             WHERE team = $3 AND period_start = $4",
            &[
                reserved.into(),
                spent.into(),
                team.into(),
                period_start.into(),
            ],
        )
        .await
    }

    async fn counter_read(&self, team: &str, period_start: i64) -> StoreResult<Option<(i64, i64)>> {
        self.row(
            "SELECT spent_musd, reserved_musd FROM budget_counters \
             WHERE team = $1 AND period_start = $2",
            &[team.into(), period_start.into()],
        )
        .await
    }
}
