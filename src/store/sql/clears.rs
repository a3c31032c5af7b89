//! The log of response-cache clears, read by replicas without Redis.

use async_trait::async_trait;

use super::{Engine, SqlStore};
use crate::store::{CacheClearStore, StoreResult};

#[async_trait]
impl<DB: Engine> CacheClearStore for SqlStore<DB> {
    async fn note_cache_clear(&self, prompt: Option<&str>, at: i64) -> StoreResult<i64> {
        let seq: Option<(i64,)> = self
            .row(
                "INSERT INTO cache_clears (prompt, at) VALUES ($1, $2) RETURNING seq",
                &[prompt.into(), at.into()],
            )
            .await?;
        seq.map(|(s,)| s).ok_or(sqlx::Error::RowNotFound)
    }

    async fn cache_clears_after(&self, seq: i64) -> StoreResult<Vec<(i64, Option<String>)>> {
        self.rows(
            "SELECT seq, prompt FROM cache_clears WHERE seq > $1 ORDER BY seq",
            &[seq.into()],
        )
        .await
    }

    async fn last_cache_clear(&self) -> StoreResult<i64> {
        self.max_seq("SELECT MAX(seq) FROM cache_clears").await
    }
}
