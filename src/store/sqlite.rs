//! SQLite backend: the embedded default (one file, WAL mode).

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};

use super::dialect::Dialect;

pub(super) const DIALECT: Dialect = Dialect {
    backend: "sqlite",
    day: "strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')",
    tags_join: "(SELECT requests.*, t.value AS tag_value FROM requests LEFT JOIN json_each(requests.tags) AS t)",
};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// Settings each pooled connection applies: `Any` opens SQLite from the URL
/// alone, so what the URL cannot say is set here. WAL + NORMAL is durable
/// across process crashes; only an OS crash can lose the last transactions.
/// (Foreign keys are on by the driver's default.)
const CONNECTION_PRAGMAS: &str = "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;";

/// Creates the file if missing, switches it to WAL (a property of the file,
/// kept by every later connection) and migrates it over one connection with
/// the driver's own options, then opens the pool.
pub(super) async fn open(url: &str, max_connections: u32) -> anyhow::Result<AnyPool> {
    let opts = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    if let Some(parent) = opts.get_filename().parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    let mut setup = opts.connect().await?;
    MIGRATOR.run(&mut setup).await?;
    setup.close().await?;
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .after_connect(|conn, _| {
            Box::pin(async move { conn.execute(CONNECTION_PRAGMAS).await.map(|_| ()) })
        })
        .connect(url)
        .await?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use crate::store::SqlStore;

    /// Every pooled connection (not only the one that migrated) sees WAL,
    /// NORMAL sync, the 10 s busy timeout and foreign keys.
    #[tokio::test]
    async fn pooled_connections_keep_the_sqlite_settings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("sub/settings.db").display());
        let store = SqlStore::connect(&url, 2).await.expect("connect");
        let pool = store.pool();
        let text = |sql| sqlx::query_scalar::<_, String>(sql).fetch_one(pool);
        let int = |sql| sqlx::query_scalar::<_, i64>(sql).fetch_one(pool);
        assert_eq!(text("PRAGMA journal_mode").await.expect("journal"), "wal");
        assert_eq!(int("PRAGMA synchronous").await.expect("sync"), 1);
        assert_eq!(int("PRAGMA busy_timeout").await.expect("busy"), 10_000);
        assert_eq!(int("PRAGMA foreign_keys").await.expect("fk"), 1);
    }
}
