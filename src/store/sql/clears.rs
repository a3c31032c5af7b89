//! The log of response-cache clears, read by replicas without Redis.

use async_trait::async_trait;

use super::SqlStore;
use crate::store::{CacheClearStore, StoreResult};

#[async_trait]
impl CacheClearStore for SqlStore {
    async fn note_cache_clear(&self, prompt: Option<&str>, at: i64) -> StoreResult<i64> {
        sqlx::query_scalar("INSERT INTO cache_clears (prompt, at) VALUES ($1, $2) RETURNING seq")
            .bind(prompt)
            .bind(at)
            .fetch_one(&self.pool)
            .await
    }

    async fn cache_clears_after(&self, seq: i64) -> StoreResult<Vec<(i64, Option<String>)>> {
        sqlx::query_as("SELECT seq, prompt FROM cache_clears WHERE seq > $1 ORDER BY seq")
            .bind(seq)
            .fetch_all(&self.pool)
            .await
    }

    async fn last_cache_clear(&self) -> StoreResult<i64> {
        self.max_seq("SELECT MAX(seq) FROM cache_clears").await
    }
}
