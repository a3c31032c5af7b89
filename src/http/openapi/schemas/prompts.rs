//! Schemas of the prompt registry, rollouts and their reports.
//!
//! These types describe JSON the handlers read or write (several build it
//! with `json!`); they exist for the OpenAPI document and are never
//! constructed.

// Types for the document only: never constructed, their fields never read.
#![allow(dead_code, unused_imports)]

use serde_json::json;

#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LabelTargetRolloutRolloutItem {
    #[schema(minimum = 1)]
    pub version: i64,
    #[schema(minimum = 1)]
    pub weight: i64,
}

/// What a label points at: one version, or a weighted rollout between 1–16 distinct versions (weights > 0, any scale; a version's share is its weight over the sum). A rollout is sticky: the same `metadata.user` (else the body's `user`, else the API key) always gets the same version of a given prompt and label, across requests, restarts and replicas. A rollout may carry a `guard` (see `Guard`); a guard that fired leaves its candidate in the rollout with weight 0 (a weight only a guard can set).
#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(untagged)]
#[schema(examples(json!({"version": 3}), json!({"rollout": [{"version": 3, "weight": 90}, {"version": 4, "weight": 10}]})))]
pub enum LabelTarget {
    Version {
        #[schema(minimum = 1)]
        version: i64,
    },
    Rollout {
        #[schema(inline, min_items = 1, max_items = 16)]
        rollout: Vec<LabelTargetRolloutRolloutItem>,
        #[schema(nullable = false)]
        guard: Option<Guard>,
    },
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum PromptSummaryObject {
    #[serde(rename = "prompt")]
    Prompt,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum PromptSummarySource {
    #[serde(rename = "api")]
    Api,
    #[serde(rename = "file")]
    File,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct PromptSummary {
    #[schema(inline)]
    pub object: PromptSummaryObject,
    pub name: String,
    pub latest_version: i64,
    /// `file` when the newest version came from the `prompts/` folder.
    #[schema(inline)]
    pub source: PromptSummarySource,
    /// Label → target. `latest` is not listed (it is implicit).
    pub labels: std::collections::BTreeMap<String, LabelTarget>,
    /// When the newest version was created.
    #[schema(format = "date-time")]
    pub updated_at: String,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum PromptListObject {
    #[serde(rename = "list")]
    List,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct PromptList {
    #[schema(inline)]
    pub object: PromptListObject,
    /// Sorted by name.
    pub data: Vec<PromptSummary>,
}

/// The variables a request must send: name → type. A type is a string (`string`, `number`, `integer`, `boolean`, `object`, `any`, `array<T>`), or an object `{"type", "items"?, "values"? (enum), "optional"?, "description"?, "secret"?}`; a name ending in `?` is optional. `"secret": true` (string variables only; not the grounding variable) keeps the value out of request records, render previews (it shows as `[secret:<name>]`), error messages, logs and traces: it reaches only the upstream, inside the rendered messages, and answers are grounding-scored with it struck. A JSON Schema object (`{"type": "object", "properties": …, "required": …}`, a property may say `"secret": true`) is accepted too. An empty schema accepts any variables (a variable the template uses but the request lacks still fails); a non-empty schema is closed: undeclared variables → 400.
#[derive(utoipa::ToSchema, serde::Serialize)]
#[schema(value_type = Object)]
pub struct VariablesSchema(pub serde_json::Value);

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum NewPromptVersionType {
    #[serde(rename = "chat")]
    Chat,
    #[serde(rename = "text")]
    Text,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum NewPromptVersionMessagesItemRole {
    #[serde(rename = "system")]
    System,
    #[serde(rename = "developer")]
    Developer,
    #[serde(rename = "user")]
    User,
    #[serde(rename = "assistant")]
    Assistant,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewPromptVersionMessagesItem {
    #[schema(inline)]
    pub role: NewPromptVersionMessagesItemRole,
    pub content: String,
}

/// Body of `POST /v1/prompts/{name}/versions` (also what a `.prompt` file becomes). Unknown fields → 400 naming them; every validation error names its field in `param` (`messages[1].content`, `config.temperature`, `labels[0]`, …). Templates are Handlebars (strict: a missing variable is an error; no HTML escaping) and are compiled here, so a syntax error is a 400 at creation.
#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"type": "chat", "messages": [{"role": "system", "content": "Answer only from:\n{{#each docs}}- {{this}}\n{{/each}}"}, {"role": "user", "content": "{{question}}"}], "config": {"model": "mock-1", "temperature": 0.2}, "variables_schema": {"question": "string", "docs": {"type": "array", "items": "string"}}, "grounding_variable": "docs", "labels": ["production"], "commit_message": "first version"})))]
pub struct NewPromptVersion {
    #[schema(inline)]
    pub r#type: NewPromptVersionType,
    /// `type: "chat"` only (and required there). Each `content` is a template.
    #[schema(inline, nullable = false, min_items = 1, max_items = 64)]
    pub messages: Option<Vec<NewPromptVersionMessagesItem>>,
    /// `type: "text"` only (and required there).
    #[schema(nullable = false)]
    pub template: Option<String>,
    /// Upstream body defaults: `model`, `temperature`, `top_p`, `max_tokens`, `max_completion_tokens`, `seed`, `tools`, `response_format`, … (a few are type-checked). Fields a request sets win. Not allowed: `messages`, `prompt`, `input`, `stream`, `stream_options`, `metadata`, `grounding`, `cache` and the `prompt_*` aliases. Registry settings start with `promptgate_` and are never forwarded; the only one is `promptgate_cache: {"ttl": seconds}`, the prompt's default cache TTL.
    #[schema(required = false, nullable = false, value_type = Object, examples(json!({"model": "gpt-4o-mini", "temperature": 0.2, "promptgate_cache": {"ttl": 600}})))]
    pub config: Option<serde_json::Value>,
    #[schema(nullable = false)]
    pub variables_schema: Option<VariablesSchema>,
    /// The variable that holds the RAG context (declared in `variables_schema` as a string or an array of strings). Requests using the prompt are grounding-scored against its value.
    pub grounding_variable: Option<String>,
    /// Labels to point at the new version (not `latest`). Also applied when the content is unchanged (they then point at the existing latest version).
    #[schema(nullable = false, max_items = 16)]
    pub labels: Option<Vec<String>>,
    #[schema(max_length = 2000)]
    pub commit_message: Option<String>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum PromptVersionObject {
    #[serde(rename = "prompt.version")]
    PromptVersion,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum PromptVersionType {
    #[serde(rename = "chat")]
    Chat,
    #[serde(rename = "text")]
    Text,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum PromptVersionSource {
    #[serde(rename = "api")]
    Api,
    #[serde(rename = "file")]
    File,
}

/// An immutable, numbered prompt version.
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct PromptVersion {
    #[schema(inline)]
    pub object: PromptVersionObject,
    pub name: String,
    #[schema(minimum = 1)]
    pub version: i64,
    #[schema(inline)]
    pub r#type: PromptVersionType,
    /// Chat prompts: one message per role marker.
    #[schema(nullable = false)]
    pub messages: Option<Vec<serde_json::Value>>,
    /// Text prompts.
    #[schema(nullable = false)]
    pub template: Option<String>,
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    pub variables_schema: VariablesSchema,
    #[schema(required = true)]
    pub grounding_variable: Option<String>,
    #[schema(required = true)]
    pub commit_message: Option<String>,
    /// `admin` for versions written with the admin key, `prompts/` for versions synced from files.
    #[schema(required = true)]
    pub author: Option<String>,
    #[schema(format = "date-time")]
    pub created_at: String,
    /// SHA-256 of the canonical content (template, config, variables schema, grounding variable; sorted keys). Commit message, author and labels do not change it.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub sha256: String,
    #[schema(inline)]
    pub source: PromptVersionSource,
    /// Labels whose target includes this version (plainly or in a rollout), plus `latest` for the newest version.
    pub labels: Vec<String>,
    /// Only in the answer to `POST …/versions`: `false` when the content equalled the latest version's (nothing was created).
    #[schema(nullable = false)]
    pub created: Option<bool>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum PromptVersionListObject {
    #[serde(rename = "list")]
    List,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct PromptVersionList {
    #[schema(inline)]
    pub object: PromptVersionListObject,
    /// Newest first.
    pub data: Vec<PromptVersion>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum LabelMovedObject {
    #[serde(rename = "prompt.label")]
    PromptLabel,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct LabelMoved {
    #[schema(inline)]
    pub object: LabelMovedObject,
    pub name: String,
    pub label: String,
    pub target: LabelTarget,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum LabelHistoryObject {
    #[serde(rename = "list")]
    List,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct LabelHistoryDataItem {
    pub label: String,
    /// The previous target; `null` when the label was new.
    #[schema(required = true)]
    pub from: Option<LabelTarget>,
    pub to: LabelTarget,
    /// `admin`, `prompts/` for file syncs, or `guard` for a rollout guard's move.
    #[schema(required = true)]
    pub actor: Option<String>,
    #[schema(format = "date-time")]
    pub at: String,
    /// Why a rollout guard moved the label, with the figures.
    pub reason: Option<String>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct LabelHistory {
    #[schema(inline)]
    pub object: LabelHistoryObject,
    pub name: String,
    pub label: String,
    /// Newest first. Empty for a label that was never set.
    #[schema(inline)]
    pub data: Vec<LabelHistoryDataItem>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum PromptDiffObject {
    #[serde(rename = "prompt.diff")]
    PromptDiff,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct PromptDiff {
    #[schema(inline)]
    pub object: PromptDiffObject,
    pub name: String,
    pub from: i64,
    pub to: i64,
    /// Unified diff of template, config and variables schema (`--- name@from` / `+++ name@to`); empty when the versions are identical.
    pub diff: String,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct RenderResultPrompt {
    pub name: String,
    pub version: i64,
    pub sha256: String,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct RenderResult {
    #[schema(inline)]
    pub prompt: RenderResultPrompt,
    /// The exact body the proxy would send upstream for `/v1/chat/completions` (chat prompts) or `/v1/completions` (text prompts).
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum GuardMetric {
    #[serde(rename = "flag_rate")]
    FlagRate,
    #[serde(rename = "error_rate")]
    ErrorRate,
    #[serde(rename = "cost_per_request")]
    CostPerRequest,
    #[serde(rename = "p95_latency")]
    P95Latency,
}

/// Sets a candidate's weight to 0 when its `metric` is worse than the baseline's (the version the label pointed at before the rollout) by more than `max_worse_by` with 95 % confidence, both sides having `min_samples` records. Evaluated every `experiments.guard_interval_ms`; one replica acts (compare-and-set), writes the label history with a `reason`, and sends `guard.fired`.
#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    #[schema(inline)]
    pub metric: GuardMetric,
    /// In the metric's unit: a rate, USD, or milliseconds.
    #[schema(nullable = false, minimum = 0, default = json!(0))]
    pub max_worse_by: Option<f64>,
    #[schema(nullable = false, minimum = 2, default = json!(100))]
    pub min_samples: Option<i64>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct MetricEstimate {
    /// `null` when no record carries the metric.
    #[schema(required = true)]
    pub value: Option<f64>,
    /// 95 % interval: Wilson for rates, Student t for means, order statistics for latency quantiles.
    #[schema(required = true, min_items = 2, max_items = 2)]
    pub ci: Option<Vec<f64>>,
    /// Records the estimate stands on.
    pub n: i64,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum MetricComparisonVerdict {
    #[serde(rename = "better")]
    Better,
    #[serde(rename = "worse")]
    Worse,
    #[serde(rename = "no_difference")]
    NoDifference,
    #[serde(rename = "too_few_samples")]
    TooFewSamples,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct MetricComparison {
    /// candidate − baseline.
    #[schema(required = true)]
    pub difference: Option<f64>,
    /// 95 % interval of the difference: Newcombe (rates), Welch (means), combined half-widths (quantiles, approximate).
    #[schema(required = true, min_items = 2, max_items = 2)]
    pub ci: Option<Vec<f64>>,
    #[schema(inline)]
    pub verdict: MetricComparisonVerdict,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum RolloutReportObject {
    #[serde(rename = "prompt.report")]
    PromptReport,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct RolloutReportVersionsItem {
    pub version: i64,
    pub baseline: bool,
    /// Its weight in the label now; `null`: not in the label's target.
    #[schema(required = true)]
    pub weight: Option<i64>,
    pub requests: i64,
    /// Keys: `error_rate`, `flag_rate`, `grounding_score`, `cost_per_request`, `input_tokens`, `output_tokens`, `p50_latency`, `p95_latency`, `cache_hit_rate`. Cost in USD, latency in ms.
    pub metrics: std::collections::BTreeMap<String, MetricEstimate>,
    /// Against the baseline, same keys; absent for the baseline.
    #[schema(nullable = false)]
    pub comparison: Option<std::collections::BTreeMap<String, MetricComparison>>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct RolloutReport {
    #[schema(inline)]
    pub object: RolloutReportObject,
    pub name: String,
    pub label: String,
    pub target: LabelTarget,
    #[schema(format = "date-time")]
    pub from: String,
    #[schema(format = "date-time")]
    pub to: String,
    /// The version candidates are compared with.
    pub baseline: i64,
    pub min_samples: i64,
    #[schema(inline)]
    pub versions: Vec<RolloutReportVersionsItem>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum DriftListObject {
    #[serde(rename = "list")]
    List,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct DriftListReferenceWindow {
    #[schema(nullable = false, format = "date-time")]
    pub from: Option<String>,
    #[schema(nullable = false, format = "date-time")]
    pub to: Option<String>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct DriftListRecentWindow {
    #[schema(nullable = false, format = "date-time")]
    pub from: Option<String>,
    #[schema(nullable = false, format = "date-time")]
    pub to: Option<String>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum DriftListDataItemMetric {
    #[serde(rename = "flag_rate")]
    FlagRate,
    #[serde(rename = "grounding_score")]
    GroundingScore,
    #[serde(rename = "output_tokens")]
    OutputTokens,
    #[serde(rename = "cost_per_request")]
    CostPerRequest,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum DriftListDataItemTest {
    #[serde(rename = "two_proportion_z")]
    TwoProportionZ,
    #[serde(rename = "welch")]
    Welch,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct DriftListDataItem {
    #[schema(required = true)]
    pub prompt: Option<String>,
    #[schema(required = true)]
    pub version: Option<i64>,
    /// Raw calls (no prompt) are grouped by model.
    #[schema(required = true)]
    pub model: Option<String>,
    #[schema(inline)]
    pub metric: DriftListDataItemMetric,
    pub reference: f64,
    pub recent: f64,
    pub reference_n: i64,
    pub recent_n: i64,
    /// recent − reference
    pub difference: f64,
    #[schema(inline)]
    pub test: DriftListDataItemTest,
    #[schema(nullable = false)]
    pub z: Option<f64>,
    #[schema(nullable = false)]
    pub ci: Option<Vec<f64>>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct DriftList {
    #[schema(inline)]
    pub object: DriftListObject,
    #[schema(inline)]
    pub reference_window: DriftListReferenceWindow,
    #[schema(inline)]
    pub recent_window: DriftListRecentWindow,
    pub min_samples: i64,
    /// Only what moved.
    #[schema(inline)]
    pub data: Vec<DriftListDataItem>,
}
