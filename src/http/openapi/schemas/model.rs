//! Schemas of the model endpoints' bodies (the gateway's extension fields), errors and operations.
//!
//! These types describe JSON the handlers read or write (several build it
//! with `json!`); they exist for the OpenAPI document and are never
//! constructed.

// Types for the document only: never constructed, their fields never read.
#![allow(dead_code, unused_imports)]

use serde_json::json;

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct ErrorError {
    /// Human-readable. Internal failures are reported as `internal error` (the cause is logged, never shown).
    pub message: String,
    /// Produced by the gateway: `invalid_request_error` (400, 401, 404, 409, 413), `permission_error` (403), `insufficient_quota` (429 `budget_exceeded`), `upstream_error` (502, 504), `server_error` (500, 503).
    #[schema(examples(json!("invalid_request_error"), json!("permission_error"), json!("insufficient_quota"), json!("upstream_error"), json!("server_error")))]
    pub r#type: String,
    /// The offending request field, when there is one (e.g. `model`, `messages`, `name`, `limit`, `cache.ttl`, `grounding.mode`, `prompt.variables.question`, `config.temperature`).
    #[schema(required = true)]
    pub param: Option<String>,
    /// Produced by the gateway: `invalid_api_key` (401), `permission_denied` (403), `model_not_found` (404), `not_found` (404), `conflict` (409), `request_too_large` (413), `budget_exceeded` (429), `upstream_unavailable` (502), `upstream_timeout` (504); `null` for other 400s and for 500/503.
    #[schema(required = true, examples(json!("invalid_api_key"), json!("permission_denied"), json!("model_not_found"), json!("not_found"), json!("conflict"), json!("request_too_large"), json!("budget_exceeded"), json!("upstream_unavailable"), json!("upstream_timeout")))]
    pub code: Option<String>,
}

/// OpenAI's error shape, used for every error the gateway produces. Upstream 4xx errors are passed through with the upstream's own body, which for OpenAI-compatible servers has the same shape.
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct Error {
    #[schema(inline)]
    pub error: ErrorError,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(untagged)]
pub enum PromptReferenceVersion {
    Integer(i64),
    Text(String),
}

/// Which registry prompt builds this request (the Responses API's `prompt` shape). promptgate extension field: consumed by the gateway and removed from the body before it is forwarded, so the upstream never sees it. Unknown keys → 400 naming them. Resolution: `version` if given, else `label`, else the label `production`; `version` and `label` together → 400. When the label is a weighted rollout, the version is chosen sticky per `metadata.user`, else the body's `user`, else the API key. Unknown prompt → 404 `not_found`; unknown version or label → 400 with `param: "prompt"`. Variables are checked against the version's `variables_schema` (missing, undeclared or wrongly typed → 400 with `param: "prompt.variables.<name>"`). Variable values are data: they can never add or change a message role.
#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PromptReference {
    /// Prompt name, e.g. `support/rag-answer`.
    pub id: String,
    /// A version number (≥ 1), as a number or a string of digits (OpenAI sends `prompt.version` as a string).
    #[schema(inline, nullable = false)]
    pub version: Option<PromptReferenceVersion>,
    /// A label such as `production`, `staging` or `latest` (always the newest version). Default: `production`.
    #[schema(nullable = false)]
    pub label: Option<String>,
    /// Template variables, e.g. `{"question": "…", "docs": ["…"]}`.
    #[schema(required = false, nullable = false, value_type = Object)]
    pub variables: Option<serde_json::Value>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(untagged)]
pub enum GroundingOptionsContext {
    Text(String),
    List(Vec<String>),
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum GroundingOptionsMode {
    #[serde(rename = "score")]
    Score,
    #[serde(rename = "off")]
    Off,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum GroundingOptionsTiersItem {
    #[serde(rename = "fast")]
    Fast,
    #[serde(rename = "judge")]
    Judge,
}

/// RAG context to score the answer against (in-line grounding check, see the `grounding` tag). promptgate extension field: consumed by the gateway and removed from the body before it is forwarded, so the upstream never sees it. `null` is the same as leaving it out. Without this field, a request that uses a prompt with a grounding variable is scored against that variable's value. Given `context` replaces the prompt's variable; `mode: "off"` turns scoring off. A `grounding` object without `context` also turns scoring off for the request. Unknown keys, a `mode` other than `score`/`off`, invalid `tiers`, a `context` that is not a string or an array of strings, or a `threshold` that is not a number in [0, 1] → 400 naming the field. Scoring runs once the answer is complete (it never delays the first token) and never fails the request.
#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"context": ["Refunds are issued within 5 business days."], "mode": "score"})))]
pub struct GroundingOptions {
    /// The passages the answer should be supported by.
    #[schema(inline, nullable = false)]
    pub context: Option<GroundingOptionsContext>,
    #[schema(inline, nullable = false, default = json!("score"))]
    pub mode: Option<GroundingOptionsMode>,
    /// Grounding tiers for this request: `["fast"]` asks for no judge; including `judge` asks for the judge tier (needs `[grounding.judge]`; synchronous, with `x-promptgate-judge`, when the request is not streamed). Absent: the fast tier, and the judge for a `sample_rate` share of requests. Invalid → 400 with `param: "grounding.tiers"`.
    #[schema(inline, nullable = false, min_items = 1)]
    pub tiers: Option<Vec<GroundingOptionsTiersItem>>,
    /// Flag threshold for this request: the answer is flagged when its score is below it. Overrides the configured `grounding.threshold` (default: the threshold shipped with the weights). Not a number in [0, 1] → 400 with `param: "grounding.threshold"`.
    #[schema(nullable = false, minimum = 0, maximum = 1)]
    pub threshold: Option<f64>,
}

/// Per-request cache control (see the `cache` tag). promptgate extension field: consumed by the gateway and removed from the body before it is forwarded, so the upstream never sees it. `null` is the same as leaving it out. Unknown keys or a `ttl` that is not a non-negative integer → 400 with `param: "cache.<key>"`.
#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"ttl": 600})))]
pub struct CacheOptions {
    /// Seconds an answer stored now may be reused; turns caching on for this request. `0` means `cache.default_ttl_s` (default 300). Wins over `Cache-Control: max-age`, the prompt's `promptgate.cache` and `[[cache.rules]]`.
    #[schema(nullable = false, minimum = 0)]
    pub ttl: Option<i64>,
    /// Do not answer from the cache (the fresh answer may still be stored).
    #[schema(nullable = false, default = json!(false))]
    pub no_cache: Option<bool>,
    /// Do not store this answer (a cached one may still be served).
    #[schema(nullable = false, default = json!(false))]
    pub no_store: Option<bool>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct GatewayFieldsStreamOptions {
    #[schema(nullable = false)]
    pub include_usage: Option<bool>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(untagged)]
pub enum GatewayFieldsPromptVersion {
    Integer(i64),
    Text(String),
}

/// Top-level fields the gateway reads or consumes on every model endpoint. All other fields are forwarded untouched.
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct GatewayFields {
    /// Consumed for routing and recorded; forwarded. Required, except when a registry prompt's `config` names a model (then the prompt's model is used unless this field is given). Routing order: `<upstream>/<model>` where `<upstream>` is a configured upstream's name (the prefix is removed before forwarding, so the upstream sees `<model>`), then an exact name in some upstream's `models`, then the first matching glob, then the `"*"` upstream. No match → 404 `model_not_found`. Missing (and not given by a prompt) or not a string → 400 with `param: "model"`.
    #[schema(nullable = false, examples(json!("mock-1"), json!("gpt-4o-mini"), json!("openai/gpt-4o-mini")))]
    pub model: Option<String>,
    /// Read and forwarded. Not a boolean → 400.
    #[schema(nullable = false, default = json!(false))]
    pub stream: Option<bool>,
    /// Forwarded. For streamed chat and completions calls the gateway sets `include_usage: true` (other options kept) and removes the usage-only chunk again unless the client set `include_usage: true` itself. Not an object → 400.
    #[schema(inline, nullable = false)]
    pub stream_options: Option<GatewayFieldsStreamOptions>,
    /// Read and forwarded. With `store: true` (OpenAI stored completions) `metadata` belongs to OpenAI and is forwarded as well as recorded. On `/v1/responses` storing is the default, so `metadata` is forwarded there unless `store: false`. Not a boolean → 400.
    #[schema(nullable = false)]
    pub store: Option<bool>,
    /// Recorded on the request record (any JSON value; conventionally an object such as `{"user": "u-17", "tags": ["checkout"]}`). `metadata.user` keeps a caller on one side of a weighted prompt rollout; `metadata.tags` (strings) are recorded as the record's `tags` and can be grouped by in `GET /v1/costs?group_by=tag`. Removed from the forwarded body unless the call is stored upstream (`store: true`; on `/v1/responses` unless `store: false`).
    #[schema(nullable = false, examples(json!({"user": "u-17", "tags": ["checkout"]})))]
    pub metadata: Option<serde_json::Value>,
    /// Forwarded. Used as the rollout sticky key when `metadata.user` is absent. Not part of the cache key.
    #[schema(nullable = false)]
    pub user: Option<String>,
    /// LiteLLM-style alias of `prompt.id` (the only form on `/v1/responses`, where `prompt` is OpenAI's own field). promptgate extension field: consumed by the gateway and removed from the body before it is forwarded, so the upstream never sees it.
    #[schema(nullable = false)]
    pub prompt_id: Option<String>,
    /// LiteLLM-style alias of `prompt.version` (a number, or a string of digits). Read only together with `prompt_id`. promptgate extension field: consumed by the gateway and removed from the body before it is forwarded, so the upstream never sees it.
    #[schema(inline)]
    pub prompt_version: Option<GatewayFieldsPromptVersion>,
    /// LiteLLM-style alias of `prompt.label`. Read only together with `prompt_id`. promptgate extension field: consumed by the gateway and removed from the body before it is forwarded, so the upstream never sees it.
    pub prompt_label: Option<String>,
    /// LiteLLM-style alias of `prompt.variables`. Read only together with `prompt_id`. promptgate extension field: consumed by the gateway and removed from the body before it is forwarded, so the upstream never sees it.
    #[schema(required = false, value_type = Object)]
    pub prompt_variables: Option<serde_json::Value>,
    #[schema(nullable = false)]
    pub grounding: Option<GroundingOptions>,
    #[schema(nullable = false)]
    pub cache: Option<CacheOptions>,
}

/// An OpenAI chat completion request plus promptgate's fields. SDKs send the extension fields via `extra_body`.
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct ChatCompletionRequest {
    #[serde(flatten)]
    pub common: GatewayFields,
    /// The client's messages, forwarded untouched. With a registry prompt they come after the prompt's rendered messages (and may be left out); without one they are required as a non-empty array (otherwise 400 with `param: "messages"`).
    #[schema(nullable = false)]
    pub messages: Option<Vec<serde_json::Value>>,
    /// An object here is promptgate's prompt reference. A chat prompt's rendered messages are put first; a text prompt becomes one user message.
    #[schema(nullable = false)]
    pub prompt: Option<PromptReference>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(untagged)]
pub enum CompletionRequestPrompt {
    Text(String),
    List(Vec<serde_json::Value>),
    PromptReference(PromptReference),
}

/// An OpenAI (legacy) completion request plus promptgate's fields.
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct CompletionRequest {
    #[serde(flatten)]
    pub common: GatewayFields,
    /// Required (not null), unless the prompt aliases name a registry prompt. A string or array is the completions API's own prompt and is forwarded untouched. An object is promptgate's prompt reference: a **text** prompt's rendering becomes `prompt` (a chat prompt → 400 "call /v1/chat/completions"). With `prompt_id`, sending a string `prompt` as well → 400.
    #[schema(inline, nullable = false)]
    pub prompt: Option<CompletionRequestPrompt>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(untagged)]
pub enum EmbeddingRequestInput {
    Text(String),
    List(Vec<serde_json::Value>),
}

/// An OpenAI embeddings request plus promptgate's fields. Registry prompts do not apply here: a `prompt` object and the `prompt_*` aliases are removed and ignored.
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct EmbeddingRequest {
    #[serde(flatten)]
    pub common: GatewayFields,
    /// Required (not null); forwarded untouched.
    #[schema(inline)]
    pub input: EmbeddingRequestInput,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(untagged)]
pub enum ResponseRequestInput {
    Text(String),
    List(Vec<serde_json::Value>),
}

/// An OpenAI Responses API request plus promptgate's fields. `model` is optional here (without it the call goes to the catch-all upstream); `instructions`, `tools`, … are forwarded untouched. `stream_options` is not rewritten here (Responses streams carry usage in their final event). Registry prompts are named with the `prompt_*` aliases. The response cache is never used on this endpoint (`x-promptgate-cache: bypass`).
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct ResponseRequest {
    #[serde(flatten)]
    pub common: GatewayFields,
    /// Forwarded untouched, unless a registry prompt is used: then `input` becomes the list of the prompt's rendered messages (`{"role", "content"}` items; a text prompt is one user item), followed by the client's own input (a string becomes one user item, an array is appended as it is). A prompt config's `max_tokens` / `max_completion_tokens` is sent as `max_output_tokens`.
    #[schema(inline, nullable = false)]
    pub input: Option<ResponseRequestInput>,
    /// On this endpoint `prompt` is OpenAI's own field (stored prompt templates) and is forwarded untouched. Use the `prompt_*` aliases for promptgate's registry.
    #[schema(required = false, nullable = false, value_type = Object)]
    pub prompt: Option<serde_json::Value>,
}

/// The upstream's JSON answer, forwarded field-for-field.
#[derive(utoipa::ToSchema, serde::Serialize)]
#[schema(value_type = Object)]
pub struct UpstreamBody(pub serde_json::Value);

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum ModelObject {
    #[serde(rename = "model")]
    Model,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct Model {
    pub id: String,
    #[schema(inline)]
    pub object: ModelObject,
    #[schema(nullable = false)]
    pub created: Option<i64>,
    #[schema(nullable = false)]
    pub owned_by: Option<String>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum ModelListObject {
    #[serde(rename = "list")]
    List,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct ModelList {
    #[schema(inline)]
    pub object: ModelListObject,
    pub data: Vec<Model>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum AnthropicErrorType {
    #[serde(rename = "error")]
    Error,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum AnthropicErrorErrorType {
    #[serde(rename = "invalid_request_error")]
    InvalidRequestError,
    #[serde(rename = "authentication_error")]
    AuthenticationError,
    #[serde(rename = "permission_error")]
    PermissionError,
    #[serde(rename = "not_found_error")]
    NotFoundError,
    #[serde(rename = "request_too_large")]
    RequestTooLarge,
    #[serde(rename = "rate_limit_error")]
    RateLimitError,
    #[serde(rename = "api_error")]
    ApiError,
    #[serde(rename = "timeout_error")]
    TimeoutError,
    #[serde(rename = "overloaded_error")]
    OverloadedError,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct AnthropicErrorError {
    #[schema(inline)]
    pub r#type: AnthropicErrorErrorType,
    pub message: String,
}

/// Anthropic's error shape, used for every error of `/v1/messages` and `/v1/messages/count_tokens`.
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct AnthropicError {
    #[schema(inline)]
    pub r#type: AnthropicErrorType,
    #[schema(inline)]
    pub error: AnthropicErrorError,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(untagged)]
pub enum MessagesRequestSystem {
    Text(String),
    List(Vec<serde_json::Value>),
}

/// Anthropic's Messages API request. Only `model`, `stream`, `max_tokens` and `messages` are read by the gateway (plus its own `cache`, `grounding` and `prompt_*` fields); everything else is forwarded untouched.
#[derive(utoipa::ToSchema, serde::Serialize)]
pub struct MessagesRequest {
    #[schema(nullable = false)]
    pub model: Option<String>,
    #[schema(nullable = false)]
    pub max_tokens: Option<i64>,
    pub messages: Vec<serde_json::Value>,
    #[schema(inline, nullable = false)]
    pub system: Option<MessagesRequestSystem>,
    #[schema(nullable = false)]
    pub stream: Option<bool>,
    #[schema(nullable = false)]
    pub tools: Option<Vec<serde_json::Value>>,
    #[schema(required = false, nullable = false, value_type = Object)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum HealthStatus {
    #[serde(rename = "ok")]
    Ok,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum ReadyStatus {
    #[serde(rename = "ready")]
    Ready,
}

#[derive(utoipa::ToSchema, serde::Serialize)]
pub enum ReadyStore {
    #[serde(rename = "sqlite")]
    Sqlite,
    #[serde(rename = "postgres")]
    Postgres,
}
