//! `POST /chat/completions`: choices of deterministic text, an echo of the
//! request (`mock-echo`, `mock-repeat`) or a call of its first tool
//! (`mock-tools`), whole or as a stream of chunks.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::answer::{answer_words, estimate_tokens, stream_pieces, CREATED, WORDS};
use super::request::{digest, max_tokens, start, wants_stream, MockState};
use super::wire::{data, error, sse, DONE};

fn prompt_tokens_of_messages(messages: Option<&Value>) -> u64 {
    let Some(Value::Array(msgs)) = messages else {
        return 0;
    };
    let mut total = 3;
    for m in msgs {
        total += 4;
        match m.get("content") {
            Some(Value::String(s)) => total += estimate_tokens(s),
            Some(other) => total += estimate_tokens(&other.to_string()),
            None => {}
        }
    }
    total
}

fn last_user_text(messages: Option<&Value>) -> String {
    let Some(Value::Array(msgs)) = messages else {
        return String::new();
    };
    msgs.iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .and_then(|m| m.get("content").and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned()
}

fn usage_json(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    })
}

pub async fn chat(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let (req, model) = match start(&state, &body, "mock-1").await {
        Ok(started) => started,
        Err(r) => return r,
    };
    let messages = req.get("messages");
    if !matches!(messages, Some(Value::Array(m)) if !m.is_empty()) {
        return error(
            400,
            "'messages' must be a non-empty array",
            "invalid_request_error",
            None,
        );
    }
    let prompt_tokens = prompt_tokens_of_messages(messages);
    if messages.is_some_and(super::judge::is_judge_request) {
        return super::judge::answer(&req, &model, prompt_tokens).await;
    }
    let seed = digest(messages.unwrap_or(&Value::Null));
    let n = req
        .get("n")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .clamp(1, 8) as usize;
    let id = format!("chatcmpl-mock{}", hex::encode(&seed[..6]));
    let tool = if model == "mock-tools" {
        req.pointer("/tools/0/function/name")
            .and_then(Value::as_str)
            .map(str::to_owned)
    } else {
        None
    };
    let echo = match model.as_str() {
        "mock-echo" => Some(String::from_utf8_lossy(&body).into_owned()),
        "mock-repeat" => Some(last_user_text(messages)),
        _ => None,
    };
    let no_usage = model == "mock-no-usage";

    // Per choice: the text (or tool arguments) and its finish reason.
    let choices: Vec<(String, &str)> = (0..n)
        .map(|i| {
            if let Some(text) = &echo {
                (text.clone(), "stop")
            } else if tool.is_some() {
                (
                    format!(
                        "{{\"query\":\"{}\"}}",
                        WORDS[seed[i] as usize % WORDS.len()]
                    ),
                    "tool_calls",
                )
            } else {
                let (words, finish) = answer_words(&seed, i, max_tokens(&req));
                (words.join(" "), finish)
            }
        })
        .collect();
    let completion_tokens: u64 = choices.iter().map(|(t, _)| estimate_tokens(t).max(1)).sum();
    let (stream, include_usage) = wants_stream(&req);

    if !stream {
        let out: Vec<Value> = choices
            .iter()
            .enumerate()
            .map(|(i, (text, finish))| {
                let message = match &tool {
                    Some(name) => json!({"role": "assistant", "content": null, "refusal": null,
                        "tool_calls": [{"id": format!("call_mock{i}"), "type": "function",
                            "function": {"name": name, "arguments": text}}]}),
                    None => json!({"role": "assistant", "content": text, "refusal": null, "annotations": []}),
                };
                json!({"index": i, "message": message, "logprobs": null, "finish_reason": finish})
            })
            .collect();
        let mut resp = json!({
            "id": id, "object": "chat.completion", "created": CREATED, "model": model,
            "choices": out, "system_fingerprint": "fp_mock", "service_tier": "default",
        });
        if !no_usage {
            resp["usage"] = usage_json(prompt_tokens, completion_tokens);
        }
        return axum::Json(resp).into_response();
    }

    let chunk = |choices: Value, usage: Option<Value>| {
        let mut c = json!({"id": id, "object": "chat.completion.chunk", "created": CREATED,
            "model": model, "system_fingerprint": "fp_mock", "choices": choices});
        if include_usage {
            c["usage"] = usage.unwrap_or(Value::Null);
        }
        data(&c)
    };
    let mut frames = Vec::new();
    for (i, (text, finish)) in choices.iter().enumerate() {
        match &tool {
            Some(name) => {
                frames.push(chunk(json!([{"index": i, "delta": {"role": "assistant", "content": null,
                    "tool_calls": [{"index": 0, "id": format!("call_mock{i}"), "type": "function",
                        "function": {"name": name, "arguments": ""}}]}, "logprobs": null, "finish_reason": null}]), None));
                let mid = text.len() / 2;
                for part in [&text[..mid], &text[mid..]] {
                    frames.push(chunk(json!([{"index": i, "delta": {"tool_calls": [{"index": 0,
                        "function": {"arguments": part}}]}, "logprobs": null, "finish_reason": null}]), None));
                }
            }
            None => {
                frames.push(chunk(json!([{"index": i, "delta": {"role": "assistant", "content": "", "refusal": null},
                    "logprobs": null, "finish_reason": null}]), None));
                for piece in stream_pieces(text.split(' ')) {
                    frames.push(chunk(
                        json!([{"index": i, "delta": {"content": piece}, "logprobs": null,
                        "finish_reason": null}]),
                        None,
                    ));
                }
            }
        }
        frames.push(chunk(
            json!([{"index": i, "delta": {}, "logprobs": null, "finish_reason": finish}]),
            None,
        ));
    }
    if include_usage && !no_usage {
        frames.push(chunk(
            json!([]),
            Some(usage_json(prompt_tokens, completion_tokens)),
        ));
    }
    frames.push(DONE.to_owned());
    sse(frames, &model)
}
