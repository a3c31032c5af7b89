//! The SQL both backends run. The statements keep to what SQLite and
//! PostgreSQL both accept (`$n` placeholders in ascending order, epoch-ms
//! integers), so one generic [`SqlStore`] implements every store trait for
//! either engine; [`Dialect`] holds the little that differs.
//!
//! Each aggregate's statements are in a file of their own; their `where`
//! clauses name what that SQL needs from the engine's driver (executing on a
//! connection, binding and reading the Rust types it uses).

mod budgets;
mod clears;
mod costs;
mod keys;
mod prompts;
mod records;
mod settings;
mod teams;

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, QueryBuilder, Type};

use crate::store::{
    BudgetStore, CacheClearStore, CostStore, KeyStore, PromptStore, RecordStore, SettingStore,
    Store, StoreResult, TeamStore,
};

/// What one engine does differently; everything else is shared SQL.
pub trait Dialect: Database {
    /// The backend's name, as `/readyz` reports it.
    const BACKEND: &'static str;
    /// The UTC day (`YYYY-MM-DD`) of a record's `created_at` (epoch ms).
    const DAY: &'static str;
    /// The records, one row per tag (`tag_value`; untagged records once,
    /// with `NULL`), for reports grouped by tag.
    const TAGS_JOIN: &'static str;

    /// Rows an `INSERT`/`UPDATE`/`DELETE` touched (each driver has its own
    /// result type).
    fn rows_affected(done: &Self::QueryResult) -> u64;

    /// Runs the statement `builder` holds on `conn`. Each backend does it
    /// with its own types: generic code cannot, because the arguments the
    /// builder owns would have to outlive the builder they borrow from.
    fn execute_built<'e>(
        builder: &'e mut QueryBuilder<'_, Self>,
        conn: &'e mut Self::Connection,
    ) -> impl Future<Output = StoreResult<()>> + Send + 'e;
}

/// A Rust value the driver of `DB` binds as a statement parameter (a short
/// name for the bound every `.bind(value)` needs).
pub trait Param<DB: Database>: for<'q> Encode<'q, DB> + Type<DB> {}

impl<DB: Database, T: for<'q> Encode<'q, DB> + Type<DB>> Param<DB> for T {}

/// A store on a pool of `DB` connections: [`crate::store::SqliteStore`] or
/// [`crate::store::PgStore`].
pub struct SqlStore<DB: Database> {
    pub(super) pool: Pool<DB>,
    /// Serialises registry writes from this process (SQLite allows one
    /// writer; a read-then-write transaction would otherwise hit `busy`).
    registry_writes: Arc<tokio::sync::Mutex<()>>,
}

impl<DB: Database> SqlStore<DB> {
    /// A store on `pool`, whose schema is already up to date.
    pub(super) fn new(pool: Pool<DB>) -> Self {
        SqlStore {
            pool,
            registry_writes: Default::default(),
        }
    }
}

impl<DB: Database> SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> (Option<i64>,): FromRow<'r, DB::Row>,
{
    /// The newest sequence number of a log table (`SELECT MAX(seq) FROM …`),
    /// 0 while it is empty.
    async fn max_seq(&self, sql: &'static str) -> StoreResult<i64> {
        let seq: Option<i64> = sqlx::query_scalar(sql).fetch_one(&self.pool).await?;
        Ok(seq.unwrap_or(0))
    }
}

impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        SqlStore {
            pool: self.pool.clone(),
            registry_writes: self.registry_writes.clone(),
        }
    }
}

#[async_trait]
impl<DB: Dialect> Store for SqlStore<DB>
where
    Self: TeamStore
        + KeyStore
        + SettingStore
        + RecordStore
        + PromptStore
        + CostStore
        + BudgetStore
        + CacheClearStore,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    fn backend(&self) -> &'static str {
        DB::BACKEND
    }
}
