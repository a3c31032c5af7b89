//! PostgreSQL backend: shared by several replicas.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::AnyPool;

use super::dialect::Dialect;

pub(super) const DIALECT: Dialect = Dialect {
    backend: "postgres",
    day: "to_char(to_timestamp(created_at / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    tags_join: "(SELECT requests.*, t.value AS tag_value FROM requests \
                 LEFT JOIN LATERAL jsonb_array_elements_text(requests.tags::jsonb) AS t(value) ON true) AS r",
};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// Opens the pool and migrates the schema.
pub(super) async fn open(url: &str, max_connections: u32) -> anyhow::Result<AnyPool> {
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}
