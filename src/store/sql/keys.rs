//! API keys: stored by hash, found by id or hash, revoked in place.

use async_trait::async_trait;

use super::{Engine, SqlStore};
use crate::store::{ApiKeyRow, KeyRevocations, KeyRotation, KeyStore, StoreResult};

/// The columns of an [`ApiKeyRow`], in its field order.
const KEY_COLUMNS: &str = "id, team, key_hash, hint, created_at, revoked_at, name, expires_at, \
    allowed_models, previous_hash, previous_hint, previous_expires_at";

#[async_trait]
impl<DB: Engine> KeyStore for SqlStore<DB> {
    async fn insert_key(&self, key: &ApiKeyRow) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO api_keys ({KEY_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        );
        let args = [
            (&key.id).into(),
            (&key.team).into(),
            (&key.key_hash).into(),
            (&key.hint).into(),
            key.created_at.into(),
            key.revoked_at.into(),
            key.name.as_deref().into(),
            key.expires_at.into(),
            key.allowed_models.as_deref().into(),
            key.previous_hash.as_deref().into(),
            key.previous_hint.as_deref().into(),
            key.previous_expires_at.into(),
        ];
        self.run(&sql, &args).await
    }

    async fn get_key(&self, id: &str) -> StoreResult<Option<ApiKeyRow>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1");
        self.row(&sql, &[id.into()]).await
    }

    async fn find_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRow>> {
        let sql =
            format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 OR previous_hash = $1");
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
            self.notify_key_changed(id).await;
        }
        Ok(revoked.is_some())
    }

    async fn rotate_key(&self, r: &KeyRotation<'_>) -> StoreResult<bool> {
        let rotated: Option<(String,)> = self
            .row(
                "UPDATE api_keys SET previous_hash = key_hash, previous_hint = hint, \
                 previous_expires_at = $1, key_hash = $2, hint = $3 \
                 WHERE id = $4 AND revoked_at IS NULL RETURNING id",
                &[
                    r.old_valid_until.into(),
                    r.new_hash.into(),
                    r.new_hint.into(),
                    r.id.into(),
                ],
            )
            .await?;
        if rotated.is_some() {
            // the other replicas drop the key and look its secrets up afresh
            self.notify_key_changed(r.id).await;
        }
        Ok(rotated.is_some())
    }

    async fn key_revocations(&self) -> StoreResult<Option<KeyRevocations>> {
        DB::key_revocations(&self.pool).await
    }
}

impl<DB: Engine> SqlStore<DB> {
    /// Tells the other processes that key `id` was revoked or rotated. Best
    /// effort: a replica that misses it catches up at its next key refresh.
    async fn notify_key_changed(&self, id: &str) {
        if let Some(notify) = DB::NOTIFY_KEY_REVOKED {
            if let Err(err) = self.run(notify, &[id.into()]).await {
                tracing::warn!(error = %err, "could not notify replicas of a key change");
            }
        }
    }
}
