//! Persistence: one trait per aggregate, implemented once by [`SqlStore`] for
//! SQLite (the embedded default) and PostgreSQL (several replicas).
//!
//! Both engines run the same SQL text (see `sql/`): the schema keeps to
//! types both engines understand and timestamps are epoch milliseconds, so a
//! behaviour difference between backends is a bug, and the same integration
//! tests run against both. `sqlite.rs` and `postgres.rs` only open the pool
//! and name the few SQL expressions that differ.

mod dialect;
mod postgres;
mod report;
mod rows;
mod sql;
mod sqlite;
mod traits;
pub mod writer;

use std::sync::Arc;

pub use report::{Dim, ReportQuery, ReportRow};
pub use rows::{
    ApiKeyRow, BudgetRow, LabelMove, PromptLabelRow, PromptVersionRow, RecordFilter, RequestRecord,
    Team, VersionWrite,
};
pub use sql::SqlStore;
pub use traits::{
    BudgetStore, CacheClearStore, CostStore, KeyStore, PromptStore, RecordStore, SettingStore,
    Store, StoreResult, TeamStore,
};

/// Opens the store named by `url` and brings its schema up to date.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Arc<dyn Store>> {
    Ok(Arc::new(SqlStore::connect(url, max_connections).await?))
}
