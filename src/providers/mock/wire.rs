//! How the mock answers on the wire: OpenAI's error shape, and server-sent
//! events (paced for `mock-slow`, cut short for `mock-stream-cut`).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// `mock-slow`'s pause before the answer and between stream chunks.
pub const SLOW_STEP: Duration = Duration::from_millis(100);

/// The last frame of a chat or completions stream.
pub const DONE: &str = "data: [DONE]\n\n";

pub fn error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    (status, axum::Json(body)).into_response()
}

/// Which API's error shape an endpoint answers in.
#[derive(Clone, Copy)]
pub enum ErrorShape {
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}`, the type following the status.
    Anthropic,
}

impl ErrorShape {
    /// An error; `kind` is OpenAI's type (Anthropic's follows the status).
    pub fn error(self, status: u16, message: &str, kind: &str) -> Response {
        match self {
            ErrorShape::OpenAi => error(status, message, kind, None),
            ErrorShape::Anthropic => crate::api::anthropic::error_response(status, message),
        }
    }
}

/// One `data:` frame.
pub fn data(v: &Value) -> String {
    format!("data: {v}\n\n")
}

/// The frames as an event stream, as `model` asks for it: `mock-slow` pauses
/// between frames, `mock-stream-cut` stops half-way.
pub fn sse(frames: Vec<String>, model: &str) -> Response {
    let slow = model == "mock-slow";
    let cut = model == "mock-stream-cut";
    let total = frames.len();
    let keep = if cut { total / 2 } else { total };
    let stream = futures_util::stream::unfold(
        frames.into_iter().take(keep).enumerate(),
        move |mut it| async move {
            let (i, frame) = it.next()?;
            if slow && i > 0 {
                tokio::time::sleep(SLOW_STEP).await;
            }
            Some((Ok::<_, std::convert::Infallible>(Bytes::from(frame)), it))
        },
    );
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
