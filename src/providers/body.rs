//! An upstream answer's body: a stream of chunks, whichever transport
//! brought it, and reading it whole.

use std::pin::Pin;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use futures_util::{Stream, StreamExt};
use tokio::time::Instant;

pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, UpstreamError>> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("could not reach upstream `{upstream}`: {detail}")]
    Connect { upstream: String, detail: String },
    #[error("upstream did not answer in time")]
    Timeout,
    #[error("upstream connection failed mid-answer: {0}")]
    Body(String),
}

pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: BodyStream,
    /// When a whole answer must have arrived: the upstream's timeout after
    /// the request was sent (set by `Upstream::send`).
    pub deadline: Instant,
}

impl UpstreamResponse {
    pub(super) fn new(
        head: axum::http::response::Parts,
        body: impl Stream<Item = Result<Bytes, UpstreamError>> + Send + 'static,
    ) -> UpstreamResponse {
        UpstreamResponse {
            status: head.status,
            headers: head.headers,
            body: Box::pin(body),
            deadline: Instant::now(),
        }
    }
}

/// Whether an answer's headers say it is an event stream (SSE).
pub fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

/// Reads a whole upstream body, failing if it is not complete by `deadline`.
/// A total deadline, not an idle one: an upstream trickling a byte at a time
/// must not hold the call past its timeout.
pub async fn collect(body: BodyStream, deadline: Instant) -> Result<Bytes, UpstreamError> {
    tokio::time::timeout_at(deadline, read_whole(body))
        .await
        .unwrap_or(Err(UpstreamError::Timeout))
}

async fn read_whole(mut body: BodyStream) -> Result<Bytes, UpstreamError> {
    let mut first: Option<Bytes> = None;
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        // Most answers arrive in one piece: keep it without copying.
        match first.take() {
            None if buf.is_empty() => first = Some(chunk),
            prev => {
                if let Some(p) = prev {
                    buf.extend_from_slice(&p);
                }
                buf.extend_from_slice(&chunk);
            }
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(buf)))
}

/// The messages of an error and its sources, joined by `: `.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let msg = e.to_string();
        // hyper repeats the inner message in some outer ones.
        if !out.ends_with(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = e.source();
    }
    out
}
