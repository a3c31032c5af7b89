//! A Messages API answer as an OpenAI chat completion: text and tool calls,
//! the stop reason, and usage (cache reads as `cached_tokens`, cache writes
//! as `cache_write_tokens`, both inside `prompt_tokens`, as OpenAI counts).

use serde_json::{json, Value};

/// OpenAI's finish reason for an Anthropic stop reason.
pub fn finish_reason(stop_reason: Option<&str>) -> Value {
    match stop_reason {
        None => Value::Null,
        Some("max_tokens") | Some("model_context_window_exceeded") => json!("length"),
        Some("tool_use") => json!("tool_calls"),
        Some("refusal") => json!("content_filter"),
        // end_turn, stop_sequence, pause_turn
        Some(_) => json!("stop"),
    }
}

/// Anthropic usage in OpenAI's shape.
pub fn usage(u: &Value) -> Value {
    let n = |f: &str| u.get(f).and_then(Value::as_i64).unwrap_or(0);
    let (read, written) = (
        n("cache_read_input_tokens"),
        n("cache_creation_input_tokens"),
    );
    let prompt = n("input_tokens") + read + written;
    let completion = n("output_tokens");
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": read, "cache_write_tokens": written},
    })
}

/// The chat completion of a whole message; `prefill` is put back in front
/// of the text (JSON mode).
pub fn translate(message: &Value, prefill: Option<&str>, created: i64) -> Value {
    let mut text: Option<String> = prefill.map(str::to_owned);
    let mut calls = Vec::new();
    for block in message
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text
                .get_or_insert_with(String::new)
                .push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => calls.push(json!({
                "id": block.get("id").cloned().unwrap_or(Value::Null),
                "type": "function",
                "function": {
                    "name": block.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": block.get("input").map_or_else(|| "{}".to_owned(), Value::to_string),
                },
            })),
            // Thinking blocks are not part of OpenAI's message.
            _ => {}
        }
    }
    let mut msg = json!({"role": "assistant", "content": text, "refusal": null});
    if !calls.is_empty() {
        msg["tool_calls"] = Value::Array(calls);
    }
    let stop = message.get("stop_reason").and_then(Value::as_str);
    json!({
        "id": message.get("id").cloned().unwrap_or(Value::Null),
        "object": "chat.completion",
        "created": created,
        "model": message.get("model").cloned().unwrap_or(Value::Null),
        "choices": [{"index": 0, "message": msg, "logprobs": null, "finish_reason": finish_reason(stop)}],
        "usage": usage(message.get("usage").unwrap_or(&Value::Null)),
    })
}
