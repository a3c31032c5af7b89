//! Persistence: one trait per aggregate, implemented for SQLite (the embedded
//! default) and PostgreSQL (several replicas).
//!
//! Both implementations share their SQL text (see `sql/`): the schema keeps to
//! types both engines understand and timestamps are epoch milliseconds, so a
//! behaviour difference between backends is a bug, and the same integration
//! tests run against both.

mod experiments;
pub mod health;
mod postgres;
mod report;
mod rows;
mod sql;
mod sqlite;
mod traits;
pub mod writer;

use std::sync::Arc;

pub use experiments::{bucket_width_us, GroupStats, LatencyBucket, StatsQuery};
pub use postgres::PgStore;
pub use report::{Dim, ReportQuery, ReportRow};
pub use rows::{
    ApiKeyRow, AuditEntry, AuditFilter, BudgetCharge, BudgetRow, ChargeBook, CounterRelease,
    CounterReserve, LabelMove, LabelWrite, PromptLabelRow, PromptVersionRow, RecordFilter,
    RecordSearch, RequestRecord, Team, VersionWrite,
};
pub use sqlite::SqliteStore;
pub use traits::{
    AuditStore, BudgetStore, CacheClearStore, CostStore, ExperimentStore, KeyRevocations,
    KeyRotation, KeyStore, PromptStore, RecordStore, SettingStore, Store, StoreResult, TeamStore,
};

/// Opens the store named by `url` and brings its schema up to date.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, max_connections).await?))
    } else {
        Ok(Arc::new(PgStore::connect(url, max_connections).await?))
    }
}
