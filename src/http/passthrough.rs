//! Every other OpenAI path under `/v1/` (files, batches, stored completions,
//! response sub-resources, …) goes as-is to the catch-all upstream, after the
//! caller's key is checked and with the upstream's own credential substituted.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use futures_util::StreamExt;

use super::extract::{Auth, LimitedBody};
use super::openapi::responses;
use super::openapi::schemas as doc;
use crate::api::ApiError;
use crate::providers::copy_response_headers;
use crate::providers::{forwardable_headers, Upstream, UpstreamError};
use crate::state::AppState;

/// Any other /v1 path, any method (forwarded to the catch-all upstream)
///
/// Forwarded as-is to the catch-all upstream; see the `passthrough` tag.
#[utoipa::path(
    method(get, post, put, patch, delete, head, options), path = "/v1/{path}", tag = "passthrough", operation_id = "forward",
    params(("path" = String, Path, description = "The rest of the path below `/v1/`, which may contain `/` (e.g. `files/file-abc/content`, `chat/completions/chatcmpl-123/messages`). The query string is forwarded too.")),
    request_body(content = Option<serde_json::Value>, description = "Any body; forwarded byte for byte (subject to `limits.max_body_bytes`).", content_type = "*/*"),
    responses(
        (status = "default", description = "Whatever the catch-all upstream answered: status, headers (except hop-by-hop ones, `set-cookie`, `date` and `server`) and body, unchanged.", content((serde_json::Value = "*/*"))),
        (status = 401, response = responses::Unauthorized),
        (status = 404, description = "No catch-all upstream is configured (or the upstream itself answered 404, passed through).", content((doc::Error = "application/json", examples(("no_catch_all" = (value = json!({"error": {"message": "no upstream serves /v1/files", "type": "invalid_request_error", "param": null, "code": "not_found"}}))))))),
        (status = 413, response = responses::PayloadTooLarge), (status = 502, response = responses::BadGateway), (status = 504, response = responses::GatewayTimeout),
    ),
)]
pub async fn forward(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let upstream = state
        .routes
        .default_upstream()
        .ok_or_else(|| ApiError::NotFound(format!("no upstream serves {}", uri.path())))?;
    let path = uri.path().strip_prefix("/v1").unwrap_or(uri.path());
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    relay(
        upstream,
        method,
        &path_and_query,
        forwardable_headers(&headers),
        body,
    )
    .await
}

/// Sends a request to `upstream` and streams its answer back unchanged;
/// only an unreachable or silent upstream becomes an error (502, 504).
pub async fn relay(
    upstream: &Upstream,
    method: Method,
    path: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let resp = upstream
        .send(method, path, headers, body)
        .await
        .map_err(|e| match e {
            UpstreamError::Timeout => ApiError::UpstreamTimeout(upstream.timeout.as_secs()),
            other => ApiError::Upstream(other.to_string()),
        })?;
    let mut out = Response::new(Body::from_stream(
        resp.body.map(|r| r.map_err(std::io::Error::other)),
    ));
    *out.status_mut() = resp.status;
    copy_response_headers(&resp.headers, out.headers_mut());
    Ok(out)
}

// `GET /v1/chat/completions`: OpenAI's list of stored chat completions, on
// a path whose POST the gateway serves itself.
/// List stored chat completions (forwarded to the catch-all upstream)
///
/// Not handled by the gateway: forwarded as described for `/v1/{path}` (as is every method other than POST on this path).
#[utoipa::path(
    get, path = "/v1/chat/completions", tag = "passthrough", operation_id = "listStoredChatCompletions",
    responses(
        (status = "default", description = "Whatever the catch-all upstream answered: status, headers (except hop-by-hop ones, `set-cookie`, `date` and `server`) and body, unchanged.", content((serde_json::Value = "*/*"))),
        (status = 401, response = responses::Unauthorized),
        (status = 404, description = "No catch-all upstream is configured (or the upstream itself answered 404, passed through).", content((doc::Error = "application/json", examples(("no_catch_all" = (value = json!({"error": {"message": "no upstream serves /v1/files", "type": "invalid_request_error", "param": null, "code": "not_found"}}))))))),
        (status = 413, response = responses::PayloadTooLarge), (status = 502, response = responses::BadGateway), (status = 504, response = responses::GatewayTimeout),
    ),
)]
pub async fn list_stored_chat_completions(
    state: State<AppState>,
    auth: Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: LimitedBody,
) -> Result<Response, ApiError> {
    forward(state, auth, method, uri, headers, body).await
}

// `DELETE /v1/models/{id}`: deleting a fine-tuned model is the upstream's.
/// Delete a fine-tuned model (forwarded to the catch-all upstream)
///
/// Not handled by the gateway: forwarded as described for `/v1/{path}`.
#[utoipa::path(
    delete, path = "/v1/models/{id}", tag = "passthrough", operation_id = "deleteModel",
    params(("id" = String, Path, description = "Model name. May contain `/` (e.g. `openai/gpt-4o-mini`; the path segment captures the rest of the path).")),
    responses(
        (status = "default", description = "The catch-all upstream's answer, unchanged.", content((serde_json::Value = "*/*"))),
        (status = 401, response = responses::Unauthorized), (status = 404, response = responses::NotFound), (status = 502, response = responses::BadGateway), (status = 504, response = responses::GatewayTimeout),
    ),
)]
pub async fn delete_model(
    state: State<AppState>,
    auth: Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: LimitedBody,
) -> Result<Response, ApiError> {
    forward(state, auth, method, uri, headers, body).await
}
