//! The SQL both backends run. The statements keep to what SQLite and
//! PostgreSQL both accept (`$n` placeholders in ascending order, epoch-ms
//! integers), so one [`SqlStore`] on sqlx's `Any` driver implements every
//! store trait for either engine; [`Dialect`] holds the little that differs.
//!
//! Each aggregate's statements are in a file of their own.

mod budgets;
mod clears;
mod costs;
mod int_bool;
mod keys;
mod prompts;
mod records;
mod settings;
mod teams;

use std::sync::{Arc, Once};

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, FromRow};

pub(crate) use int_bool::IntBool;

use super::dialect::Dialect;
use super::{postgres, sqlite, Store, StoreResult};

/// The store: a pool of SQLite or PostgreSQL connections behind sqlx's
/// `Any` driver, and the dialect of the engine it reached.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    /// Serialises registry writes from this process (SQLite allows one
    /// writer; a read-then-write transaction would otherwise hit `busy`).
    registry_writes: Arc<tokio::sync::Mutex<()>>,
}

/// `Any` finds its drivers in a process-wide list, filled once.
static INSTALL_DRIVERS: Once = Once::new();

impl SqlStore {
    /// Opens the store named by `url` (`sqlite:…`, else PostgreSQL) and
    /// brings its schema up to date.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        INSTALL_DRIVERS.call_once(sqlx::any::install_default_drivers);
        let (pool, dialect) = if url.starts_with("sqlite:") {
            (sqlite::open(url, max_connections).await?, sqlite::DIALECT)
        } else {
            (
                postgres::open(url, max_connections).await?,
                postgres::DIALECT,
            )
        };
        Ok(SqlStore {
            pool,
            dialect,
            registry_writes: Default::default(),
        })
    }

    /// The pool, for tests that look at the connections' settings.
    #[cfg(test)]
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The row `sql` finds for `key`, its one parameter (`$1`).
    async fn one<T>(&self, sql: &str, key: &str) -> StoreResult<Option<T>>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        sqlx::query_as(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
    }

    /// The rows `sql` returns; `key` is its one parameter (`$1`) if it has one.
    async fn all<T>(&self, sql: &str, key: Option<&str>) -> StoreResult<Vec<T>>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        let query = sqlx::query_as(sql);
        let query = match key {
            Some(key) => query.bind(key),
            None => query,
        };
        query.fetch_all(&self.pool).await
    }

    /// The newest sequence number of a log table (`SELECT MAX(seq) FROM …`),
    /// 0 while it is empty.
    async fn max_seq(&self, sql: &'static str) -> StoreResult<i64> {
        let seq: Option<i64> = sqlx::query_scalar(sql).fetch_one(&self.pool).await?;
        Ok(seq.unwrap_or(0))
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    fn backend(&self) -> &'static str {
        self.dialect.backend
    }
}
