//! The built-in deterministic upstream. It speaks the OpenAI API, so the same
//! router serves in process (the default `mock` upstream, no socket) and on a
//! port (`promptgate mock-upstream`, used by tests as a "real" upstream).
//!
//! Output is a pure function of the request, so tests can assert on it.
//! The model name selects the behaviour:
//!
//! | model | behaviour |
//! |---|---|
//! | `mock-echo` | the answer is the request body it received, as JSON text |
//! | `mock-repeat` | the answer is the last user message's text (grounding demos and tests) |
//! | `mock-tools` | calls the request's first tool |
//! | `mock-slow` | 100 ms before the answer and between stream chunks |
//! | `mock-hang` | never answers (timeouts) |
//! | `mock-flaky` | every other request fails with 503 |
//! | `mock-error-NNN` | fails with status NNN in OpenAI's error shape |
//! | `mock-no-usage` | answers without `usage` (token estimation) |
//! | `mock-stream-cut` | a stream that stops half-way without `[DONE]` |
//! | any other `mock-*` | a short deterministic answer with realistic `usage` |

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Models listed by `GET /models`; any other `mock-*` name works too.
pub const MODELS: &[&str] = &[
    "mock-1",
    "mock-echo",
    "mock-repeat",
    "mock-tools",
    "mock-slow",
    "mock-hang",
    "mock-flaky",
    "mock-error-500",
    "mock-no-usage",
    "mock-stream-cut",
    "mock-embedding",
];

const CREATED: i64 = 1_767_225_600; // 2026-01-01, fixed so answers are reproducible
const WORDS: &[&str] = &[
    "the",
    "gateway",
    "answers",
    "every",
    "request",
    "with",
    "a",
    "short",
    "deterministic",
    "reply",
    "so",
    "tests",
    "can",
    "check",
    "tokens",
    "costs",
    "and",
    "streams",
    "quickly",
    "while",
    "prompts",
    "stay",
    "versioned",
    "cached",
    "grounded",
    "in",
    "context",
];
const SLOW_STEP: Duration = Duration::from_millis(100);

#[derive(Default)]
struct MockState {
    /// Request counter for `mock-flaky`.
    flaky: AtomicU64,
    /// Every request served, for `GET /stats` (lets tests prove a call reached the upstream).
    served: AtomicU64,
}

pub fn router() -> Router {
    let state = Arc::new(MockState::default());
    Router::new()
        .route("/chat/completions", post(chat))
        .route("/completions", post(completions))
        .route("/embeddings", post(embeddings))
        .route("/responses", post(responses))
        .route("/models", get(models))
        .route("/models/{id}", get(model))
        .route("/stats", get(stats))
        .fallback(|| async {
            error(
                404,
                "Unknown endpoint (mock upstream)",
                "invalid_request_error",
                None,
            )
        })
        .with_state(state)
}

/// The router mounted under `/v1`, as a standalone server exposes it.
pub fn server_router() -> Router {
    Router::new().nest("/v1", router())
}

fn error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    (status, axum::Json(body)).into_response()
}

/// Parses the body; malformed JSON gets OpenAI's 400.
// The error is the finished response, returned straight to the caller: boxing
// it would only add an allocation.
#[allow(clippy::result_large_err)]
fn parse(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|e| {
        error(
            400,
            &format!("We could not parse the JSON body of your request: {e}"),
            "invalid_request_error",
            None,
        )
    })
}

/// Behaviour shared by every endpoint: failures and delays chosen by model name.
async fn behaviour(state: &MockState, model: &str) -> Result<(), Response> {
    state.served.fetch_add(1, Ordering::Relaxed);
    if let Some(code) = model.strip_prefix("mock-error-") {
        let status = code.parse::<u16>().unwrap_or(500);
        let kind = if status < 500 {
            "invalid_request_error"
        } else {
            "server_error"
        };
        return Err(error(
            status,
            &format!("mock upstream error {status}"),
            kind,
            None,
        ));
    }
    match model {
        "mock-hang" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        "mock-flaky" if state.flaky.fetch_add(1, Ordering::Relaxed) % 2 == 0 => {
            return Err(error(503, "mock upstream is flaky", "server_error", None));
        }
        "mock-slow" => tokio::time::sleep(SLOW_STEP).await,
        _ => {}
    }
    Ok(())
}

fn digest(value: &Value) -> [u8; 32] {
    Sha256::digest(value.to_string().as_bytes()).into()
}

/// A deterministic answer of 8–16 words chosen by the request's content.
fn answer_words(
    seed: &[u8; 32],
    choice: usize,
    max_tokens: Option<u64>,
) -> (Vec<&'static str>, &'static str) {
    let natural = 8 + (seed[0] as usize + choice) % 9;
    let mut words: Vec<&str> = (0..natural)
        .map(|i| WORDS[(seed[(i + choice) % 32] as usize + i) % WORDS.len()])
        .collect();
    match max_tokens {
        Some(max) if (max as usize) < words.len() => {
            words.truncate(max as usize);
            (words, "length")
        }
        _ => (words, "stop"),
    }
}

/// About four characters a token, as OpenAI's rule of thumb says.
fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

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

fn max_tokens(req: &Value) -> Option<u64> {
    req.get("max_completion_tokens")
        .or_else(|| req.get("max_tokens"))
        .and_then(Value::as_u64)
}

fn wants_stream(req: &Value) -> (bool, bool) {
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let usage = req
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    (stream, usage)
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

fn sse(frames: Vec<String>, slow: bool, cut: bool) -> Response {
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

fn data(v: &Value) -> String {
    format!("data: {v}\n\n")
}

async fn chat(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-1")
        .to_owned();
    if let Err(r) = behaviour(&state, &model).await {
        return r;
    }
    let messages = req.get("messages");
    if !matches!(messages, Some(Value::Array(m)) if !m.is_empty()) {
        return error(
            400,
            "'messages' must be a non-empty array",
            "invalid_request_error",
            None,
        );
    }
    let seed = digest(messages.unwrap_or(&Value::Null));
    let n = req
        .get("n")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .clamp(1, 8) as usize;
    let prompt_tokens = prompt_tokens_of_messages(messages);
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
                for (w, word) in text.split(' ').enumerate() {
                    let piece = if w == 0 {
                        word.to_owned()
                    } else {
                        format!(" {word}")
                    };
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
    frames.push("data: [DONE]\n\n".to_owned());
    sse(frames, model == "mock-slow", model == "mock-stream-cut")
}

async fn completions(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-1")
        .to_owned();
    if let Err(r) = behaviour(&state, &model).await {
        return r;
    }
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
    let mut frames: Vec<String> = text
        .split(' ')
        .enumerate()
        .map(|(i, w)| {
            let piece = if i == 0 { w.to_owned() } else { format!(" {w}") };
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
    frames.push("data: [DONE]\n\n".to_owned());
    sse(frames, model == "mock-slow", model == "mock-stream-cut")
}

async fn embeddings(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-embedding")
        .to_owned();
    if let Err(r) = behaviour(&state, &model).await {
        return r;
    }
    let inputs: Vec<String> = match req.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if !items.is_empty() => {
            if items.iter().all(Value::is_number) {
                vec![Value::Array(items.clone()).to_string()]
            } else {
                items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| i.to_string())
                    })
                    .collect()
            }
        }
        _ => {
            return error(
                400,
                "'input' must be a string or a non-empty array",
                "invalid_request_error",
                None,
            )
        }
    };
    let dims = req
        .get("dimensions")
        .and_then(Value::as_u64)
        .unwrap_or(256)
        .clamp(1, 4096) as usize;
    let base64 = req.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let mut prompt_tokens = 0;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            prompt_tokens += estimate_tokens(text).max(1);
            let vector = embedding(text, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    axum::Json(json!({"object": "list", "data": data, "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}))
    .into_response()
}

/// A unit vector derived from the text's hash.
fn embedding(text: &str, dims: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(dims);
    let mut block: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    while out.len() < dims {
        for pair in block.chunks(2) {
            if out.len() == dims {
                break;
            }
            out.push((u16::from_le_bytes([pair[0], pair[1]]) as f32 / 32768.0) - 1.0);
        }
        block = Sha256::digest(block).into();
    }
    let norm = out
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    out.iter_mut().for_each(|x| *x /= norm);
    out
}

async fn responses(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-1")
        .to_owned();
    if let Err(r) = behaviour(&state, &model).await {
        return r;
    }
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
    for (i, w) in words.iter().enumerate() {
        let piece = if i == 0 {
            (*w).to_owned()
        } else {
            format!(" {w}")
        };
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
    sse(frames, model == "mock-slow", model == "mock-stream-cut")
}

fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": CREATED, "owned_by": "promptgate-mock"})
}

async fn models() -> Response {
    let data: Vec<Value> = MODELS.iter().map(|m| model_object(m)).collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

async fn model(axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    if id.starts_with("mock-") {
        axum::Json(model_object(&id)).into_response()
    } else {
        error(
            404,
            &format!("The model '{id}' does not exist"),
            "invalid_request_error",
            Some("model_not_found"),
        )
    }
}

async fn stats(State(state): State<Arc<MockState>>) -> Response {
    axum::Json(json!({"served": state.served.load(Ordering::Relaxed)})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_unit_vectors_of_the_asked_size() {
        let v = embedding("hello", 300);
        assert_eq!(v.len(), 300);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
        assert_eq!(v, embedding("hello", 300));
    }

    #[test]
    fn max_tokens_cuts_the_answer() {
        let seed = [7u8; 32];
        let (words, finish) = answer_words(&seed, 0, Some(3));
        assert_eq!(words.len(), 3);
        assert_eq!(finish, "length");
    }
}
