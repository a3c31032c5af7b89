//! Fuzz targets for the Anthropic translation, which reads both the client's
//! OpenAI-shaped request and the upstream's Messages API bytes (answers,
//! event streams, errors). Run by [`crate::fuzzing::check`]; see `scripts/fuzz`.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::stream::ChatStream;
use super::{errors, events, request, response};
use crate::fuzzing::{check, json_value, near_json_bytes};

/// A Messages API answer: text and tool-use blocks with any text and input.
fn message() -> impl Strategy<Value = Value> {
    let block = prop_oneof![
        any::<String>().prop_map(|t| json!({"type": "text", "text": t})),
        ("[a-z_]{1,8}", json_value("[a-z]{1,4}")).prop_map(|(name, input)| {
            let input = if input.is_object() {
                input
            } else {
                json!({"v": input})
            };
            json!({"type": "tool_use", "id": "toolu_1", "name": name, "input": input})
        }),
    ];
    let stop = prop::sample::select(vec![
        "end_turn",
        "max_tokens",
        "tool_use",
        "stop_sequence",
        "refusal",
        "?",
    ]);
    (
        prop::collection::vec(block, 0..4),
        stop,
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(content, stop, input, output)| {
            json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
                "content": content, "stop_reason": stop, "stop_sequence": null,
                "usage": {"input_tokens": input, "output_tokens": output}})
        })
}

/// What the stream translation writes for `wire` read in `chunks`.
fn translated(chunks: &[&[u8]], include_usage: bool) -> Vec<u8> {
    let mut s = ChatStream::new(include_usage, None, 7);
    chunks.iter().flat_map(|c| s.push(c)).collect()
}

#[test]
fn a_stream_split_anywhere_translates_the_same() {
    let input = (
        message(),
        prop::collection::vec(any::<usize>(), 0..8),
        any::<bool>(),
    );
    check(
        "anthropic_stream",
        input,
        |(message, cuts, include_usage)| {
            let wire = events::unfold(&message).concat().into_bytes();
            let mut at: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
            at.sort_unstable();
            let mut chunks = Vec::new();
            let mut from = 0;
            for &to in at.iter().chain([&wire.len()]) {
                chunks.push(&wire[from..to]);
                from = to;
            }
            let whole = translated(&[&wire], include_usage);
            prop_assert_eq!(&whole, &translated(&chunks, include_usage));
            prop_assert!(String::from_utf8_lossy(&whole).ends_with("data: [DONE]\n\n"));
            // The events fold back into the message they came from.
            let parsed: Vec<Value> = wire
                .split(|b| *b == b'\n')
                .filter_map(|l| l.strip_prefix(b"data: "))
                .filter_map(|d| serde_json::from_slice(d).ok())
                .collect();
            prop_assert_eq!(events::fold(&parsed), Some(message));
            Ok(())
        },
    );
}

#[test]
fn any_upstream_bytes_are_translated_without_a_panic() {
    check(
        "anthropic_bytes",
        (near_json_bytes(64), any::<u16>()),
        |(bytes, status)| {
            let _ = translated(&[&bytes], true);
            let (got, body) = errors::to_openai(status, &bytes);
            prop_assert!(got >= 400, "an upstream error answered as {}", got);
            prop_assert!(body["error"]["message"].is_string());
            if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                let _ = response::translate(&v, Some("{"), 7);
                let _ = events::fold(std::slice::from_ref(&v));
            }
            Ok(())
        },
    );
}

/// A chat completions request with the fields the translation reads, each
/// holding any value.
fn chat_request() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "response_format",
        "user",
        "n",
        "seed",
        "logprobs",
        "parallel_tool_calls",
        "metadata",
        "x",
    ]);
    let message = (
        prop::sample::select(vec![
            "system",
            "developer",
            "user",
            "assistant",
            "tool",
            "?",
        ]),
        json_value("[a-z_]{1,12}"),
    )
        .prop_map(|(role, content)| json!({"role": role, "content": content}));
    (
        prop::collection::btree_map(key, json_value("[a-z_]{1,12}"), 0..8),
        prop::collection::vec(message, 0..5),
    )
        .prop_map(|(fields, messages)| {
            let mut m: Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            m.entry("messages").or_insert(Value::Array(messages));
            Value::Object(m)
        })
}

#[test]
fn any_chat_request_translates_or_names_the_field() {
    check("anthropic_request", chat_request(), |req| {
        if let Err(e) = request::translate(&req) {
            prop_assert!(!e.param.is_empty() && !e.message.is_empty());
        }
        Ok(())
    });
}
