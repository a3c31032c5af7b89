//! A whole Messages API answer and its event stream, each made from the
//! other: [`unfold`] turns a message into the `message_start` …
//! `message_stop` events a stream of it sends (the mock streams with it, the
//! cache replays with it); [`fold`] puts the events of a stream back together
//! into the message (what the cache stores).

use serde_json::{json, Map, Value};

/// One SSE frame: `event: <type>` and its JSON.
fn frame(event: &Value) -> String {
    let kind = event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    format!("event: {kind}\ndata: {event}\n\n")
}

/// Text cut into word-sized pieces (each after the first keeps its leading
/// space), so the pieces put together are the text.
fn pieces(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, word) in text.split(' ').enumerate() {
        if i == 0 {
            out.push(word.to_owned());
        } else {
            out.push(format!(" {word}"));
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

/// The events of a stream of `message`, as SSE frames.
pub fn unfold(message: &Value) -> Vec<String> {
    let mut frames = Vec::new();
    let usage = message.get("usage").cloned().unwrap_or_else(|| json!({}));
    let mut start = message.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["stop_sequence"] = Value::Null;
    let mut start_usage = usage.clone();
    start_usage["output_tokens"] = json!(1);
    start["usage"] = start_usage;
    frames.push(frame(&json!({"type": "message_start", "message": start})));
    let empty = Vec::new();
    let blocks = message
        .get("content")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for (index, block) in blocks.iter().enumerate() {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
        let (opening, deltas): (Value, Vec<Value>) = match kind {
            "text" => {
                let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                let deltas = pieces(text)
                    .into_iter()
                    .map(|p| json!({"type": "text_delta", "text": p}))
                    .collect();
                (json!({"type": "text", "text": ""}), deltas)
            }
            "tool_use" => {
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                let text = input.to_string();
                let half = text
                    .char_indices()
                    .nth(text.chars().count() / 2)
                    .map_or(0, |(i, _)| i);
                let deltas = [&text[..half], &text[half..]]
                    .into_iter()
                    .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
                    .collect();
                let mut opening = block.clone();
                opening["input"] = json!({});
                (opening, deltas)
            }
            "thinking" => {
                let thinking = block.get("thinking").cloned().unwrap_or(json!(""));
                let signature = block.get("signature").cloned().unwrap_or(json!(""));
                (
                    json!({"type": "thinking", "thinking": "", "signature": ""}),
                    vec![
                        json!({"type": "thinking_delta", "thinking": thinking}),
                        json!({"type": "signature_delta", "signature": signature}),
                    ],
                )
            }
            // Blocks without deltas (redacted thinking, server tool results) open whole.
            _ => (block.clone(), Vec::new()),
        };
        frames.push(frame(
            &json!({"type": "content_block_start", "index": index, "content_block": opening}),
        ));
        for delta in deltas {
            frames.push(frame(
                &json!({"type": "content_block_delta", "index": index, "delta": delta}),
            ));
        }
        frames.push(frame(
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }
    frames.push(frame(&json!({
        "type": "message_delta",
        "delta": {"stop_reason": message.get("stop_reason").cloned().unwrap_or(Value::Null),
                  "stop_sequence": message.get("stop_sequence").cloned().unwrap_or(Value::Null)},
        "usage": {"output_tokens": usage.get("output_tokens").cloned().unwrap_or(json!(0))},
    })));
    frames.push(frame(&json!({"type": "message_stop"})));
    frames
}

/// The message a complete stream's events describe; `None` when they do not
/// start with `message_start` (not a Messages API stream).
pub fn fold(events: &[Value]) -> Option<Value> {
    let mut message: Option<Value> = None;
    // Tool inputs arrive as pieces of JSON text; parsed at their block's end.
    let mut partial_json: Map<String, Value> = Map::new();
    for event in events {
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
        if kind == "message_start" {
            message = event.get("message").cloned();
            continue;
        }
        let Some(msg) = message.as_mut() else {
            continue;
        };
        let index = event.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
        match kind {
            "content_block_start" => {
                if let Some(Value::Array(content)) = msg.get_mut("content") {
                    while content.len() < index {
                        content.push(json!({"type": "text", "text": ""}));
                    }
                    content.insert(
                        index,
                        event.get("content_block").cloned().unwrap_or(json!({})),
                    );
                }
            }
            "content_block_delta" => {
                let Some(block) = msg.pointer_mut(&format!("/content/{index}")) else {
                    continue;
                };
                let delta = event.get("delta").cloned().unwrap_or(json!({}));
                let append = |block: &mut Value, field: &str, piece: &str| {
                    let now = block.get(field).and_then(Value::as_str).unwrap_or("");
                    block[field] = json!(format!("{now}{piece}"));
                };
                let text = |f: &str| delta.get(f).and_then(Value::as_str).unwrap_or("");
                match delta.get("type").and_then(Value::as_str).unwrap_or("") {
                    "text_delta" => append(block, "text", text("text")),
                    "thinking_delta" => append(block, "thinking", text("thinking")),
                    "signature_delta" => append(block, "signature", text("signature")),
                    "citations_delta" => {
                        let list = block
                            .as_object_mut()
                            .map(|b| b.entry("citations").or_insert_with(|| json!([])));
                        if let (Some(Value::Array(list)), Some(c)) = (list, delta.get("citation")) {
                            list.push(c.clone());
                        }
                    }
                    "input_json_delta" => {
                        let key = index.to_string();
                        let now = partial_json.get(&key).and_then(Value::as_str).unwrap_or("");
                        let joined = format!("{now}{}", text("partial_json"));
                        partial_json.insert(key, json!(joined));
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(Value::String(json_text)) = partial_json.remove(&index.to_string()) {
                    if let Some(block) = msg.pointer_mut(&format!("/content/{index}")) {
                        block["input"] = if json_text.is_empty() {
                            json!({})
                        } else {
                            serde_json::from_str(&json_text).ok()?
                        };
                    }
                }
            }
            "message_delta" => {
                if let Some(Value::Object(delta)) = event.get("delta") {
                    for (k, v) in delta {
                        msg[k.as_str()] = v.clone();
                    }
                }
                if let (Some(Value::Object(update)), Some(Value::Object(usage))) =
                    (event.get("usage"), msg.get_mut("usage"))
                {
                    for (k, v) in update {
                        if !v.is_null() {
                            usage.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(frames: &[String]) -> Vec<Value> {
        frames
            .iter()
            .map(|f| {
                let data = f.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
                serde_json::from_str(data).unwrap()
            })
            .collect()
    }

    #[test]
    fn a_message_survives_unfold_then_fold() {
        let message = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [
                {"type": "thinking", "thinking": "Let me see.", "signature": "sig"},
                {"type": "text", "text": "Looking it up now"},
                {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"query": "é ünïcode"}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 9,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 4}
        });
        let frames = unfold(&message);
        assert!(frames[0].starts_with("event: message_start\n"));
        assert!(frames.last().unwrap().starts_with("event: message_stop\n"));
        let events = parse(&frames);
        assert_eq!(events[0]["message"]["content"], json!([]));
        assert_eq!(fold(&events).unwrap(), message);
    }

    #[test]
    fn fold_needs_a_message_start() {
        assert!(fold(&[json!({"type": "content_block_delta"})]).is_none());
    }
}
