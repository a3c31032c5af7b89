//! API keys: stored by hash, found by id or hash, revoked in place.

use async_trait::async_trait;
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::{Dialect, Param, SqlStore};
use crate::store::{ApiKeyRow, KeyStore, StoreResult};

/// The columns of an [`ApiKeyRow`], in its field order.
const KEY_COLUMNS: &str = "id, team, key_hash, hint, created_at, revoked_at";

#[async_trait]
impl<DB: Dialect> KeyStore for SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    String: Param<DB>,
    i64: Param<DB>,
    Option<i64>: Param<DB>,
    for<'r> ApiKeyRow: FromRow<'r, DB::Row>,
{
    async fn insert_key(&self, key: &ApiKeyRow) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&key.id)
        .bind(&key.team)
        .bind(&key.key_hash)
        .bind(&key.hint)
        .bind(key.created_at)
        .bind(key.revoked_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_key(&self, id: &str) -> StoreResult<Option<ApiKeyRow>> {
        sqlx::query_as(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    async fn find_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRow>> {
        sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
    }

    async fn active_keys(&self) -> StoreResult<Vec<ApiKeyRow>> {
        sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE revoked_at IS NULL"
        ))
        .fetch_all(&self.pool)
        .await
    }

    async fn list_keys(&self, team: &str) -> StoreResult<Vec<ApiKeyRow>> {
        sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE team = $1 ORDER BY created_at, id"
        ))
        .bind(team)
        .fetch_all(&self.pool)
        .await
    }

    async fn revoke_key(&self, id: &str, at: i64) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(at)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(DB::rows_affected(&done) == 1)
    }
}
