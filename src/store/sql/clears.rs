//! The log of response-cache clears, read by replicas without Redis.

use async_trait::async_trait;
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::{Dialect, Param, SqlStore};
use crate::store::{CacheClearStore, StoreResult};

#[async_trait]
impl<DB: Dialect> CacheClearStore for SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    i64: Param<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (Option<i64>,): FromRow<'r, DB::Row>,
    for<'r> (i64, Option<String>): FromRow<'r, DB::Row>,
{
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
