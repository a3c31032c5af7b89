//! Anthropic's Messages API in: `POST /v1/messages` runs through the same
//! pipeline as chat completions (`gateway::handle` as [`Endpoint::Messages`]);
//! `POST /v1/messages/count_tokens` is forwarded to the model's upstream
//! (free at Anthropic, so it is neither priced nor recorded). The team key
//! comes in `x-api-key` (what Anthropic SDKs send) or `Authorization: Bearer`,
//! and every refusal is in Anthropic's error shape.

use axum::extract::State;
use axum::http::{header, HeaderValue, Method};
use axum::response::Response;
use axum::routing::post;
use axum::Router;

use super::extract::HeadersAndBody;
use crate::api::anthropic::api_error_response;
use crate::api::{ApiError, Endpoint};
use crate::auth::{presented_key, Caller};
use crate::gateway;
use crate::providers::forwardable_headers;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
}

fn caller(state: &AppState, headers: &axum::http::HeaderMap) -> Result<Caller, ApiError> {
    let key = presented_key(headers).ok_or(ApiError::InvalidApiKey)?;
    state.keys.lookup(key).ok_or(ApiError::InvalidApiKey)
}

async fn messages(
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

async fn count_tokens(
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
