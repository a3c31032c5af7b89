//! PostgreSQL backend: shared by several replicas.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::Postgres;

use super::sql::{Flavor, Row, SqlStore};
use super::StoreResult;

pub type PgStore = SqlStore<Postgres>;

impl Flavor for Postgres {
    const BACKEND: &'static str = "postgres";
    const DAY: &'static str =
        "to_char(to_timestamp(created_at / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')";
    const TAGS_JOIN: &'static str = "(SELECT requests.*, t.value AS tag_value FROM requests \
                 LEFT JOIN LATERAL jsonb_array_elements_text(requests.tags::jsonb) AS t(value) ON true) AS r";

    const NUMBERED_PARAMS: bool = true;
    const BY_VERSION: &'static str = "";

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
