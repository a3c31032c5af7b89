//! Schemas of teams, keys, budgets, costs, request records and the cache.
//!
//! These types describe JSON the handlers read or write (several build it
//! with `json!`); they exist for the OpenAPI document and are never
//! constructed.

// Types for the document only: never constructed, their fields never read.
#![allow(dead_code, unused_imports)]

use super::grounding::GroundingReport;
use serde_json::json;

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum TeamListObject {
    #[serde(rename = "list")]
    List,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct TeamList {
    #[schema(inline)]
    pub object: TeamListObject,
    /// Sorted by name.
    pub data: Vec<crate::store::Team>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum ApiKeyListObject {
    #[serde(rename = "list")]
    List,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct ApiKeyList {
    #[schema(inline)]
    pub object: ApiKeyListObject,
    /// The team's keys, revoked ones included, oldest first. Empty for a team that does not exist.
    pub data: Vec<crate::store::ApiKeyRow>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum KeyDeletedObject {
    #[serde(rename = "key")]
    Key,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum RequestRecordObject {
    #[serde(rename = "request")]
    Request,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum RequestRecordEndpoint {
    #[serde(rename = "chat.completions")]
    ChatCompletions,
    #[serde(rename = "completions")]
    Completions,
    #[serde(rename = "embeddings")]
    Embeddings,
    #[serde(rename = "responses")]
    Responses,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum RequestRecordOutcome {
    #[serde(rename = "ok")]
    Ok,
    #[serde(rename = "upstream_error")]
    UpstreamError,
    #[serde(rename = "timeout")]
    Timeout,
    #[serde(rename = "client_closed")]
    ClientClosed,
    #[serde(rename = "rejected")]
    Rejected,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum RequestRecordCache {
    #[serde(rename = "hit")]
    Hit,
    #[serde(rename = "miss")]
    Miss,
    #[serde(rename = "bypass")]
    Bypass,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum RequestRecordUsageSource {
    #[serde(rename = "upstream")]
    Upstream,
    #[serde(rename = "estimated")]
    Estimated,
}

/// One model call as the gateway recorded it. Records are written asynchronously in batches, so a record can appear a moment after its response. Calls refused before the pipeline starts (401 bad key, 413 body too large) leave no record; every other call to a model endpoint leaves exactly one.
#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRecord {
    /// The `x-request-id` of the call: the client's value when it sent an acceptable one, else a UUIDv7.
    pub id: String,
    #[schema(inline)]
    pub object: RequestRecordObject,
    /// The key's team; `_admin` for calls made with the admin key.
    pub team: String,
    /// Id of the team key used; `null` for the admin key.
    #[schema(required = true)]
    pub key_id: Option<String>,
    #[schema(inline)]
    pub endpoint: RequestRecordEndpoint,
    /// The model the call asked for (before any `upstream/` prefix is removed): the body's `model`, else the registry prompt's `config.model`; `null` when there was none.
    #[schema(required = true)]
    pub model: Option<String>,
    /// Name of the upstream the call was routed to; `null` when it was rejected before routing.
    #[schema(required = true)]
    pub upstream: Option<String>,
    /// Tries the call took, across retries and fallbacks (`upstream` and `model` name the target that answered); `null` for a call that reached no upstream (a cache hit, a rejection).
    #[schema(required = true)]
    pub attempts: Option<i64>,
    pub stream: bool,
    /// The HTTP status the client got. For streams this is the status sent before the first byte (200), even when the stream later failed; see `outcome`. `499` when the client disconnected before any answer was sent.
    pub status: i64,
    /// `rejected`: refused by the gateway (invalid body, unknown model). `upstream_error`: upstream error status, connection failure, or a stream that broke or ended early. `timeout`: no answer / no chunk within `timeout_s`. `client_closed`: the client went away mid-stream, or before the answer (then `status` is 499 and any budget reservation is released).
    #[schema(inline)]
    pub outcome: RequestRecordOutcome,
    /// From the upstream's `usage` (`input_tokens` on the Responses API). When a successful answer came without usage (or a stream ended before its usage chunk) the tokens are counted locally and `usage_source` is `estimated`. `null` when there is no answer to count (rejected or failed calls).
    #[schema(required = true)]
    pub prompt_tokens: Option<i64>,
    /// `output_tokens` on the Responses API.
    #[schema(required = true)]
    pub completion_tokens: Option<i64>,
    #[schema(required = true)]
    pub cached_tokens: Option<i64>,
    #[schema(required = true)]
    pub reasoning_tokens: Option<i64>,
    /// From the start of the pipeline to the end of the answer (for streams, the end of the stream), in milliseconds with microsecond resolution.
    pub latency_ms: f64,
    /// Streams: time to the first byte from the upstream, in milliseconds. `null` for non-streamed calls.
    #[schema(required = true)]
    pub ttft_ms: Option<f64>,
    /// `true` when `outcome` is `client_closed`.
    pub client_closed: bool,
    /// `hit`: answered from the cache; `miss`: the cache was consulted (or the answer was to be stored) and the upstream was called; `bypass`: the cache was not used (not asked for, `max-age=0`, the Responses API, or rejected before the cache stage). Same value as the `x-promptgate-cache` header.
    #[schema(inline)]
    pub cache: RequestRecordCache,
    /// What this call cost, as an exact decimal string of USD (`"0.000144"`): tokens × the model's price from the price table. `"0"` for a cache hit. `null` when there was no usage or the model has no price (an unpriced model is never counted as free).
    #[schema(required = true, examples(json!("0.000144")))]
    pub cost_usd: Option<String>,
    /// Cache hits only: what the answer would have cost. `null` otherwise.
    #[schema(required = true)]
    pub saved_usd: Option<String>,
    /// `upstream`: the token counts are the upstream's `usage`. `estimated`: counted locally with OpenAI's tokenizers (tiktoken: `o200k_base`, or `cl100k_base` for older models); for other vendors' models this is an approximation. `null` when there are no token counts.
    #[schema(inline, required = true)]
    pub usage_source: Option<RequestRecordUsageSource>,
    /// The grounding report when the answer was scored against grounding context (`GroundingReport`: score, flagged, threshold, claims); `null` otherwise.
    #[schema(required = true)]
    pub grounding: Option<GroundingReport>,
    /// `grounding.flagged`: the answer scored below the threshold. `null` when it was not scored. Filter with `GET /v1/requests?flagged=true`.
    #[schema(required = true)]
    pub flagged: Option<bool>,
    /// The string entries of `metadata.tags`; `null` when there were none.
    #[schema(required = true)]
    pub tags: Option<Vec<String>>,
    /// The registry prompt that built the request, as `name@version` (same as `x-promptgate-prompt`); `null` when none was used.
    #[schema(required = true, examples(json!("support/rag-answer@1")))]
    pub prompt: Option<String>,
    /// Content hash of that prompt version (same as `x-promptgate-prompt-sha256`).
    #[schema(required = true)]
    pub prompt_sha256: Option<String>,
    /// What went wrong, when something did.
    #[schema(required = true)]
    pub error: Option<String>,
    /// The request's `metadata` value as sent, or `null`.
    pub metadata: serde_json::Value,
    /// RFC 3339, UTC, milliseconds.
    #[schema(format = "date-time")]
    pub created_at: String,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum RequestRecordListObject {
    #[serde(rename = "list")]
    List,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct RequestRecordList {
    #[schema(inline)]
    pub object: RequestRecordListObject,
    /// Newest first.
    pub data: Vec<RequestRecord>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(untagged)]
pub enum NewBudgetUsd {
    Number(f64),
    Text(String),
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum NewBudgetPeriod {
    #[serde(rename = "day")]
    Day,
    #[serde(rename = "month")]
    Month,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum BudgetObject {
    #[serde(rename = "budget")]
    Budget,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum BudgetPeriod {
    #[serde(rename = "day")]
    Day,
    #[serde(rename = "month")]
    Month,
}

/// A team's budget and its use in the current period. A team without a budget: `{"object": "budget", "team": …, "usd": null}`.
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct Budget {
    #[schema(inline)]
    pub object: BudgetObject,
    pub team: String,
    /// The limit per period.
    #[schema(required = true)]
    pub usd: Option<String>,
    #[schema(inline, nullable = false)]
    pub period: Option<BudgetPeriod>,
    /// Spent in the current period (settled costs, rounded up to whole micro-USD).
    #[schema(nullable = false)]
    pub spent_usd: Option<String>,
    /// Held for requests in flight (their worst-case cost).
    #[schema(nullable = false)]
    pub reserved_usd: Option<String>,
    #[schema(nullable = false)]
    pub remaining_usd: Option<String>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum BudgetDeletedObject {
    #[serde(rename = "budget")]
    Budget,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum CacheClearedObject {
    #[serde(rename = "cache")]
    Cache,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct CacheCleared {
    #[schema(inline)]
    pub object: CacheClearedObject,
    pub cleared: bool,
    #[schema(required = true)]
    pub prompt: Option<String>,
}

/// One group. The `group_by` dimensions come first (`null` where a record has no value, e.g. `prompt` for calls without one), then the totals.
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct CostRow {
    pub team: Option<String>,
    /// Key id (`null` for the admin key).
    pub key: Option<String>,
    pub model: Option<String>,
    /// Prompt name.
    pub prompt: Option<String>,
    /// Prompt version (as text).
    pub version: Option<String>,
    /// `YYYY-MM-DD`, UTC.
    pub day: Option<String>,
    /// One entry of `metadata.tags`; a record with several tags counts in each of their rows.
    pub tag: Option<String>,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    /// Exact decimal string.
    pub cost_usd: String,
    pub cache_hits: i64,
    /// What the cache hits would have cost.
    pub saved_usd: String,
    /// Calls with token counts but no price for their model (not included in `cost_usd`).
    pub unpriced_requests: i64,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum CostReportObject {
    #[serde(rename = "cost_report")]
    CostReport,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum CostReportGroupByItem {
    #[serde(rename = "team")]
    Team,
    #[serde(rename = "key")]
    Key,
    #[serde(rename = "model")]
    Model,
    #[serde(rename = "prompt")]
    Prompt,
    #[serde(rename = "version")]
    Version,
    #[serde(rename = "day")]
    Day,
    #[serde(rename = "tag")]
    Tag,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct CostReport {
    #[schema(inline)]
    pub object: CostReportObject,
    #[schema(format = "date-time")]
    pub from: String,
    #[schema(format = "date-time")]
    pub to: String,
    #[schema(inline)]
    pub group_by: Vec<CostReportGroupByItem>,
    /// Ordered by the group values. Without `group_by`: one row with the totals.
    pub rows: Vec<CostRow>,
}
