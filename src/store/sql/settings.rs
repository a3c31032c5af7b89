//! Settings: named values written once (first writer wins).

use async_trait::async_trait;

use super::{Engine, SqlStore};
use crate::store::{SettingStore, StoreResult};

#[async_trait]
impl<DB: Engine> SettingStore for SqlStore<DB> {
    async fn get_setting(&self, name: &str) -> StoreResult<Option<String>> {
        let value: Option<(String,)> = self
            .row("SELECT value FROM settings WHERE name = $1", &[name.into()])
            .await?;
        Ok(value.map(|(v,)| v))
    }

    async fn put_setting_if_absent(&self, name: &str, value: &str) -> StoreResult<String> {
        self.run(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[name.into(), value.into()],
        )
        .await?;
        self.get_setting(name)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }
}
