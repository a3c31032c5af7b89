//! Anthropic's error shape, `{"type":"error","error":{"type","message"}}`,
//! and which error type goes with which HTTP status. Used by the mock's
//! Messages API, by the inbound `/v1/messages` (whose callers are Anthropic
//! SDKs) and by the translation of Anthropic errors into OpenAI's shape.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Anthropic's error type for an HTTP status (its documented pairs; other
/// 4xx are invalid requests, other 5xx API errors).
pub fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// The HTTP status Anthropic answers an error type with.
pub fn status_of(error_type: &str) -> u16 {
    match error_type {
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        "api_error" => 500,
        _ => 400,
    }
}

/// An error body in Anthropic's shape.
pub fn error_body(error_type: &str, message: &str) -> serde_json::Value {
    serde_json::json!({"type": "error", "error": {"type": error_type, "message": message}})
}

/// An error response in Anthropic's shape; the type follows the status.
pub fn error_response(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = error_body(error_type(status), message).to_string();
    let mut resp = (code, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// One of the gateway's own errors, as an Anthropic SDK expects it. The
/// message is the same as in OpenAI's shape (an internal cause is never shown).
pub fn api_error_response(err: &ApiError) -> Response {
    if let ApiError::Internal(cause) = err {
        tracing::error!(error = ?cause, "internal error");
    }
    let mut resp = error_response(err.status().as_u16(), &err.to_string());
    if let Some(extra) = err.headers() {
        resp.headers_mut().extend(extra.clone());
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_statuses_pair_up() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (529, "overloaded_error"),
        ] {
            assert_eq!(error_type(status), kind);
            assert_eq!(status_of(kind), status);
        }
        assert_eq!(error_type(502), "api_error");
        assert_eq!(error_type(422), "invalid_request_error");
    }
}
