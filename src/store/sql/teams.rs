//! Teams: created once, listed by name.

use async_trait::async_trait;
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::{Dialect, SqlStore};
use crate::store::{StoreResult, Team, TeamStore};

#[async_trait]
impl<DB: Dialect> TeamStore for SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> Team: FromRow<'r, DB::Row>,
{
    async fn create_team(&self, team: &Team) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO teams (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&team.name)
        .bind(team.created_at)
        .execute(&self.pool)
        .await?;
        Ok(DB::rows_affected(&done) == 1)
    }

    async fn get_team(&self, name: &str) -> StoreResult<Option<Team>> {
        sqlx::query_as("SELECT name, created_at FROM teams WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
    }

    async fn list_teams(&self) -> StoreResult<Vec<Team>> {
        sqlx::query_as("SELECT name, created_at FROM teams ORDER BY name")
            .fetch_all(&self.pool)
            .await
    }
}
