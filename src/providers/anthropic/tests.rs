//! Golden tests of the translation, both directions.

use serde_json::{json, Value};

use super::{errors, events, request, response, stream::ChatStream};

#[test]
fn a_multi_turn_tool_conversation_is_translated_to_messages() {
    let openai = json!({
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [
                {"type": "text", "text": "Weather in Paris and Rome? See map."},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": "24C"},
            {"role": "assistant", "content": "Paris 18C, Rome 24C."},
            {"role": "user", "content": "Thanks"}
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "description": "Current weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": "required",
        "parallel_tool_calls": false,
        "stop": "END",
        "temperature": 0.2,
        "user": "u-7",
        "stream": true,
        "stream_options": {"include_usage": true}
    });
    let t = request::translate(&openai).unwrap();
    assert!(t.stream && t.include_usage && t.prefill.is_none());
    assert_eq!(
        t.body,
        json!({
            "model": "claude-sonnet-4-5",
            "temperature": 0.2,
            "stream": true,
            "stop_sequences": ["END"],
            "metadata": {"user_id": "u-7"},
            "tools": [{"name": "weather", "description": "Current weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "system": [{"type": "text", "text": "You are terse."}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "Weather in Paris and Rome? See map."},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
                ]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "weather", "input": {"city": "Rome"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": "24C"}
                ]},
                {"role": "assistant", "content": [{"type": "text", "text": "Paris 18C, Rome 24C."}]},
                {"role": "user", "content": [{"type": "text", "text": "Thanks"}]}
            ],
            "max_tokens": 4096,
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true}
        })
    );
}

#[test]
fn empty_assistant_text_beside_tool_calls_is_left_out() {
    let t = request::translate(&json!({"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "ok"}]}
    ]}))
    .unwrap();
    assert_eq!(
        t.body["messages"][1]["content"],
        json!([{"type": "tool_use", "id": "c1", "name": "f", "input": {}}])
    );
    assert_eq!(
        t.body["messages"][2]["content"],
        json!([{"type": "tool_result", "tool_use_id": "c1", "content": [{"type": "text", "text": "ok"}]}])
    );
}

#[test]
fn json_mode_is_an_instruction_and_a_prefill() {
    let t = request::translate(&json!({"model": "m", "max_tokens": 50,
        "response_format": {"type": "json_object"},
        "messages": [{"role": "user", "content": "give me json"}]}))
    .unwrap();
    assert_eq!(t.prefill, Some("{"));
    assert_eq!(t.body["max_tokens"], 50);
    assert_eq!(t.body["system"][0]["text"], request::JSON_INSTRUCTION);
    assert_eq!(
        t.body["messages"][1],
        json!({"role": "assistant", "content": [{"type": "text", "text": "{"}]})
    );
    let answer = response::translate(
        &json!({"id": "msg_1", "model": "m", "stop_reason": "end_turn",
            "content": [{"type": "text", "text": "\"a\":1}"}], "usage": {"input_tokens": 3, "output_tokens": 2}}),
        t.prefill,
        7,
    );
    assert_eq!(answer["choices"][0]["message"]["content"], "{\"a\":1}");
}

#[test]
fn what_cannot_be_translated_is_a_400_naming_the_field() {
    let refused = |body: Value| request::translate(&body).unwrap_err().param;
    let base = |extra: Value| {
        let mut b = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    assert_eq!(refused(base(json!({"n": 2}))), "n");
    assert_eq!(refused(base(json!({"logit_bias": {"1": 2}}))), "logit_bias");
    assert_eq!(refused(base(json!({"logprobs": true}))), "logprobs");
    assert_eq!(
        refused(base(json!({"response_format": {"type": "json_schema"}}))),
        "response_format"
    );
    assert_eq!(
        refused(base(json!({"tools": [{"type": "web_search"}]}))),
        "tools[0].type"
    );
    assert_eq!(
        refused(
            json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}]}]})
        ),
        "messages[0].content[0].type"
    );
    assert_eq!(
        refused(
            json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}]})
        ),
        "messages[0].tool_calls[0].function.arguments"
    );
    // Neutral values of fields without a counterpart pass.
    assert!(request::translate(&base(
        json!({"n": 1, "presence_penalty": 0, "store": false})
    ))
    .is_ok());
}

fn tool_message() -> Value {
    json!({
        "id": "msg_9", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [
            {"type": "text", "text": "Checking"},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 10, "cache_creation_input_tokens": 100,
                  "cache_read_input_tokens": 50, "output_tokens": 7}
    })
}

#[test]
fn a_tool_use_message_is_translated_to_a_chat_completion() {
    assert_eq!(
        response::translate(&tool_message(), None, 1_767_225_600),
        json!({
            "id": "msg_9", "object": "chat.completion", "created": 1_767_225_600,
            "model": "claude-sonnet-4-5",
            "choices": [{"index": 0, "logprobs": null, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Checking", "refusal": null,
                "tool_calls": [{"id": "toolu_1", "type": "function",
                    "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
            "usage": {"prompt_tokens": 160, "completion_tokens": 7, "total_tokens": 167,
                "prompt_tokens_details": {"cached_tokens": 50, "cache_write_tokens": 100}}
        })
    );
    let u = crate::api::usage::from_body(
        response::translate(&tool_message(), None, 0)
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        (u.prompt_tokens, u.cached_tokens, u.cache_write_tokens),
        (160, 50, 100)
    );
    for (stop, finish) in [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("tool_use", "tool_calls"),
    ] {
        assert_eq!(response::finish_reason(Some(stop)), json!(finish));
    }
}

/// The OpenAI frames' JSON payloads (and `[DONE]` as a string).
fn payloads(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .split("\n\n")
        .filter(|f| !f.is_empty())
        .map(|f| {
            let data = f.strip_prefix("data: ").unwrap();
            serde_json::from_str(data).unwrap_or_else(|_| json!(data))
        })
        .collect()
}

#[test]
fn a_stream_is_translated_event_by_event() {
    let wire: String = events::unfold(&tool_message()).concat();
    // Fed in awkward pieces: events split across reads must not matter.
    let mut s = ChatStream::new(true, None, 5);
    let mut out = Vec::new();
    for piece in wire.as_bytes().chunks(7) {
        out.extend(s.push(piece));
    }
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "msg_9", "object": "chat.completion.chunk", "created": 5, "model": "claude-sonnet-4-5",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    };
    let null = Value::Null;
    assert_eq!(
        payloads(&out),
        vec![
            chunk(json!({"role": "assistant", "content": ""}), null.clone()),
            chunk(json!({"content": "Checking"}), null.clone()),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "toolu_1", "type": "function",
                "function": {"name": "weather", "arguments": ""}}]}),
                null.clone()
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
                null.clone()
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
                null.clone()
            ),
            chunk(json!({}), json!("tool_calls")),
            json!({"id": "msg_9", "object": "chat.completion.chunk", "created": 5, "model": "claude-sonnet-4-5",
                "choices": [], "usage": {"prompt_tokens": 160, "completion_tokens": 7, "total_tokens": 167,
                "prompt_tokens_details": {"cached_tokens": 50, "cache_write_tokens": 100}}}),
            json!("[DONE]"),
        ]
    );
}

#[test]
fn a_stream_cut_mid_event_ends_without_done() {
    let wire: String = events::unfold(&tool_message()).concat();
    let cut = wire.find("event: content_block_delta").unwrap() + 40;
    let mut s = ChatStream::new(false, None, 5);
    let out = s.push(&wire.as_bytes()[..cut]);
    let frames = payloads(&out);
    // The role chunk and the text block's opening only: the half event is
    // held back, and no [DONE] tells the client the answer is complete.
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(!String::from_utf8(out).unwrap().contains("[DONE]"));
}

#[test]
fn anthropic_errors_map_to_openai_statuses() {
    let body = |kind: &str| crate::api::anthropic::error_body(kind, "why").to_string();
    for (status, kind, want_status, want_type) in [
        (400, "invalid_request_error", 400, "invalid_request_error"),
        (401, "authentication_error", 401, "invalid_request_error"),
        (429, "rate_limit_error", 429, "rate_limit_error"),
        (529, "overloaded_error", 503, "server_error"),
        (500, "api_error", 500, "server_error"),
    ] {
        let (got, openai) = errors::to_openai(status, body(kind).as_bytes());
        assert_eq!(got, want_status, "{kind}");
        assert_eq!(openai["error"]["type"], want_type, "{kind}");
        assert_eq!(openai["error"]["message"], "why");
    }
}
