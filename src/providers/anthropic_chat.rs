//! OpenAI chat completions served by an upstream of `kind = "anthropic"`:
//! [`prepare`] translates the request to the Messages API (the upstream
//! sends it to `/messages`), and [`finish`] translates the answer back
//! (whole, or event by event), so the pipeline above sees an OpenAI answer
//! with OpenAI usage. The translation itself is pure and lives in
//! [`super::anthropic`].

use axum::body::Bytes;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::anthropic::{errors, request, response, stream::ChatStream};
use super::body::{collect, is_event_stream, UpstreamError, UpstreamResponse};

/// The Messages request for a chat completions body, or the 400 answer
/// naming what cannot be translated.
// The refusal is the finished answer, handed straight back.
#[allow(clippy::result_large_err)]
pub(super) fn prepare(body: &[u8]) -> Result<(request::Translated, Bytes), UpstreamResponse> {
    let parsed: Value = serde_json::from_slice(body)
        .map_err(|e| openai_error(400, &format!("invalid JSON body: {e}"), None))?;
    let translated = request::translate(&parsed)
        .map_err(|refused| openai_error(400, &refused.message, Some(&refused.param)))?;
    let body = Bytes::from(translated.body.to_string());
    Ok((translated, body))
}

/// How long an answer made here (a refusal, a translated error) may take to read.
const LOCAL_ANSWER_DEADLINE: Duration = Duration::from_secs(30);

/// The Messages API's answer to a [`prepare`]d request, as a chat completion.
pub(super) async fn finish(
    translated: request::Translated,
    resp: UpstreamResponse,
) -> Result<UpstreamResponse, UpstreamError> {
    let deadline = resp.deadline;
    if !resp.status.is_success() {
        let bytes = collect(resp.body, deadline).await?;
        let (status, error) = errors::to_openai(resp.status.as_u16(), &bytes);
        return Ok(json_answer(status, &error).until(deadline));
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
            deadline,
        });
    }
    let bytes = collect(resp.body, deadline).await?;
    let message: Value = serde_json::from_slice(&bytes)
        .map_err(|e| UpstreamError::Body(format!("the Messages API answer is not JSON: {e}")))?;
    Ok(json_answer(
        200,
        &response::translate(&message, translated.prefill, created),
    )
    .until(deadline))
}

impl UpstreamResponse {
    /// The same answer, its body due by `deadline`.
    fn until(self, deadline: tokio::time::Instant) -> UpstreamResponse {
        UpstreamResponse { deadline, ..self }
    }
}

/// An OpenAI endpoint other than chat completions, asked of an Anthropic upstream.
pub(super) fn unsupported(upstream: &str, path: &str) -> UpstreamResponse {
    openai_error(
        400,
        &format!(
            "upstream `{upstream}` is an Anthropic upstream: it serves /v1/chat/completions and /v1/messages, not {path}"
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
        // made here, in memory: it is complete at once
        deadline: tokio::time::Instant::now() + LOCAL_ANSWER_DEADLINE,
    }
}
