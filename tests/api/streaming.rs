//! Streams over a real socket: no buffering, usage handling, disconnects,
//! cut and stalled upstreams.

use std::time::Duration;

use axum::body::Bytes;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::helpers::{
    base_config, http_upstream, puppet_upstream, spawn_app, Puppet, TestApp, TestDb,
};

/// Guards against a hang turning into a stuck test: a bound on how long a
/// step may take, not a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(20);

fn chunk(text: &str) -> Bytes {
    let v = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "p",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
    Bytes::from(format!("data: {v}\n\n"))
}

async fn app_with_puppet(puppet: &Puppet, timeout_s: u64) -> (TestDb, TestApp, String) {
    let db = TestDb::sqlite();
    let mut config = base_config(db.url());
    config.upstreams = vec![http_upstream("puppet", puppet.addr, &["p"], timeout_s)];
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;
    (db, app, key)
}

async fn open_stream(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    let resp = app.post(key, "/v1/chat/completions", body).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    resp
}

#[tokio::test]
async fn first_chunk_arrives_before_the_upstream_finishes() {
    let puppet = puppet_upstream().await;
    let (_db, app, key) = app_with_puppet(&puppet, 30).await;
    puppet.frames.send(chunk("first")).unwrap();
    let resp = open_stream(
        &app,
        &key,
        json!({"model": "p", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let mut body = resp.bytes_stream();
    // The upstream has sent one chunk and is still open: if the gateway
    // buffered the stream, this read would never complete.
    let first = tokio::time::timeout(HANG_GUARD, body.next())
        .await
        .expect("first chunk not buffered")
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("first"));
    puppet.frames.send(chunk(" second")).unwrap();
    let second = tokio::time::timeout(HANG_GUARD, body.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&second).contains("second"));
    puppet
        .frames
        .send(Bytes::from_static(b"data: [DONE]\n\n"))
        .unwrap();
    drop(puppet.frames);
    let mut rest = Vec::new();
    while let Some(c) = body.next().await {
        rest.extend_from_slice(&c.unwrap());
    }
    let rest = String::from_utf8(rest).unwrap();
    assert!(rest.ends_with("data: [DONE]\n\n"), "{rest}");
    assert!(
        rest.contains(": promptgate "),
        "the facts comment precedes [DONE]"
    );
    let rec = app.record(&key, &id).await;
    assert_eq!(rec["outcome"], "ok");
    assert!(rec["ttft_ms"].as_f64().is_some());
    app.stop().await;
}

#[tokio::test]
async fn event_split_across_reads_is_forwarded_whole() {
    let puppet = puppet_upstream().await;
    let (_db, app, key) = app_with_puppet(&puppet, 30).await;
    let c = chunk("joined");
    let (a, b) = c.split_at(10);
    puppet.frames.send(Bytes::copy_from_slice(a)).unwrap();
    puppet.frames.send(Bytes::copy_from_slice(b)).unwrap();
    puppet
        .frames
        .send(Bytes::from_static(b"data: [DONE]\n\n"))
        .unwrap();
    drop(puppet.frames);
    let resp = open_stream(
        &app,
        &key,
        json!({"model": "p", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    let text = resp.text().await.unwrap();
    assert!(
        text.starts_with(&String::from_utf8_lossy(&c).to_string()),
        "{text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_and_is_recorded() {
    let puppet = puppet_upstream().await;
    let (_db, app, key) = app_with_puppet(&puppet, 30).await;
    puppet.frames.send(chunk("partial")).unwrap();
    let resp = open_stream(
        &app,
        &key,
        json!({"model": "p", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let mut body = resp.bytes_stream();
    tokio::time::timeout(HANG_GUARD, body.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    drop(body);
    // The gateway drops its upstream request, which drops the puppet's body.
    tokio::time::timeout(HANG_GUARD, puppet.dropped)
        .await
        .expect("upstream request cancelled")
        .unwrap();
    let rec = app.record(&key, &id).await;
    assert_eq!(rec["outcome"], "client_closed");
    assert_eq!(rec["client_closed"], true);
    app.stop().await;
}

#[tokio::test]
async fn stalled_stream_times_out_with_an_error_event() {
    let puppet = puppet_upstream().await;
    let (_db, app, key) = app_with_puppet(&puppet, 1).await;
    puppet.frames.send(chunk("then silence")).unwrap();
    let resp = open_stream(
        &app,
        &key,
        json!({"model": "p", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let text = tokio::time::timeout(HANG_GUARD, resp.text())
        .await
        .unwrap()
        .unwrap();
    assert!(text.contains("upstream_timeout"), "{text}");
    assert_eq!(app.record(&key, &id).await["outcome"], "timeout");
    drop(puppet.frames);
    app.stop().await;
}

/// Parses an SSE body into its JSON data payloads (without `[DONE]`).
fn payloads(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn usage_chunk_only_when_asked_and_always_recorded() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let messages = json!([{"role": "user", "content": "count my tokens"}]);

    let plain = open_stream(
        &app,
        &key,
        json!({"model": "mock-1", "stream": true, "messages": messages}),
    )
    .await;
    let plain_id = plain.headers()["x-request-id"].to_str().unwrap().to_owned();
    let plain = payloads(&plain.text().await.unwrap());
    assert!(
        plain
            .iter()
            .all(|c| !c["choices"].as_array().unwrap().is_empty()),
        "no usage-only chunk"
    );
    // As OpenAI streams when usage is not asked for: no `usage` member at all
    // (the upstream adds `"usage": null` because the proxy asked for usage).
    assert!(
        plain.iter().all(|c| c.get("usage").is_none()),
        "no usage member in {plain:?}"
    );

    let asked = open_stream(
        &app,
        &key,
        json!({"model": "mock-1", "stream": true, "stream_options": {"include_usage": true}, "messages": messages}),
    )
    .await;
    let asked_id = asked.headers()["x-request-id"].to_str().unwrap().to_owned();
    let asked = payloads(&asked.text().await.unwrap());
    let last = asked.last().unwrap();
    assert!(last["choices"].as_array().unwrap().is_empty());
    let usage = &last["usage"];
    assert_eq!(asked.len(), plain.len() + 1);

    let full: Value = app
        .post(
            &key,
            "/v1/chat/completions",
            json!({"model": "mock-1", "messages": messages}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        &full["usage"]["completion_tokens"],
        &usage["completion_tokens"]
    );
    for id in [plain_id, asked_id] {
        let rec = app.record(&key, &id).await;
        assert_eq!(rec["prompt_tokens"], usage["prompt_tokens"]);
        assert_eq!(rec["completion_tokens"], usage["completion_tokens"]);
        assert_eq!(rec["stream"], true);
    }
    app.stop().await;
}

#[tokio::test]
async fn cut_stream_is_reported_and_recorded_as_upstream_error() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let resp = open_stream(&app, &key, json!({"model": "mock-stream-cut", "stream": true, "messages": [{"role": "user", "content": "x"}]})).await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let text = resp.text().await.unwrap();
    assert!(!text.contains("[DONE]"));
    assert!(text.contains("upstream_unavailable"));
    assert_eq!(app.record(&key, &id).await["outcome"], "upstream_error");
    app.stop().await;
}

#[tokio::test]
async fn responses_stream_ends_with_the_facts_comment_after_its_final_event() {
    let db = TestDb::sqlite();
    let app = spawn_app(base_config(db.url())).await;
    let key = app.team_key("t").await;
    let resp = app
        .post(
            &key,
            "/v1/responses",
            json!({"model": "mock-1", "stream": true, "input": "Tell me about the tower.",
                   "grounding": {"context": ["The Eiffel Tower opened in 1889 in Paris."]}}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let text = resp.text().await.unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    let last = events.last().expect("events");
    let facts: Value = serde_json::from_str(
        last.strip_prefix(": promptgate ")
            .unwrap_or_else(|| panic!("the stream ends with the facts comment: {text}")),
    )
    .unwrap();
    assert!(
        events[events.len() - 2].starts_with("event: response.completed"),
        "right after the final event: {text}"
    );
    assert!(!text.contains("[DONE]"), "Responses streams have no [DONE]");
    assert_eq!(facts["request_id"], id.as_str());
    assert!(facts["usage"]["completion_tokens"].as_i64().unwrap() > 0);
    assert!(facts["grounding"]["score"].is_number(), "{facts}");

    let rec = app.record(&key, &id).await;
    assert_eq!(
        rec["completion_tokens"],
        facts["usage"]["completion_tokens"]
    );
    assert_eq!(rec["grounding"]["score"], facts["grounding"]["score"]);
    app.stop().await;
}

/// A model-less Responses stream (a stored prompt names the model upstream)
/// is recorded and priced by the model its `response.created` event names;
/// the facts comment carries the same cost.
#[tokio::test]
async fn model_less_responses_stream_is_priced_by_the_model_its_events_name() {
    let events = [
        json!({"type": "response.created", "sequence_number": 0,
               "response": {"id": "resp_1", "object": "response", "status": "in_progress",
                            "model": "gpt-4o-mini", "output": [], "usage": null}}),
        json!({"type": "response.output_text.delta", "sequence_number": 1,
               "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Oslo"}),
        json!({"type": "response.completed", "sequence_number": 2,
               "response": {"id": "resp_1", "object": "response", "status": "completed",
                            "model": "gpt-4o-mini", "output": [],
                            "usage": {"input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500}}}),
    ];
    let sse: String = events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect();
    let router = axum::Router::new().route(
        "/v1/responses",
        axum::routing::post(move || {
            let sse = sse.clone();
            async move {
                axum::response::Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(axum::body::Body::from(sse))
                    .unwrap()
            }
        }),
    );
    let addr = crate::helpers::serve(router).await;
    let db = TestDb::sqlite();
    let mut config = base_config(db.url());
    config.upstreams = vec![http_upstream("vendor", addr, &["*"], 30)];
    let app = spawn_app(config).await;
    let key = app.team_key("t").await;

    let resp = app
        .post(
            &key,
            "/v1/responses",
            json!({"prompt": {"id": "pmpt_abc", "version": "2"}, "input": "hi", "stream": true}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let text = resp.text().await.unwrap();
    let facts: Value = serde_json::from_str(
        text.split("\n\n")
            .find_map(|e| e.strip_prefix(": promptgate "))
            .unwrap_or_else(|| panic!("a facts comment: {text}")),
    )
    .unwrap();
    let rec = app.record(&key, &id).await;
    assert_eq!(rec["model"], "gpt-4o-mini", "{rec}");
    assert_eq!(rec["upstream"], "vendor");
    assert_eq!(rec["stream"], true);
    assert_eq!(rec["prompt_tokens"], 1000);
    assert_eq!(rec["completion_tokens"], 500);
    let cost = rec["cost_usd"]
        .as_str()
        .unwrap_or_else(|| panic!("priced: {rec}"));
    assert_ne!(cost, "0", "{rec}");
    assert_eq!(facts["cost_usd"], cost, "{facts}");
    app.stop().await;
}
