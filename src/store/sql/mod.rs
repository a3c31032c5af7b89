//! The SQL both backends run. The statements keep to what SQLite and
//! PostgreSQL both accept (`$n` placeholders, epoch-ms integers, `RETURNING`),
//! so one generic [`SqlStore`] implements every store trait for either
//! engine; [`Flavor`] holds the little that differs and [`Engine`] is how
//! the statements reach a driver.
//!
//! Each aggregate's statements are in a file of their own.

mod audit;
mod budgets;
mod clears;
mod costs;
mod engine;
mod experiments;
mod keys;
mod prompts;
mod records;
mod settings;
mod teams;

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use sqlx::Pool;

pub use engine::{Engine, Flavor, Row, Value};

use crate::store::{Store, StoreResult};

/// A store on a pool of `DB` connections: [`crate::store::SqliteStore`] or
/// [`crate::store::PgStore`].
pub struct SqlStore<DB: sqlx::Database> {
    pub(super) pool: Pool<DB>,
    /// The record `INSERT` texts, one per chunk size, made at the first
    /// write (see `records.rs`).
    record_inserts: Arc<OnceLock<Vec<String>>>,
    /// Serialises registry writes from this process (SQLite allows one
    /// writer; a read-then-write transaction would otherwise hit `busy`).
    registry_writes: Arc<tokio::sync::Mutex<()>>,
}

impl<DB: sqlx::Database> SqlStore<DB> {
    /// A store on `pool`, whose schema is already up to date.
    pub(super) fn new(pool: Pool<DB>) -> Self {
        SqlStore {
            pool,
            record_inserts: Default::default(),
            registry_writes: Default::default(),
        }
    }
}

impl<DB: sqlx::Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        SqlStore {
            pool: self.pool.clone(),
            record_inserts: self.record_inserts.clone(),
            registry_writes: self.registry_writes.clone(),
        }
    }
}

/// Statements on a connection from the pool.
impl<DB: Engine> SqlStore<DB> {
    /// Runs `sql` for its effect.
    async fn run(&self, sql: &str, args: &[Value<'_>]) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        DB::execute(&mut conn, sql, args).await
    }

    /// All rows of `sql`.
    async fn rows<T: Row>(&self, sql: &str, args: &[Value<'_>]) -> StoreResult<Vec<T>> {
        let mut conn = self.pool.acquire().await?;
        rows_on::<DB, T>(&mut conn, sql, args).await
    }

    /// All rows of a statement that scans a window of records: on a
    /// connection that maps the database file for the scan (SQLite: a read
    /// call and a copy fewer per page) and stops mapping it afterwards, so
    /// that only reports, never the writes of the request path, hold mapped
    /// pages in the process's memory.
    async fn scan_rows<T: Row>(&self, sql: &str, args: &[Value<'_>]) -> StoreResult<Vec<T>> {
        let mut conn = self.pool.acquire().await?;
        let Some((map, unmap)) = DB::SCAN_MAPPING else {
            return rows_on::<DB, T>(&mut conn, sql, args).await;
        };
        DB::execute(&mut conn, map, &[]).await?;
        let rows = rows_on::<DB, T>(&mut conn, sql, args).await;
        let reset = DB::execute(&mut conn, unmap, &[]).await;
        if reset.is_err() {
            // a connection left mapping is not put back in the pool
            conn.detach();
        }
        rows
    }

    /// The first row of `sql`, if any.
    async fn row<T: Row>(&self, sql: &str, args: &[Value<'_>]) -> StoreResult<Option<T>> {
        Ok(self.rows(sql, args).await?.into_iter().next())
    }

    /// The newest sequence number of a log table (`SELECT MAX(seq) FROM …`),
    /// 0 while it is empty.
    async fn max_seq(&self, sql: &str) -> StoreResult<i64> {
        let seq: Option<(Option<i64>,)> = self.row(sql, &[]).await?;
        Ok(seq.and_then(|(s,)| s).unwrap_or(0))
    }
}

/// All rows of `sql` on an open connection (a transaction's, say).
async fn rows_on<DB: Engine, T: Row>(
    conn: &mut DB::Connection,
    sql: &str,
    args: &[Value<'_>],
) -> StoreResult<Vec<T>> {
    DB::fetch(conn, sql, args)
        .await?
        .iter()
        .map(DB::decode)
        .collect()
}

#[async_trait]
impl<DB: Engine> Store for SqlStore<DB> {
    async fn ping(&self) -> StoreResult<()> {
        self.run("SELECT 1", &[]).await
    }

    fn backend(&self) -> &'static str {
        DB::BACKEND
    }
}
