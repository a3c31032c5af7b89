//! Persistence: one trait per aggregate, implemented for SQLite (the embedded
//! default) and PostgreSQL (several replicas).
//!
//! Both implementations share their SQL text (see [`sql`]): the schema keeps to
//! types both engines understand and timestamps are epoch milliseconds, so a
//! behaviour difference between backends is a bug, and the same integration
//! tests run against both.

mod postgres;
mod sql;
mod sqlite;
pub mod writer;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

pub type StoreResult<T> = Result<T, sqlx::Error>;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Team {
    pub name: String,
    #[serde(serialize_with = "crate::time::ser_ms")]
    pub created_at: i64,
}

/// A stored API key: never the key itself, only its hash and a short hint.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub team: String,
    #[serde(skip)]
    pub key_hash: String,
    /// First characters of the key, so an operator can tell keys apart.
    pub hint: String,
    #[serde(serialize_with = "crate::time::ser_ms")]
    pub created_at: i64,
    #[serde(serialize_with = "crate::time::ser_opt_ms")]
    pub revoked_at: Option<i64>,
}

/// One proxied call, success or failure.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct RequestRecord {
    pub id: String,
    pub team: String,
    pub key_id: Option<String>,
    pub endpoint: String,
    pub model: Option<String>,
    pub upstream: Option<String>,
    pub stream: bool,
    pub status: i32,
    pub outcome: String,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub latency_us: i64,
    pub ttft_us: Option<i64>,
    pub client_closed: bool,
    pub error: Option<String>,
    /// The request's `metadata` object as JSON text.
    pub metadata: Option<String>,
    pub created_at: i64,
    /// The registry prompt that built the request, if any.
    pub prompt_name: Option<String>,
    pub prompt_version: Option<i64>,
    pub prompt_sha256: Option<String>,
    /// `hit`, `miss` or `bypass`.
    pub cache: Option<String>,
    /// Exact cost in pico-USD; `None` = unpriced model (never silently 0).
    pub cost_pusd: Option<i64>,
    /// What a cache hit saved, in pico-USD.
    pub saved_pusd: Option<i64>,
    /// `upstream` or `estimated`.
    pub usage_source: Option<String>,
    /// `metadata.tags` as a JSON array.
    pub tags: Option<String>,
    /// Support of the answer by its RAG context, in [0, 1] (a score, not money).
    pub grounding_score: Option<f64>,
    pub flagged: Option<bool>,
    /// The grounding report (claims, evidence, reasons) as JSON.
    pub grounding: Option<String>,
}

/// One stored prompt version. `content` is the version's canonical JSON
/// (template, config, variables schema, grounding variable); the registry
/// module owns its meaning, the store only keeps it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PromptVersionRow {
    pub name: String,
    pub version: i64,
    pub content: String,
    pub sha256: String,
    pub commit_message: Option<String>,
    pub author: Option<String>,
    /// `api` or `file`.
    pub source: String,
    pub created_at: i64,
}

/// Where a label points: JSON of a version or a weighted rollout.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PromptLabelRow {
    pub name: String,
    pub label: String,
    pub target: String,
    pub updated_at: i64,
    pub updated_by: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LabelMove {
    pub name: String,
    pub label: String,
    pub from_target: Option<String>,
    pub to_target: String,
    pub actor: Option<String>,
    pub at: i64,
}

/// The outcome of storing a version.
#[derive(Debug, Clone)]
pub enum VersionWrite {
    /// A new version was created.
    Created(PromptVersionRow),
    /// The content equals the latest version's: nothing was written.
    Unchanged(PromptVersionRow),
}

/// Filter for listing request records.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    /// `None` = every team (admin).
    pub team: Option<String>,
    /// Only answers the grounding check flagged (or did not).
    pub flagged: Option<bool>,
    pub limit: i64,
}

#[async_trait]
pub trait TeamStore: Send + Sync {
    /// `Ok(false)` when the team already exists.
    async fn create_team(&self, team: &Team) -> StoreResult<bool>;
    async fn get_team(&self, name: &str) -> StoreResult<Option<Team>>;
    async fn list_teams(&self) -> StoreResult<Vec<Team>>;
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn insert_key(&self, key: &ApiKeyRow) -> StoreResult<()>;
    async fn get_key(&self, id: &str) -> StoreResult<Option<ApiKeyRow>>;
    async fn find_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRow>>;
    /// Every key that is not revoked: the in-memory key cache is rebuilt from it.
    async fn active_keys(&self) -> StoreResult<Vec<ApiKeyRow>>;
    async fn list_keys(&self, team: &str) -> StoreResult<Vec<ApiKeyRow>>;
    /// `Ok(false)` when the key does not exist or was already revoked.
    async fn revoke_key(&self, id: &str, at: i64) -> StoreResult<bool>;
}

#[async_trait]
pub trait SettingStore: Send + Sync {
    async fn get_setting(&self, name: &str) -> StoreResult<Option<String>>;
    /// Insert unless present; returns the value now stored (first writer wins,
    /// so two replicas starting together agree on one generated admin key).
    async fn put_setting_if_absent(&self, name: &str, value: &str) -> StoreResult<String>;
}

#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Writes a batch in one transaction: all or nothing.
    async fn insert_records(&self, records: &[RequestRecord]) -> StoreResult<()>;
    /// The newest record with this id, restricted to `team` when given.
    async fn get_record(&self, id: &str, team: Option<&str>) -> StoreResult<Option<RequestRecord>>;
    async fn list_records(&self, filter: &RecordFilter) -> StoreResult<Vec<RequestRecord>>;
}

#[async_trait]
pub trait PromptStore: Send + Sync {
    /// Stores `row` as the next version of `row.name` (its `version` field is
    /// ignored) unless its hash equals the latest version's. Labels in
    /// `labels` are moved to the new (or unchanged latest) version in the
    /// same transaction, with history.
    async fn write_version(
        &self,
        row: &PromptVersionRow,
        labels: &[String],
        actor: Option<&str>,
    ) -> StoreResult<VersionWrite>;
    async fn prompt_versions(&self, name: &str) -> StoreResult<Vec<PromptVersionRow>>;
    async fn all_prompt_versions(&self) -> StoreResult<Vec<PromptVersionRow>>;
    async fn all_prompt_labels(&self) -> StoreResult<Vec<PromptLabelRow>>;
    /// Moves a label (with history); `target` is the label's JSON.
    async fn move_label(
        &self,
        name: &str,
        label: &str,
        target: &str,
        actor: Option<&str>,
        at: i64,
    ) -> StoreResult<()>;
    async fn label_history(&self, name: &str, label: &str) -> StoreResult<Vec<LabelMove>>;
    /// Grows on every registry write; replicas poll it to know when to reload.
    async fn registry_revision(&self) -> StoreResult<i64>;
}

/// A dimension of a cost report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    Team,
    Key,
    Model,
    Prompt,
    Version,
    Day,
    Tag,
}

impl Dim {
    pub fn parse(s: &str) -> Option<Dim> {
        Some(match s {
            "team" => Dim::Team,
            "key" => Dim::Key,
            "model" => Dim::Model,
            "prompt" => Dim::Prompt,
            "version" => Dim::Version,
            "day" => Dim::Day,
            "tag" => Dim::Tag,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Dim::Team => "team",
            Dim::Key => "key",
            Dim::Model => "model",
            Dim::Prompt => "prompt",
            Dim::Version => "version",
            Dim::Day => "day",
            Dim::Tag => "tag",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReportQuery {
    pub from_ms: i64,
    pub to_ms: i64,
    /// `None` = every team (admin).
    pub team: Option<String>,
    pub group_by: Vec<Dim>,
}

/// One group of a cost report; sums in pico-USD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportRow {
    /// One value per `group_by` dimension, in order (`None` = not set).
    pub keys: Vec<Option<String>>,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    pub cost_pusd: i128,
    pub cache_hits: i64,
    pub saved_pusd: i128,
    pub unpriced_requests: i64,
}

#[async_trait]
pub trait CostStore: Send + Sync {
    async fn cost_report(&self, q: &ReportQuery) -> StoreResult<Vec<ReportRow>>;
}

/// A team's budget as configured.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BudgetRow {
    pub team: String,
    /// Decimal USD as text (never a float).
    pub usd: String,
    /// `day` or `month`.
    pub period: String,
    pub updated_at: i64,
}

#[async_trait]
pub trait BudgetStore: Send + Sync {
    async fn put_budget(&self, b: &BudgetRow) -> StoreResult<()>;
    async fn delete_budget(&self, team: &str) -> StoreResult<bool>;
    async fn budgets(&self) -> StoreResult<Vec<BudgetRow>>;
    /// Recorded spend of `team` since `from_ms`, in pico-USD.
    async fn spent_since(&self, team: &str, from_ms: i64) -> StoreResult<i128>;
    /// Shared counter (PostgreSQL replicas without Redis): reserves `amount`
    /// micro-USD unless spent + reserved + amount would pass `limit`.
    /// Returns `(reserved?, spent, reserved)` in micro-USD.
    async fn counter_reserve(
        &self,
        team: &str,
        period_start: i64,
        init_spent: i64,
        amount: i64,
        limit: i64,
    ) -> StoreResult<(bool, i64, i64)>;
    async fn counter_settle(
        &self,
        team: &str,
        period_start: i64,
        reserved: i64,
        spent: i64,
    ) -> StoreResult<()>;
    async fn counter_read(&self, team: &str, period_start: i64) -> StoreResult<Option<(i64, i64)>>;
}

/// The log of response-cache clears: how a clear made on one replica reaches
/// the in-process caches of the others when there is no Redis to carry it.
#[async_trait]
pub trait CacheClearStore: Send + Sync {
    /// Notes a clear (`None`: every entry); returns its sequence number.
    async fn note_cache_clear(&self, prompt: Option<&str>, at: i64) -> StoreResult<i64>;
    /// The clears after `seq`, oldest first: `(seq, prompt)`.
    async fn cache_clears_after(&self, seq: i64) -> StoreResult<Vec<(i64, Option<String>)>>;
    /// The newest clear's sequence number (0 when there was none).
    async fn last_cache_clear(&self) -> StoreResult<i64>;
}

/// Everything the gateway persists.
#[async_trait]
pub trait Store:
    TeamStore
    + KeyStore
    + SettingStore
    + RecordStore
    + PromptStore
    + CostStore
    + BudgetStore
    + CacheClearStore
{
    /// Cheap round trip for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
    fn backend(&self) -> &'static str;
}

/// Opens the store named by `url` and brings its schema up to date.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, max_connections).await?))
    } else {
        Ok(Arc::new(PgStore::connect(url, max_connections).await?))
    }
}
