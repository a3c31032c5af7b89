//! Anthropic errors in OpenAI's shape and status, for OpenAI SDK callers of
//! an Anthropic upstream.

use serde_json::{json, Value};

/// (status, OpenAI error body) for an Anthropic error answer. Overloaded
/// (529, a status OpenAI SDKs do not know) becomes 503.
pub fn to_openai(status: u16, body: &[u8]) -> (u16, Value) {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let kind = parsed
        .pointer("/error/type")
        .and_then(Value::as_str)
        .unwrap_or("api_error");
    let message = parsed
        .pointer("/error/message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    let (status, openai_type, code) = match kind {
        "invalid_request_error" => (
            if (400..500).contains(&status) {
                status
            } else {
                400
            },
            "invalid_request_error",
            None,
        ),
        "authentication_error" => (401, "invalid_request_error", Some("invalid_api_key")),
        "permission_error" => (403, "permission_error", None),
        "not_found_error" => (404, "invalid_request_error", Some("not_found")),
        "request_too_large" => (413, "invalid_request_error", Some("request_too_large")),
        "rate_limit_error" => (429, "rate_limit_error", Some("rate_limit_exceeded")),
        "overloaded_error" => (503, "server_error", Some("overloaded")),
        _ => (
            if status >= 500 { status } else { 500 },
            "server_error",
            None,
        ),
    };
    (
        status,
        json!({"error": {"message": message, "type": openai_type, "param": null, "code": code}}),
    )
}
