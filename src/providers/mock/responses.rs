//! `POST /responses` (OpenAI's Responses API): one message of deterministic
//! text, whole or as the created / delta / completed event stream.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::answer::{answer_words, estimate_tokens, stream_pieces, CREATED};
use super::request::{digest, start, MockState};
use super::wire::{error, sse};

pub async fn responses(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let (req, model) = match start(&state, &body, "mock-1").await {
        Ok(started) => started,
        Err(r) => return r,
    };
    let Some(input) = req.get("input") else {
        return error(400, "'input' is required", "invalid_request_error", None);
    };
    let seed = digest(input);
    let input_text = match input {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let (words, _) = answer_words(
        &seed,
        0,
        req.get("max_output_tokens").and_then(Value::as_u64),
    );
    let text = words.join(" ");
    let input_tokens = estimate_tokens(&input_text)
        + estimate_tokens(
            req.get("instructions")
                .and_then(Value::as_str)
                .unwrap_or(""),
        );
    let output_tokens = estimate_tokens(&text).max(1);
    let id = format!("resp_mock{}", hex::encode(&seed[..6]));
    let msg_id = format!("msg_mock{}", hex::encode(&seed[6..12]));
    let usage = json!({"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens});
    let message = json!({"type": "message", "id": msg_id, "status": "completed", "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}]});
    let response = |status: &str, output: Value, usage: Value| {
        json!({
            "id": id, "object": "response", "created_at": CREATED, "status": status, "model": model,
            "output": output, "usage": usage, "error": null, "incomplete_details": null,
            "instructions": req.get("instructions").cloned().unwrap_or(Value::Null),
            "metadata": {}, "parallel_tool_calls": true, "temperature": 1.0, "tool_choice": "auto",
            "tools": [], "top_p": 1.0,
        })
    };
    if !req.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        return axum::Json(response("completed", json!([message]), usage)).into_response();
    }
    let event = |kind: &str, seq: usize, mut v: Value| {
        v["type"] = json!(kind);
        v["sequence_number"] = json!(seq);
        format!("event: {kind}\ndata: {v}\n\n")
    };
    let mut frames = vec![event(
        "response.created",
        0,
        json!({"response": response("in_progress", json!([]), Value::Null)}),
    )];
    for (i, piece) in stream_pieces(words.iter().copied()).enumerate() {
        frames.push(event(
            "response.output_text.delta",
            i + 1,
            json!({"item_id": msg_id, "output_index": 0,
            "content_index": 0, "delta": piece, "logprobs": []}),
        ));
    }
    frames.push(event(
        "response.completed",
        words.len() + 1,
        json!({"response": response("completed", json!([message]), usage)}),
    ));
    sse(frames, &model)
}
