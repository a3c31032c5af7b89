//! PostgreSQL backend: shared by several replicas.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

#[derive(Clone)]
pub struct PgStore {
    pub(super) pool: PgPool,
    /// Serialises registry writes from this process (SQLite allows one
    /// writer; a read-then-write transaction would otherwise hit `busy`).
    pub(super) registry_writes: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl PgStore {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let opts = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(PgStore {
            pool,
            registry_writes: Default::default(),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

super::sql::impl_store!(
    PgStore,
    sqlx::Postgres,
    "postgres",
    day = "to_char(to_timestamp(created_at / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    tags_join = "(SELECT requests.*, t.value AS tag_value FROM requests \
                 LEFT JOIN LATERAL jsonb_array_elements_text(requests.tags::jsonb) AS t(value) ON true) AS r"
);
