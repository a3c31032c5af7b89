//! API keys: stored by hash, found by id or hash, revoked in place.

use async_trait::async_trait;

use super::{Engine, SqlStore};
use crate::store::{ApiKeyRow, KeyRevocations, KeyStore, StoreResult};

/// The columns of an [`ApiKeyRow`], in its field order.
const KEY_COLUMNS: &str = "id, team, key_hash, hint, created_at, revoked_at";

#[async_trait]
impl<DB: Engine> KeyStore for SqlStore<DB> {
    async fn insert_key(&self, key: &ApiKeyRow) -> StoreResult<()> {
        let sql = format!("INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)");
        let args = [
            (&key.id).into(),
            (&key.team).into(),
            (&key.key_hash).into(),
            (&key.hint).into(),
            key.created_at.into(),
            key.revoked_at.into(),
        ];
        self.run(&sql, &args).await
    }

    async fn get_key(&self, id: &str) -> StoreResult<Option<ApiKeyRow>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1");
        self.row(&sql, &[id.into()]).await
    }

    async fn find_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRow>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1");
        self.row(&sql, &[hash.into()]).await
    }

    async fn active_keys(&self) -> StoreResult<Vec<ApiKeyRow>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE revoked_at IS NULL");
        self.rows(&sql, &[]).await
    }

    async fn list_keys(&self, team: &str) -> StoreResult<Vec<ApiKeyRow>> {
        let sql =
            format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE team = $1 ORDER BY created_at, id");
        self.rows(&sql, &[team.into()]).await
    }

    async fn revoke_key(&self, id: &str, at: i64) -> StoreResult<bool> {
        let revoked: Option<(String,)> = self
            .row(
                "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
                 RETURNING id",
                &[at.into(), id.into()],
            )
            .await?;
        if revoked.is_some() {
            if let Some(notify) = DB::NOTIFY_KEY_REVOKED {
                // Best effort: a replica that misses it catches up at its next refresh.
                if let Err(err) = self.run(notify, &[id.into()]).await {
                    tracing::warn!(error = %err, "could not notify replicas of a revoked key");
                }
            }
        }
        Ok(revoked.is_some())
    }

    async fn key_revocations(&self) -> StoreResult<Option<KeyRevocations>> {
        DB::key_revocations(&self.pool).await
    }
}
