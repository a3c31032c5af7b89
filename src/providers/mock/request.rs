//! What every mock endpoint does with a request before answering: read the
//! JSON, count it, and apply the behaviour its model name selects (errors,
//! delays, a hang); plus the request fields several endpoints read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::wire::{ErrorShape, SLOW_STEP};

#[derive(Default)]
pub struct MockState {
    /// Request counter for `mock-flaky`.
    flaky: AtomicU64,
    /// Every request served, for `GET /stats` (lets tests prove a call reached the upstream).
    served: AtomicU64,
    /// The prompt prefixes the Messages API was asked to cache (`cache_control`):
    /// the first request with a prefix writes it, later ones read it.
    pub prompt_cache: std::sync::Mutex<std::collections::HashSet<[u8; 32]>>,
}

/// The parsed body and its model (`default_model` when it names none), once
/// the model's behaviour let the request through.
// The error is the finished response, returned straight to the caller: boxing
// it would only add an allocation.
#[allow(clippy::result_large_err)]
pub async fn start(
    state: &MockState,
    body: &Bytes,
    default_model: &str,
) -> Result<(Value, String), Response> {
    start_as(state, body, default_model, ErrorShape::OpenAi).await
}

/// [`start`], with errors in the given API's shape.
#[allow(clippy::result_large_err)]
pub async fn start_as(
    state: &MockState,
    body: &Bytes,
    default_model: &str,
    shape: ErrorShape,
) -> Result<(Value, String), Response> {
    let req = parse(body).map_err(|e| shape.error(400, &e, "invalid_request_error"))?;
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(default_model)
        .to_owned();
    behaviour(state, &model, shape).await?;
    Ok((req, model))
}

/// Parses the body; malformed JSON is a 400 with this message.
fn parse(body: &Bytes) -> Result<Value, String> {
    serde_json::from_slice(body)
        .map_err(|e| format!("We could not parse the JSON body of your request: {e}"))
}

/// Behaviour shared by every endpoint: failures and delays chosen by model name.
async fn behaviour(state: &MockState, model: &str, shape: ErrorShape) -> Result<(), Response> {
    state.served.fetch_add(1, Ordering::Relaxed);
    if let Some(code) = model.strip_prefix("mock-error-") {
        let status = code.parse::<u16>().unwrap_or(500);
        let kind = if status < 500 {
            "invalid_request_error"
        } else {
            "server_error"
        };
        return Err(shape.error(status, &format!("mock upstream error {status}"), kind));
    }
    match model {
        "mock-hang" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        "mock-flaky" if state.flaky.fetch_add(1, Ordering::Relaxed) % 2 == 0 => {
            return Err(shape.error(503, "mock upstream is flaky", "server_error"));
        }
        "mock-slow" => tokio::time::sleep(SLOW_STEP).await,
        _ => {}
    }
    Ok(())
}

/// `GET /stats`: how many requests the mock has served.
pub async fn stats(State(state): State<Arc<MockState>>) -> Response {
    axum::Json(json!({"served": state.served.load(Ordering::Relaxed)})).into_response()
}

/// A hash of part of the request, the seed of a deterministic answer.
pub fn digest(value: &Value) -> [u8; 32] {
    Sha256::digest(value.to_string().as_bytes()).into()
}

pub fn max_tokens(req: &Value) -> Option<u64> {
    req.get("max_completion_tokens")
        .or_else(|| req.get("max_tokens"))
        .and_then(Value::as_u64)
}

/// Whether the request asks for a stream, and for usage at its end.
pub fn wants_stream(req: &Value) -> (bool, bool) {
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let usage = req
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    (stream, usage)
}
