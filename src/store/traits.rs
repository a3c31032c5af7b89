//! The store's contract: one trait per aggregate, and [`Store`], everything
//! the gateway persists. Both backends implement them with the same SQL (see
//! `sql/`).

use async_trait::async_trait;

use super::experiments::{GroupStats, LatencyBucket, StatsQuery};
use super::report::{ReportQuery, ReportRow};
use super::rows::{
    ApiKeyRow, AuditEntry, AuditFilter, BudgetRow, CounterRelease, CounterReserve, LabelMove,
    LabelWrite, PromptLabelRow, PromptVersionRow, RecordFilter, RecordSearch, RequestRecord, Team,
    VersionWrite,
};

pub type StoreResult<T> = Result<T, sqlx::Error>;

#[async_trait]
pub trait TeamStore: Send + Sync {
    /// `Ok(false)` when the team already exists.
    async fn create_team(&self, team: &Team) -> StoreResult<bool>;
    async fn get_team(&self, name: &str) -> StoreResult<Option<Team>>;
    async fn list_teams(&self) -> StoreResult<Vec<Team>>;
}

/// A key's new secret, and until when the old one works.
pub struct KeyRotation<'a> {
    pub id: &'a str,
    pub new_hash: &'a str,
    pub new_hint: &'a str,
    pub old_valid_until: i64,
}

/// Ids of keys revoked or rotated by other processes (see [`KeyStore::key_revocations`]).
pub type KeyRevocations = tokio::sync::mpsc::Receiver<String>;

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
    /// Gives key `id` a new secret; the old one stays valid until
    /// `old_valid_until`. `false` if there is no such active key.
    async fn rotate_key(&self, rotation: &KeyRotation<'_>) -> StoreResult<bool>;
    /// Ids of keys other processes revoke or rotate, as they happen; `None` where the
    /// backend has no notifications (SQLite).
    async fn key_revocations(&self) -> StoreResult<Option<KeyRevocations>>;
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
    /// Which of `ids` are already stored: a batch retried after a commit
    /// whose answer was lost must not be written twice.
    async fn stored_record_ids(&self, ids: &[&str]) -> StoreResult<Vec<String>>;
    /// The newest record with this id, restricted to `team` when given.
    async fn get_record(&self, id: &str, team: Option<&str>) -> StoreResult<Option<RequestRecord>>;
    async fn list_records(&self, filter: &RecordFilter) -> StoreResult<Vec<RequestRecord>>;
    /// Records matching every filter of `q`, newest first (by `created_at`,
    /// then `id`, so pages can follow one another).
    async fn search_records(&self, q: &RecordSearch) -> StoreResult<Vec<RequestRecord>>;
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
    /// Moves a label, with history.
    async fn move_label(&self, m: &LabelWrite<'_>) -> StoreResult<()>;
    /// Moves a label only if it still points at `expected` (its stored JSON),
    /// noting `reason` in the history: the compare-and-set that lets one
    /// replica of many act on a rollout. `Ok(false)`: it had moved already.
    async fn move_label_if(
        &self,
        m: &LabelWrite<'_>,
        expected: &str,
        reason: &str,
    ) -> StoreResult<bool>;
    async fn label_history(&self, name: &str, label: &str) -> StoreResult<Vec<LabelMove>>;
    /// Grows on every registry write; replicas poll it to know when to reload.
    async fn registry_revision(&self) -> StoreResult<i64>;
}

#[async_trait]
pub trait CostStore: Send + Sync {
    async fn cost_report(&self, q: &ReportQuery) -> StoreResult<Vec<ReportRow>>;
}

/// Statistics over request records for rollout reports, guards and drift.
#[async_trait]
pub trait ExperimentStore: Send + Sync {
    /// Sums per prompt version (or, for raw calls, per model) in the window.
    async fn group_stats(&self, q: &StatsQuery) -> StoreResult<Vec<GroupStats>>;
    /// Latency histogram per group in the window.
    async fn latency_buckets(&self, q: &StatsQuery) -> StoreResult<Vec<LatencyBucket>>;
}

#[async_trait]
pub trait BudgetStore: Send + Sync {
    async fn put_budget(&self, b: &BudgetRow) -> StoreResult<()>;
    async fn delete_budget(&self, team: &str) -> StoreResult<bool>;
    async fn budgets(&self) -> StoreResult<Vec<BudgetRow>>;
    /// Recorded spend of `team` since `from_ms`, in pico-USD.
    async fn spent_since(&self, team: &str, from_ms: i64) -> StoreResult<i128>;
    /// Reserves against a shared counter (atomically with the check);
    /// whether it fitted.
    async fn counter_reserve(&self, r: &CounterReserve<'_>) -> StoreResult<bool>;
    /// Gives back part of a holder's hold.
    async fn counter_release(&self, r: &CounterRelease<'_>) -> StoreResult<()>;
    /// `(spent, held by holders whose lease ends at or after now_ms)` of a
    /// period's shared counter, in micro-USD; `None` before its first reservation.
    async fn counter_read(
        &self,
        team: &str,
        period_start: i64,
        now_ms: i64,
    ) -> StoreResult<Option<(i64, i64)>>;
    /// Starts or renews `holder`'s lease (its holds count until
    /// `alive_until`), and forgets holders whose lease ended before
    /// `forget_before` together with their holds.
    async fn holder_renew(
        &self,
        holder: &str,
        alive_until: i64,
        forget_before: i64,
    ) -> StoreResult<()>;
    /// Ends `holder`'s lease and drops its holds (a clean shutdown, once
    /// every record is written).
    async fn holder_release(&self, holder: &str) -> StoreResult<()>;
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

/// The audit log of admin writes: append and read, nothing else.
#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// Newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;
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
    + AuditStore
    + ExperimentStore
{
    /// Cheap round trip for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
    fn backend(&self) -> &'static str;
}
