//! Teams: created once, listed by name.

use async_trait::async_trait;

use super::SqlStore;
use crate::store::{StoreResult, Team, TeamStore};

#[async_trait]
impl TeamStore for SqlStore {
    async fn create_team(&self, team: &Team) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO teams (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&team.name)
        .bind(team.created_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn get_team(&self, name: &str) -> StoreResult<Option<Team>> {
        self.one("SELECT name, created_at FROM teams WHERE name = $1", name)
            .await
    }

    async fn list_teams(&self) -> StoreResult<Vec<Team>> {
        self.all("SELECT name, created_at FROM teams ORDER BY name", None)
            .await
    }
}
