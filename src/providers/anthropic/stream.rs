//! A Messages API event stream as an OpenAI chat completions stream, event
//! by event: text deltas become `content` deltas, tool-use blocks become
//! `tool_calls` deltas, `message_delta` the finish reason, and
//! `message_stop` the usage chunk (when asked for) and `[DONE]`. An event cut
//! off by the end of the stream is dropped, and no `[DONE]` follows, so the
//! gateway reports the stream as incomplete.

use serde_json::{json, Value};

use super::response::{finish_reason, usage};

pub struct ChatStream {
    buf: Vec<u8>,
    id: Value,
    model: Value,
    created: i64,
    include_usage: bool,
    prefill: Option<&'static str>,
    /// Anthropic content-block index → OpenAI tool-call index.
    tool_index: Vec<(u64, usize)>,
    usage: Value,
}

impl ChatStream {
    pub fn new(include_usage: bool, prefill: Option<&'static str>, created: i64) -> ChatStream {
        ChatStream {
            buf: Vec::new(),
            id: Value::Null,
            model: Value::Null,
            created,
            include_usage,
            prefill,
            tool_index: Vec::new(),
            usage: json!({}),
        }
    }

    /// Takes bytes of the Anthropic stream; returns the OpenAI frames they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some((end, skip)) = event_end(&self.buf) {
            let event: Vec<u8> = self.buf.drain(..end + skip).collect();
            if let Some(data) = data_of(&event[..end]) {
                if let Ok(v) = serde_json::from_str::<Value>(&data) {
                    self.event(&v, &mut out);
                }
            }
        }
        out
    }

    fn chunk(&self, delta: Value, finish: Value) -> Value {
        json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    }

    fn event(&mut self, e: &Value, out: &mut Vec<u8>) {
        let frame = |v: &Value, out: &mut Vec<u8>| {
            out.extend_from_slice(format!("data: {v}\n\n").as_bytes());
        };
        match e.get("type").and_then(Value::as_str).unwrap_or("") {
            "message_start" => {
                let m = e.get("message").cloned().unwrap_or(Value::Null);
                self.id = m.get("id").cloned().unwrap_or(Value::Null);
                self.model = m.get("model").cloned().unwrap_or(Value::Null);
                self.usage = m.get("usage").cloned().unwrap_or_else(|| json!({}));
                let content = self.prefill.unwrap_or("");
                frame(
                    &self.chunk(
                        json!({"role": "assistant", "content": content}),
                        Value::Null,
                    ),
                    out,
                );
            }
            "content_block_start" => {
                let block = e.get("content_block").cloned().unwrap_or(Value::Null);
                if block.get("type").and_then(Value::as_str) == Some("tool_use") {
                    let index = self.tool_index.len();
                    let at = e.get("index").and_then(Value::as_u64).unwrap_or(0);
                    self.tool_index.push((at, index));
                    let call = json!({"index": index, "id": block.get("id"), "type": "function",
                        "function": {"name": block.get("name"), "arguments": ""}});
                    frame(&self.chunk(json!({"tool_calls": [call]}), Value::Null), out);
                }
            }
            "content_block_delta" => {
                let delta = e.get("delta").cloned().unwrap_or(Value::Null);
                let at = e.get("index").and_then(Value::as_u64).unwrap_or(0);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        let text = delta.get("text").cloned().unwrap_or(json!(""));
                        frame(&self.chunk(json!({"content": text}), Value::Null), out);
                    }
                    Some("input_json_delta") => {
                        let Some(&(_, index)) = self.tool_index.iter().find(|(b, _)| *b == at)
                        else {
                            return;
                        };
                        let call = json!({"index": index, "function": {"arguments": delta.get("partial_json")}});
                        frame(&self.chunk(json!({"tool_calls": [call]}), Value::Null), out);
                    }
                    // Thinking and signatures have no place in OpenAI's chunks.
                    _ => {}
                }
            }
            "message_delta" => {
                if let (Some(Value::Object(update)), Some(usage)) =
                    (e.get("usage"), self.usage.as_object_mut())
                {
                    for (k, v) in update {
                        if !v.is_null() {
                            usage.insert(k.clone(), v.clone());
                        }
                    }
                }
                let stop = e.pointer("/delta/stop_reason").and_then(Value::as_str);
                frame(&self.chunk(json!({}), finish_reason(stop)), out);
            }
            "message_stop" => {
                if self.include_usage {
                    let mut last = self.chunk(json!({}), Value::Null);
                    last["choices"] = json!([]);
                    last["usage"] = usage(&self.usage);
                    frame(&last, out);
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
            }
            "error" => {
                let (_, body) = super::errors::to_openai(500, e.to_string().as_bytes());
                frame(&body, out);
            }
            // ping, content_block_stop
            _ => {}
        }
    }
}

/// Where the first event ends, and the length of its blank line.
fn event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = memchr::memmem::find(buf, b"\n\n").map(|i| (i, 2));
    let crlf = memchr::memmem::find(buf, b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// The `data:` lines of one event, joined.
fn data_of(event: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(event).ok()?;
    let lines: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}
