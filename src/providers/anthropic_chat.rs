//! OpenAI chat completions served by an upstream of `kind = "anthropic"`:
//! the request is translated to the Messages API, sent to `/messages`, and
//! the answer (whole, or event by event) translated back, so the pipeline
//! above sees an OpenAI answer with OpenAI usage. The translation itself is
//! pure and lives in [`super::anthropic`].

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::anthropic::{errors, request, response, stream::ChatStream};
use super::body::{collect, is_event_stream, UpstreamError, UpstreamResponse};
use super::upstream::Upstream;

pub(super) async fn chat(
    upstream: &Upstream,
    headers: HeaderMap,
    body: Bytes,
) -> Result<UpstreamResponse, UpstreamError> {
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return Ok(openai_error(400, &format!("invalid JSON body: {e}"), None)),
    };
    let translated = match request::translate(&parsed) {
        Ok(t) => t,
        Err(refused) => return Ok(openai_error(400, &refused.message, Some(&refused.param))),
    };
    let body = Bytes::from(translated.body.to_string());
    let resp = upstream
        .send_as_is(Method::POST, "/messages", headers, body)
        .await?;
    if !resp.status.is_success() {
        let bytes = collect(resp.body, upstream.timeout).await?;
        let (status, error) = errors::to_openai(resp.status.as_u16(), &bytes);
        return Ok(json_answer(status, &error));
    }
    let created = now();
    if translated.stream && is_event_stream(&resp.headers) {
        let mut chunks = ChatStream::new(translated.include_usage, translated.prefill, created);
        let body = resp
            .body
            .map(move |piece| piece.map(|bytes| Bytes::from(chunks.push(&bytes))))
            .filter(|piece| std::future::ready(!matches!(piece, Ok(b) if b.is_empty())));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream; charset=utf-8"),
        );
        return Ok(UpstreamResponse {
            status: StatusCode::OK,
            headers,
            body: Box::pin(body),
        });
    }
    let bytes = collect(resp.body, upstream.timeout).await?;
    let message: Value = serde_json::from_slice(&bytes)
        .map_err(|e| UpstreamError::Body(format!("the Messages API answer is not JSON: {e}")))?;
    Ok(json_answer(
        200,
        &response::translate(&message, translated.prefill, created),
    ))
}

/// An OpenAI endpoint other than chat completions, asked of an Anthropic upstream.
pub(super) fn unsupported(upstream: &Upstream, path: &str) -> UpstreamResponse {
    openai_error(
        400,
        &format!(
            "upstream `{}` is an Anthropic upstream: it serves /v1/chat/completions and /v1/messages, not {path}",
            upstream.name
        ),
        Some("model"),
    )
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn openai_error(status: u16, message: &str, param: Option<&str>) -> UpstreamResponse {
    json_answer(
        status,
        &json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": null}}),
    )
}

fn json_answer(status: u16, body: &Value) -> UpstreamResponse {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let bytes = Bytes::from(body.to_string());
    UpstreamResponse {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        headers,
        body: Box::pin(futures_util::stream::once(async move { Ok(bytes) })),
    }
}
