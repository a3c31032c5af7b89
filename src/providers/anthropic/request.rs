//! An OpenAI chat completions request as a Messages API request.
//!
//! What has an Anthropic counterpart is translated; what has none is refused
//! with a 400 naming the field, never dropped silently. JSON mode
//! (`response_format: json_object`) becomes a system instruction plus an
//! assistant prefill `{`, which the answer then starts with.

use serde_json::{json, Map, Value};

/// `max_tokens` when the request sets none (Anthropic requires one).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The instruction JSON mode adds to the system prompt.
pub const JSON_INSTRUCTION: &str =
    "Respond with a single valid JSON object and nothing else: no prose, no code fences.";

/// A field that cannot be translated: a 400 naming it.
#[derive(Debug, PartialEq)]
pub struct Untranslatable {
    pub param: String,
    pub message: String,
}

fn refuse(param: impl Into<String>, why: impl std::fmt::Display) -> Untranslatable {
    let param = param.into();
    Untranslatable {
        message: format!("'{param}' is not supported by Anthropic upstreams: {why}"),
        param,
    }
}

/// The translated request, and what the answer's translation needs to know.
#[derive(Debug)]
pub struct Translated {
    pub body: Value,
    pub stream: bool,
    /// The client asked for a usage chunk at the end of the stream.
    pub include_usage: bool,
    /// The answer's text starts with this (JSON mode's prefill).
    pub prefill: Option<&'static str>,
}

/// Fields passed on with the same name and meaning.
const SAME: &[&str] = &["model", "temperature", "top_p", "stream"];

pub fn translate(req: &Value) -> Result<Translated, Untranslatable> {
    let obj = req
        .as_object()
        .ok_or_else(|| refuse("body", "must be a JSON object"))?;
    let mut out = Map::new();
    let mut system: Vec<Value> = Vec::new();
    let mut json_mode = false;
    let mut include_usage = false;
    let mut max_tokens = None;
    let mut disable_parallel = false;
    let mut tool_choice = None;
    for (field, value) in obj {
        match field.as_str() {
            f if SAME.contains(&f) => {
                out.insert(f.to_owned(), value.clone());
            }
            "messages" => {}
            "max_tokens" | "max_completion_tokens" => {
                max_tokens = Some(
                    value
                        .as_u64()
                        .ok_or_else(|| refuse(field.as_str(), "must be a positive integer"))?,
                )
            }
            "stop" => {
                let stops = match value {
                    Value::Null => continue,
                    Value::String(s) => vec![json!(s)],
                    Value::Array(a) => a.clone(),
                    _ => return Err(refuse("stop", "must be a string or an array of strings")),
                };
                out.insert("stop_sequences".into(), Value::Array(stops));
            }
            "stream_options" => {
                include_usage = value
                    .get("include_usage")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            }
            "user" => {
                out.insert("metadata".into(), json!({"user_id": value}));
            }
            "tools" => {
                out.insert("tools".into(), tools(value)?);
            }
            "tool_choice" => tool_choice = Some(value.clone()),
            "parallel_tool_calls" => disable_parallel = value == &json!(false),
            "response_format" => match value.get("type").and_then(Value::as_str) {
                _ if value.is_null() => {}
                Some("text") => {}
                Some("json_object") => json_mode = true,
                _ => return Err(refuse(
                    "response_format",
                    "only {\"type\": \"text\"} and {\"type\": \"json_object\"} can be translated",
                )),
            },
            "n" if value.as_u64().is_none_or(|n| n == 1) => {}
            "n" => return Err(refuse("n", "Anthropic returns one choice per request")),
            "logprobs" | "store" if value.is_null() || value == &json!(false) => {}
            "presence_penalty" | "frequency_penalty"
                if value.is_null() || value.as_f64() == Some(0.0) => {}
            other => return Err(refuse(other, "it has no Anthropic counterpart")),
        }
    }
    let messages = obj
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| refuse("messages", "must be an array"))?;
    let mut turns = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let at = |rest: &str| format!("messages[{i}]{rest}");
        match role {
            "system" | "developer" => {
                system.extend(text_blocks(m.get("content"), &at(".content"))?)
            }
            "user" => push_turn(
                &mut turns,
                "user",
                content_blocks(m.get("content"), &at(".content"))?,
            ),
            "assistant" => {
                let mut blocks = match m.get("content") {
                    None | Some(Value::Null) => Vec::new(),
                    content => content_blocks(content, &at(".content"))?,
                };
                // OpenAI clients send `content: ""` beside tool calls;
                // Anthropic refuses empty text blocks.
                blocks.retain(|b| !(b["type"] == "text" && b["text"] == ""));
                for (j, call) in m
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let args = call
                        .pointer("/function/arguments")
                        .and_then(Value::as_str)
                        .unwrap_or("{}");
                    let input: Value =
                        serde_json::from_str(if args.trim().is_empty() { "{}" } else { args })
                            .map_err(|_| {
                                refuse(
                                    at(&format!(".tool_calls[{j}].function.arguments")),
                                    "must be a JSON object",
                                )
                            })?;
                    blocks.push(json!({"type": "tool_use",
                        "id": call.get("id").cloned().unwrap_or(Value::Null),
                        "name": call.pointer("/function/name").cloned().unwrap_or(Value::Null),
                        "input": input}));
                }
                push_turn(&mut turns, "assistant", blocks);
            }
            "tool" => {
                let content = match m.get("content") {
                    Some(Value::String(s)) => json!(s),
                    other => Value::Array(text_blocks(other, &at(".content"))?),
                };
                let block = json!({"type": "tool_result",
                    "tool_use_id": m.get("tool_call_id").cloned().unwrap_or(Value::Null),
                    "content": content});
                push_turn(&mut turns, "user", vec![block]);
            }
            other => {
                return Err(refuse(
                    at(".role"),
                    format!("role `{other}` cannot be translated"),
                ))
            }
        }
    }
    let prefill = if json_mode {
        system.push(json!({"type": "text", "text": JSON_INSTRUCTION}));
        let ends_with_user = turns.last().is_some_and(|t: &Value| t["role"] == "user");
        if ends_with_user {
            turns.push(json!({"role": "assistant", "content": [{"type": "text", "text": "{"}]}));
            Some("{")
        } else {
            None
        }
    } else {
        None
    };
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    out.insert("messages".into(), Value::Array(turns));
    out.insert(
        "max_tokens".into(),
        json!(max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
    );
    if let Some(choice) = tool_choice_of(tool_choice, disable_parallel)? {
        out.insert("tool_choice".into(), choice);
    }
    let stream = out.get("stream").and_then(Value::as_bool).unwrap_or(false);
    Ok(Translated {
        body: Value::Object(out),
        stream,
        include_usage,
        prefill,
    })
}

/// Adds blocks to the conversation, joining consecutive turns of one role
/// (Anthropic wants user and assistant to alternate; OpenAI's tool results
/// are one message each).
fn push_turn(turns: &mut Vec<Value>, role: &str, blocks: Vec<Value>) {
    if let Some(last) = turns.last_mut().filter(|t| t["role"] == role) {
        if let Some(Value::Array(content)) = last.get_mut("content") {
            content.extend(blocks);
            return;
        }
    }
    turns.push(json!({"role": role, "content": blocks}));
}

/// Content that may only be text (system prompts, tool results).
fn text_blocks(content: Option<&Value>, at: &str) -> Result<Vec<Value>, Untranslatable> {
    let blocks = content_blocks(content, at)?;
    if let Some(j) = blocks.iter().position(|b| b["type"] != "text") {
        return Err(refuse(format!("{at}[{j}]"), "only text is allowed here"));
    }
    Ok(blocks)
}

fn content_blocks(content: Option<&Value>, at: &str) -> Result<Vec<Value>, Untranslatable> {
    match content {
        Some(Value::String(s)) => Ok(vec![json!({"type": "text", "text": s})]),
        Some(Value::Array(parts)) => parts
            .iter()
            .enumerate()
            .map(|(j, part)| match part.get("type").and_then(Value::as_str) {
                Some("text") => Ok(
                    json!({"type": "text", "text": part.get("text").cloned().unwrap_or(json!(""))}),
                ),
                Some("image_url") => image(part, &format!("{at}[{j}].image_url.url")),
                other => Err(refuse(
                    format!("{at}[{j}].type"),
                    format!(
                        "content parts of type `{}` cannot be translated",
                        other.unwrap_or("?")
                    ),
                )),
            })
            .collect(),
        _ => Err(refuse(at, "must be a string or an array of content parts")),
    }
}

/// An image part: a data URL becomes a base64 source, any other URL a URL source.
fn image(part: &Value, at: &str) -> Result<Value, Untranslatable> {
    let url = part
        .pointer("/image_url/url")
        .and_then(Value::as_str)
        .ok_or_else(|| refuse(at, "is required"))?;
    let Some(data_url) = url.strip_prefix("data:") else {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    };
    let (meta, data) = data_url
        .split_once(',')
        .ok_or_else(|| refuse(at, "is not a valid data URL"))?;
    let media_type = meta
        .strip_suffix(";base64")
        .ok_or_else(|| refuse(at, "data URLs must be base64-encoded"))?;
    Ok(
        json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}),
    )
}

fn tools(value: &Value) -> Result<Value, Untranslatable> {
    let list = value
        .as_array()
        .ok_or_else(|| refuse("tools", "must be an array"))?;
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            if t.get("type").and_then(Value::as_str) != Some("function") {
                return Err(refuse(format!("tools[{i}].type"), "only function tools can be translated"));
            }
            let f = t.get("function").ok_or_else(|| refuse(format!("tools[{i}].function"), "is required"))?;
            let mut tool = json!({
                "name": f.get("name").cloned().unwrap_or(Value::Null),
                "input_schema": f.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            });
            if let Some(d) = f.get("description") {
                tool["description"] = d.clone();
            }
            Ok(tool)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

fn tool_choice_of(
    choice: Option<Value>,
    disable_parallel: bool,
) -> Result<Option<Value>, Untranslatable> {
    let mut out = match choice.as_ref() {
        None | Some(Value::Null) if !disable_parallel => return Ok(None),
        None | Some(Value::Null) => json!({"type": "auto"}),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => json!({"type": "auto"}),
            "none" => json!({"type": "none"}),
            "required" => json!({"type": "any"}),
            _ => {
                return Err(refuse(
                    "tool_choice",
                    "must be auto, none, required or a function",
                ))
            }
        },
        Some(obj) => match obj.pointer("/function/name") {
            Some(name) => json!({"type": "tool", "name": name}),
            None => {
                return Err(refuse(
                    "tool_choice",
                    "must be auto, none, required or a function",
                ))
            }
        },
    };
    if disable_parallel && out["type"] != "none" {
        out["disable_parallel_tool_use"] = json!(true);
    }
    Ok(Some(out))
}
