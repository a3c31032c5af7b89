//! SQLite backend: the embedded default (one file, WAL mode).

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

#[derive(Clone)]
pub struct SqliteStore {
    pub(super) pool: SqlitePool,
    /// Serialises registry writes from this process (SQLite allows one
    /// writer; a read-then-write transaction would otherwise hit `busy`).
    pub(super) registry_writes: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl SqliteStore {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable across process crashes; only an OS crash
            // can lose the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if let Some(parent) = opts.get_filename().parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore {
            pool,
            registry_writes: Default::default(),
        })
    }
}

super::sql::impl_store!(
    SqliteStore,
    sqlx::Sqlite,
    "sqlite",
    day = "strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')",
    tags_join = "(SELECT requests.*, t.value AS tag_value FROM requests LEFT JOIN json_each(requests.tags) AS t)"
);
