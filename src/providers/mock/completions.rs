//! `POST /completions` (the legacy text API): one deterministic choice, or
//! the request body itself for `mock-echo`, whole or as a stream.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::answer::{answer_words, estimate_tokens, stream_pieces, CREATED};
use super::request::{max_tokens, start, wants_stream, MockState};
use super::wire::{data, error, sse, DONE};

pub async fn completions(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let (req, model) = match start(&state, &body, "mock-1").await {
        Ok(started) => started,
        Err(r) => return r,
    };
    let prompt = match req.get("prompt") {
        Some(Value::String(s)) => s.clone(),
        Some(v @ Value::Array(_)) => v.to_string(),
        _ => return error(400, "'prompt' is required", "invalid_request_error", None),
    };
    let seed: [u8; 32] = Sha256::digest(prompt.as_bytes()).into();
    let (words, finish) = answer_words(&seed, 0, max_tokens(&req));
    let text = if model == "mock-echo" {
        String::from_utf8_lossy(&body).into_owned()
    } else {
        words.join(" ")
    };
    let prompt_tokens = estimate_tokens(&prompt);
    let completion_tokens = estimate_tokens(&text).max(1);
    let id = format!("cmpl-mock{}", hex::encode(&seed[..6]));
    let (stream, include_usage) = wants_stream(&req);
    let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens});
    if !stream {
        let mut resp = json!({"id": id, "object": "text_completion", "created": CREATED, "model": model,
            "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}]});
        if model != "mock-no-usage" {
            resp["usage"] = usage;
        }
        return axum::Json(resp).into_response();
    }
    let mut frames: Vec<String> = stream_pieces(text.split(' '))
        .map(|piece| {
            let mut c = json!({"id": id, "object": "text_completion", "created": CREATED, "model": model,
                "choices": [{"text": piece, "index": 0, "logprobs": null, "finish_reason": null}]});
            if include_usage {
                c["usage"] = Value::Null;
            }
            data(&c)
        })
        .collect();
    frames.push(data(
        &json!({"id": id, "object": "text_completion", "created": CREATED, "model": model,
        "choices": [{"text": "", "index": 0, "logprobs": null, "finish_reason": finish}]}),
    ));
    if include_usage && model != "mock-no-usage" {
        frames.push(data(
            &json!({"id": id, "object": "text_completion", "created": CREATED, "model": model,
            "choices": [], "usage": usage}),
        ));
    }
    frames.push(DONE.to_owned());
    sse(frames, &model)
}
