//! Anthropic's Messages API in: `POST /v1/messages` runs through the same
//! pipeline as chat completions (`gateway::handle` as [`Endpoint::Messages`]);
//! `POST /v1/messages/count_tokens` is forwarded to the model's upstream
//! (free at Anthropic, so it is neither priced nor recorded). The team key
//! comes in `x-api-key` (what Anthropic SDKs send) or `Authorization: Bearer`,
//! and every refusal is in Anthropic's error shape.

use axum::extract::State;
use axum::http::{header, HeaderValue, Method};
use axum::response::Response;

use super::extract::HeadersAndBody;
use super::openapi::schemas as doc;
use crate::api::anthropic::api_error_response;
use crate::api::{ApiError, Endpoint};
use crate::auth::{presented_key, Caller};
use crate::gateway;
use crate::providers::forwardable_headers;
use crate::state::AppState;

fn caller(state: &AppState, headers: &axum::http::HeaderMap) -> Result<Caller, ApiError> {
    let key = presented_key(headers).ok_or(ApiError::InvalidApiKey)?;
    state.keys.lookup(key).ok_or(ApiError::InvalidApiKey)
}

/// Create a message (Anthropic Messages API)
///
/// See the `anthropic` tag.
#[utoipa::path(
    post, path = "/v1/messages", tag = "anthropic", operation_id = "createMessage",
    params(("x-request-id" = Option<String>, Header, description = "Optional client-chosen id for this call. Used as the request record's id and echoed when it is 1–128 characters of `A–Z a–z 0–9 - _ . :`; any other value is replaced by a new UUIDv7 (not rejected).", max_length = 128)),
    request_body(content = doc::MessagesRequest, content_type = "application/json", example = json!({"model": "mock-1", "max_tokens": 256, "messages": [{"role": "user", "content": "Hello"}]})),
    responses(
        (status = 200, description = "The upstream's message (JSON), or its event stream with `stream: true`.", headers(("x-request-id" = String, description = "The request record's id (the client's `x-request-id` when acceptable, else a UUIDv7)."), ("x-promptgate-upstream" = String, description = "For calls that can be retried or fall back (the upstream has `retry` or `cooldown`, or the alias lists several targets): the upstream that answered."), ("x-promptgate-attempts" = String, description = "With `x-promptgate-upstream`: the number of tries the call took, across retries and fallbacks."), ("x-ratelimit-limit-requests" = String, description = "For calls a `[[rate_limits]]` RPM rule counted: the limit of the matching rule with the least left (likewise `x-ratelimit-remaining-requests`, `x-ratelimit-reset-requests`)."), ("x-ratelimit-remaining-requests" = String), ("x-ratelimit-reset-requests" = String, description = "When the oldest request in the window leaves it, in OpenAI's form (`20ms`, `1.5s`, `6m0s`)."), ("x-ratelimit-limit-tokens" = String, description = "For calls a `[[rate_limits]]` TPM rule counted: its limit (likewise `x-ratelimit-remaining-tokens`, `x-ratelimit-reset-tokens`)."), ("x-ratelimit-remaining-tokens" = String), ("x-ratelimit-reset-tokens" = String), ("x-promptgate-cache" = String, description = "`hit` (answered from the cache), `miss` (cache consulted, upstream called) or `bypass` (cache not used)."), ("x-promptgate-prompt" = String, description = "When a registry prompt built the request: `name@version`."), ("x-promptgate-prompt-sha256" = String, description = "When a registry prompt built the request: the version's content hash (64 hex digits)."), ("x-promptgate-cost-usd" = String, description = "Non-streamed answers whose usage is known (reported, or counted locally) and whose model has a price: the cost as an exact decimal string (`0.000144`); `0` on a cache hit."), ("x-promptgate-grounding" = String, description = "Non-streamed answers scored against grounding context: the grounding score in [0, 1] with four decimals (the probability that the answer is supported)."), ("x-promptgate-flagged" = String, description = "With `x-promptgate-grounding`: `true` when the score is below the threshold. With the judge tier, the combined flag (`[grounding.judge].flag` rule)."), ("x-promptgate-judge" = String, description = "Judge tier (`[grounding.judge]`), on answers the judge checks: the judge score with four decimals when the judge ran synchronously (non-streamed answers), `pending` when the verdict will land on the request record (always for streams), `error` when a synchronous judge gave no verdict (then `x-promptgate-judge-error` names why)."), ("x-promptgate-judge-error" = String, description = "With `x-promptgate-judge: error`: `upstream_error`, `timeout`, `invalid_verdict` or `budget_exceeded`.")), content((serde_json::Value = "application/json"), (String = "text/event-stream"))),
        (status = 400, description = "Invalid request, or the model's upstream does not speak the Messages API.", content((doc::AnthropicError = "application/json"))),
        (status = 401, description = "No or unknown key (`authentication_error`).", content((doc::AnthropicError = "application/json"))),
        (status = 404, description = "No upstream serves the model (`not_found_error`).", content((doc::AnthropicError = "application/json"))),
        (status = 429, description = "Upstream rate limit, passed through, or the team's budget is used up (`rate_limit_error`).", content((doc::AnthropicError = "application/json"))),
        (status = 502, description = "Upstream unreachable or 5xx (`api_error`).", content((doc::AnthropicError = "application/json"))),
        (status = 529, description = "The upstream is overloaded (`overloaded_error`), passed through.", content((doc::AnthropicError = "application/json"))),
    ),
)]
pub async fn messages(
    State(state): State<AppState>,
    request: Result<HeadersAndBody, ApiError>,
) -> Response {
    let HeadersAndBody(headers, body) = match request {
        Ok(r) => r,
        Err(e) => return api_error_response(&e),
    };
    match caller(&state, &headers) {
        Ok(c) => gateway::handle(&state, &c, Endpoint::Messages, &headers, body).await,
        Err(e) => api_error_response(&e),
    }
}

/// Count the tokens of a Messages API request
///
/// Forwarded to the model's upstream (which must speak the Messages API) and answered as it is. Not priced, not recorded.
#[utoipa::path(
    post, path = "/v1/messages/count_tokens", tag = "anthropic", operation_id = "countMessageTokens",
    request_body(content = doc::MessagesRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "`{\"input_tokens\": N}`", content((doc::TokenCount = "application/json"))),
        (status = 400, description = "Invalid request, or the model's upstream does not speak the Messages API.", content((doc::AnthropicError = "application/json"))),
        (status = 401, description = "No or unknown key (`authentication_error`).", content((doc::AnthropicError = "application/json"))),
        (status = 404, description = "No upstream serves the model (`not_found_error`).", content((doc::AnthropicError = "application/json"))),
        (status = 429, description = "Upstream rate limit, passed through, or the team's budget is used up (`rate_limit_error`).", content((doc::AnthropicError = "application/json"))),
        (status = 502, description = "Upstream unreachable or 5xx (`api_error`).", content((doc::AnthropicError = "application/json"))),
    ),
)]
pub async fn count_tokens(
    State(state): State<AppState>,
    request: Result<HeadersAndBody, ApiError>,
) -> Response {
    let counted = async {
        let HeadersAndBody(headers, body) = request?;
        caller(&state, &headers)?;
        let mut model = crate::api::parse_json::<serde_json::Value>(&body)?
            .get("model")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ApiError::invalid("model: Field required", Some("model")))?;
        if let Some(alias) = state.config.aliases.get(&model) {
            model = alias.primary().to_owned();
        }
        let route = state
            .routes
            .resolve(&model)
            .ok_or_else(|| ApiError::ModelNotFound(model.clone()))?;
        let upstream = route.upstream;
        if !upstream.speaks_messages() {
            return Err(ApiError::invalid(
                format!(
                    "upstream `{}` does not speak the Messages API",
                    upstream.name
                ),
                Some("model"),
            ));
        }
        let body = with_model(body, &model, route.rewritten_model.as_deref())?;
        let mut h = forwardable_headers(&headers);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        super::passthrough::relay(upstream, Method::POST, "/messages/count_tokens", h, body).await
    };
    counted.await.unwrap_or_else(|e| api_error_response(&e))
}

fn body_model(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("model").and_then(|m| m.as_str().map(str::to_owned)))
        .unwrap_or_default()
}

/// The body with the model the upstream should see (after `[aliases]` and
/// an `upstream/` prefix); the same bytes when that is the model it names.
fn with_model(
    body: axum::body::Bytes,
    model: &str,
    rewritten: Option<&str>,
) -> Result<axum::body::Bytes, ApiError> {
    let target = rewritten.unwrap_or(model);
    if body_model(&body) == target {
        return Ok(body);
    }
    let mut parsed = gateway::body::RequestBody::parse(&body)?;
    let value = serde_json::value::to_raw_value(target).map_err(ApiError::internal)?;
    parsed.set("model", value);
    Ok(parsed.to_bytes(&body))
}
