//! `POST /messages` and `POST /messages/count_tokens`: Anthropic's Messages
//! API, with the same model-name behaviours as the OpenAI side (errors in
//! Anthropic's shape: `mock-error-529` is `overloaded_error`).
//!
//! - Given `tools` (and a `tool_choice` other than `none`), the answer calls
//!   the first tool (or the one `tool_choice` names), unless the last message
//!   carries a `tool_result`: then it answers in text.
//! - An assistant message `{` at the end (JSON prefill) is continued into a
//!   JSON object: `"answer":"…"}`.
//! - `stop_sequences` cut the answer at the first one found (`stop_sequence`).
//! - Blocks marked `cache_control` make a cached prefix: the first request
//!   with that prefix reports it as `cache_creation_input_tokens`, later ones
//!   as `cache_read_input_tokens`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::answer::{answer_words, estimate_tokens, WORDS};
use super::request::{digest, start_as, MockState};
use super::wire::{sse, ErrorShape};
use crate::providers::anthropic::events;

const SHAPE: ErrorShape = ErrorShape::Anthropic;

/// Every part of the prompt in the order Anthropic reads it (tools, system,
/// then each message's content blocks), as JSON values.
fn prompt_parts(req: &Value) -> Vec<Value> {
    let mut parts: Vec<Value> = Vec::new();
    let list = |v: Option<&Value>| match v {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other.clone()],
    };
    parts.extend(list(req.get("tools")));
    parts.extend(list(req.get("system")));
    for m in list(req.get("messages")) {
        parts.extend(list(m.get("content")));
    }
    parts
}

fn tokens_of(parts: &[Value]) -> u64 {
    parts
        .iter()
        .map(|p| match p {
            Value::String(s) => estimate_tokens(s),
            other => estimate_tokens(&other.to_string()),
        })
        .sum()
}

/// (uncached input, cache written, cache read) tokens of the request.
fn input_usage(state: &MockState, req: &Value) -> (u64, u64, u64) {
    let parts = prompt_parts(req);
    let total = tokens_of(&parts)
        + 3 * req
            .get("messages")
            .and_then(Value::as_array)
            .map_or(0, |m| m.len() as u64);
    let Some(last) = parts.iter().rposition(|p| p.get("cache_control").is_some()) else {
        return (total, 0, 0);
    };
    let prefix = &parts[..=last];
    let prefix_tokens = tokens_of(prefix).min(total);
    let key = digest(&Value::Array(prefix.to_vec()));
    let first_time = state
        .prompt_cache
        .lock()
        .map(|mut seen| seen.insert(key))
        .unwrap_or(true);
    if first_time {
        (total - prefix_tokens, prefix_tokens, 0)
    } else {
        (total - prefix_tokens, 0, prefix_tokens)
    }
}

fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn has_tool_result(message: &Value) -> bool {
    message
        .get("content")
        .and_then(Value::as_array)
        .is_some_and(|blocks| {
            blocks
                .iter()
                .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
        })
}

/// The tool to call, when the request gives tools and does not answer one.
fn tool_to_call(req: &Value, last: &Value) -> Option<String> {
    let tools = req.get("tools").and_then(Value::as_array)?;
    let choice = req.pointer("/tool_choice/type").and_then(Value::as_str);
    if tools.is_empty() || choice == Some("none") || has_tool_result(last) {
        return None;
    }
    if choice == Some("tool") {
        return req
            .pointer("/tool_choice/name")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    tools[0]
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Cuts `text` at the first stop sequence it contains.
fn apply_stop(text: String, req: &Value) -> (String, Option<String>) {
    let stops = req.get("stop_sequences").and_then(Value::as_array);
    let first = stops
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s).map(|at| (at, s)))
        .min();
    match first {
        Some((at, s)) => (text[..at].trim_end().to_owned(), Some(s.to_owned())),
        None => (text, None),
    }
}

pub async fn messages(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let (req, model) = match start_as(&state, &body, "mock-1", SHAPE).await {
        Ok(started) => started,
        Err(r) => return r,
    };
    let Some(msgs) = req
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
    else {
        return SHAPE.error(400, "messages: at least one message is required", "");
    };
    let Some(max_tokens) = req.get("max_tokens").and_then(Value::as_u64) else {
        return SHAPE.error(400, "max_tokens: Field required", "");
    };
    let last = &msgs[msgs.len() - 1];
    let seed = digest(&Value::Array(msgs.clone()));
    let (input, written, read) = input_usage(&state, &req);
    let prefill = last.get("role").and_then(Value::as_str) == Some("assistant")
        && text_of(last.get("content")).trim() == "{";

    let (content, stop_reason, stop_sequence) = if let Some(name) = tool_to_call(&req, last) {
        let input = json!({"query": WORDS[seed[0] as usize % WORDS.len()]});
        let id = format!("toolu_mock{}", hex::encode(&seed[..6]));
        (
            json!([{"type": "tool_use", "id": id, "name": name, "input": input}]),
            "tool_use",
            None,
        )
    } else {
        let (words, finish) = answer_words(&seed, 0, Some(max_tokens));
        let text = match model.as_str() {
            "mock-echo" => String::from_utf8_lossy(&body).into_owned(),
            "mock-repeat" => msgs
                .iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
                .map(|m| text_of(m.get("content")))
                .unwrap_or_default(),
            _ if prefill => format!("\"answer\":\"{}\"}}", words.join(" ")),
            _ => words.join(" "),
        };
        let (text, stop) = apply_stop(text, &req);
        let reason = match (&stop, finish) {
            (Some(_), _) => "stop_sequence",
            (None, "length") => "max_tokens",
            _ => "end_turn",
        };
        (json!([{"type": "text", "text": text}]), reason, stop)
    };
    let output_tokens = estimate_tokens(&content.to_string()).max(1);
    let message = json!({
        "id": format!("msg_mock{}", hex::encode(&seed[..8])),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": {
            "input_tokens": input,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
            "output_tokens": output_tokens,
        },
    });
    if req.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        return sse(events::unfold(&message), &model);
    }
    axum::Json(message).into_response()
}

pub async fn count_tokens(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let (req, _model) = match start_as(&state, &body, "mock-1", SHAPE).await {
        Ok(started) => started,
        Err(r) => return r,
    };
    if !req.get("messages").is_some_and(Value::is_array) {
        return SHAPE.error(400, "messages: Field required", "");
    }
    let parts = prompt_parts(&req);
    let messages = req
        .get("messages")
        .and_then(Value::as_array)
        .map_or(0, |m| m.len() as u64);
    axum::Json(json!({"input_tokens": tokens_of(&parts) + 3 * messages})).into_response()
}
