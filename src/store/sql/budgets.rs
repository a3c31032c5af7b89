//! Budgets: each team's limit, its recorded spend, and the shared counters
//! PostgreSQL replicas reserve against when there is no Redis.

use async_trait::async_trait;
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::{Dialect, Param, SqlStore};
use crate::store::{BudgetRow, BudgetStore, StoreResult};

#[async_trait]
impl<DB: Dialect> BudgetStore for SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    String: Param<DB>,
    i64: Param<DB>,
    for<'r> BudgetRow: FromRow<'r, DB::Row>,
    for<'r> (Option<String>,): FromRow<'r, DB::Row>,
    for<'r> (i64, i64): FromRow<'r, DB::Row>,
{
    async fn put_budget(&self, b: &BudgetRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO budgets (team, usd, period, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (team) DO UPDATE SET usd = excluded.usd, period = excluded.period, \
             updated_at = excluded.updated_at",
        )
        .bind(&b.team)
        .bind(&b.usd)
        .bind(&b.period)
        .bind(b.updated_at)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    async fn delete_budget(&self, team: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM budgets WHERE team = $1")
            .bind(team)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn budgets(&self) -> StoreResult<Vec<BudgetRow>> {
        sqlx::query_as("SELECT team, usd, period, updated_at FROM budgets")
            .fetch_all(&self.pool)
            .await
    }

    async fn spent_since(&self, team: &str, from_ms: i64) -> StoreResult<i128> {
        // A sum of pico-USD can pass i64, so it comes back as text.
        let total: Option<String> = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(cost_pusd), 0) AS TEXT) FROM requests \
             WHERE team = $1 AND created_at >= $2",
        )
        .bind(team)
        .bind(from_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(total.and_then(|t| t.parse().ok()).unwrap_or(0))
    }

    async fn counter_reserve(
        &self,
        team: &str,
        period_start: i64,
        init_spent: i64,
        amount: i64,
        limit: i64,
    ) -> StoreResult<(bool, i64, i64)> {
        sqlx::query(
            "INSERT INTO budget_counters (team, period_start, spent_musd, reserved_musd) \
             VALUES ($1, $2, $3, 0) ON CONFLICT (team, period_start) DO NOTHING",
        )
        .bind(team)
        .bind(period_start)
        .bind(init_spent)
        .execute(&self.pool)
        .await?;
        // One conditional UPDATE: the check and the reservation are atomic.
        let got: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE budget_counters SET reserved_musd = reserved_musd + $1 \
             WHERE team = $2 AND period_start = $3 AND spent_musd + reserved_musd + $4 <= $5 \
             RETURNING spent_musd, reserved_musd",
        )
        .bind(amount)
        .bind(team)
        .bind(period_start)
        .bind(amount)
        .bind(limit)
        .fetch_optional(&self.pool)
        .await?;
        match got {
            Some((spent, reserved)) => Ok((true, spent, reserved)),
            None => {
                let (spent, reserved) = self
                    .counter_read(team, period_start)
                    .await?
                    .unwrap_or((0, 0));
                Ok((false, spent, reserved))
            }
        }
    }

    async fn counter_settle(
        &self,
        team: &str,
        period_start: i64,
        reserved: i64,
        spent: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE budget_counters \
             SET reserved_musd = reserved_musd - $1, spent_musd = spent_musd + $2 \
             WHERE team = $3 AND period_start = $4",
        )
        .bind(reserved)
        .bind(spent)
        .bind(team)
        .bind(period_start)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    async fn counter_read(&self, team: &str, period_start: i64) -> StoreResult<Option<(i64, i64)>> {
        sqlx::query_as(
            "SELECT spent_musd, reserved_musd FROM budget_counters \
             WHERE team = $1 AND period_start = $2",
        )
        .bind(team)
        .bind(period_start)
        .fetch_optional(&self.pool)
        .await
    }
}
