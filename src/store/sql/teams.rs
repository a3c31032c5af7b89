//! Teams: created once, listed by name.

use async_trait::async_trait;

use super::{Engine, SqlStore};
use crate::store::{StoreResult, Team, TeamStore};

#[async_trait]
impl<DB: Engine> TeamStore for SqlStore<DB> {
    async fn create_team(&self, team: &Team) -> StoreResult<bool> {
        let created: Option<(String,)> = self
            .row(
                "INSERT INTO teams (name, created_at) VALUES ($1, $2) \
                 ON CONFLICT (name) DO NOTHING RETURNING name",
                &[(&team.name).into(), team.created_at.into()],
            )
            .await?;
        Ok(created.is_some())
    }

    async fn get_team(&self, name: &str) -> StoreResult<Option<Team>> {
        self.row(
            "SELECT name, created_at FROM teams WHERE name = $1",
            &[name.into()],
        )
        .await
    }

    async fn list_teams(&self) -> StoreResult<Vec<Team>> {
        self.rows("SELECT name, created_at FROM teams ORDER BY name", &[])
            .await
    }
}
