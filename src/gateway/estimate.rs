//! Token counts when the upstream reports none (a client that left mid-stream,
//! an upstream without usage support): counted locally with the model's
//! tokenizer, and marked `usage_source: estimated` on the record.

use serde_json::Value;

use crate::costs::{count_chat_prompt, count_text};

use crate::api::Endpoint;
use crate::api::Usage;

/// Prompt tokens of the body that was sent upstream.
pub fn prompt_tokens(endpoint: Endpoint, model: &str, request_body: &[u8]) -> i64 {
    let Ok(body) = serde_json::from_slice::<Value>(request_body) else {
        return 0;
    };
    match endpoint {
        Endpoint::Chat => body
            .get("messages")
            .map(|m| count_chat_prompt(model, m))
            .unwrap_or(0),
        Endpoint::Completions => text_tokens(model, body.get("prompt")),
        Endpoint::Embeddings => text_tokens(model, body.get("input")),
        Endpoint::Responses => {
            text_tokens(model, body.get("input")) + text_tokens(model, body.get("instructions"))
        }
        Endpoint::Messages => {
            body.get("messages")
                .map(|m| count_chat_prompt(model, m))
                .unwrap_or(0)
                + text_tokens(model, body.get("system"))
        }
    }
}

fn text_tokens(model: &str, v: Option<&Value>) -> i64 {
    match v {
        None | Some(Value::Null) => 0,
        Some(Value::String(s)) => count_text(model, s),
        Some(Value::Array(items)) => items.iter().map(|i| text_tokens(model, Some(i))).sum(),
        Some(other) => count_text(model, &other.to_string()),
    }
}

/// The generated text of a complete JSON answer.
pub fn answer_text(endpoint: Endpoint, answer: &Value) -> String {
    let mut out = String::new();
    if endpoint == Endpoint::Responses {
        if let Some(items) = answer.get("output").and_then(Value::as_array) {
            for item in items {
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    out.push_str(part.get("text").and_then(Value::as_str).unwrap_or_default());
                }
            }
        }
        return out;
    }
    if endpoint == Endpoint::Messages {
        for block in answer
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match block.get("input") {
                Some(input) => out.push_str(&input.to_string()),
                None => out.push_str(
                    block
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                ),
            }
        }
        return out;
    }
    choices_text(answer, "message", &mut out);
    out
}

/// Appends the text of `choices[*]`: legacy `text`, and the `content` and
/// tool-call arguments under `inner` (`message` in answers, `delta` in chunks).
fn choices_text(v: &Value, inner: &str, out: &mut String) {
    for choice in v
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(t) = choice.get("text").and_then(Value::as_str) {
            out.push_str(t);
        }
        let Some(m) = choice.get(inner) else { continue };
        out.push_str(m.get("content").and_then(Value::as_str).unwrap_or_default());
        for call in m
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push_str(
                call.pointer("/function/arguments")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            );
        }
    }
}

/// The text streamed so far, from the chunks' deltas.
pub fn streamed_text(endpoint: Endpoint, chunks: &[Value]) -> String {
    let mut out = String::new();
    for c in chunks {
        if endpoint == Endpoint::Responses {
            if c.get("type").and_then(Value::as_str) == Some("response.output_text.delta") {
                out.push_str(c.get("delta").and_then(Value::as_str).unwrap_or_default());
            }
            continue;
        }
        if endpoint == Endpoint::Messages {
            if let Some(delta) = c.get("delta") {
                for field in ["text", "partial_json"] {
                    out.push_str(delta.get(field).and_then(Value::as_str).unwrap_or_default());
                }
            }
            continue;
        }
        choices_text(c, "delta", &mut out);
    }
    out
}

/// A full estimate: prompt from the request, completion from the answer text.
pub fn usage(
    endpoint: Endpoint,
    model: &str,
    request_body: Option<&[u8]>,
    completion_text: &str,
) -> Usage {
    Usage {
        prompt_tokens: request_body
            .map(|b| prompt_tokens(endpoint, model, b))
            .unwrap_or(0),
        completion_tokens: if completion_text.is_empty() {
            0
        } else {
            count_text(model, completion_text)
        },
        cached_tokens: 0,
        reasoning_tokens: 0,
        cache_write_tokens: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_are_collected_from_answers_and_chunks() {
        let answer = json!({"choices": [{"message": {"content": "Hello there"}}]});
        assert_eq!(answer_text(Endpoint::Chat, &answer), "Hello there");
        let chunks = vec![
            json!({"choices": [{"delta": {"content": "Hel"}}]}),
            json!({"choices": [{"delta": {"content": "lo"}}]}),
        ];
        assert_eq!(streamed_text(Endpoint::Chat, &chunks), "Hello");
        let u = usage(
            Endpoint::Chat,
            "gpt-4o",
            Some(br#"{"messages":[{"role":"user","content":"hi"}]}"#),
            "Hello",
        );
        assert!(u.prompt_tokens > 0 && u.completion_tokens == 1);
    }
}
