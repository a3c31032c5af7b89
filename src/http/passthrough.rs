//! Every other OpenAI path under `/v1/` (files, batches, stored completions,
//! response sub-resources, …) goes as-is to the catch-all upstream, after the
//! caller's key is checked and with the upstream's own credential substituted.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use futures_util::StreamExt;

use super::extract::{Auth, LimitedBody};
use crate::api::ApiError;
use crate::providers::copy_response_headers;
use crate::providers::{forwardable_headers, Upstream, UpstreamError};
use crate::state::AppState;

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
