//! What the shared SQL needs from a database driver, said once.
//!
//! The statements of this folder are text with `$n` placeholders and
//! [`Value`] arguments. [`Engine`] runs them on a connection and hands back
//! the driver's rows; it is implemented once, below, for every driver that
//! can bind and execute what the schema uses. That single `where` clause is
//! why the per-aggregate files ask nothing of their driver but `DB: Engine`.
//! [`Flavor`] is the part each backend writes by hand (`sqlite.rs`,
//! `postgres.rs`).

use std::future::Future;

use sqlx::postgres::PgRow;
use sqlx::query::Query;
use sqlx::sqlite::SqliteRow;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};

use crate::store::StoreResult;

/// A statement argument: each column type of the schema, nullable. One enum
/// keeps the driver bounds for Rust types here instead of at every query.
/// (`status`, the one `INTEGER` column written, takes an `Int`: both engines
/// narrow it on assignment.)
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Bool(Option<bool>),
    Real(Option<f64>),
}

/// A Rust type a [`Value`] carries: how its `Option` becomes one.
pub trait Scalar<'a>: Sized {
    const WRAP: fn(Option<Self>) -> Value<'a>;
}

impl<'a> Scalar<'a> for &'a str {
    const WRAP: fn(Option<Self>) -> Value<'a> = Value::Text;
}

impl<'a> Scalar<'a> for &'a String {
    const WRAP: fn(Option<Self>) -> Value<'a> = |v| Value::Text(v.map(String::as_str));
}

impl<'a> Scalar<'a> for i64 {
    const WRAP: fn(Option<Self>) -> Value<'a> = Value::Int;
}

impl<'a> Scalar<'a> for bool {
    const WRAP: fn(Option<Self>) -> Value<'a> = Value::Bool;
}

impl<'a> Scalar<'a> for f64 {
    const WRAP: fn(Option<Self>) -> Value<'a> = Value::Real;
}

impl<'a, T: Scalar<'a>> From<T> for Value<'a> {
    fn from(v: T) -> Self {
        T::WRAP(Some(v))
    }
}

impl<'a, T: Scalar<'a>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        T::WRAP(v)
    }
}

/// A type both drivers read rows into (every `#[derive(FromRow)]` row and
/// tuple of plain columns is one).
pub trait Row: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{}

/// What one backend sets by hand; everything else is shared SQL.
pub trait Flavor: Database {
    /// The backend's name, as `/readyz` reports it.
    const BACKEND: &'static str;
    /// The UTC day (`YYYY-MM-DD`) of a record's `created_at` (epoch ms).
    const DAY: &'static str;
    /// The records, one row per tag (`tag_value`; untagged records once,
    /// with `NULL`), for reports grouped by tag.
    const TAGS_JOIN: &'static str;
    /// The elements of `requests.tags` (a JSON array) as a table with one
    /// text column, `value`.
    const TAG_VALUES: &'static str;
    /// Whether long generated parameter lists number their parameters
    /// (`$1, $2, …`) or leave them anonymous (`?, ?, …`, in order). SQLite
    /// finds a numbered parameter's name by a linear scan at every bind,
    /// which made a 64-record `INSERT` quadratic in its 1,920 parameters.
    const NUMBERED_PARAMS: bool;
    /// How the batch writer's multi-row `INSERT`s begin. SQLite: `INSERT OR
    /// FAIL`, which needs no statement journal; a plain `INSERT` may have to
    /// undo its own rows alone, so from the second statement of a
    /// transaction on SQLite keeps their pages in a journal that spills into
    /// a temporary file (open file descriptors came and went at ~900
    /// records/s). A failure rolls back the whole batch either way: the
    /// transaction is never committed.
    const INSERT_MANY: &'static str;
    /// Pins a prompt's statistics query to the `(prompt_name,
    /// prompt_version, created_at)` index (SQLite: `INDEXED BY`; its planner
    /// may otherwise pick the latency index, whose order makes every row a
    /// random read). Empty where the planner needs no help.
    const BY_VERSION: &'static str;

    /// A statement that tells the other processes on this database that the
    /// key `$1` was revoked (`None`: the backend cannot; they learn it from
    /// their periodic key refresh).
    const NOTIFY_KEY_REVOKED: Option<&'static str> = None;

    /// Statements run around a scan of many records (see `scan_rows`): one
    /// that maps the database file, one that stops it.
    const SCAN_MAPPING: Option<(&'static str, &'static str)> = None;

    /// What locks a selected row until the transaction ends (PostgreSQL:
    /// `FOR UPDATE`; SQLite has one writer at a time and no row locks).
    const FOR_UPDATE: &'static str = "";

    /// Ids of keys revoked or rotated by other processes, as they happen (`None` where
    /// the backend has no notifications).
    fn key_revocations(
        _pool: &sqlx::Pool<Self>,
    ) -> impl Future<Output = StoreResult<Option<crate::store::KeyRevocations>>> + Send {
        std::future::ready(Ok(None))
    }

    /// Reads one of the driver's rows as a `T`. Generic code cannot: a
    /// [`Row`] is readable from each driver's rows by name, not from `DB`'s.
    fn decode<T: Row>(row: &Self::Row) -> StoreResult<T>;
}

/// Runs statements on a connection of a driver (see the module note).
pub trait Engine: Flavor {
    /// Runs `sql` for its effect.
    fn execute<'a>(
        conn: &'a mut Self::Connection,
        sql: &'a str,
        args: &'a [Value<'a>],
    ) -> impl Future<Output = StoreResult<()>> + Send + 'a;

    /// Runs `sql` and returns all its rows.
    fn fetch<'a>(
        conn: &'a mut Self::Connection,
        sql: &'a str,
        args: &'a [Value<'a>],
    ) -> impl Future<Output = StoreResult<Vec<Self::Row>>> + Send + 'a;

    /// Binds `args` to `$1`, `$2`, … of `query`, in order.
    fn bind<'q>(
        query: Query<'q, Self, Self::Arguments<'q>>,
        args: &'q [Value<'q>],
    ) -> Query<'q, Self, Self::Arguments<'q>>;
}

impl<DB> Engine for DB
where
    DB: Flavor,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<bool>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<f64>: Encode<'q, DB> + Type<DB>,
{
    async fn execute<'a>(
        conn: &'a mut DB::Connection,
        sql: &'a str,
        args: &'a [Value<'a>],
    ) -> StoreResult<()> {
        Self::bind(sqlx::query(sql), args)
            .execute(conn)
            .await
            .map(|_| ())
    }

    async fn fetch<'a>(
        conn: &'a mut DB::Connection,
        sql: &'a str,
        args: &'a [Value<'a>],
    ) -> StoreResult<Vec<DB::Row>> {
        Self::bind(sqlx::query(sql), args).fetch_all(conn).await
    }

    fn bind<'q>(
        mut query: Query<'q, DB, DB::Arguments<'q>>,
        args: &'q [Value<'q>],
    ) -> Query<'q, DB, DB::Arguments<'q>> {
        for arg in args {
            query = match *arg {
                Value::Text(v) => query.bind(v),
                Value::Int(v) => query.bind(v),
                Value::Bool(v) => query.bind(v),
                Value::Real(v) => query.bind(v),
            };
        }
        query
    }
}
