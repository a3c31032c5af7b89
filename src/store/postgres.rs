//! PostgreSQL backend: shared by several replicas.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::Postgres;

use super::sql::{Flavor, Row, SqlStore};
use super::{KeyRevocations, StoreResult};

/// The notification channel of revoked (or rotated) key ids.
const KEY_REVOKED_CHANNEL: &str = "promptgate_key_revoked";

pub type PgStore = SqlStore<Postgres>;

impl Flavor for Postgres {
    const BACKEND: &'static str = "postgres";
    const DAY: &'static str =
        "to_char(to_timestamp(created_at / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')";
    const TAGS_JOIN: &'static str = "(SELECT requests.*, t.value AS tag_value FROM requests \
                 LEFT JOIN LATERAL jsonb_array_elements_text(requests.tags::jsonb) AS t(value) ON true) AS r";

    const TAG_VALUES: &'static str = "jsonb_array_elements_text(requests.tags::jsonb) AS t(value)";

    const INSERT_MANY: &'static str = "INSERT";
    const NUMBERED_PARAMS: bool = true;
    const BY_VERSION: &'static str = "";
    const FOR_UPDATE: &'static str = " FOR UPDATE";

    const NOTIFY_KEY_REVOKED: Option<&'static str> =
        Some("SELECT pg_notify('promptgate_key_revoked', $1)");

    async fn key_revocations(pool: &PgPool) -> StoreResult<Option<KeyRevocations>> {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(KEY_REVOKED_CHANNEL).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                // `recv` reconnects by itself after a lost connection (what was
                // sent meanwhile is missed: the periodic refresh covers it).
                let received = tokio::select! {
                    // the key cache is gone: give the connection back
                    () = tx.closed() => return,
                    r = listener.recv() => r,
                };
                match received {
                    Ok(n) => {
                        if tx.send(n.payload().to_owned()).await.is_err() {
                            return; // the key cache is gone
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "key revocation listener failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Some(rx))
    }

    fn decode<T: Row>(row: &PgRow) -> StoreResult<T> {
        T::from_row(row)
    }
}

impl SqlStore<Postgres> {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let opts = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(SqlStore::new(pool))
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
