//! Anthropic's Messages API: `/v1/messages` through the pipeline to the
//! built-in mock (which speaks it), and to an upstream of `kind = "anthropic"`.

use serde_json::{json, Value};

use crate::helpers::*;

async fn messages(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.http
        .post(app.url("/v1/messages"))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .expect("request")
}

fn hello(model: &str) -> Value {
    json!({"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hello"}]})
}

#[tokio::test]
async fn messages_reach_the_mock_priced_and_recorded() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;

    let resp = messages(&app, &key, hello("mock-1")).await;
    assert_eq!(resp.status(), 200);
    let cost = resp.headers()["x-promptgate-cost-usd"]
        .to_str()
        .unwrap()
        .to_owned();
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["content"][0]["type"], "text");
    assert_eq!(body["stop_reason"], "end_turn");
    let usage = &body["usage"];
    let (input, output) = (
        usage["input_tokens"].as_i64().unwrap(),
        usage["output_tokens"].as_i64().unwrap(),
    );
    // mock-* prices: 1.00 in, 2.00 out per million.
    let want = rust_decimal::Decimal::new(input + 2 * output, 6);
    assert_eq!(cost.parse::<rust_decimal::Decimal>().unwrap(), want);
    let record = app.record(&key, &id).await;
    assert_eq!(record["endpoint"], "messages");
    assert_eq!(record["prompt_tokens"], input);

    // Bearer works as well as x-api-key.
    let resp = app.post(&key, "/v1/messages", hello("mock-1")).await;
    assert_eq!(resp.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn cache_writes_and_reads_are_priced_apart() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let long = "policy text ".repeat(200);
    let body = json!({"model": "mock-1", "max_tokens": 32,
        "system": [{"type": "text", "text": long, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "summarise"}]});
    let first = messages(&app, &key, body.clone()).await;
    let first_cost: rust_decimal::Decimal = first.headers()["x-promptgate-cost-usd"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let first: Value = first.json().await.unwrap();
    let written = first["usage"]["cache_creation_input_tokens"]
        .as_i64()
        .unwrap();
    assert!(written > 500, "{first}");
    assert_eq!(first["usage"]["cache_read_input_tokens"], 0);
    let second = messages(&app, &key, body).await;
    let second_cost: rust_decimal::Decimal = second.headers()["x-promptgate-cost-usd"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["usage"]["cache_read_input_tokens"], written);
    assert_eq!(second["usage"]["cache_creation_input_tokens"], 0);
    // mock-*: input 1.00, cache write 1.25, cache read 0.10, output 2.00.
    let usage_cost = |u: &Value, write: bool| {
        let micros = u["input_tokens"].as_i64().unwrap() * 100
            + if write { written * 125 } else { written * 10 }
            + u["output_tokens"].as_i64().unwrap() * 200;
        rust_decimal::Decimal::new(micros, 8)
    };
    assert_eq!(first_cost, usage_cost(&first["usage"], true));
    assert_eq!(second_cost, usage_cost(&second["usage"], false));
    app.stop().await;
}

#[tokio::test]
async fn streams_are_relayed_event_by_event_with_usage() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let mut body = hello("mock-1");
    body["stream"] = json!(true);
    let resp = messages(&app, &key, body).await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let text = resp.text().await.unwrap();
    let kinds: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(kinds.first(), Some(&"message_start"));
    assert_eq!(kinds.last(), Some(&"message_stop"));
    for k in [
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
    ] {
        assert!(kinds.contains(&k), "{k} missing: {text}");
    }
    assert!(text.contains(": promptgate {"), "{text}");
    let record = app.record(&key, &id).await;
    assert_eq!(record["outcome"], "ok");
    assert!(
        record["completion_tokens"].as_i64().unwrap() > 1,
        "{record}"
    );
    assert_eq!(record["usage_source"], "upstream");
    app.stop().await;
}

#[tokio::test]
async fn errors_are_in_anthropic_shape() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let check = |status: u16, kind: &'static str| {
        move |resp: reqwest::Response| async move {
            assert_eq!(resp.status(), status);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["type"], "error", "{body}");
            assert_eq!(body["error"]["type"], kind, "{body}");
        }
    };
    check(401, "authentication_error")(messages(&app, "pg-wrong", hello("mock-1")).await).await;
    check(400, "invalid_request_error")(
        messages(
            &app,
            &key,
            json!({"model": "mock-1", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await,
    )
    .await;
    check(400, "invalid_request_error")(messages(&app, &key, json!({"model": "mock-1"})).await)
        .await;
    check(429, "rate_limit_error")(messages(&app, &key, hello("mock-error-429")).await).await;
    check(529, "overloaded_error")(messages(&app, &key, hello("mock-error-529")).await).await;
    check(404, "not_found_error")(messages(&app, &key, hello("no-such-model")).await).await;
    app.stop().await;
}

#[tokio::test]
async fn count_tokens_and_tools_on_the_mock() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let resp = app
        .http
        .post(app.url("/v1/messages/count_tokens"))
        .header("x-api-key", &key)
        .json(&json!({"model": "mock-1", "messages": [{"role": "user", "content": "hello there"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let counted: Value = resp.json().await.unwrap();
    assert!(counted["input_tokens"].as_i64().unwrap() > 0);

    let tools = json!([{"name": "search", "description": "d", "input_schema": {"type": "object"}}]);
    let mut body = hello("mock-1");
    body["tools"] = tools.clone();
    let first: Value = messages(&app, &key, body).await.json().await.unwrap();
    assert_eq!(first["stop_reason"], "tool_use");
    let call = &first["content"][0];
    assert_eq!(call["type"], "tool_use");
    assert_eq!(call["name"], "search");
    let follow_up = json!({"model": "mock-1", "max_tokens": 64, "tools": tools, "messages": [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "42"}]}
    ]});
    let second: Value = messages(&app, &key, follow_up).await.json().await.unwrap();
    assert_eq!(second["stop_reason"], "end_turn");
    assert_eq!(second["content"][0]["type"], "text");
    app.stop().await;
}

/// An app with an Anthropic upstream (`claude-*`, the mock on a port).
async fn with_anthropic_upstream(db: &TestDb) -> TestApp {
    let mut config = base_config(db.url());
    let addr = mock_upstream().await;
    let mut claude = http_upstream("claude", addr, &["claude-*"], 5);
    claude.kind = promptgate::config::UpstreamKind::Anthropic;
    config.upstreams = vec![claude];
    spawn_app(config).await
}

#[tokio::test]
async fn chat_completions_are_translated_for_an_anthropic_upstream_and_priced_from_claude_rows() {
    let db = TestDb::sqlite();
    let app = with_anthropic_upstream(&db).await;
    let key = app.team_key("t").await;
    let resp = app.chat(&key, "claude-sonnet-4-5").await;
    assert_eq!(resp.status(), 200);
    let cost: rust_decimal::Decimal = resp.headers()["x-promptgate-cost-usd"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .len()
            > 3
    );
    let (p, c) = (
        body["usage"]["prompt_tokens"].as_i64().unwrap(),
        body["usage"]["completion_tokens"].as_i64().unwrap(),
    );
    // claude-sonnet-4-5: 3.00 in, 15.00 out per million.
    assert_eq!(cost, rust_decimal::Decimal::new(p * 3 + c * 15, 6));
    let record = app.record(&key, &id).await;
    assert_eq!(record["upstream"], "claude");

    // Stream: chunks, then the usage chunk asked for, then [DONE].
    let resp = app
        .post(
            &key,
            "/v1/chat/completions",
            json!({"model": "claude-sonnet-4-5", "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "hello"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.contains("\"chat.completion.chunk\""), "{text}");
    assert!(text.contains("\"finish_reason\":\"stop\""), "{text}");
    assert!(
        text.contains("\"choices\":[],") && text.contains("\"prompt_tokens\""),
        "{text}"
    );
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");

    // What has no Anthropic counterpart is a 400 naming it.
    let resp = app
        .post(
            &key,
            "/v1/chat/completions",
            json!({"model": "claude-sonnet-4-5", "n": 3,
            "messages": [{"role": "user", "content": "hello"}]}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(error_of(&err).1, Some("n"));

    // Errors in OpenAI's shape: 429 passes, 529 overloaded is an upstream failure (502).
    let resp = app.chat(&key, "claude/mock-error-429").await;
    assert_eq!(resp.status(), 429);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(error_of(&err).0, "rate_limit_error");
    assert_eq!(app.chat(&key, "claude/mock-error-529").await.status(), 502);
    app.stop().await;
}

#[tokio::test]
async fn messages_go_to_an_anthropic_upstream_field_for_field() {
    let db = TestDb::sqlite();
    let app = with_anthropic_upstream(&db).await;
    let key = app.team_key("t").await;
    let raw = r#"{"model":"claude/mock-echo","max_tokens":64,"thinking":{"type":"enabled","budget_tokens":1024},"x_unknown":{"deep":[1,"\u00e9"]},"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]}]}"#;
    let resp = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let echoed = body["content"][0]["text"].as_str().unwrap();
    // Only the routing prefix is taken off the model; every other byte is the client's.
    assert_eq!(echoed, raw.replace("claude/mock-echo", "mock-echo"));
    // OpenAI-only endpoints are refused by an Anthropic upstream.
    let resp = app
        .post(
            &key,
            "/v1/embeddings",
            json!({"model": "claude-sonnet-4-5", "input": "x"}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn an_anthropic_upstream_gets_x_api_key_and_anthropic_version_never_the_callers_key() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<axum::http::HeaderMap>>> = Arc::default();
    let s = seen.clone();
    let router = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let s = s.clone();
        async move {
            s.lock().unwrap().push(headers);
            axum::Json(json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
                "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn", "stop_sequence": null,
                "usage": {"input_tokens": 5, "output_tokens": 1}}))
        }
    });
    let addr = serve(router).await;
    let var = format!("PG_TEST_ANTHROPIC_KEY_{}", uuid::Uuid::new_v4().simple());
    std::env::set_var(&var, "sk-ant-secret");
    let db = TestDb::sqlite();
    let mut config = base_config(db.url());
    let mut up = http_upstream("claude", addr, &["claude-*"], 5);
    up.kind = promptgate::config::UpstreamKind::Anthropic;
    up.api_key_env = Some(var);
    config.upstreams = vec![up];
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;

    let resp = app
        .http
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-01-01")
        .header("anthropic-beta", "prompt-caching-2024-07-31")
        .json(&hello("claude-haiku-4-5"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(!text.contains("sk-ant-secret"));
    let chat = app.chat(&key, "claude-haiku-4-5").await;
    assert_eq!(chat.status(), 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0]["x-api-key"], "sk-ant-secret");
    assert_eq!(seen[0]["anthropic-version"], "2023-01-01");
    assert_eq!(seen[0]["anthropic-beta"], "prompt-caching-2024-07-31");
    // The translated chat completion carries our version when the client named none.
    assert_eq!(seen[1]["anthropic-version"], "2023-06-01");
    for h in &seen {
        assert!(h.get("authorization").is_none(), "{h:?}");
        assert_eq!(h["x-api-key"], "sk-ant-secret");
    }
    app.stop().await;
}

#[tokio::test]
async fn messages_are_cached_and_replayed_as_streams() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let mut body = hello("mock-1");
    body["cache"] = json!({"ttl": 60});
    let first = messages(&app, &key, body.clone()).await;
    assert_eq!(first.headers()["x-promptgate-cache"], "miss");
    let first: Value = first.json().await.unwrap();
    let again = messages(&app, &key, body.clone()).await;
    assert_eq!(again.headers()["x-promptgate-cache"], "hit");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    // A streamed request is answered from the stored message, as Messages events.
    body["stream"] = json!(true);
    let streamed = messages(&app, &key, body).await;
    assert_eq!(streamed.headers()["x-promptgate-cache"], "hit");
    let text = streamed.text().await.unwrap();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(events.first().unwrap()["type"], "message_start");
    assert_eq!(events.last().unwrap()["type"], "message_stop");
    let streamed_text: String = events
        .iter()
        .filter_map(|e| e.pointer("/delta/text").and_then(Value::as_str))
        .collect();
    assert_eq!(streamed_text, first["content"][0]["text"].as_str().unwrap());
    app.stop().await;
}

#[tokio::test]
async fn messages_are_grounding_scored_and_held_against_budgets() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let body = json!({"model": "mock-repeat", "max_tokens": 64,
        "grounding": {"context": ["The Eiffel Tower is 330 metres tall."]},
        "messages": [{"role": "user", "content": "The Eiffel Tower is 330 metres tall."}]});
    let resp = messages(&app, &key, body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-promptgate-flagged"], "false");
    let body = json!({"model": "mock-repeat", "max_tokens": 64,
        "grounding": {"context": ["The Eiffel Tower is 330 metres tall."]},
        "messages": [{"role": "user", "content": "The Colosseum was built in 1820 by Napoleon in Berlin."}]});
    let resp = messages(&app, &key, body).await;
    assert_eq!(resp.headers()["x-promptgate-flagged"], "true");

    let budget = app
        .put(
            ADMIN_KEY,
            "/v1/teams/t/budget",
            json!({"usd": "0.000001", "period": "day"}),
        )
        .await;
    assert_eq!(budget.status(), 200, "{:?}", budget.text().await);
    let mut big = hello("mock-1");
    big["max_tokens"] = json!(100_000);
    let refused = messages(&app, &key, big).await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_registry_prompt_renders_into_a_messages_request() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let created = app
        .post(
            ADMIN_KEY,
            "/v1/prompts/greet/versions",
            json!({
                "type": "chat",
                "messages": [
                    {"role": "system", "content": "You are {{persona}}."},
                    {"role": "user", "content": "Hello {{name}}!"}
                ],
                "config": {"model": "mock-echo", "max_tokens": 64},
                "variables_schema": {"persona": "string", "name": "string"},
                "labels": ["production"]
            }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let resp = messages(
        &app,
        &key,
        json!({
            "prompt": {"id": "greet", "variables": {"persona": "a pirate", "name": "Ann"}},
            "system": "Be brief.",
            "messages": [{"role": "user", "content": "And you?"}]
        }),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-promptgate-prompt"], "greet@1");
    let body: Value = resp.json().await.unwrap();
    let sent: Value = serde_json::from_str(body["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        sent["system"],
        json!([{"type": "text", "text": "You are a pirate."}, {"type": "text", "text": "Be brief."}])
    );
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": "Hello Ann!"}, {"role": "user", "content": "And you?"}])
    );
    assert_eq!(sent["max_tokens"], 64);
    assert!(sent.get("prompt").is_none());
    app.stop().await;
}

#[tokio::test]
async fn a_translated_stream_cut_short_ends_with_an_error_event_and_is_recorded() {
    let db = TestDb::sqlite();
    let app = with_anthropic_upstream(&db).await;
    let key = app.team_key("t").await;
    let resp = app
        .post(
            &key,
            "/v1/chat/completions",
            json!({"model": "claude/mock-stream-cut", "stream": true,
            "messages": [{"role": "user", "content": "hello"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let text = resp.text().await.unwrap();
    assert!(!text.contains("[DONE]"), "{text}");
    assert!(text.contains("\"code\":\"upstream_unavailable\""), "{text}");
    let record = app.record(&key, &id).await;
    assert_eq!(record["outcome"], "upstream_error");
    assert_eq!(record["usage_source"], "estimated");
    app.stop().await;
}
