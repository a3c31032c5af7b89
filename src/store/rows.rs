//! The rows the store reads and writes, and the queries it answers: plain
//! data shared by both backends (the SQL that moves them is in `sql/`).

use std::sync::Arc;

use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Team {
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")]
    pub name: String,
    /// RFC 3339, UTC, milliseconds.
    #[serde(serialize_with = "crate::time::ser_ms")]
    #[schema(value_type = String, format = "date-time")]
    pub created_at: i64,
}

/// A stored team key. The key itself is never stored or shown again; only its SHA-256 hash is kept.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = ApiKey)]
pub struct ApiKeyRow {
    #[schema(
        pattern = "^key_[0-9a-f]{32}$",
        examples("key_cb356a79592a4efdba1cb6d5f0dac458")
    )]
    pub id: String,
    pub team: String,
    #[serde(skip)]
    pub key_hash: String,
    /// The key's first 9 characters (`pg-` and 6 hex digits), to tell keys apart.
    #[schema(examples("pg-2e10d8"))]
    pub hint: String,
    #[serde(serialize_with = "crate::time::ser_ms")]
    #[schema(value_type = String, format = "date-time")]
    pub created_at: i64,
    #[serde(serialize_with = "crate::time::ser_opt_ms")]
    #[schema(value_type = Option<String>, format = "date-time", required = true)]
    pub revoked_at: Option<i64>,
    /// An operator's label for the key.
    pub name: Option<String>,
    /// After this the key is refused.
    #[serde(serialize_with = "crate::time::ser_opt_ms")]
    #[schema(value_type = Option<String>, format = "date-time")]
    pub expires_at: Option<i64>,
    /// The only models (after `[aliases]`) the key may call; `null`: any.
    // Stored as a JSON array.
    #[serde(serialize_with = "ser_models")]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_models: Option<String>,
    /// The secret before the last rotation, valid until `previous_expires_at`.
    #[serde(skip)]
    pub previous_hash: Option<String>,
    /// After a rotation: the old secret's hint.
    pub previous_hint: Option<String>,
    /// Until when the old secret works.
    #[serde(serialize_with = "crate::time::ser_opt_ms")]
    #[schema(value_type = Option<String>, format = "date-time")]
    pub previous_expires_at: Option<i64>,
}

impl ApiKeyRow {
    /// The models the key may call (`None` = any).
    pub fn models(&self) -> Option<Vec<String>> {
        serde_json::from_str(self.allowed_models.as_deref()?).ok()
    }
}

fn ser_models<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    let parsed: Option<Vec<String>> = v.as_deref().and_then(|t| serde_json::from_str(t).ok());
    parsed.serialize(s)
}

/// One proxied call, success or failure.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct RequestRecord {
    pub id: String,
    pub team: String,
    pub key_id: Option<String>,
    pub model: Option<String>,
    pub stream: bool,
    pub upstream: Option<String>,
    pub endpoint: String,
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
    /// The hint of the key secret used (after a rotation: the new one or the old one).
    pub key_hint: Option<String>,
    /// Tries the answer took (retries and fallbacks included); `None` when
    /// no upstream was called.
    pub attempts: Option<i64>,
    /// What the call spent against a shared budget counter, booked with the record.
    #[sqlx(skip)]
    pub budget_charge: Option<BudgetCharge>,
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
    pub at: i64,
    pub actor: Option<String>,
    /// Why it moved, when a rollout guard moved it (with the figures).
    pub reason: Option<String>,
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

/// A search of request records (the console's requests page), newest
/// first; every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct RecordSearch {
    /// `None` = every team (admin).
    pub team: Option<String>,
    pub flagged: Option<bool>,
    /// Created at or after (epoch ms).
    pub from_ms: Option<i64>,
    /// Created before (epoch ms).
    pub to_ms: Option<i64>,
    pub model: Option<String>,
    /// A registry prompt's name.
    pub prompt: Option<String>,
    /// The HTTP status answered.
    pub status: Option<i64>,
    /// One of `metadata.tags`.
    pub tag: Option<String>,
    /// Paging: only records older than this one (`created_at`, `id`), as
    /// the last record of the previous page gives them.
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

/// A team's budget as configured.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct BudgetRow {
    pub team: String,
    /// Decimal USD as text (never a float).
    pub usd: String,
    /// `day` or `month`.
    pub period: String,
    pub updated_at: i64,
}

/// A label move to store: `label` of prompt `name` now points at `target`
/// (the label's JSON), moved by `actor` at `at`.
#[derive(Debug, Clone, Copy)]
pub struct LabelWrite<'a> {
    pub name: &'a str,
    pub label: &'a str,
    pub target: &'a str,
    pub actor: Option<&'a str>,
    pub at: i64,
}

/// A reservation against a shared budget counter (PostgreSQL replicas
/// without Redis), in micro-USD: `holder` holds `amount` more unless spent +
/// the holds of live holders (leases ending at or after `now_ms`) + `amount`
/// would pass `limit`. `init_spent` seeds a counter the period has not
/// started yet.
#[derive(Debug, Clone, Copy)]
pub struct CounterReserve<'a> {
    pub holder: &'a str,
    pub team: &'a str,
    pub period_start: i64,
    pub init_spent: i64,
    pub amount: i64,
    pub limit: i64,
    pub now_ms: i64,
}

/// Part of a hold given back (micro-USD): what a call reserved but did not spend.
#[derive(Debug, Clone, Copy)]
pub struct CounterRelease<'a> {
    pub holder: &'a str,
    pub team: &'a str,
    pub period_start: i64,
    pub musd: i64,
}

/// What a record's call spent against its team's shared budget counter
/// (micro-USD, rounded up), booked in the transaction that writes the
/// record: the counter's spent grows by `spent_musd` and the holder's hold
/// shrinks by `held_musd` (the spent part of its reservation; less only
/// when the call cost more than its worst case). Never stored as a column.
#[derive(Debug, Clone)]
pub struct BudgetCharge {
    pub holder: Arc<str>,
    pub period_start: i64,
    pub spent_musd: i64,
    pub held_musd: i64,
    pub book: ChargeBook,
}

/// Who books a [`BudgetCharge`] once its record is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeBook {
    /// The store, in the transaction that writes the record (PostgreSQL counters).
    Store,
    /// The Redis counter, after the transaction.
    Redis,
}

/// One admin write, as the audit log keeps it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// The entry's number: later writes have larger ones (`before=` pages by it).
    #[serde(rename = "id")]
    pub seq: i64,
    /// When the write was made (RFC 3339, UTC, milliseconds).
    #[serde(serialize_with = "crate::time::ser_ms")]
    #[schema(value_type = String, format = "date-time")]
    pub at: i64,
    /// The key id that made the change (`admin` for the admin key, `guard`
    /// for the rollout guard).
    pub actor: String,
    /// `team.create`, `key.create`, `key.rotate`, `key.revoke`, `budget.put`,
    /// `budget.delete`, `prompt.version`, `label.move`, `cache.clear`.
    pub action: String,
    /// What was changed (a team, key id, prompt, `prompt:label`, …).
    pub target: String,
    /// The object before the write (`null`: it did not exist).
    #[serde(serialize_with = "ser_json")]
    #[schema(value_type = Option<Object>, required = true)]
    pub before: Option<String>,
    /// The object after the write (`null`: it was removed).
    #[serde(serialize_with = "ser_json")]
    #[schema(value_type = Option<Object>, required = true)]
    pub after: Option<String>,
}

/// Which audit entries to read (newest first).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub target: Option<String>,
    pub actor: Option<String>,
    pub from: i64,
    pub to: i64,
    /// Entries older than this id (paging).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

fn ser_json<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    let parsed: Option<serde_json::Value> = v.as_deref().and_then(|t| serde_json::from_str(t).ok());
    parsed.serialize(s)
}
