//! Converting between the two shapes of one answer, so a stream request can
//! be served from a cached JSON answer and a completed stream can be stored
//! as one: `assemble` folds SSE chunks into the JSON answer, `replay` unfolds
//! a JSON answer into valid SSE chunks. (Messages API answers: see
//! `providers::anthropic::events`.)

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::api::Endpoint;

/// Folds the data payloads of a complete stream into the non-stream answer.
/// `None` when the chunks do not look like a chat or completions stream.
pub fn assemble(endpoint: Endpoint, chunks: &[Value]) -> Option<Value> {
    if endpoint == Endpoint::Messages {
        return crate::providers::anthropic::events::fold(chunks);
    }
    let first = chunks.first()?;
    let mut choices: Vec<Map<String, Value>> = Vec::new();
    let mut usage = Value::Null;
    for chunk in chunks {
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            usage = u.clone();
        }
        for c in chunk.get("choices")?.as_array()? {
            let index = c.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            while choices.len() <= index {
                let mut fresh = Map::new();
                fresh.insert("index".into(), json!(choices.len()));
                choices.push(fresh);
            }
            let slot = &mut choices[index];
            if let Some(reason) = c.get("finish_reason").filter(|r| !r.is_null()) {
                slot.insert("finish_reason".into(), reason.clone());
            }
            match endpoint {
                Endpoint::Completions => {
                    let text = c.get("text").and_then(Value::as_str).unwrap_or_default();
                    append_str(slot, "text", text);
                }
                _ => {
                    let message = slot
                        .entry("message")
                        .or_insert_with(|| json!({"role": "assistant", "content": null}));
                    let Some(delta) = c.get("delta") else {
                        continue;
                    };
                    merge_delta(message, delta);
                }
            }
        }
    }
    let object = match endpoint {
        Endpoint::Completions => "text_completion",
        _ => "chat.completion",
    };
    let choices: Vec<Value> = choices
        .into_iter()
        .map(|mut c| {
            c.entry("finish_reason").or_insert(Value::Null);
            c.entry("logprobs").or_insert(Value::Null);
            Value::Object(c)
        })
        .collect();
    let mut answer = envelope(first, object, Value::Array(choices));
    if !usage.is_null() {
        answer["usage"] = usage;
    }
    Some(answer)
}

fn append_str(map: &mut Map<String, Value>, field: &str, piece: &str) {
    match map.get_mut(field) {
        Some(Value::String(s)) => s.push_str(piece),
        _ => {
            map.insert(field.into(), Value::String(piece.to_owned()));
        }
    }
}

/// Adds one chat delta to the message being assembled.
fn merge_delta(message: &mut Value, delta: &Value) {
    let Some(msg) = message.as_object_mut() else {
        return;
    };
    let Some(delta) = delta.as_object() else {
        return;
    };
    for (k, v) in delta {
        match (k.as_str(), v) {
            ("content" | "refusal", Value::String(piece)) => append_str(msg, k, piece),
            ("role", Value::String(_)) => {
                msg.insert(k.clone(), v.clone());
            }
            ("tool_calls", Value::Array(calls)) => {
                let list = msg.entry("tool_calls").or_insert_with(|| json!([]));
                let Some(list) = list.as_array_mut() else {
                    continue;
                };
                for call in calls {
                    let i = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                    while list.len() <= i {
                        list.push(json!({"id": null, "type": "function", "function": {"name": "", "arguments": ""}}));
                    }
                    let slot = &mut list[i];
                    if let Some(id) = call.get("id").filter(|v| !v.is_null()) {
                        slot["id"] = id.clone();
                    }
                    if let Some(f) = call.get("function") {
                        for part in ["name", "arguments"] {
                            if let Some(p) = f.get(part).and_then(Value::as_str) {
                                if let Some(Value::String(s)) = slot["function"].get_mut(part) {
                                    s.push_str(p);
                                }
                            }
                        }
                    }
                }
            }
            (_, Value::Null) => {}
            _ => {
                msg.insert(k.clone(), v.clone());
            }
        }
    }
}

fn frame(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

/// Unfolds a JSON answer into SSE frames ending with `[DONE]`. The usage chunk
/// is included only when the client asked for it.
pub fn replay(endpoint: Endpoint, answer: &Value, include_usage: bool) -> Vec<Bytes> {
    if endpoint == Endpoint::Messages {
        // Messages API streams always carry their usage.
        let frames = crate::providers::anthropic::events::unfold(answer);
        return frames.into_iter().map(Bytes::from).collect();
    }
    let mut frames = Vec::new();
    let base = |choices: Value| {
        let object = match endpoint {
            Endpoint::Completions => "text_completion",
            _ => "chat.completion.chunk",
        };
        let mut c = envelope(answer, object, choices);
        if include_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    let empty = Vec::new();
    let choices = answer
        .get("choices")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for (i, choice) in choices.iter().enumerate() {
        let index = choice.get("index").cloned().unwrap_or(json!(i));
        let finish = choice.get("finish_reason").cloned().unwrap_or(Value::Null);
        match endpoint {
            Endpoint::Completions => {
                let text = choice.get("text").cloned().unwrap_or(json!(""));
                frames.push(frame(&base(json!([{"index": index, "text": text, "logprobs": null, "finish_reason": null}]))));
                frames.push(frame(&base(json!([{"index": index, "text": "", "logprobs": null, "finish_reason": finish}]))));
            }
            _ => {
                let msg = choice.get("message").cloned().unwrap_or_else(|| json!({}));
                let mut delta =
                    json!({"role": msg.get("role").cloned().unwrap_or(json!("assistant"))});
                if let Some(content) = msg.get("content").filter(|c| !c.is_null()) {
                    delta["content"] = content.clone();
                }
                if let Some(refusal) = msg.get("refusal").filter(|c| !c.is_null()) {
                    delta["refusal"] = refusal.clone();
                }
                if let Some(Value::Array(calls)) = msg.get("tool_calls") {
                    let calls: Vec<Value> = calls
                        .iter()
                        .enumerate()
                        .map(|(n, c)| {
                            let mut c = c.clone();
                            c["index"] = json!(n);
                            c
                        })
                        .collect();
                    delta["tool_calls"] = Value::Array(calls);
                }
                frames.push(frame(&base(json!([{"index": index, "delta": delta, "logprobs": null, "finish_reason": null}]))));
                frames.push(frame(&base(json!([{"index": index, "delta": {}, "logprobs": null, "finish_reason": finish}]))));
            }
        }
    }
    if include_usage {
        if let Some(usage) = answer.get("usage") {
            let mut last = base(json!([]));
            last["usage"] = usage.clone();
            frames.push(frame(&last));
        }
    }
    frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    frames
}

/// An answer or chunk around `choices`, with the identifying fields
/// (`id`, `created`, `model`, `system_fingerprint`) of `source`.
fn envelope(source: &Value, object: &str, choices: Value) -> Value {
    let mut out = json!({
        "id": source.get("id").cloned().unwrap_or(Value::Null),
        "object": object,
        "created": source.get("created").cloned().unwrap_or(Value::Null),
        "model": source.get("model").cloned().unwrap_or(Value::Null),
        "choices": choices,
    });
    if let Some(fp) = source.get("system_fingerprint") {
        out["system_fingerprint"] = fp.clone();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_round_trips_through_assemble_and_replay() {
        let chunks = vec![
            json!({"id": "c", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
            json!({"id": "c", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}),
            json!({"id": "c", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]}),
            json!({"id": "c", "created": 1, "model": "m", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}),
        ];
        let answer = assemble(Endpoint::Chat, &chunks).unwrap();
        assert_eq!(answer["choices"][0]["message"]["content"], "Hello");
        assert_eq!(answer["choices"][0]["finish_reason"], "stop");
        assert_eq!(answer["usage"]["completion_tokens"], 2);
        let frames = replay(Endpoint::Chat, &answer, true);
        let payloads: Vec<Value> = frames
            .iter()
            .filter_map(|f| {
                std::str::from_utf8(f)
                    .ok()?
                    .strip_prefix("data: ")?
                    .trim()
                    .parse::<Value>()
                    .ok()
            })
            .collect();
        let again = assemble(Endpoint::Chat, &payloads).unwrap();
        assert_eq!(again["choices"], answer["choices"]);
        assert_eq!(again["usage"], answer["usage"]);
        assert!(frames.last().unwrap().starts_with(b"data: [DONE]"));
        let without_usage = replay(Endpoint::Chat, &answer, false);
        assert_eq!(without_usage.len(), frames.len() - 1);
    }

    #[test]
    fn tool_call_deltas_are_joined() {
        let chunks = vec![
            json!({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "search", "arguments": ""}}]}}]}),
            json!({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"q\":"}}]}}]}),
            json!({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}, "finish_reason": "tool_calls"}]}),
        ];
        let answer = assemble(Endpoint::Chat, &chunks).unwrap();
        let call = &answer["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["id"], "call_1");
        assert_eq!(call["function"]["name"], "search");
        assert_eq!(call["function"]["arguments"], "{\"q\":1}");
    }
}
