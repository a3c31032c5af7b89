//! An upstream's failures as the client sees them: transport errors become
//! 502/504, and error statuses are passed on or mapped by who caused them.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;

use crate::api::{ApiError, Endpoint};
use crate::providers::{collect, copy_response_headers, Upstream, UpstreamError, UpstreamResponse};

pub fn failure(upstream: &Upstream, err: UpstreamError) -> ApiError {
    match err {
        UpstreamError::Timeout => ApiError::UpstreamTimeout(upstream.timeout.as_secs()),
        other => ApiError::Upstream(other.to_string()),
    }
}

/// An upstream that answered with an error status. 4xx: passed through with
/// status and body. 401/403 mean the gateway's own credential was refused;
/// that is not the client's fault and the upstream's message may quote part
/// of our key, so it becomes 502. 5xx: 502 with the upstream's message,
/// except Anthropic's 529 (overloaded) to Messages API callers, whose SDKs
/// back off and retry on it.
/// Returns the answer to pass on and the upstream's message for the record.
pub async fn refused(
    upstream: &Upstream,
    endpoint: Endpoint,
    resp: UpstreamResponse,
) -> Result<(Response, String), ApiError> {
    let UpstreamResponse {
        status,
        headers,
        body,
        deadline,
    } = resp;
    let bytes = collect(body, deadline)
        .await
        .map_err(|e| failure(upstream, e))?;
    let upstream_message = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned());
    metrics::counter!("promptgate_upstream_errors_total", "kind" => "status", "upstream" => upstream.name.clone())
        .increment(1);
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(ApiError::Upstream(format!(
            "upstream `{}` refused the gateway's credential (status {})",
            upstream.name,
            status.as_u16()
        )));
    }
    let overloaded = endpoint == Endpoint::Messages && status.as_u16() == 529;
    if status.is_client_error() || overloaded {
        let mut response = Response::new(Body::from(bytes));
        *response.status_mut() = status;
        copy_response_headers(&headers, response.headers_mut());
        return Ok((response, upstream_message));
    }
    Err(ApiError::Upstream(format!(
        "upstream `{}` failed with status {}: {}",
        upstream.name,
        status.as_u16(),
        upstream_message
    )))
}
